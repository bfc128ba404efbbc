"""What a candidate's probe outcomes say, against the original's (pure).

- **changed**: the probe's results differ from the original's (another value, output or exception). A
  candidate that makes the probe time out, end without its records, raise ImportError / SyntaxError, or
  print a Python traceback (a command that crashes) where the original did not, is *broken* there, not
  changed.
- **expected met**: a step's result equals what the issue says it should give (whitespace ignored; a
  value's repr or str, or what it printed; `raises X`: an exception of type X; `lines:` a command's
  expected output: each of its lines among the lines the command printed, in order). Only expectations the
  original does *not* meet are checks (`ProbeColumn.checks`): a value the original already gives, e.g. an
  actual output misread as the expected one, counts for nothing.

`probe_score` = met / checks when there are checks, else `CHANGE_CREDIT` x changed / comparable probes;
None when no probe could be compared.
"""

from __future__ import annotations

from dataclasses import dataclass

from verifiers.probes.blocks import squash
from verifiers.probes.commands import EXPECTED_LINES
from verifiers.table import Probe, ProbeColumn, ProbeOutcome, StepResult

CHANGE_CREDIT = 0.5
"""A changed behaviour counts half of a met expectation: it shows the candidate touches the reported
behaviour, not that it fixes it."""
BROKEN_ERRORS = ("ImportError", "ModuleNotFoundError", "SyntaxError", "IndentationError")
TRACEBACK = "Traceback (most recent call last)"
"""Printed by a Python process that crashed: a command (verifiers.probes.commands) that prints one where the
original did not is broken, not changed."""


def prints_lines(expected: str, printed: str) -> bool:
    """Is each non-blank line of `expected` a line of `printed`, in order (whitespace ignored)?"""
    want = [squash(line) for line in expected.splitlines() if line.strip()]
    seen = iter(squash(line) for line in printed.splitlines())
    return bool(want) and all(any(line == got for got in seen) for line in want)


def meets(expected: str, result: StepResult) -> bool:
    """Does the step's result give what the issue says it should?"""
    if expected.startswith(EXPECTED_LINES):  # a command's expected output: its lines among what it printed
        return result.kind in ("value", "ok") and prints_lines(
            expected.removeprefix(EXPECTED_LINES), result.stdout
        )
    if expected.startswith("raises "):
        name = result.text.split(":", 1)[0].rsplit(".", 1)[-1]
        return result.kind == "raised" and name == expected.removeprefix("raises ").strip()
    if result.kind not in ("value", "ok"):
        return False
    want = squash(expected)
    seen = [result.stdout, result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""]
    if result.kind == "value":
        seen += [result.text, result.str_text]
    return bool(want) and any(squash(s) == want for s in seen if s)


def shows(shown: str, result: StepResult) -> bool:
    """Does the step's result look like what the issue shows (an exception's type, or the same text)?"""
    first = shown.strip().split(":", 1)[0].rsplit(".", 1)[-1]
    if result.kind == "raised":
        return first == result.text.split(":", 1)[0].rsplit(".", 1)[-1]
    return meets(shown, result)


def runs_on_original(probe: Probe, reference: ProbeOutcome | None) -> bool:
    """Did the probe run on the original: a record, and none of the imports swescale added to it raised
    (an example whose setup fails, e.g. a package name guessed wrong, tests nothing of the code)?"""
    if reference is None or reference.status == "error":
        return False
    return not any(s.setup and r.kind == "raised" for s, r in zip(probe.steps, reference.steps, strict=False))


def column(probe: Probe, reference: ProbeOutcome | None) -> ProbeColumn:
    """The probe with the original's outcome, its checks and whether it reproduces the report."""
    col = ProbeColumn(probe=probe, reference=reference)
    if not runs_on_original(probe, reference):
        return col
    steps = list(zip(probe.steps, reference.steps, strict=False))
    col.checks = [i for i, (s, r) in enumerate(steps) if s.expected and not meets(s.expected, r)]
    col.reproduces = any(s.shown and r.kind != "not-run" and shows(s.shown, r) for s, r in steps)
    return col


def _broken(reference: ProbeOutcome, outcome: ProbeOutcome) -> bool:
    if outcome.status in ("timeout", "no-record", "error") and reference.status == "ran":
        return True
    for ref, got in zip(reference.steps, outcome.steps, strict=False):
        new_error = got.kind == "raised" and got.text.split(":", 1)[0] in BROKEN_ERRORS
        if new_error and not (ref.kind == "raised" and ref.text.split(":", 1)[0] in BROKEN_ERRORS):
            return True
        if TRACEBACK in got.stdout and TRACEBACK not in ref.stdout:  # a command that now crashes
            return True
    return False


@dataclass
class ProbeEvidence:
    """One candidate's probe evidence."""

    compared: int = 0
    """Probes run on both the original and the candidate."""
    changed: int = 0
    """Of those, probes whose behaviour changed (and did not break)."""
    checks: int = 0
    """Expected values the original does not give."""
    met: int = 0
    """Of those, the ones the candidate gives."""

    @property
    def score(self) -> float | None:
        if self.checks:
            return self.met / self.checks
        return CHANGE_CREDIT * self.changed / self.compared if self.compared else None


def evidence(columns: list[ProbeColumn], outcomes: dict[str, ProbeOutcome]) -> ProbeEvidence:
    found = ProbeEvidence()
    for col in columns:
        ref, got = col.reference, outcomes.get(col.probe.probe_id)
        if not runs_on_original(col.probe, ref) or got is None or got.status == "error":
            continue
        found.compared += 1
        found.changed += got.digest != ref.digest and not _broken(ref, got)
        for index in col.checks:
            found.checks += 1
            found.met += index < len(got.steps) and meets(
                col.probe.steps[index].expected or "", got.steps[index]
            )
    return found
