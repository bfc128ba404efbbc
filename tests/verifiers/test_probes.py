"""The issue's examples as probes: extraction on real SWE-bench Lite issue texts, the record channel, and the
in-sandbox runner against hostile code under test (a real interpreter process; no Docker here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from verifiers.probes.extract import extract_probes, package_of
from verifiers.probes.run import BOX, PREFIX, TEXT_CAP, read_records
from verifiers.probes.signals import column, evidence, meets
from verifiers.table import Probe, ProbeOutcome, ProbeStep, StepResult

ISSUES = json.loads((Path(__file__).parents[1] / "data" / "probes" / "lite_issues.json").read_text())


def probes_of(instance: str, max_probes: int = 4) -> list[Probe]:
    issue = ISSUES[instance]
    return extract_probes(issue["problem_statement"], package_of(issue["repo"]), max_probes)


def steps(probe: Probe) -> list[str]:
    return [s.code for s in probe.steps if not s.setup]


# -- extraction on real issue texts ---------------------------------------------------------------------


def test_untagged_block_with_output_cut_and_expected_value_from_the_title():
    # "bell(n).limit(n, oo) should be oo rather than bell(oo)"; the block ends with "Output:\nbell(oo)"
    (probe,) = probes_of("sympy__sympy-13437")
    assert steps(probe) == ["from sympy import *", "n = symbols('n')", "bell(n).limit(n,oo)"]
    assert probe.steps[-1].expected == "oo"


def test_inline_code_with_gives_a_instead_of_b():
    (probe,) = probes_of("sympy__sympy-14774")
    assert steps(probe) == ['latex(acsc(x), inv_trig_style="full")']
    assert probe.steps[-1].expected == "'\\\\operatorname{arccsc}{\\\\left (x \\\\right )}'"
    # x is isympy's session symbol; sympy's names come with a star import
    assert [s.code for s in probe.steps if s.setup] == [
        "from sympy import *",
        "import sympy as _sympy; x, y, z, t = _sympy.symbols('x y z t')",
    ]


def test_doctest_session_with_traceback_shown_and_library_code_skipped():
    probes = probes_of("sympy__sympy-12454")
    assert [steps(p) for p in probes] == [
        ["sympy.zeros(4,2).is_upper"],
        ["A = sympy.zeros(4, 2)", "print(tuple([i, j] for i in range(1, A.rows) for j in range(i)))"],
    ]
    assert probes[0].steps[0].code == "import sympy" and probes[0].steps[0].setup
    assert probes[0].steps[-1].shown == "IndexError: Index out of range: a[2]"
    assert probes[0].steps[-1].expected is None  # what the issue shows is the bug, never the expectation


def test_ipython_session_with_out_cells():
    (probe,) = probes_of("sympy__sympy-12236")
    assert steps(probe)[:2] == ["from sympy import symbols", "a = symbols('a', real=True)"]
    last = {s.code: s.shown for s in probe.steps}
    assert last["bug.apart(t)"] == "-a*t"
    assert all(s.expected is None for s in probe.steps)


def test_indented_session_and_a_traceback_without_its_header():
    (probe,) = probes_of("sympy__sympy-13480")
    assert steps(probe)[-1] == "print(e.subs(x, 2))"
    assert probe.steps[-1].shown == "NameError: name 'cotm' is not defined"


def test_a_hedged_wish_is_not_an_expected_value():
    # "Maybe `sign(0)` should be `nan` as well."
    assert all(s.expected is None for p in probes_of("sympy__sympy-19487") for s in p.steps)


def test_expected_is_before_a_single_expression_session():
    (probe,) = probes_of("sympy__sympy-21612")
    assert probe.steps[-1].expected == "((a**3 + b)/c)/(1/(c**2))"


def test_later_block_starts_with_the_definitions_it_reads():
    probes = probes_of("sympy__sympy-15011")
    assert steps(probes[-1])[:4] == [
        "import sympy as sy",
        'curlyx = sy.symbols("{x}")',
        'v = sy.MatrixSymbol("v", 2, 1)',
        'curlyv = sy.MatrixSymbol("{v}", 2, 1)',
    ]
    assert steps(probes[-1])[-1] == "curlyVectorIdDummified = sy.lambdify(curlyv, curlyv, dummify=True)"


def test_shell_and_config_blocks_are_no_python_probes():
    # `pylint -Q` is the repository's own command (tests/verifiers/test_probe_commands.py); `mypy -Q`, in a
    # ```python block, is neither a command of the repository nor Python with a call
    (probe,) = probes_of("pylint-dev__pylint-6506")
    assert probe.source == "command in block 1" and probe.steps[-1].code == "_command('pylint -Q')"


def test_python2_print_is_mended():
    (probe,) = probes_of("sympy__sympy-13146")
    assert steps(probe)[-1] == "print(res)"


@pytest.mark.parametrize(
    "issue",
    [
        "",
        "no code at all, `x` should be `1`",
        "```\nimport requests\nrequests.get('https://example.com')\n```",  # network
        "```\nfrom tkinter import Tk\nTk().mainloop()\n```",  # GUI
        "```python\n" + "f(\n" * 5000 + "\n```",  # does not parse
        "```python\ndef f():\n    return 1\n```",  # definitions only
    ],
)
def test_nothing_to_run(issue):
    assert extract_probes(issue, "pkg") == []


def test_many_blocks_are_capped():
    issue = "\n".join(f"```python\nimport pkg\npkg.f({i})\n```" for i in range(20))
    assert len(extract_probes(issue, "pkg", max_probes=3)) == 3


# -- signals ---------------------------------------------------------------------------------------------


def _outcome(*results: StepResult, status: str = "ran") -> ProbeOutcome:
    from verifiers.probes.run import digest

    return ProbeOutcome(status=status, steps=list(results), digest=digest(status, list(results)))


def test_expected_values_the_original_already_gives_count_for_nothing():
    probe = Probe(
        probe_id="p",
        source="t",
        steps=[ProbeStep(code="f()", expected="2.5"), ProbeStep(code="g()", expected="1")],
    )
    original = _outcome(StepResult(kind="value", text="2"), StepResult(kind="value", text="1"))
    col = column(probe, original)
    assert col.checks == [0]
    fixed = _outcome(StepResult(kind="value", text="2.5"), StepResult(kind="value", text="1"))
    found = evidence([col], {"p": fixed})
    assert (found.checks, found.met, found.changed, found.score) == (1, 1, 1, 1.0)
    assert evidence([col], {"p": original}).score == 0.0


def test_a_candidate_that_breaks_the_import_has_not_changed_the_behaviour():
    probe = Probe(probe_id="p", source="t", steps=[ProbeStep(code="import pkg"), ProbeStep(code="pkg.f()")])
    original = _outcome(StepResult(kind="ok"), StepResult(kind="raised", text="ValueError: bad"))
    broken = _outcome(
        StepResult(kind="raised", text="SyntaxError: invalid syntax"), StepResult(kind="raised")
    )
    changed = _outcome(StepResult(kind="ok"), StepResult(kind="value", text="3"))
    col = column(probe, original)
    assert evidence([col], {"p": broken}).changed == 0
    assert evidence([col], {"p": changed}).score == 0.5


def test_meets_reads_repr_str_printed_text_and_raised_types():
    assert meets("oo", StepResult(kind="value", text="oo"))
    assert meets("'a b'", StepResult(kind="value", text="'a  b'"))
    assert meets("x + 1", StepResult(kind="value", text="Symbol('x') + 1", str_text="x + 1"))
    assert meets("[1, 2]", StepResult(kind="ok", stdout="[1, 2]\n"))
    assert meets("raises ValueError", StepResult(kind="raised", text="ValueError: no"))
    assert not meets("raises ValueError", StepResult(kind="raised", text="TypeError: no"))


# -- the record channel ----------------------------------------------------------------------------------

NONCE = "0123456789abcdef0123456789abcdef"


def _record(i: int, **fields) -> str:
    return f"{PREFIX} {NONCE} " + json.dumps({"i": i, "kind": "ok", **fields})


def test_lines_without_the_nonce_are_ignored():
    output = "\n".join(
        [
            f"{PREFIX} {'f' * 32} " + json.dumps({"i": 0, "kind": "value", "text": "forged"}),
            _record(0, kind="value", text="1"),
            f"{PREFIX} {NONCE} " + json.dumps({"end": True}),
        ]
    )
    outcome = read_records(output, NONCE, 1, timed_out=False)
    assert outcome.status == "ran" and outcome.steps[0].text == "1"


def test_records_out_of_order_make_the_run_an_error():
    output = "\n".join([_record(0), _record(0), f"{PREFIX} {NONCE} " + json.dumps({"end": True})])
    assert read_records(output, NONCE, 2, timed_out=False).status == "error"


def test_a_run_cut_by_the_command_timeout_keeps_what_it_reported():
    outcome = read_records(_record(0), NONCE, 3, timed_out=True)
    assert outcome.status == "timeout"
    assert [s.kind for s in outcome.steps] == ["ok", "timeout", "not-run"]


def test_a_run_that_ends_without_its_end_record():
    assert read_records(_record(0), NONCE, 2, timed_out=False).status == "no-record"


# -- the in-sandbox runner against hostile code (a real interpreter) --------------------------------------

HOSTILE = f'''
import os, sys

def fake():
    line = "{PREFIX} {NONCE} " + '{{"end": true}}'
    print(line)
    sys.__stdout__.write(line + "\\n")
    for fd in (1, 2, 3):
        try:
            os.write(fd, (line + "\\n").encode())
        except OSError:
            pass
    return 42

def loud():
    sys.stdout.write("x" * 10_000_000)
    os.write(1, b"y" * 1_000_000)
    return 1

def spin():
    while True:
        try:
            pass
        except BaseException:
            pass
'''


def _run_box(tmp_path: Path, steps: list[str], timeout: float = 3.0) -> tuple[ProbeOutcome, float]:
    (tmp_path / "hostile.py").write_text(HOSTILE)
    spec = tmp_path / "spec.json"
    nonce = "a" * 32
    spec.write_text(json.dumps({"nonce": nonce, "steps": steps, "timeout": timeout, "cap": TEXT_CAP}))
    command = f"{sys.executable} {BOX} {spec} 3>&1 1>/dev/null 2>&1"
    done = subprocess.run(command, shell=True, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert not spec.exists()  # removed once read: the code under test cannot read the nonce from it
    return read_records(done.stdout, nonce, len(steps), timed_out=False), len(done.stdout)


def test_fake_records_from_the_code_under_test_are_only_its_output(tmp_path):
    outcome, _ = _run_box(tmp_path, ["import hostile", "hostile.fake()", "1 + 1"])
    assert outcome.status == "ran"
    assert [s.kind for s in outcome.steps] == ["ok", "value", "value"]
    assert outcome.steps[1].text == "42" and PREFIX in outcome.steps[1].stdout
    assert outcome.steps[2].text == "2"  # the run went on: no fake end record was taken


def test_huge_output_is_cut_and_never_reaches_the_channel(tmp_path):
    outcome, size = _run_box(tmp_path, ["import hostile", "hostile.loud()"])
    assert outcome.status == "ran" and outcome.steps[1].text == "1"
    assert len(outcome.steps[1].stdout) == TEXT_CAP
    assert size < 20_000


def test_an_endless_loop_that_swallows_the_timer_still_ends(tmp_path):
    outcome, _ = _run_box(tmp_path, ["import hostile", "hostile.spin()", "1"], timeout=1.0)
    assert [s.kind for s in outcome.steps] == ["ok", "timeout", "not-run"]
    assert outcome.status == "timeout"


def test_should_return_later_in_the_same_sentence():
    # swescale's demo issue: "`minimath.median([1, 2, 3, 4])` returns `3`, but ... so it should return `2.5`."
    issue = (Path(__file__).parents[2] / "swescale" / "demo" / "data" / "issue.md").read_text()
    (probe,) = extract_probes(issue, "minimath")
    assert [(s.code, s.expected, s.setup) for s in probe.steps] == [
        ("import minimath", None, True),
        ("minimath.median([1, 2, 3, 4])", "2.5", False),
    ]


def test_a_local_repository_names_the_package_its_examples_take_for_granted():
    """`swescale solve` on a local clone has no owner/name: the demo's probe `minimath.median([1, 2, 3, 4])`
    raised NameError on the original and on every candidate (no signal, and the decision said the chosen
    fix gives "0 of 1" expected values)."""
    issue = "median() is wrong\n\n`minimath.median([1, 2, 3, 4])` returns `3`, but it should return `2.5`.\n"
    assert package_of("/tmp/runs/demo/minimath") == package_of("file:///x/minimath.git/") == "minimath"
    (probe,) = extract_probes(issue, package_of("/tmp/runs/demo/minimath"))
    assert [s.code for s in probe.steps if s.setup] == ["import minimath"]
    assert [s.expected for s in probe.steps if not s.setup] == ["2.5"]


def test_a_local_clone_in_a_folder_named_otherwise_names_its_one_package(tmp_path):
    """A clone in `repo/` (as the solve tests make it) guessed the package `repo`: the probe's
    `from repo import *` raised on the original, so the issue's example never reached the code."""
    flat, src = tmp_path / "repo", tmp_path / "project-main"
    for pkg in (flat / "minimath", flat / "tests", src / "src" / "tools"):
        pkg.mkdir(parents=True)
        (pkg / "__init__.py").write_text("")
    (flat / "docs").mkdir()
    assert package_of(str(flat)) == "minimath" and package_of(str(src)) == "tools"
    (flat / "other").mkdir()
    (flat / "other" / "__init__.py").write_text("")
    assert package_of(str(flat)) == "repo"  # two packages: the folder's name, as before
    assert package_of("owner/some-name") == "some_name"
