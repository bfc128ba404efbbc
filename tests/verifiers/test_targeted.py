"""Targeted regression runs in real sandboxes: only tests calling changed code, relative timeouts, and
regression tests the model calls obsolete. The calc task of conftest.py (unittest tests)."""

from __future__ import annotations

import math
import subprocess
import time

import pytest

from agent.config import ModelConfig
from agent.model import ModelClient
from swescale.config import SwescaleConfig
from swescale.demo.scripted_server import ScriptedServer
from verifiers.run import verify
from verifiers.table import Candidate

pytestmark = pytest.mark.docker

MEAN = "tests/test_ops.py::test_mean (tests.test_ops.TestOps.test_mean)"
ADD = "tests/test_ops.py::test_add (tests.test_ops.TestOps.test_add)"


def _config(mode: str, **verifier) -> SwescaleConfig:
    config = SwescaleConfig()
    config.verifier.regression_mode = mode
    for key, value in verifier.items():
        setattr(config.verifier, key, value)
    return config


def make_patch(repo, files: dict[str, str]) -> str:
    originals = {path: (repo / path).read_text() for path in files}
    for path, text in files.items():
        (repo / path).write_text(text)
    diff = subprocess.run(["git", "diff"], cwd=repo, check=True, capture_output=True, text=True).stdout
    for path, text in originals.items():
        (repo / path).write_text(text)
    return diff


@pytest.fixture(scope="module")
def more(calc_repo, candidates) -> list[Candidate]:
    ops = (calc_repo / "calc" / "ops.py").read_text()
    hang = ops.replace("def mean(xs):\n", "def mean(xs):\n    while xs:\n        pass\n")
    add = ops.replace("return a + b", "return a - b")
    # an import between two functions targets no function, yet breaks every import of the module
    unimportable = ops.replace("\n\ndef mean", "\nfrom calc.missing import nothing\n\n\ndef mean")
    extra = {
        "F": make_patch(calc_repo, {"calc/ops.py": hang}),
        "G": make_patch(calc_repo, {"calc/ops.py": add}),
        "H": make_patch(calc_repo, {"calc/ops.py": unimportable}),
    }
    return [c for c in candidates if c.candidate_id != "D"] + [
        Candidate(candidate_id=k, patch=p, source="test") for k, p in extra.items()
    ]


@pytest.fixture(scope="module")
def tables(task, env, more, make_pool, tmp_path_factory):
    out = {}
    for mode in ("targeted", "files"):
        config = _config(mode, regression_timeout=40, regression_timeout_margin=4.0)
        started = time.monotonic()
        table = verify(task, env, more, [], config, pool=make_pool(), out_dir=tmp_path_factory.mktemp(mode))
        out[mode] = (table, time.monotonic() - started)
    return out


def test_targeted_runs_only_the_tests_calling_the_changed_function(tables):
    table, _ = tables["targeted"]
    assert table.row("A").regression.ran == 1  # mean changed: test_mean only
    assert table.row("G").regression.ran == 1 and table.row("G").regression.new_failures == [ADD]
    assert table.row("C").regression.ran == 0  # a comment inside mean changes nothing
    assert table.row("B").regression.new_failures == [MEAN]


def test_targeted_and_whole_file_runs_agree(tables):
    targeted, files = tables["targeted"][0], tables["files"][0]
    for cid in ("A", "B", "C", "E", "G", "H"):
        got = {t.removeprefix("tests/test_ops.py::") for t in targeted.row(cid).regression.new_failures}
        assert got == set(files.row(cid).regression.new_failures), cid


def test_a_candidate_whose_module_no_longer_imports_runs_every_file_whole(tables):
    """An added import of a missing name targets no function, yet fails every test importing the module."""
    regression = tables["targeted"][0].row("H").regression
    assert regression.failed >= 2  # test_mean and test_add, which import calc.ops
    assert regression.ran == regression.passed + regression.failed  # all ran, not only callers (none)


def test_a_hanging_candidate_costs_a_timeout_relative_to_the_original(tables):
    table, seconds = tables["targeted"]
    assert MEAN in table.row("F").regression.new_failures
    record = table.meta["regression_file_seconds"]["tests/test_ops.py"]
    # the file's timeout is 3 x its run time on the original + 4 s, far below the flat 40 s
    files_table, files_seconds = tables["files"]
    assert record < 5 and files_seconds > 40  # whole-file mode waits for the flat timeout
    assert seconds < files_seconds - 15
    # the whole-file run keeps what the log said before the flat timeout killed it
    assert files_table.row("F").regression.new_failures == ["test_mean (tests.test_ops.TestOps.test_mean)"]


def obsolete_policy(request: dict) -> dict:
    if "which existing tests" in request["messages"][0]["content"]:
        return {"content": f"The issue changes what mean() returns:\n- {MEAN}\n"}
    tops = [{"token": "YES", "logprob": math.log(0.5)}, {"token": "NO", "logprob": math.log(0.5)}]
    return {"content": "YES", "logprobs": [{"token": "YES", "logprob": math.log(0.5), "top_logprobs": tops}]}


def test_tests_the_model_calls_obsolete_weigh_nothing(task, env, candidates, make_pool, tmp_path):
    with ScriptedServer(obsolete_policy) as server:
        client = ModelClient(ModelConfig(urls=[server.url], name="scripted", max_tokens=1, retries=0))
        table = verify(
            task,
            env,
            candidates,
            [],
            _config("targeted"),
            judge_model=client,
            pool=make_pool(),
            out_dir=tmp_path,
        )
        asked = [r for r in server.requests if "which existing tests" in r["messages"][0]["content"]]
    assert len(asked) == 1 and MEAN in asked[0]["messages"][1]["content"]
    column = table.test(MEAN)
    assert column.weight == 0.0 and column.reason == "obsolete (verifier model)"
    assert table.row("B").regression.weight_failed == 0.0 and table.row("B").regression.failed == 1
