"""Which events start work: the association check comes first, before any API call or clone."""

from __future__ import annotations

from bot_payloads import issue_comment, labeled, review_comment

from swescale.bot.config import BotConfig
from swescale.bot.events import Ignored, Trigger, parse_event

CONFIG = BotConfig()
URL = "/srv/origin.git"


def test_trigger_label_by_a_maintainer_solves_the_issue():
    found = parse_event("issues", labeled(URL, 7, "Bug", "It breaks.", sender="maintainer"), CONFIG)
    assert isinstance(found, Trigger)
    assert (found.kind, found.number, found.repo, found.actor) == ("solve", 7, "octo/minimath", "maintainer")
    assert found.title == "Bug" and found.body == "It breaks." and found.comment_id is None
    assert found.clone_url == URL and found.default_branch == "main"


def test_other_labels_and_actions_are_ignored():
    assert isinstance(parse_event("issues", labeled(URL, 7, "Bug", "", label="bug"), CONFIG), Ignored)
    opened = {**labeled(URL, 7, "Bug", ""), "action": "opened"}
    assert isinstance(parse_event("issues", opened, CONFIG), Ignored)
    assert isinstance(parse_event("push", {"repository": {"full_name": "a/b"}}, CONFIG), Ignored)


def test_an_outsider_labelling_their_own_issue_through_a_template_is_ignored():
    payload = labeled(URL, 7, "Bug", "", sender="stranger", author="stranger", author_association="NONE")
    found = parse_event("issues", payload, CONFIG)
    assert isinstance(found, Ignored) and "NONE" in found.reason
    mine = labeled(URL, 7, "Bug", "", sender="owner", author="owner", author_association="OWNER")
    assert isinstance(parse_event("issues", mine, CONFIG), Trigger)


def test_comment_commands_need_an_allowed_association():
    for association in ("OWNER", "MEMBER", "COLLABORATOR"):
        payload = issue_comment(URL, 3, "T", "B", "/swescale solve", commenter="c", association=association)
        found = parse_event("issue_comment", payload, CONFIG)
        assert isinstance(found, Trigger) and found.kind == "solve" and found.comment_id == 492700400
    for association in ("NONE", "CONTRIBUTOR", "FIRST_TIME_CONTRIBUTOR", "FIRST_TIMER", ""):
        payload = issue_comment(URL, 3, "T", "B", "/swescale solve", commenter="x", association=association)
        found = parse_event("issue_comment", payload, CONFIG)
        assert isinstance(found, Ignored) and "association" in found.reason


def test_allowed_associations_are_configurable():
    config = BotConfig(allowed_associations=["OWNER"])
    payload = issue_comment(URL, 3, "T", "B", "/swescale solve", commenter="m", association="MEMBER")
    assert isinstance(parse_event("issue_comment", payload, config), Ignored)


def test_review_on_pull_requests_and_solve_on_issues_only():
    on_pr = issue_comment(
        URL, 4, "PR", "Fixes #3", "/swescale review", commenter="o", association="OWNER", on_pull=True
    )
    found = parse_event("issue_comment", on_pr, CONFIG)
    assert isinstance(found, Trigger) and (found.kind, found.number, found.comment_kind) == (
        "review",
        4,
        "issue",
    )
    solve_on_pr = issue_comment(
        URL, 4, "PR", "", "/swescale solve", commenter="o", association="OWNER", on_pull=True
    )
    assert isinstance(parse_event("issue_comment", solve_on_pr, CONFIG), Ignored)
    review_on_issue = issue_comment(URL, 3, "T", "", "/swescale review", commenter="o", association="OWNER")
    assert isinstance(parse_event("issue_comment", review_on_issue, CONFIG), Ignored)
    diff_comment = review_comment(
        URL, 4, "PR", "Fixes #3", "/swescale review\nplease", commenter="o", association="MEMBER"
    )
    found = parse_event("pull_request_review_comment", diff_comment, CONFIG)
    assert isinstance(found, Trigger) and (found.kind, found.comment_kind, found.comment_id) == (
        "review",
        "review",
        284312630,
    )


def test_only_a_command_on_the_first_line_counts_and_bots_are_never_obeyed():
    quoted = issue_comment(URL, 3, "T", "", "thanks!\n/swescale solve", commenter="o", association="OWNER")
    assert isinstance(parse_event("issue_comment", quoted, CONFIG), Ignored)
    unknown = issue_comment(URL, 3, "T", "", "/swescale dance", commenter="o", association="OWNER")
    assert "unknown command" in parse_event("issue_comment", unknown, CONFIG).reason
    bot = issue_comment(URL, 3, "T", "", "/swescale solve", commenter="swescale[bot]", association="OWNER")
    bot["sender"]["type"] = "Bot"
    assert isinstance(parse_event("issue_comment", bot, CONFIG), Ignored)


def test_malformed_payloads_are_ignored_not_raised():
    assert isinstance(
        parse_event("issue_comment", {"action": "created", "repository": {"full_name": "a/b"}}, CONFIG),
        Ignored,
    )
    assert isinstance(parse_event("issues", {"action": "labeled"}, CONFIG), Ignored)
    broken = labeled(URL, 7, "Bug", "")
    del broken["issue"]["number"]
    assert "malformed" in parse_event("issues", broken, CONFIG).reason
