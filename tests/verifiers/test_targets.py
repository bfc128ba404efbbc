"""Which regression tests exercise a candidate's change: changed lines -> functions -> tests (pure)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from envs.runners import function_name, runner_for
from sandbox.patch import line_changes
from verifiers.calltrace_box import spans
from verifiers.targets import selected_ids, target_functions, targets_of

SOURCE = '''import os


def alpha(x):
    """Doc."""
    return x + 1


class Box:
    size = 3

    def beta(self):
        return self.size


def gamma():
    return 0
'''


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "mod.py").write_text(SOURCE)
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run(["git", "add", "-A"], cwd=tmp_path, check=True)
    return tmp_path


def _patch(repo: Path, new: str) -> str:
    (repo / "pkg" / "mod.py").write_text(new)
    diff = subprocess.run(["git", "diff"], cwd=repo, capture_output=True, text=True, check=True).stdout
    (repo / "pkg" / "mod.py").write_text(SOURCE)
    return diff


def _spans(repo: Path) -> dict:
    info = spans([str(repo / "pkg" / "mod.py")])
    return {"pkg/mod.py": info[str(repo / "pkg" / "mod.py")]}


def test_spans_of_functions_and_imports(repo):
    info = _spans(repo)["pkg/mod.py"]
    assert [f[:3] for f in info["functions"]] == [["alpha", 4, 6], ["Box.beta", 12, 13], ["gamma", 16, 17]]
    assert info["imports"] == [[1, 1]]


def test_a_change_inside_a_function_targets_that_function(repo):
    patch = _patch(repo, SOURCE.replace("return x + 1", "return x + 2"))
    assert line_changes(patch) == {"pkg/mod.py": [(6, "-", "    return x + 1"), (6, "+", "    return x + 2")]}
    targets = targets_of(patch, _spans(repo), [])
    assert targets.functions == {"pkg/mod.py": {6}} and not targets.whole_files and not targets.everything
    assert not targets.load_time  # runs only when called: importing the module cannot fail on it
    functions = [["pkg/mod.py", 4, 6], ["pkg/mod.py", 12, 13], ["pkg/mod.py", 16, 17]]
    assert target_functions(targets, functions, _spans(repo)) == {0}


def test_imports_and_new_top_level_functions_target_nothing(repo):
    new = SOURCE.replace("import os\n", "import os\nimport sys\n") + "\n\ndef delta():\n    return sys.argv\n"
    targets = targets_of(_patch(repo, new), _spans(repo), [])
    assert not targets.functions and not targets.whole_files and not targets.everything
    assert targets.load_time == {"pkg/mod.py"}  # but they run at import, which the sandbox checks


def test_a_class_level_change_targets_the_whole_file(repo):
    targets = targets_of(_patch(repo, SOURCE.replace("size = 3", "size = 4")), _spans(repo), [])
    assert targets.whole_files == {"pkg/mod.py"}
    assert target_functions(targets, [["pkg/mod.py", 16, 17], ["other.py", 1, 2]], _spans(repo)) == {0}


def test_configuration_changes_target_everything_docs_nothing():
    conf = "diff --git a/setup.cfg b/setup.cfg\n--- a/setup.cfg\n+++ b/setup.cfg\n@@ -1 +1 @@\n-a\n+b\n"
    doc = conf.replace("setup.cfg", "docs/index.rst")
    assert targets_of(conf, {}, []).everything
    assert not targets_of(doc, {}, []).everything
    edited = conf.replace("setup.cfg", "tests/test_x.py")
    assert targets_of(edited, {}, ["tests/test_x.py"]).edited_tests == {"tests/test_x.py"}


def test_selected_ids_by_node_id_or_test_function():
    hits = {
        "node:tests/test_a.py::TestA::test_one[1]": [0],
        "func:tests/test_a.py::test_two": [1],
        "func:tests/test_b.py::test_three": [0],
    }
    passing = [
        "tests/test_a.py::TestA::test_one[1]",
        "tests/test_a.py::test_two",
        "tests/test_a.py::test_four",
    ]
    assert selected_ids(passing, "tests/test_a.py", hits, {0}) == {"tests/test_a.py::TestA::test_one[1]"}
    assert selected_ids(passing, "tests/test_a.py", hits, {1}) == {"tests/test_a.py::test_two"}
    assert selected_ids(["test_three"], "tests/test_b.py", hits, {0}) == {"test_three"}
    assert function_name("test_x (mod.Class.test_x)") == "test_x"


def subset_command(test_cmd: str, file: str, ids: set[str]) -> str | None:
    return runner_for(test_cmd).subset_command(test_cmd, [(file, ids)])


def subset_command_many(test_cmd: str, parts: list[tuple[str, set[str]]]) -> str | None:
    return runner_for(test_cmd).subset_command(test_cmd, parts)


def test_subset_commands_per_runner():
    ids = {"t/test_a.py::TestA::test_one[1]", "t/test_a.py::TestA::test_one[2]"}
    assert subset_command("pytest -rA", "t/test_a.py", ids) == "pytest -rA t/test_a.py::TestA::test_one"
    assert (
        subset_command("bin/test -C", "t/test_b.py", {"test_x", "test_y"})
        == "bin/test -C t/test_b.py -k test_x test_y"
    )
    unit = subset_command(
        "python -m unittest -v", "tests/test_ops.py", {"test_add (tests.test_ops.TestOps.test_add)"}
    )
    assert unit == "python -m unittest -v tests.test_ops.TestOps.test_add"
    django = subset_command("./tests/runtests.py", "tests/x/tests.py", {"test_y (x.tests.C)"})
    assert django == "./tests/runtests.py x.tests.C.test_y"
    assert subset_command("make test", "t.py", {"a"}) is None


def test_one_process_for_several_files_unless_names_collide():
    from verifiers.targets import process_groups

    parts = [("t/test_a.py", {"t/test_a.py::test_x"}), ("t/test_b.py", {"t/test_b.py::T::test_y[1]"})]
    assert subset_command_many("pytest -rA", parts) == "pytest -rA t/test_a.py::test_x t/test_b.py::T::test_y"
    assert process_groups(parts, {}) == [[0, 1]]  # pytest's node ids name the file: no names to keep apart
    sympy = [("a.py", {"test_x"}), ("b.py", {"test_y"}), ("c.py", {"test_w"})]
    assert subset_command_many("bin/test -C", sympy[:2]) == "bin/test -C a.py b.py -k test_x test_y"
    # sympy's parser names tests by function only: files sharing a test name go to different processes,
    # the others share one (first fit)
    names = {"a.py": {"test_x", "test_z"}, "b.py": {"test_y", "test_z"}, "c.py": {"test_w"}}
    assert process_groups(sympy, names) == [[0, 2], [1]]
    assert process_groups(sympy, {"a.py": {"test_x"}, "b.py": {"test_y"}}) == [[0, 1, 2]]
    assert process_groups([], {}) == []


def test_a_process_holds_no_more_than_the_timeout_cap_of_its_parts_timeouts():
    """A process's timeout stops at `regression_timeout`: parts whose timeouts add up to more go to
    another process (sympy 13471: two slow files in one process timed out on every candidate)."""
    from verifiers.targets import process_groups

    parts = [(f"{name}.py", {"test_x"}) for name in "abcd"]
    costs = [400.0, 300.0, 100.0, 600.0]
    assert process_groups(parts, {}, costs, 600.0) == [[0, 2], [1], [3]]
    names = {p: {f"test_{p[0]}"} for p, _ in parts}
    assert process_groups(parts, names, costs, 600.0) == [[0, 2], [1], [3]]
    assert process_groups(parts, names, costs, None) == [[0, 1, 2, 3]]


def test_sympy_runs_its_tests_in_its_own_process():
    def in_process(test_cmd: str) -> str:
        return runner_for(test_cmd).in_process(test_cmd)

    assert (
        in_process("PYTHONWARNINGS=x bin/test -C --verbose")
        == "PYTHONWARNINGS=x bin/test --no-subprocess -C --verbose"
    )
    assert in_process("bin/test --no-subprocess -C") == "bin/test --no-subprocess -C"
    assert in_process("pytest -rA") == "pytest -rA"


def test_a_sympy_candidate_runs_its_selected_tests_in_as_few_processes_as_names_allow(repo):
    """Three files call the changed function; two share a test name, so they need two processes."""
    from types import SimpleNamespace

    from verifiers.config import VerifierConfig
    from verifiers.regression import FileRecord, RegressionPlan, candidate_batches

    def record(file: str, names: list[str], seconds: float) -> FileRecord:
        hits = {f"func:{file}::{n}": [0] for n in names}
        return FileRecord(file=file, seconds=seconds, passing=names, hits=hits)

    plan = RegressionPlan(
        files=[
            record("t/test_a.py", ["test_one", "test_same"], 10.0),
            record("t/test_b.py", ["test_two", "test_same"], 20.0),
            record("t/test_c.py", ["test_three"], 30.0),
        ],
        functions=[["pkg/mod.py", 4, 6]],
        spans=_spans(repo),
    )
    env = SimpleNamespace(test_cmd="bin/test -C --verbose")
    patch = _patch(repo, SOURCE.replace("return x + 1", "return x + 2"))
    config = VerifierConfig(regression_timeout_factor=3.0, regression_timeout_margin=30.0)
    batches = candidate_batches(plan, env, patch, False, config)
    assert [[r.file for r, _ in members] for members, _, _ in batches] == [
        ["t/test_a.py", "t/test_c.py"],
        ["t/test_b.py"],
    ]
    assert batches[0][1] == (
        "bin/test --no-subprocess -C --verbose t/test_a.py t/test_c.py -k test_one test_same test_three"
    )
    assert [timeout for _, _, timeout in batches] == [(3 * 10 + 30) + (3 * 30 + 30), 3 * 20 + 30]


def test_a_sympy_subset_times_out_relative_to_the_tests_it_runs(repo):
    """With each test's seconds from the original, a subset's timeout counts the tests its -k keywords
    select (substrings: test_one also runs test_one_slow); without them, or when the original was cut
    at its timeout, the whole file's."""
    from types import SimpleNamespace

    from verifiers.config import VerifierConfig
    from verifiers.regression import FileRecord, RegressionPlan, candidate_batches

    key = "func:t/test_a.py::"
    seconds = {"test_one": 1.0, "test_one_slow": 40.0, "test_other": 100.0}
    timed = FileRecord(
        file="t/test_a.py",
        seconds=150.0,
        passing=["test_one", "test_one_slow", "test_other"],
        hits={key + "test_one": [0]},
        durations={key + name: s for name, s in seconds.items()},
    )
    env = SimpleNamespace(test_cmd="bin/test -C --verbose")
    patch = _patch(repo, SOURCE.replace("return x + 1", "return x + 2"))
    config = VerifierConfig(regression_timeout_factor=3.0, regression_timeout_margin=30.0)

    def timeouts(record: FileRecord) -> list[float]:
        plan = RegressionPlan(files=[record], functions=[["pkg/mod.py", 4, 6]], spans=_spans(repo))
        return [timeout for _, _, timeout in candidate_batches(plan, env, patch, False, config)]

    assert timeouts(timed) == [3 * (1.0 + 40.0) + 30]
    assert timeouts(timed.model_copy(update={"durations": None})) == [3 * 150.0 + 30]
    assert timeouts(timed.model_copy(update={"timed_out": True})) == [3 * 150.0 + 30]


def test_a_killed_run_keeps_the_seconds_of_the_tests_that_ended():
    from verifiers.regression import _from_journal, _merge_calls

    journal = '["func:t.py::test_a", "pkg/mod.py", 4, 6]\n{"seconds": ["func:t.py::test_a", 2.5]}\n{"seco'
    data = _from_journal(journal)
    assert data["hits"] == {"func:t.py::test_a": [0]} and data["durations"] == {"func:t.py::test_a": 2.5}
    # tests ended and none called a touched function: the file has a record (nothing to run), not none
    quiet = _merge_calls([_from_journal('{"seconds": ["func:t.py::test_b", 0.1]}\n')], [], {})
    assert quiet == {}


def test_the_candidate_whose_selected_tests_took_longest_on_the_original_is_expected_longest(repo):
    """Candidates start longest first (no slot idles behind a long last run): the cost of one is what its
    selected tests took on the original."""
    from types import SimpleNamespace

    from verifiers.config import VerifierConfig
    from verifiers.regression import FileRecord, RegressionPlan, expected_seconds

    key = "func:t/test_a.py::"
    record = FileRecord(
        file="t/test_a.py",
        seconds=60.0,
        passing=["test_slow", "test_fast"],
        hits={key + "test_slow": [0], key + "test_fast": [1]},
        durations={key + "test_slow": 50.0, key + "test_fast": 1.0},
    )
    functions = [["pkg/mod.py", 4, 6], ["pkg/mod.py", 16, 17]]  # alpha, gamma
    plan = RegressionPlan(files=[record], functions=functions, spans=_spans(repo))
    env = SimpleNamespace(test_cmd="bin/test -C --verbose")
    config = VerifierConfig(regression_timeout_factor=3.0, regression_timeout_margin=30.0)
    alpha = _patch(repo, SOURCE.replace("return x + 1", "return x + 2"))
    gamma = _patch(repo, SOURCE.replace("return 0", "return 1"))
    untested = _patch(repo, SOURCE.replace("return self.size", "return 0"))
    assert expected_seconds(plan, env, alpha, config) == 3 * 50.0 + 30
    assert expected_seconds(plan, env, gamma, config) == 3 * 1.0 + 30
    assert expected_seconds(plan, env, untested, config) == 0
