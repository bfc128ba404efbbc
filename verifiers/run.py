"""Entry point: `verify(task, env, candidates, tests, config, ...) -> VerifierTable`.

1. the original code runs first (reference column; selects the regression test files and keeps the
   regression tests that pass on it);
2. one sandbox per distinct candidate patch (by hash) runs all generated tests and the regression
   command, `max_parallel` at a time (targeted: the longest expected first), from the cache where possible;
3. the judge scores the applying candidates concurrently (optional);
4. weights (weights.py), generated scores and hybrid scores (hybrid.py); the table is saved as
   out_dir/verifier_table.json.

Everything is keyed by candidate id and patch hash; candidates and tests are processed in sorted order,
so the order in which they are given or complete changes nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from envs.runners import runner_for
from verifiers.cache import OutcomeCache, image_identity, open_cache
from verifiers.collect import merge_tests, tests_from_candidates, touched_files
from verifiers.config import VerifierConfig, VerifierSettings
from verifiers.execute import RegressionRun, SandboxCounter, VersionResult, run_version
from verifiers.hybrid import score_rows
from verifiers.judge import ChatModel, Judge
from verifiers.probes.extract import extract_probes, package_of
from verifiers.probes.run import run_probes
from verifiers.probes.signals import column
from verifiers.protocols import EnvLike, PoolLike, SandboxSource, TaskLike
from verifiers.regression import RegressionPlan, expected_seconds, record_original, run_candidate
from verifiers.table import (
    Candidate,
    CandidateRow,
    GeneratedTest,
    Outcome,
    Probe,
    RegressionResult,
    TestColumn,
    VerifierTable,
    sha256,
)
from verifiers.weights import generated_scores, unbacked_candidate_tests, weigh_columns, weigh_regressions

log = logging.getLogger(__name__)

PASSED = "PASSED"
TABLE_FILE = "verifier_table.json"


def verify(
    task: TaskLike,
    env: EnvLike,
    candidates: list[Candidate],
    tests: list[GeneratedTest],
    config: VerifierSettings,
    judge_model: ChatModel | None = None,
    pool: PoolLike | None = None,
    out_dir: str | Path | None = None,
    regression: bool | None = None,
    judge: bool | None = None,
    repro_tests: bool = True,
    cache_dir: str | Path | None = None,
) -> VerifierTable:
    """Verify `candidates` of `task` in `env` (EnvSpec). `config` is the SwescaleConfig.

    regression / judge: None = config.verifier.regression / config.verifier.judge; False skips them.
    repro_tests: also use the candidates' own reproduction scripts (Candidate.repro_test) as tests.
    cache_dir: where the run keeps its outcome cache (`verifier.cache_dir` wins; default `out_dir`).
    """
    vconf = config.verifier
    regression = vconf.regression if regression is None else regression
    judge = vconf.judge if judge is None else judge
    if pool is None:
        from sandbox import SandboxPool

        pool = SandboxPool(max_concurrent=vconf.max_parallel, config=config.sandbox)
    candidates = sorted(candidates, key=lambda c: c.candidate_id)
    if len({c.candidate_id for c in candidates}) != len(candidates):
        raise ValueError("candidate ids must be unique")
    all_tests = merge_tests(
        sorted(tests, key=lambda t: t.test_id), tests_from_candidates(candidates) if repro_tests else []
    )
    all_tests.sort(key=lambda t: t.test_id)
    cache = open_cache(vconf.cache_dir, out_dir, cache_dir, namespace=image_identity(env.image))
    probes = (
        extract_probes(
            task.problem_statement, package_of(task.repo or getattr(task, "repo_url", "")), vconf.max_probes
        )
        if vconf.probes
        else []
    )
    run = _Run(task, env, pool, all_tests, cache, vconf, SandboxCounter(), time.monotonic(), probes)

    original = _run_original(run, candidates, regression)
    patches: dict[str, str] = {}
    for candidate in candidates:
        patches.setdefault(candidate.patch_hash, candidate.patch)
    patches.pop(sha256(""), None)  # an empty patch is the original
    versions = _run_candidates(run, patches, original)
    versions[sha256("")] = original.result

    scores: dict[str, float | None] = {}
    judge_method: dict | None = None
    if judge and judge_model is not None:
        applying = [c for c in candidates if versions[c.patch_hash].applies]
        max_tokens = getattr(getattr(config, "verifier_model", None), "max_tokens", 1)
        judging = Judge(judge_model, task.problem_statement, vconf, max_tokens=max_tokens)
        scores = judging.score_all(applying)
        judge_method = judging.summary()

    obsolete_model = judge_model if judge else None
    table = _table(run, candidates, original, versions, scores, obsolete_model)
    table.meta.update(
        judge_method=judge_method,
        distinct_patches=len(patches),
        regression_mode=vconf.regression_mode if regression else None,
        seconds=round(time.monotonic() - run.started, 2),
    )
    if out_dir is not None:
        table.save(Path(out_dir) / TABLE_FILE)
    return table


@dataclass
class _Run:
    """What every stage of one verification shares."""

    task: TaskLike
    env: EnvLike
    pool: PoolLike
    tests: list[GeneratedTest]
    cache: OutcomeCache
    vconf: VerifierConfig
    counter: SandboxCounter
    started: float
    probes: list[Probe] = field(default_factory=list)
    """The issue's examples (verifiers.probes), run on every version."""
    retried: dict[str, str] = field(default_factory=dict)
    """Versions whose verification raised and ran again (patch hash, "" the original -> the first error)."""


@dataclass
class _Original:
    """The original code's run and the regression tests chosen on it."""

    result: VersionResult
    selected: list[str]
    """Regression test files selected for the touched code."""
    reg_ids: list[str]
    """Regression tests that pass on the original (the columns every candidate is held to)."""
    plan: RegressionPlan | None = None
    """The targeted-run record (regression_mode=targeted), else None."""
    reg_cmd: str | None = None
    """The whole-file regression command (regression_mode=files)."""


def _run_original(run: _Run, candidates: list[Candidate], regression: bool) -> _Original:
    """1. the original code: reference outcomes, regression selection (and the targeted record)."""
    selected: list[str] = []
    touched = touched_files(c.patch for c in candidates) if regression else None
    targeted = regression and run.vconf.regression_mode == "targeted"
    plans: list[RegressionPlan] = []
    record = None
    if targeted:
        record = partial(
            _record_plan, run.env, run.pool, touched or [], run.cache, run.vconf, run.task, plans
        )

    def original() -> VersionResult:
        selected.clear()
        plans.clear()
        return run_version(
            run.pool,
            run.env,
            "",
            sha256(""),
            run.tests,
            None,
            run.cache,
            run.vconf,
            run.counter,
            touched=None if targeted else touched,
            selected=selected,
            task=run.task,
            regression_fn=record,
            probe_fn=_probe_fn(run, sha256("")),
        )

    result = _twice(original, sha256(""), run.retried)
    if plans:
        plan = plans[0]
        return _Original(result, [r.file for r in plan.files], plan.columns(), plan=plan)
    reg_ids = _passing_regression_ids(result)
    test_cmd = run.env.test_cmd
    reg_cmd = runner_for(test_cmd).file_commands(test_cmd, selected) if reg_ids else None
    return _Original(result, selected, reg_ids, reg_cmd=reg_cmd)


def _run_candidates(run: _Run, patches: dict[str, str], original: _Original) -> dict[str, VersionResult]:
    """2. one sandbox per distinct candidate patch, `max_parallel` at a time, from the cache where possible."""

    def one(item: tuple[str, str]) -> VersionResult:
        patch_hash, patch = item
        regression_fn = None
        if original.plan is not None and original.reg_ids:
            regression_fn = partial(
                _targeted, run.env, original.plan, patch, patch_hash, run.cache, run.vconf, run.task
            )
        version = partial(
            run_version,
            run.pool,
            run.env,
            patch,
            patch_hash,
            run.tests,
            original.reg_cmd,
            run.cache,
            run.vconf,
            run.counter,
            task=run.task,
            regression_fn=regression_fn,
            probe_fn=_probe_fn(run, patch_hash),
        )
        try:  # a broken sandbox or cache errors this candidate (a state, not a verdict), not the table
            return _twice(version, patch_hash, run.retried)
        except Exception as exc:  # noqa: BLE001
            return VersionResult(patch_hash=patch_hash, applies=False, apply_output=ERRORED, error=repr(exc))

    items = sorted(patches.items())
    if original.plan is not None:  # the longest first, so no slot idles while one long run ends
        items.sort(key=lambda item: -expected_seconds(original.plan, run.env, item[1], run.vconf))
    with ThreadPoolExecutor(max_workers=max(1, run.vconf.max_parallel)) as executor:
        return dict(zip([h for h, _ in items], executor.map(one, items), strict=True))


def _probe_fn(run: _Run, patch_hash: str) -> Callable[[SandboxSource], dict] | None:
    if not run.probes:
        return None
    return partial(
        run_probes, env=run.env, probes=run.probes, patch_hash=patch_hash, cache=run.cache, config=run.vconf
    )


ERRORED = "verification error"
"""`apply_output` of a version whose verification failed twice (its `error` says why)."""


def _twice(run: Callable[[], VersionResult], patch_hash: str, retried: dict[str, str]) -> VersionResult:
    """`run()`, and once more (a fresh sandbox) when it raises: an infrastructure failure such as a removed
    container or a locked cache; the first error goes to `retried`. The second failure is raised."""
    try:
        return run()
    except Exception as exc:  # noqa: BLE001 - retried once, then raised
        log.warning("verifying %s failed, once more in a fresh sandbox: %r", patch_hash[:12], exc)
        retried[patch_hash] = repr(exc)[:1000]
    return run()


def _table(
    run: _Run,
    candidates: list[Candidate],
    original: _Original,
    versions: dict[str, VersionResult],
    scores: dict[str, float | None],
    obsolete_model: ChatModel | None,
) -> VerifierTable:
    """4. columns, rows, weights (weights.py), generated and hybrid scores (hybrid.py)."""
    vconf, reg_ids, plan = run.vconf, original.reg_ids, original.plan
    columns = [
        TestColumn(
            test_id=t.test_id,
            kind="generated",
            reference=original.result.outcomes.get(t.test_id),
            source=t.source,
        )
        for t in run.tests
    ]
    columns += [
        TestColumn(test_id=i, kind="regression", reference=_ok(), source="repository") for i in reg_ids
    ]
    rows = [_row(c, versions[c.patch_hash], reg_ids, scores.get(c.candidate_id)) for c in candidates]
    probes = [column(p, original.result.probes.get(p.probe_id)) for p in run.probes]
    weigh_columns(columns, {t.test_id: t for t in run.tests}, rows, vconf)
    unbacked_candidate_tests(columns, rows)
    generated_scores(columns, rows)
    obsolete = _obsolete(run.task, rows, obsolete_model, vconf) if obsolete_model is not None else set()
    weigh_regressions(columns, rows, vconf, obsolete)
    formula = score_rows(columns, rows, vconf)
    reference = original.result.regression
    return VerifierTable(
        instance_id=run.task.instance_id,
        tests=columns,
        rows=rows,
        probes=probes,
        meta={
            "hybrid": vconf.hybrid,
            "formula": formula,
            "regression_files": original.selected,
            "sandboxes_started": run.counter.count,
            "apply_errors": {
                h: v.apply_output for h, v in sorted(versions.items()) if not v.applies and not v.error
            },
            "verification_errors": {h: v.error for h, v in sorted(versions.items()) if v.error},
            "verification_retries": dict(sorted(run.retried.items())),
            "original_regression_run": reference.outcome.model_dump() if reference else None,
            "regression_plan_seconds": plan.seconds if plan is not None else None,
            "regression_file_seconds": {r.file: r.seconds for r in plan.files} if plan is not None else None,
        },
    )


def _obsolete(task: TaskLike, rows: list[CandidateRow], model: ChatModel, vconf: VerifierConfig) -> set[str]:
    if not vconf.obsolete_tests:
        return set()
    from verifiers.obsolete import obsolete_tests

    return obsolete_tests(model, task.problem_statement, rows, vconf)


def _ok() -> Outcome:
    return Outcome(exit_code=0, output_digest=sha256(PASSED), output_excerpt=PASSED)


def _record_plan(
    env: EnvLike,
    pool: PoolLike,
    touched: list[str],
    cache: OutcomeCache,
    vconf: VerifierConfig,
    task: TaskLike,
    plans: list[RegressionPlan],
    box: SandboxSource,
) -> RegressionRun:
    """The original's targeted regression record (verifiers.regression), in the original's sandbox."""
    plan = record_original(box, env, touched, cache, vconf, task, pool)
    plans.append(plan)
    columns = plan.columns()
    return RegressionRun(statuses=dict.fromkeys(columns, PASSED), outcome=_ok())


def _targeted(
    env: EnvLike,
    plan: RegressionPlan,
    patch: str,
    patch_hash: str,
    cache: OutcomeCache,
    vconf: VerifierConfig,
    task: TaskLike,
    box: SandboxSource,
) -> RegressionRun:
    return run_candidate(box, env, plan, patch, patch_hash, cache, vconf, task)


def _passing_regression_ids(original: VersionResult) -> list[str]:
    if original.regression is None:
        return []
    return sorted(i for i, status in original.regression.statuses.items() if status == PASSED)


def _row(
    candidate: Candidate, version: VersionResult, reg_ids: list[str], judge: float | None
) -> CandidateRow:
    row = CandidateRow(
        candidate_id=candidate.candidate_id,
        patch_hash=candidate.patch_hash,
        applies=version.applies,
        error=version.error or None,
        judge=judge,
        test_infrastructure=list(version.test_infrastructure),
    )
    if not version.applies:
        return row
    row.outcomes = dict(version.outcomes)
    row.probes = dict(version.probes)
    if reg_ids:
        statuses = version.regression.statuses if version.regression else {}
        failures = []
        for test_id in reg_ids:
            status = statuses.get(test_id, "MISSING")
            row.outcomes[test_id] = Outcome(
                exit_code=0 if status == PASSED else 1, output_digest=sha256(status), output_excerpt=status
            )
            if status != PASSED:
                failures.append(test_id)
        row.regression = RegressionResult(
            passed=len(reg_ids) - len(failures),
            failed=len(failures),
            new_failures=failures,
            ran=version.regression.ran if version.regression else None,
        )
    return row
