"""End-to-end verification with real sandboxes and a scripted judge server."""

from __future__ import annotations

import math
import random
import threading

import pytest

from agent.model import ModelClient
from swescale.config import ModelConfig, SwescaleConfig
from swescale.demo.scripted_server import ScriptedServer
from verifiers.run import TABLE_FILE, verify
from verifiers.table import VerifierTable

pytestmark = pytest.mark.docker

# The judge prefers the wrong candidate C: the tests must overrule it.
JUDGE_P = {"A": 0.9, "B": 0.7, "C": 0.95}
MARKERS = {"A": "+    if not xs:", "B": "len(xs) + 1", "C": "# compute the mean"}


def _which(request: dict) -> str | None:
    """The candidate under judgement; None for the judge's probe request."""
    text = request["messages"][-1]["content"]
    return next((k for k, marker in MARKERS.items() if marker in text), None)


def logprob_policy(seed: int):
    rng = random.Random(seed)
    lock = threading.Lock()

    def policy(request: dict) -> dict:
        p = JUDGE_P.get(_which(request), 0.99)
        with lock:
            delay = rng.uniform(0, 0.25)
        answer = "YES" if p >= 0.5 else "NO"
        tops = [{"token": "YES", "logprob": math.log(p)}, {"token": "NO", "logprob": math.log(1 - p)}]
        return {
            "content": answer,
            "delay": delay,
            "logprobs": [{"token": answer, "logprob": math.log(max(p, 1 - p)), "top_logprobs": tops}],
        }

    return policy


def sampled_policy():
    """No logprobs; candidate A gets 3 YES out of 5, B 1 of 5, C 0 of 5."""
    yes = {"A": 3, "B": 1, "C": 0}
    counts: dict[str, int] = {}
    lock = threading.Lock()

    def policy(request: dict) -> dict:
        which = _which(request)
        if request.get("logprobs"):
            return {"content": "YES", "logprobs": []}
        with lock:
            k = counts[which] = counts.get(which, 0) + 1
        return {"content": "Verdict: YES" if k <= yes[which] else "NO"}

    return policy


def mixed_policy(delays: dict[str, float]):
    """Logprobs with YES/NO for A and B; C's answer token is "The" (no YES/NO among its top logprobs)."""

    def policy(request: dict) -> dict:
        which = _which(request)
        if which is None or not request.get("logprobs"):
            return logprob_policy(0)(request) if which is None else {"content": "YES"}
        if which == "C":
            tops = [{"token": "The", "logprob": -0.1}, {"token": "A", "logprob": -2.5}]
            reply = {"content": "The", "logprobs": [{"token": "The", "logprob": -0.1, "top_logprobs": tops}]}
        else:
            reply = logprob_policy(0)(request)
        return {**reply, "delay": delays.get(which, 0.0)}

    return policy


def _config(**verifier) -> SwescaleConfig:
    config = SwescaleConfig()
    # obsolete_tests off: these tests count the judge's requests (tests/verifiers/test_targeted.py has that question)
    for key, value in {"judge_samples": 5, "obsolete_tests": False, **verifier}.items():
        setattr(config.verifier, key, value)
    return config


def _client(server: ScriptedServer) -> ModelClient:
    return ModelClient(
        ModelConfig(urls=[server.url], name="scripted", temperature=0.0, max_tokens=1, retries=0)
    )


def _stable(table: VerifierTable) -> dict:
    """The table without wall times, raw output excerpts (they hold timings) and run metadata."""
    data = table.model_dump()
    data.pop("meta")
    for column in data["tests"]:
        if column["reference"]:
            column["reference"].pop("duration")
            column["reference"].pop("output_excerpt")
    for row in data["rows"]:
        for outcome in row["outcomes"].values():
            outcome.pop("duration")
            outcome.pop("output_excerpt")
    return data


@pytest.fixture(scope="module")
def first(task, env, candidates, gen_tests, tmp_path_factory, make_pool):
    out = tmp_path_factory.mktemp("verify1")
    pool = make_pool()
    with ScriptedServer(logprob_policy(seed=1)) as server:
        table = verify(
            task, env, candidates, gen_tests, _config(), judge_model=_client(server), pool=pool, out_dir=out
        )
    return table, pool, out


def test_weights_of_distinguishing_and_uninformative_tests(first):
    table, _, _ = first
    good = table.test("t_good")
    assert good.distinguishing and good.weight == 1.0
    assert not good.reference.passed
    for test_id in ("t_import", "t_name"):
        assert table.test(test_id).weight == 0 and "crashes on original" in table.test(test_id).reason
    assert table.test("t_pass").weight == 0 and table.test("t_pass").reason == "passes everywhere"
    assert table.test("t_fail").weight == 0 and table.test("t_fail").reason == "fails everywhere"


def test_regression_tests_selected_and_breaking_candidate_penalised(first):
    table, _, _ = first
    assert table.meta["regression_files"] == ["tests/test_ops.py"]  # not tests/test_strings.py
    regression = [c.test_id for c in table.tests if c.kind == "regression"]
    assert regression == [
        "tests/test_ops.py::test_add (tests.test_ops.TestOps.test_add)",
        "tests/test_ops.py::test_mean (tests.test_ops.TestOps.test_mean)",
    ]
    b, a = table.row("B"), table.row("A")
    assert b.regression.new_failures == ["tests/test_ops.py::test_mean (tests.test_ops.TestOps.test_mean)"]
    assert a.regression.new_failures == [] and a.regression.passed == 2
    assert b.generated_score == a.generated_score == 1.0
    assert b.hybrid_score < a.hybrid_score


def test_correct_patch_ranks_first_despite_the_judge(first):
    table, _, _ = first
    assert table.ranking()[:2] == ["A", "E"]
    assert table.row("C").judge > table.row("A").judge  # the judge alone would pick C
    assert not table.row("D").applies and table.ranking()[-1] == "D"


def test_judge_probability_from_logprobs(first):
    table, _, _ = first
    for cid, p in {"A": 0.9, "E": 0.9, "B": 0.7, "C": 0.95}.items():
        assert table.row(cid).judge == pytest.approx(p, abs=1e-6)
    assert table.row("D").judge is None


def test_one_sandbox_per_distinct_candidate_plus_original(first, candidates):
    table, pool, _ = first
    distinct = len({c.patch_hash for c in candidates})
    assert distinct == 4 and len(candidates) == 5
    assert pool.started == table.meta["sandboxes_started"] == distinct + 1


def test_table_saved_as_json(first):
    table, _, out = first
    assert VerifierTable.load(out / TABLE_FILE) == table


def test_order_of_candidates_and_verdicts_changes_nothing(
    first, task, env, candidates, gen_tests, tmp_path, make_pool
):
    table, _, _ = first
    shuffled = list(candidates)
    random.Random(7).shuffle(shuffled)
    tests = list(reversed(gen_tests))
    with ScriptedServer(logprob_policy(seed=99)) as server:
        again = verify(
            task,
            env,
            shuffled,
            tests,
            _config(),
            judge_model=_client(server),
            pool=make_pool(),
            out_dir=tmp_path,
        )  # fresh cache: everything runs again
    assert _stable(again) == _stable(table)


def test_repeated_run_hits_the_cache(first, task, env, candidates, gen_tests, make_pool):
    table, _, out = first
    pool = make_pool()
    with ScriptedServer(logprob_policy(seed=3)) as server:
        again = verify(
            task,
            env,
            candidates,
            gen_tests,
            _config(cache_dir=str(out)),
            judge_model=_client(server),
            pool=pool,
        )
    assert pool.started == 0 and again.meta["sandboxes_started"] == 0
    assert _stable(again) == _stable(table)


def test_judge_mean_of_sampled_verdicts_without_logprobs(first, task, env, candidates, gen_tests, make_pool):
    _, _, out = first
    with ScriptedServer(sampled_policy()) as server:
        table = verify(
            task,
            env,
            candidates,
            gen_tests,
            _config(cache_dir=str(out), judge_concurrency=1),
            judge_model=_client(server),
            pool=make_pool(),
        )
        sampled = [r for r in server.requests if not r.get("logprobs")]
    # A and E share the policy's counter for A: 3 YES among the first 5 sampled, the next 5 are NO.
    assert sorted([table.row("A").judge, table.row("E").judge]) == [0.0, 0.6]
    assert table.row("B").judge == pytest.approx(0.2) and table.row("C").judge == 0.0
    assert all(r["n"] == 5 for r in sampled)


def test_without_judge_and_regression(first, task, env, candidates, gen_tests, make_pool):
    _, _, out = first
    table = verify(
        task,
        env,
        candidates,
        gen_tests,
        _config(cache_dir=str(out)),
        pool=make_pool(),
        regression=False,
        judge=False,
    )
    assert all(c.kind == "generated" for c in table.tests)
    assert all(r.judge is None for r in table.rows)
    # without regression tests B cannot be told from A; C, which does not fix the issue, ranks below both
    assert set(table.ranking()[:3]) == {"A", "B", "E"} and table.ranking()[3:] == ["C", "D"]


def test_mixed_judge_answers_give_the_same_table_in_any_completion_order(
    first, task, env, candidates, gen_tests, make_pool
):
    """C's answer has no YES/NO logprobs: it stays unjudged, and no other candidate switches to sampling,
    whichever answer arrives first (cached cells: no sandbox runs here)."""
    _, _, out = first
    tables = []
    for delays in ({"C": 0.0, "A": 0.4, "B": 0.4}, {"C": 0.6, "A": 0.0, "B": 0.0}):
        with ScriptedServer(mixed_policy(delays)) as server:
            tables.append(
                verify(
                    task,
                    env,
                    candidates,
                    gen_tests,
                    _config(cache_dir=str(out), judge_concurrency=2),
                    judge_model=_client(server),
                    pool=make_pool(),
                )
            )
            assert all(r.get("logprobs") for r in server.requests)  # nothing sampled
    assert _stable(tables[0]) == _stable(tables[1])
    for table in tables:
        assert table.meta["judge_method"]["method"] == "logprobs"
        assert table.row("C").judge is None and table.row("A").judge == pytest.approx(0.9)
