"""Data models of the verifiers: candidates, tests, outcomes and the verifier table.

Everything is keyed by candidate id (rows) and test id (columns), never by position.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


class Candidate(BaseModel):
    """A candidate patch to verify."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    candidate_id: str
    """Unique id within a task (e.g. the trajectory id)."""
    patch: str
    """Unified diff against the task's base commit."""
    source: str = ""
    """Where the candidate comes from (e.g. `trajectory`, `refine`, `file`)."""
    trajectory_id: str | None = None
    """Trajectory that produced the patch, if any."""
    repro_test: str | None = None
    """The trajectory's reproduction script, if any."""
    generation: int = 0
    """Generation of evolutionary refinement that produced it."""
    meta: dict[str, Any] = Field(default_factory=dict)
    """Free-form extra information (e.g. the trajectory file for the judge's condensed trajectory)."""

    @property
    def patch_hash(self) -> str:
        """sha256 of the patch text: candidates with the same hash share one sandbox run."""
        return sha256(self.patch)


class GeneratedTest(BaseModel):
    """A standalone python script: exit 0 = issue fixed, non-zero = issue present."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    test_id: str
    """Unique id within a task."""
    script: str
    """Python source of the script."""
    source: str = ""
    """Where it comes from: `repro:<trajectory id>` or `testgen:<trajectory id>`."""
    path: str = "swescale_generated_test.py"
    """Path relative to the repository root where the script is written before it runs."""

    @property
    def test_hash(self) -> str:
        """sha256 of path and script (the cache key of the test)."""
        return sha256(self.path + "\0" + self.script)


class Outcome(BaseModel):
    """One cell of the outcome matrix: a test run on one version of the code."""

    exit_code: int | None
    """Exit code (None: not run, e.g. the patch does not apply)."""
    output_digest: str = ""
    """sha256 of the output with volatile bits (timings, addresses, paths of temp dirs) normalised."""
    output_excerpt: str = ""
    """Tail of the output, for humans and the judge."""
    timed_out: bool = False
    duration: float = 0.0
    """Wall time in seconds."""

    @property
    def passed(self) -> bool:
        return self.exit_code == 0 and not self.timed_out


class TestColumn(BaseModel):
    """One test of the matrix with its weight and its outcome on the original code."""

    __test__ = False  # not a pytest class

    model_config = ConfigDict(use_attribute_docstrings=True)

    test_id: str
    """Generated test id, or the regression test id as the log parser names it."""
    kind: Literal["generated", "regression"]
    weight: float = 0.0
    """Generated tests: weight in the generated score (0 = carries no information). Regression tests: weight
    of a failure in the regression evidence (1; less for a test most candidates break or that the model
    calls obsolete; see weights.weigh_regressions)."""
    reference: Outcome | None = None
    """Outcome on the original code."""
    distinguishing: bool = False
    """Fails on the original (with the test's own failure signal) and passes on at least one candidate."""
    source: str = ""
    """Origin of a generated test."""
    reason: str = ""
    """Why the weight is what it is (e.g. `crashes on original: ImportError`, `passes everywhere`)."""


class ProbeStep(BaseModel):
    """One top-level statement of an issue's example, as the issue wrote it."""

    code: str
    expected: str | None = None
    """What the issue says the statement should give (a value, printed text, or `raises <Type>`), when
    it says so in a form that can be read; None otherwise."""
    shown: str | None = None
    """What the issue shows it gave (a session's output, a traceback's last line): usually the bug."""
    setup: bool = False
    """Added by swescale (imports the example takes for granted), not written in the issue."""


class Probe(BaseModel):
    """A runnable example from the issue text (verifiers.probes.extract)."""

    probe_id: str
    source: str
    """Where in the issue: `fenced block 2`, `>>> session in block 1`, `IPython session in block 3`."""
    steps: list[ProbeStep]

    @property
    def probe_hash(self) -> str:
        """sha256 of the statements (the cache key of the probe)."""
        return sha256("\0".join(s.code for s in self.steps))


class StepResult(BaseModel):
    """What one statement of a probe did on one version of the code."""

    kind: Literal["value", "ok", "raised", "timeout", "not-run"]
    """`value`: an expression's result (`text` its repr); `ok`: a statement ran; `raised`: an exception
    (`text` its type and first message line); `timeout`: the probe's time ran out here; `not-run`: an
    earlier statement ended the probe."""
    text: str = ""
    str_text: str = ""
    """str() of a value when it differs from its repr (the issue may write either)."""
    stdout: str = ""
    """What the statement printed (stdout and stderr, cut)."""


class ProbeOutcome(BaseModel):
    """A probe run on one version: each statement's result, read from records carrying the run's nonce."""

    status: Literal["ran", "timeout", "no-record", "error"]
    """`ran`: every statement reported and the end record came; `timeout`; `no-record`: the process ended
    without its end record (killed, os._exit); `error`: records out of order or unreadable."""
    steps: list[StepResult] = Field(default_factory=list)
    digest: str = ""
    """sha256 of the normalized results (equal digests: the same behaviour on this probe)."""
    duration: float = 0.0


class ProbeColumn(BaseModel):
    """One probe of the table, with its outcome on the original code."""

    probe: Probe
    reference: ProbeOutcome | None = None
    checks: list[int] = Field(default_factory=list)
    """Indexes of the steps whose expected value the original does not give (the checks that count)."""
    reproduces: bool = False
    """The original gives what the issue shows on at least one step (the example reproduces the report)."""


class RegressionResult(BaseModel):
    passed: int = 0
    """Selected regression tests passing on the candidate."""
    failed: int = 0
    """Selected regression tests not passing on the candidate."""
    new_failures: list[str] = Field(default_factory=list)
    """Test ids passing on the original code and failing on the candidate."""
    ran: int | None = None
    """Tests actually run on the candidate (targeted runs: only those calling changed code; the others
    count as passed); None when every selected file ran whole."""
    weight_total: float = 0.0
    """Sum of the regression columns' weights (0: not weighed; then every test counts 1)."""
    weight_failed: float = 0.0
    """Sum of the weights of the regression tests the candidate breaks."""


class CandidateRow(BaseModel):
    """One candidate's row: outcomes by test id and its scores."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    candidate_id: str
    patch_hash: str
    applies: bool = True
    """False when the patch does not apply to the base commit (then no outcomes and the lowest hybrid score)."""
    error: str | None = None
    """The verification failed (twice: a sandbox died, the cache stayed locked): no outcomes, `applies` False,
    and selection abstains rather than choose among the others (`selection.select`)."""
    outcomes: dict[str, Outcome] = Field(default_factory=dict)
    """Outcome per test id (generated and regression)."""
    regression: RegressionResult = Field(default_factory=RegressionResult)
    judge: float | None = None
    """P(YES) of the model-based verifier, None when not judged."""
    test_infrastructure: list[str] = Field(default_factory=list)
    """Test infrastructure the patch changes, reverted when tests judged it (envs.freeze): "touches test
    infrastructure", and selection holds it suspect."""
    generated_score: float = 0.0
    """Weighted fraction of distinguishing generated tests passed, in [0, 1]."""
    probes: dict[str, ProbeOutcome] = Field(default_factory=dict)
    """Outcome per probe id (the issue's own examples, verifiers.probes)."""
    hybrid_score: float = 0.0
    """Final score (see verifiers.hybrid and docs/verifiers.md)."""


class VerifierTable(BaseModel):
    """Candidates x tests for one task, plus the reference column of the original code."""

    instance_id: str
    tests: list[TestColumn] = Field(default_factory=list)
    rows: list[CandidateRow] = Field(default_factory=list)
    probes: list[ProbeColumn] = Field(default_factory=list)
    """The issue's examples run as probes (verifiers.probes), apart from the tests: they enter the ranking
    and the behaviour clusters only as selection's config says (docs/selection.md)."""
    meta: dict[str, Any] = Field(default_factory=dict)
    """E.g. the hybrid formula used and sandbox counts."""

    def row(self, candidate_id: str) -> CandidateRow:
        for row in self.rows:
            if row.candidate_id == candidate_id:
                return row
        raise KeyError(candidate_id)

    def test(self, test_id: str) -> TestColumn:
        for column in self.tests:
            if column.test_id == test_id:
                return column
        raise KeyError(test_id)

    @property
    def by_candidate(self) -> dict[str, CandidateRow]:
        return {row.candidate_id: row for row in self.rows}

    def ranking(self) -> list[str]:
        """Candidate ids by hybrid score, best first (ties: candidate id, so the order is deterministic)."""
        return [r.candidate_id for r in sorted(self.rows, key=lambda r: (-r.hybrid_score, r.candidate_id))]

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.model_dump_json(indent=2))
        return path

    @classmethod
    def load(cls, path: str | Path) -> VerifierTable:
        return cls.model_validate_json(Path(path).read_text())
