"""The issue's command lines as probes: extraction on real SWE-bench Lite issues (pylint, pytest), the
`lines:` expectation, and a command probe run by the in-sandbox runner in a real interpreter (no Docker)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.verifiers.test_probes import probes_of
from verifiers.probes.commands import DEFAULT_FILE, is_command
from verifiers.probes.extract import extract_probes
from verifiers.probes.run import BOX, TEXT_CAP, read_records
from verifiers.probes.signals import column, evidence, meets, prints_lines
from verifiers.table import Probe, ProbeOutcome, ProbeStep, StepResult


def command(probe: Probe) -> str:
    return probe.steps[-1].code


def files(probe: Probe) -> list[str]:
    return [s.code.split("'")[1] for s in probe.steps if s.setup and "open(" in s.code]


def test_pylint_command_on_the_file_the_issue_writes_with_its_expected_output():
    (probe,) = probes_of("pylint-dev__pylint-5859")
    assert command(probe) == "_command('pylint test.py --notes=\"YES,???\"')"
    assert files(probe) == ["test.py"]  # the unnamed ```python block before the command
    assert "# YES: yes\\n# ???: no\\n" in probe.steps[2].code
    # the "Expected behavior" block; not the "Pylint output" block between them
    assert probe.steps[-1].expected.splitlines()[1:] == [
        "************* Module test",
        "test.py:1:1: W0511: YES: yes (fixme)",
        "test.py:2:1: W0511: ???: no (fixme)",
    ]
    assert all(s.setup for s in probe.steps[:-1]) and not probe.steps[-1].setup
    assert is_command(probe) and not any(map(is_command, probes_of("sympy__sympy-14774")))


def test_files_named_by_their_first_line_and_an_inline_command():
    (probe,) = probes_of("pytest-dev__pytest-7373")
    assert command(probe) == "_command('pytest test_module_1.py test_module_2.py')"
    assert files(probe) == ["test_module_1.py", "test_module_2.py"]
    assert "skip = True" in probe.steps[2].code and "skip = False" in probe.steps[3].code


def test_a_prompt_line_in_an_output_block_and_a_file_named_in_a_comment():
    (probe,) = probes_of("pytest-dev__pytest-7490")
    assert command(probe) == "_command('pytest -rsx test_foo.py')"
    assert files(probe) == ["test_foo.py"]  # `# file: test_foo.py`
    assert probe.steps[-1].expected is None  # the outputs shown are 5.x's and 6.0's, no "expected" heading


def test_a_command_without_a_file_runs_on_the_example_under_a_collected_name():
    probes = probes_of("pytest-dev__pytest-7432")
    assert [command(p) for p in probes] == ["_command('pytest -rs')", "_command('pytest -rs --runxfail')"]
    assert all(files(p) == [DEFAULT_FILE] for p in probes)


def test_versions_shell_lines_other_tools_and_missing_files_are_no_commands():
    # `pylint a`: pylint 7114's package `a`, shown as a tree, is not written out: on a missing `a` every
    # version prints "No module named a", and a candidate that crashes or prints nothing looked "changed"
    issue = """Broken.

```
$ pip list
pytest        5.4.3
pylint        2.14.0
```

```shell
pylint a.py | grep W0511
pylint missing.py
pylint docs/
mypy -Q
pylint a
pylint -E r a
python -m pylint --version
```
"""
    (probe,) = extract_probes(issue, "pylint")
    assert command(probe) == "_command('python -m pylint --version')" and files(probe) == []


def test_prints_lines_in_order_whitespace_ignored():
    printed = (
        "************* Module test\ntest.py:1:1: W0511: YES:  yes (fixme)\n"
        "test.py:2:1: W0511: ???: no (fixme)\n\nrated"
    )
    assert prints_lines(
        "test.py:1:1: W0511: YES: yes (fixme)\n\ntest.py:2:1: W0511: ???: no (fixme)", printed
    )
    assert not prints_lines(
        "test.py:2:1: W0511: ???: no (fixme)\ntest.py:1:1: W0511: YES: yes (fixme)", printed
    )
    assert not prints_lines("test.py:3:1: W0511", printed) and not prints_lines("\n", printed)
    expected = "lines:\ntest.py:2:1: W0511: ???: no (fixme)"
    assert meets(expected, StepResult(kind="value", text="16", stdout=printed))
    assert not meets(expected, StepResult(kind="raised", text="FileNotFoundError: pylint", stdout=printed))


def _run(tmp_path: Path, probe: Probe) -> ProbeOutcome:
    spec = tmp_path / "spec.json"
    nonce = "b" * 32
    steps = [s.code for s in probe.steps]
    spec.write_text(json.dumps({"nonce": nonce, "steps": steps, "timeout": 60, "cap": TEXT_CAP}))
    command = f"{sys.executable} {BOX} {spec} 3>&1 1>/dev/null 2>&1"
    done = subprocess.run(command, shell=True, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    return read_records(done.stdout, nonce, len(steps), timed_out=False)


def test_a_command_probe_runs_the_console_script_in_a_fresh_folder(tmp_path):
    """pytest-7432's `pytest -rs` on its example, with this interpreter's own pytest (its bin folder first on
    PATH); the folder is a new temporary one, not the repository the runner starts in."""
    probe = probes_of("pytest-dev__pytest-7432")[0]
    outcome = _run(tmp_path, probe)
    assert outcome.status == "ran", outcome
    last = outcome.steps[-1]
    assert last.kind == "value" and last.text == "0"  # pytest's exit status: no failure
    assert f"SKIPPED [1] {DEFAULT_FILE}:" in last.stdout and "unconditional skip" in last.stdout
    assert "1 skipped" in last.stdout and str(tmp_path) not in last.stdout
    assert not (tmp_path / DEFAULT_FILE).exists()

    # the same output as the issue's "expected" lines: met; a version printing otherwise: not
    skipped = next(line for line in last.stdout.splitlines() if line.startswith("SKIPPED"))
    probe.steps[-1].expected = f"lines:\n{skipped}"
    other = outcome.model_copy(deep=True)
    other.steps[-1].stdout = "SKIPPED [1] src/_pytest/skipping.py:239: unconditional skip"
    other.digest = "changed"
    col = column(probe, other)  # as if the original printed the skipping.py location
    assert col.checks == [len(probe.steps) - 1]
    assert evidence([col], {probe.probe_id: outcome}).met == 1


def test_a_command_that_now_crashes_is_broken_not_changed():
    (probe,) = probes_of("pylint-dev__pylint-5859")
    last = len(probe.steps) - 1

    def outcome(stdout: str, digest: str) -> ProbeOutcome:
        steps = [StepResult(kind="ok") for _ in probe.steps[:-1]]
        return ProbeOutcome(
            status="ran", steps=[*steps, StepResult(kind="value", text="1", stdout=stdout)], digest=digest
        )

    original = outcome("************* Module test\ntest.py:1:1: W0511: YES: yes (fixme)\n", "o")
    col = column(probe, original)
    assert col.checks == [last]
    crash = outcome(
        'Traceback (most recent call last):\n  File "x", line 1\nUnboundLocalError: filepath\n', "c"
    )
    silent = outcome("\n", "s")
    got = {name: evidence([col], {probe.probe_id: o}) for name, o in (("crash", crash), ("silent", silent))}
    assert got["crash"].changed == 0 and got["silent"].changed == 1


def test_a_probe_whose_setup_fails_on_the_original_checks_nothing():
    """`from repo import *` (a package name guessed from a clone's folder) raising on the original: the
    example never reached the code, so its expected value is no check and no candidate "changed" it."""
    probe = Probe(
        probe_id="probe:p",
        source="script 1",
        steps=[
            ProbeStep(code="from repo import *", setup=True),
            ProbeStep(code="median([1, 2])", expected="1.5"),
        ],
    )
    failed = [StepResult(kind="raised", text="ModuleNotFoundError: No module named 'repo'")]
    original = ProbeOutcome(
        status="ran", steps=[*failed, StepResult(kind="raised", text="NameError: median")], digest="o"
    )
    candidate = ProbeOutcome(status="ran", steps=[*failed, StepResult(kind="value", text="1.5")], digest="c")
    col = column(probe, original)
    assert col.checks == [] and not col.reproduces
    found = evidence([col], {probe.probe_id: candidate})
    assert found.compared == 0 and found.score is None
