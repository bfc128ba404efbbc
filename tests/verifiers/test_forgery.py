"""A wrong candidate whose code forges the exec server's "exit 0" answer still fails (issue #11, point 7)."""

from __future__ import annotations

import pytest

from swescale.config import SwescaleConfig
from tests.sandbox.forger import FORGER
from tests.verifiers.conftest import FILES, TESTS, make_patch
from verifiers.run import verify
from verifiers.table import Candidate, GeneratedTest

pytestmark = pytest.mark.docker


def test_forging_candidate_gets_its_true_outcome(task, env, calc_repo, candidates, make_pool, tmp_path):
    # calc/ops.py still divides by zero on [], and on import tries to forge a pass for whatever runs it
    forging = make_patch(calc_repo, {"calc/ops.py": FORGER + FILES["calc/ops.py"]})
    fixed = next(c for c in candidates if c.candidate_id == "A")
    config = SwescaleConfig()
    config.verifier.cache_dir = str(tmp_path)
    test = GeneratedTest(test_id="t_good", script=TESTS["t_good"], source="test", path="check_t_good.py")
    table = verify(
        task,
        env,
        [fixed, Candidate(candidate_id="F", patch=forging, source="test")],
        [test],
        config,
        pool=make_pool(),
        out_dir=tmp_path,
        regression=False,
        judge=False,
    )
    forged = table.row("F").outcomes["t_good"]
    assert forged.exit_code == 1 and not forged.passed
    assert "ZeroDivisionError" in forged.output_excerpt  # its own output, not the forged answer
    assert table.row("A").outcomes["t_good"].passed
    assert table.ranking()[0] == "A"
