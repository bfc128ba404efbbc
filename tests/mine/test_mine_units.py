"""Parts of mining without Docker: issue references, the issues dump, the GitHub API (played by a local
HTTP server) and its offline fallback, candidate splitting on a real git history, test classification."""

from __future__ import annotations

import json
import os

import git
import pytest

from sandbox.patch import is_test_path
from swescale.issuerefs import issue_refs
from swescale.mine.candidates import repo_name, scan, split
from swescale.mine.config import MineConfig
from swescale.mine.issues import IssueSource, load_issue_dump
from swescale.mine.statement import problem_statement
from swescale.mine.validate import classify


def test_issue_refs():
    assert issue_refs("Fix #292, fix #205, fix #103: TTLCache.expire()") == [292, 205, 103]
    assert issue_refs("Split BEGIN TRANSACTION (fixes #826).") == [826]
    assert issue_refs("Keep keyword before float literal (issue601)") == [601]
    assert issue_refs("Closes: #7 and resolves #8") == [7, 8]
    assert issue_refs("Bump version to 1.2, see PR #9") == []


def test_issue_dump_formats_and_errors(tmp_path):
    jsonl = tmp_path / "i.jsonl"
    jsonl.write_text(
        '{"number": 3, "title": "t", "body": null}\n\n{"number": "4", "title": "u", "body": "b"}\n'
    )
    assert load_issue_dump(jsonl) == {3: {"title": "t", "body": ""}, 4: {"title": "u", "body": "b"}}
    listed = tmp_path / "i.json"
    listed.write_text(json.dumps([{"number": 5, "title": "v", "body": "w", "state": "closed"}]))
    assert load_issue_dump(listed) == {5: {"title": "v", "body": "w"}}
    broken = tmp_path / "b.jsonl"
    broken.write_text('{"number": 1}\n{oops\n')
    with pytest.raises(ValueError, match=r"b.jsonl:2: invalid JSON"):
        load_issue_dump(broken)
    with pytest.raises(ValueError, match="No such file"):
        load_issue_dump(tmp_path / "missing.jsonl")


def test_github_api_issue_and_merged_pulls(httpserver):
    """GitHub's REST API is a boundary we do not own: a local HTTP server plays it."""
    httpserver.expect_request("/repos/o/n/issues/7").respond_with_json({"title": "Crash", "body": "Boom."})
    httpserver.expect_request("/repos/o/n/issues/8").respond_with_json({"title": "PR", "pull_request": {}})
    httpserver.expect_request("/repos/o/n/issues/9").respond_with_data("", status=404)
    pulls = [
        {
            "number": 11,
            "merged_at": "2024-01-01T00:00:00Z",
            "merge_commit_sha": "abc",
            "title": "T",
            "body": "Fixes #7",
        },
        {"number": 12, "merged_at": None, "merge_commit_sha": "def", "title": "closed", "body": ""},
    ]
    httpserver.expect_request("/repos/o/n/pulls").respond_with_json(pulls)
    source = IssueSource("o/n", httpserver.url_for("/"), timeout=5)
    assert source.issue(7) == {"title": "Crash", "body": "Boom."}
    assert source.issue(8) is None and source.issue(9) is None and not source.api_off
    assert source.merged_pulls() == {"abc": {"number": 11, "text": "T\n\nFixes #7"}}
    text, origin, numbers = problem_statement("Merge pull request #11", "T\n\nFixes #7", source)
    assert (text, origin, numbers) == ("Crash\nBoom.", "issue", [7])


def test_github_api_unreachable_falls_back(tmp_path):
    source = IssueSource("o/n", "http://127.0.0.1:9", {3: {"title": "from the dump", "body": ""}}, timeout=2)
    assert source.issue(3) == {"title": "from the dump", "body": ""}  # the dump needs no API
    assert source.issue(4) is None and source.api_off  # refused: off for the rest of the run
    assert source.merged_pulls() == {}
    assert problem_statement("Fix #4: crash\n\nDetails.", "", source) == (
        "Fix #4: crash\n\nDetails.",
        "commit_message",
        [4],
    )


class _Failing:
    def chat(self, messages):
        raise RuntimeError("server gone")


def test_model_failure_falls_back_to_the_commit_message():
    source = IssueSource("local/x", "")
    context = {
        "repo": "local/x",
        "tests": ["t::a"],
        "output": "E assert 1 == 2",
        "diff": "diff --git a/x b/x",
    }
    assert problem_statement("Fix a", "", source, _Failing(), MineConfig(), **context)[1] == "commit_message"


def test_test_file_patterns():
    config = MineConfig()
    for path in ("tests/test_a.py", "test_a.py", "pkg/tests/data/x.sql", "a/b_test.py", "conftest.py"):
        assert is_test_path(path, config.test_patterns), path
    for path in ("pkg/core.py", "setup.py", "docs/conf.py", "pkg/testing_utils.py"):
        assert not is_test_path(path, config.test_patterns), path


def _commit(repo: git.Repo, files: dict[str, str | None], message: str) -> git.Commit:
    root = repo.working_tree_dir
    for name, text in files.items():
        path = f"{root}/{name}"
        if text is None:
            repo.index.remove([name], working_tree=True)
            continue
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as fh:
            fh.write(text)
        repo.index.add([name])
    return repo.index.commit(message)


def test_split_and_reasons(tmp_path):
    repo = git.Repo.init(tmp_path / "r")
    config = MineConfig()
    _commit(repo, {"pkg/a.py": "x = 1\n", "tests/test_a.py": "def test_a(): pass\n"}, "root")
    _commit(
        repo,
        {"pkg/a.py": "x = 2\n", "tests/test_a.py": "def test_a(): assert 1\n", "CHANGES.md": "2\n"},
        "fix",
    )
    _commit(repo, {"pkg/a.py": "x = 3\n"}, "source only")
    _commit(repo, {"tests/test_a.py": "def test_a(): assert 2\n"}, "tests only")
    _commit(repo, {"pkg/a.py": "x = 4\n", "tests/data.txt": "4\n"}, "test data only")
    _commit(
        repo,
        {"pkg/a.py": "x = 5\n", "tests/test_a.py": None, "tests/test_b.py": "def test_b(): pass\n"},
        "deletes",
    )
    cands = {c.message: c for c in (split(repo, commit, config) for commit in scan(repo))}
    assert list(cands) == ["deletes", "test data only", "tests only", "source only", "fix", "root"]
    assert cands["root"].reason == "root commit (no parent)"
    assert cands["source only"].reason == "no test file changed"
    assert cands["tests only"].reason == "no source file changed"
    assert cands["test data only"].reason == "no test module changed (only test data)"
    assert cands["deletes"].reason == "deletes test file tests/test_a.py"
    fix = cands["fix"]
    assert fix.reason == "" and fix.parent == repo.commit("HEAD~5").hexsha
    assert "pkg/a.py" in fix.patch and "CHANGES.md" in fix.patch and "tests/" not in fix.patch
    assert fix.test_patch.startswith("diff --git a/tests/test_a.py b/tests/test_a.py")
    # the two parts together are the commit's diff
    clone = git.Repo.clone_from(repo.git_dir, tmp_path / "c")
    clone.git.checkout("-q", fix.parent)
    (tmp_path / "parts.diff").write_text(fix.patch + fix.test_patch)
    clone.git.apply(str(tmp_path / "parts.diff"))
    clone.git.add("-A")
    assert clone.git.diff("--cached", fix.sha) == ""
    assert len(list(scan(repo, limit=2))) == 2
    assert repo_name(str(tmp_path / "r"), repo) == "local/r"
    assert repo_name("https://github.com/tkem/cachetools.git", repo) == "tkem/cachetools"
    assert repo_name("/work/.mirror/andialbrecht+sqlparse/repo", repo) == "andialbrecht/sqlparse"


def test_classify_by_swebench_predicates():
    parent = [{"t::a": "FAILED", "t::b": "PASSED", "t::c": "PASSED", "t::f": "PASSED"}] * 2
    parent = [*parent, {**parent[0], "t::f": "FAILED"}]
    commit = [
        {"t::a": "PASSED", "t::b": "PASSED", "t::c": "FAILED", "t::f": "PASSED", "t::new": "PASSED"}
    ] * 3
    classes = classify(parent, commit)
    assert classes.fail_to_pass == ["t::a", "t::new"]  # absent at the parent counts as failing
    assert classes.pass_to_pass == ["t::b"]
    assert classes.pass_to_fail == ["t::c"]
    assert classes.flaky == ["t::f"]


def test_scan_window_and_limit(history):
    repo_path, shas = history
    repo = git.Repo(repo_path)
    window = [c.hexsha for c in scan(repo, since="2024-02-04T00:00:00Z", until="2024-02-06T00:00:00Z")]
    assert window == [shas["flaky_only"], shas["flaky_and_fix"], shas["already_passing"]]
    assert [c.hexsha for c in scan(repo, limit=2)] == [shas["hangs"], shas["breaks_other"]]


def test_pull_request_merge_commits_become_candidates(tmp_path, httpserver):
    """A pull request merged with a merge commit is one candidate (against the first parent), with its
    text for linked issues; a one-commit pull request is not mined twice."""
    from swescale.mine.run import _candidates
    from swescale.mine.store import Store

    repo = git.Repo.init(tmp_path / "r", initial_branch="main")
    with repo.config_writer() as cfg:
        cfg.set_value("user", "name", "t").set_value("user", "email", "t@t")
    _commit(repo, {"pkg/a.py": "x = 1\n", "tests/test_a.py": "def test_a(): pass\n"}, "root")
    repo.git.checkout("-q", "-b", "feature")
    _commit(repo, {"pkg/a.py": "x = 2\n"}, "part 1")
    _commit(repo, {"tests/test_a.py": "def test_a(): assert 2\n"}, "part 2")
    repo.git.checkout("-q", "main")
    repo.git.merge("--no-ff", "-q", "-m", "Merge pull request #5", "feature")
    repo.git.checkout("-q", "-b", "one")
    single = _commit(repo, {"pkg/a.py": "x = 3\n", "tests/test_a.py": "def test_a(): assert 3\n"}, "single")
    repo.git.checkout("-q", "main")
    repo.git.merge("--no-ff", "-q", "-m", "Merge pull request #6", "one")
    merges = [c.hexsha for c in repo.iter_commits("HEAD", merges=True)]
    pulls = [
        {"number": 6, "merged_at": "x", "merge_commit_sha": merges[0], "title": "One", "body": ""},
        {
            "number": 5,
            "merged_at": "x",
            "merge_commit_sha": merges[1],
            "title": "Two parts",
            "body": "Fixes #2",
        },
    ]
    httpserver.expect_request("/repos/o/n/pulls").respond_with_json(pulls)
    store = Store(tmp_path / "run" / "mine.sqlite")
    shas = _candidates(repo, MineConfig(), IssueSource("o/n", httpserver.url_for("/")), store)
    assert merges[1] in shas and merges[0] not in shas and single.hexsha in shas
    pr = store.rows([merges[1]])[0].candidate
    assert (pr.kind, pr.pr, pr.reason, pr.parent) == ("pr", 5, "", repo.commit(merges[1]).parents[0].hexsha)
    assert "x = 2" in pr.patch and "assert 2" in pr.test_patch and "Fixes #2" in pr.pr_text


def test_run_dir_is_used_by_one_run_and_one_repository(tmp_path):
    from swescale.mine.store import RunDirError, Store

    store = Store(tmp_path / "mine.sqlite")
    store.claim_repo("o/a")
    with pytest.raises(RunDirError, match="in use by another mining run"):
        Store(tmp_path / "mine.sqlite")
    store.close()
    again = Store(tmp_path / "mine.sqlite")
    with pytest.raises(RunDirError, match="holds the mining state of o/a, not of o/b"):
        again.claim_repo("o/b")
    again.close()
