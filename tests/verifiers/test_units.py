"""Pure-python parts of the verifiers: judge scoring, outcomes, weights, hybrid formulas, collection."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from agent.result import ExitStatus, TrajectoryResult
from envs.environment import EnvSpec
from envs.runners import runner_for
from verifiers import collect
from verifiers.config import VerifierConfig
from verifiers.execute import FIND_TESTS
from verifiers.judge import p_yes_from_logprobs, verdict
from verifiers.logparse import parse_log
from verifiers.outcome import is_test_bug, make_outcome, normalize_output
from verifiers.table import CandidateRow, GeneratedTest, Outcome, RegressionResult, TestColumn, VerifierTable
from verifiers.weights import generated_scores, weigh_columns


def test_p_yes_from_top_logprobs():
    tops = [("YES", math.log(0.6)), (" yes", math.log(0.1)), ("NO", math.log(0.2)), ("maybe", math.log(0.1))]
    assert p_yes_from_logprobs(tops) == pytest.approx(0.7 / 0.9)
    # NO missing from the top list: bounded by the residual mass
    assert p_yes_from_logprobs([("YES", math.log(0.9)), ("x", math.log(0.05))]) == pytest.approx(0.9 / 0.95)
    assert p_yes_from_logprobs([("NO", 0.0)]) == 0.0
    assert p_yes_from_logprobs([("maybe", 0.0)]) is None


def test_verdict_parsing():
    assert verdict("YES") == 1.0 and verdict("no.") == 0.0
    assert verdict("Looking at it... NO wait, YES") == 1.0
    assert verdict("I cannot tell") is None


def test_normalized_digest_ignores_timings_and_addresses():
    a = make_outcome(1, "<obj at 0x7f3a2b1c> failed in 0.53s /tmp/abc123/x", False, 0.5, 100)
    b = make_outcome(1, "<obj at 0x7f00ffee> failed in 1.20s /tmp/zzz/x", False, 0.9, 100)
    assert a.output_digest == b.output_digest
    assert (
        make_outcome(0, "same", False, 0, 10).output_digest
        != make_outcome(1, "same", False, 0, 10).output_digest
    )
    assert "0xADDR" in normalize_output("at 0xdeadbeef")


def _out(code: int, text: str) -> Outcome:
    return make_outcome(code, text, False, 0.1, 2000)


def test_test_bug_classification():
    tb = 'Traceback (most recent call last):\n  File "/testbed/t.py", line 1, in <module>\n'
    assert is_test_bug(_out(1, tb + "ImportError: cannot import name 'x'"), "t.py")
    assert is_test_bug(_out(1, tb + "NameError: name 'y' is not defined"), "t.py")
    assert is_test_bug(
        _out(1, '  File "/testbed/t.py", line 2\n    x = (\nSyntaxError: invalid syntax'), "t.py"
    )
    # the issue's own symptom, or an assertion: the test works
    assert not is_test_bug(_out(1, tb + "AssertionError: wrong"), "t.py")
    assert not is_test_bug(
        _out(1, tb + '  File "/testbed/pkg/m.py", line 3, in f\nZeroDivisionError: x'), "t.py"
    )
    # a NameError raised inside the library is the issue, not a broken test
    assert not is_test_bug(_out(1, tb + '  File "/testbed/pkg/m.py", line 3, in f\nNameError: name'), "t.py")
    assert not is_test_bug(_out(2, "wrong result"), "t.py")


def _row(
    cid: str,
    passed: dict[str, bool],
    judge: float | None = None,
    new: list[str] = (),
    patch_hash: str | None = None,
    applies: bool = True,
) -> CandidateRow:
    return CandidateRow(
        candidate_id=cid,
        patch_hash=patch_hash or cid,
        applies=applies,
        judge=judge,
        outcomes={t: Outcome(exit_code=0 if ok else 1) for t, ok in passed.items()},
        regression=RegressionResult(passed=2 - len(new), failed=len(new), new_failures=list(new)),
    )


def _columns() -> tuple[list[TestColumn], dict[str, GeneratedTest]]:
    columns = [
        TestColumn(
            test_id=t, kind="generated", reference=Outcome(exit_code=1, output_excerpt="AssertionError")
        )
        for t in ("t1", "t2")
    ]
    return columns, {t: GeneratedTest(test_id=t, script="", path=f"{t}.py") for t in ("t1", "t2")}


def test_rarity_bonus_and_duplicates():
    columns, tests = _columns()
    rows = [
        _row("a", {"t1": True, "t2": True}),
        _row("a2", {"t1": True, "t2": True}, patch_hash="a"),
        _row("b", {"t1": True, "t2": False}),
        _row("c", {"t1": False, "t2": False}),
    ]
    weigh_columns(columns, tests, rows, VerifierConfig(rarity_bonus=1.0))
    # over distinct patches a, b, c: t1 passes on 2/3, t2 on 1/3 (the duplicate a2 does not count)
    assert [c.weight for c in columns] == [pytest.approx(4 / 3), pytest.approx(5 / 3)]
    generated_scores(columns, rows)
    assert [r.generated_score for r in rows] == [1.0, 1.0, pytest.approx(4 / 9), 0.0]
    weigh_columns(columns, tests, rows, VerifierConfig())
    assert [c.weight for c in columns] == [1.0, 1.0]


def test_table_lookup_and_ranking():
    table = VerifierTable(
        instance_id="x",
        rows=[
            CandidateRow(candidate_id="b", patch_hash="h", hybrid_score=1),
            CandidateRow(candidate_id="a", patch_hash="h", hybrid_score=1),
            CandidateRow(candidate_id="c", patch_hash="i", hybrid_score=2),
        ],
    )
    assert table.row("a").candidate_id == "a" and table.ranking() == ["c", "a", "b"]
    with pytest.raises(KeyError):
        table.row("zz")


def test_logs_parsed_by_swebench_parsers_chosen_by_the_environment():
    unittest_log = (
        "test_add (tests.test_ops.TestOps.test_add) ... ok\n"
        "test_sub (tests.test_ops.TestOps.test_sub) ... FAIL\n"
    )
    pytest_log = "PASSED tests/test_a.py::test_one\nFAILED tests/test_a.py::test_two - assert 1 == 2\n"
    unittest_env = EnvSpec(image="x", test_cmd="python3 -m unittest -v", log_parser="")
    pytest_env = EnvSpec(image="x", test_cmd="python -m pytest -rA", log_parser="")
    assert parse_log(unittest_log, unittest_env) == {
        "test_add (tests.test_ops.TestOps.test_add)": "PASSED",
        "test_sub (tests.test_ops.TestOps.test_sub)": "FAILED",
    }
    assert parse_log(pytest_log, pytest_env) == {
        "tests/test_a.py::test_one": "PASSED",
        "tests/test_a.py::test_two": "FAILED",
    }


def test_sympy_logs_keep_the_last_test_of_each_file():
    # bin/test closes each file's last test line with [OK] or [FAIL]; swebench's parser alone drops it
    log = (
        "sympy/core/tests/test_diff.py[2] \n"
        "test_diff_no_eval_derivative ok\n"
        "test_diff_nth_derivative ok                                                 [OK]\n"
        "sympy/core/tests/test_zz.py[2] \n"
        "test_ok ok\n"
        "test_bad F                                                                [FAIL]\n"
    )
    sympy_env = EnvSpec(image="x", test_cmd="bin/test -C --verbose", log_parser="parse_log_sympy")
    assert parse_log(log, sympy_env) == {
        "test_diff_no_eval_derivative": "PASSED",
        "test_diff_nth_derivative": "PASSED",
        "test_ok": "PASSED",
        "test_bad": "FAILED",
    }


def test_collection_helpers():
    results = [
        TrajectoryResult(trajectory_id=t, exit_status=ExitStatus.submitted, repro_test=s, repro_path=p)
        for t, s, p in [
            ("t2", "print(1)", "reproduce_issue.py"),
            ("t1", "print(1)", "reproduce_issue.py"),
            ("t3", "", None),
            ("t4", "exit(1)", "/abs/path.py"),
        ]
    ]
    tests = collect.tests_from_trajectories(results)
    assert [(t.test_id, t.path) for t in tests] == [
        ("repro:t1", "reproduce_issue.py"),
        ("repro:t4", "swescale_generated_test.py"),
    ]
    assert [t.test_id for t in collect.merge_tests(tests, tests)] == ["repro:t1", "repro:t4"]
    patch = (
        "diff --git a/pkg/m.py b/pkg/m.py\n--- a/pkg/m.py\n+++ b/pkg/m.py\n@@\n"
        "diff --git a/new.py b/new.py\nnew file mode 100644\n--- /dev/null\n+++ b/new.py\n"
    )
    assert collect.touched_files([patch]) == ["new.py", "pkg/m.py"]
    pytest_cmd, django_cmd = "python -m pytest -rA", "./tests/runtests.py --verbosity 2"
    assert (
        runner_for(pytest_cmd).file_commands(pytest_cmd, ["tests/a b.py", "tests/c.py"])
        == "python -m pytest -rA 'tests/a b.py'; python -m pytest -rA tests/c.py"  # one process per file
    )
    django = runner_for(django_cmd).file_commands(django_cmd, ["tests/forms_tests/tests/test_forms.py"])
    assert django.endswith(" forms_tests.tests.test_forms")


def test_find_tests_script(calc_repo: Path):
    def run(*touched: str) -> list[str]:
        out = subprocess.run(
            [sys.executable, str(FIND_TESTS), "10", *touched],
            cwd=calc_repo,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        return json.loads(out)

    assert run("calc/ops.py") == ["tests/test_ops.py"]
    assert run("calc/strings.py", "README.md") == ["tests/test_strings.py"]
    assert run("calc/__init__.py") == ["tests/test_ops.py", "tests/test_strings.py"]  # the package itself
    assert run("tests/test_ops.py") == []


def test_judge_samples_when_the_server_rejects_logprobs():
    from agent.model import ModelClient
    from swescale.config import ModelConfig
    from swescale.demo.scripted_server import ScriptedServer
    from verifiers.judge import Judge
    from verifiers.table import Candidate

    def policy(request: dict) -> dict:
        if request.get("logprobs"):
            return {"status": 400, "content": "logprobs not supported"}
        return {"content": "YES" if "good" in request["messages"][-1]["content"] else "NO"}

    candidates = [Candidate(candidate_id=c, patch=f"+{c}\n") for c in ("good", "bad")]
    with ScriptedServer(policy) as server:
        model = ModelClient(ModelConfig(urls=[server.url], name="scripted", retries=0))
        scores = Judge(model, "issue", VerifierConfig(judge_samples=3)).score_all(candidates)
        assert scores == {"good": 1.0, "bad": 0.0}


def test_cache_location_and_image_namespace(tmp_path):
    """`verifier.cache_dir` (per machine) wins over the run's directory, which wins over out_dir; an image
    rebuilt under the same name (another id) reuses nothing."""
    from verifiers.cache import NullCache, open_cache

    run = open_cache("", tmp_path / "out", tmp_path / "run", namespace="sha256:aaa")
    assert run.path == tmp_path / "run" / "verifier_cache.sqlite"
    run.put("k", {"exit_code": 0})
    assert open_cache("", None, tmp_path / "run", namespace="sha256:aaa").get("k") == {"exit_code": 0}
    assert open_cache("", None, tmp_path / "run", namespace="sha256:bbb").get("k") is None
    machine = open_cache(str(tmp_path / "machine"), tmp_path / "out", tmp_path / "run")
    assert machine.path == tmp_path / "machine" / "verifier_cache.sqlite"
    assert open_cache("", tmp_path / "out").path == tmp_path / "out" / "verifier_cache.sqlite"
    assert isinstance(open_cache("", None), NullCache)
