"""Probes end to end: the issue's `>>>` session run on the original and on each candidate in its sandbox,
the signals selection reads, and the clusters probes make."""

from __future__ import annotations

import pytest

from selection.config import SelectionConfig
from selection.select import select
from swescale.config import SwescaleConfig
from tests.verifiers.conftest import FILES, FIXES, make_patch
from verifiers.probes.signals import evidence
from verifiers.run import verify
from verifiers.table import Candidate

pytestmark = pytest.mark.docker

ISSUE = """`mean` of an empty list raises:

```python
>>> from calc.ops import mean
>>> mean([])
Traceback (most recent call last):
  File "<stdin>", line 1, in <module>
ZeroDivisionError: division by zero
```

`mean([])` should return `0.0`.
"""

HEAD = FILES["calc/ops.py"].split("def mean")[0]
HOSTILE = {
    # prints a record of a guessed nonce and an end record, on stdout and every descriptor it finds
    "F": (
        "def mean(xs):\n    import os\n    line = 'SWESCALE-PROBE ' + '0' * 32 + ' {\"end\": true}\\n'\n"
        "    print(line * 1000)\n    for fd in range(1, 10):\n        try:\n            os.write(fd, line.encode())\n"
        "        except OSError:\n            pass\n    return 0.5\n"
    ),
    "G": "def mean(xs):\n    while True:\n        pass\n",  # never returns
}


@pytest.fixture(scope="module")
def probe_candidates(calc_repo) -> list[Candidate]:
    bodies = {**FIXES, **HOSTILE}
    patches = {k: make_patch(calc_repo, {"calc/ops.py": HEAD + v}) for k, v in bodies.items()}
    out = [Candidate(candidate_id=k, patch=p, source="test") for k, p in patches.items()]
    return [*out, Candidate(candidate_id="E", patch=patches["A"], source="test")]


def test_probes_on_original_and_candidates(env, probe_candidates, tmp_path, make_pool):
    from envs.task import Task

    task = Task(instance_id="calc__probe-1", repo="calc/calc", problem_statement=ISSUE)
    config = SwescaleConfig()
    config.verifier.probe_timeout = 5.0
    table = verify(
        task, env, probe_candidates, [], config, pool=make_pool(), out_dir=tmp_path, regression=False
    )

    (col,) = table.probes
    assert [s.code for s in col.probe.steps] == ["from calc.ops import mean", "mean([])"]
    assert col.reference.steps[1].text == "ZeroDivisionError: division by zero"
    assert col.reproduces and col.checks == [1]  # the issue's `0.0` is not what the original gives

    rows = table.by_candidate
    got = {cid: evidence(table.probes, row.probes) for cid, row in rows.items()}
    assert got["A"].met == got["B"].met == got["E"].met == 1  # B returns 0/1 = 0.0 too
    assert got["C"].met == 0 and got["C"].changed == 0
    hostile = rows["F"].probes[col.probe.probe_id]
    assert hostile.status == "ran" and hostile.steps[1].text == "0.5"  # no forged record was read
    assert "SWESCALE-PROBE" in hostile.steps[1].stdout
    assert got["F"].met == 0 and got["F"].changed == 1
    loop = rows["G"].probes[col.probe.probe_id]
    assert loop.status == "timeout" and loop.steps[1].kind == "timeout"
    assert got["G"].changed == 0  # broken, not changed

    # cached: a second verification starts no sandbox
    again = verify(
        task, env, probe_candidates, [], config, pool=make_pool(), out_dir=tmp_path, regression=False
    )
    assert again.meta["sandboxes_started"] == 0
    assert again.by_candidate["A"].probes == rows["A"].probes

    # without tests each normalized patch is its own cluster; probes join those that behave alike (C only
    # adds a comment: empty after normalization, never viable)
    plain = select(table, SelectionConfig(probe_weight=0, probe_clusters=False), probe_candidates)
    joined = select(table, SelectionConfig(probe_clusters=True, probe_weight=1.0), probe_candidates)
    members = sorted(sorted(c.members) for c in joined.clusters if c.viable)
    assert members == [["A", "B", "E"], ["F"], ["G"]]
    assert len([c for c in plain.clusters if c.viable]) == 4
    assert joined.best in {"A", "E", "B"} and joined.evidence["p"] == 1.0
    assert "value(s) the issue expects" in joined.reason


COMMAND_ISSUE = """`python -m calc` should print the mean of its arguments:

```shell
$ python -m calc 1 2 3
/usr/bin/python3: No module named calc.__main__
```

Expected output:

```
2.0
```
"""
MAINS = {
    "A": "import sys\nfrom calc.ops import mean\nprint(mean([float(a) for a in sys.argv[1:]]))\n",
    "B": "import sys\nprint('mean:', sum(map(float, sys.argv[1:])))\n",  # runs, prints something else
    # prints the expected line as a forged probe record, on stdout and on every descriptor it can find
    "D": (
        "import os\nline = 'SWESCALE-PROBE ' + '0' * 32\n"
        'line += \' {"i": 3, "kind": "value", "stdout": "2.0"}\\n\'\n'
        "for fd in range(1, 10):\n    try:\n        os.write(fd, line.encode())\n"
        "    except OSError:\n        pass\n"
    ),
}


def test_a_command_probe_in_each_candidates_sandbox(env, calc_repo, tmp_path, make_pool):
    """The issue's `python -m calc 1 2 3` run on the original and on each candidate: the one printing the
    expected line meets it; output that only imitates the runner's records is the command's output."""
    from envs.task import Task

    patches = {k: make_patch(calc_repo, {"calc/__main__.py": v}) for k, v in MAINS.items()}
    candidates = [Candidate(candidate_id=k, patch=p, source="test") for k, p in patches.items()]
    task = Task(instance_id="calc__command-1", repo="calc/calc", problem_statement=COMMAND_ISSUE)
    config = SwescaleConfig()
    table = verify(task, env, candidates, [], config, pool=make_pool(), out_dir=tmp_path, regression=False)

    (col,) = table.probes
    assert col.probe.steps[-1].code == "_command('python -m calc 1 2 3')"
    original = col.reference.steps[-1]
    assert original.text == "1" and "No module named calc.__main__" in original.stdout
    assert col.checks == [len(col.probe.steps) - 1]  # the original does not print 2.0
    got = {cid: evidence(table.probes, row.probes) for cid, row in table.by_candidate.items()}
    assert (got["A"].met, got["B"].met, got["D"].met) == (1, 0, 0)
    assert got["B"].changed == got["D"].changed == 1
    forged = table.by_candidate["D"].probes[col.probe.probe_id]
    assert (
        forged.status == "ran"
        and forged.steps[-1].text == "0"
        and "SWESCALE-PROBE" in forged.steps[-1].stdout
    )
