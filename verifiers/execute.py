"""Execution: one sandbox per distinct code version (original or candidate patch hash), all its tests batched.

Every result is cached under (image, patch hash, test hash) — regression runs under (image, patch hash,
test command + files) — so a repeated run starts no sandbox for versions whose results are all cached.
A sandbox is only started when something is missing (LazySandbox).
"""

from __future__ import annotations

import json
import logging
import shlex
import threading
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from envs.freeze import freeze
from envs.runners import runner_for
from envs.verdict import cross_check, install, read_channel
from sandbox.patch import PatchError, apply_patch, changed_paths
from verifiers.cache import OutcomeCache, cache_key
from verifiers.config import VerifierConfig
from verifiers.isolation import CleanRuns, isolated, script_path
from verifiers.logparse import PARSE_VERSION, parse_log
from verifiers.outcome import make_outcome
from verifiers.protocols import Box, EnvLike, PoolLike, SandboxSource, TaskLike
from verifiers.table import GeneratedTest, Outcome, ProbeOutcome

log = logging.getLogger(__name__)

WORKDIR = "/testbed"
FIND_TESTS = Path(__file__).with_name("find_tests_script.py")
FIND_TESTS_IN_BOX = "/tmp/swescale_find_tests.py"
REGRESSION_LOG = "/tmp/swescale_regression.log"


@dataclass
class RegressionRun:
    statuses: dict[str, str]
    """Test id -> status from the log parser."""
    outcome: Outcome
    """The whole run (exit code, digest, excerpt)."""
    ran: int | None = None
    """Tests actually run (targeted runs; None: every selected file ran whole)."""


@dataclass
class VersionResult:
    """All results for one version of the code."""

    patch_hash: str
    applies: bool = True
    apply_output: str = ""
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    regression: RegressionRun | None = None
    probes: dict[str, ProbeOutcome] = field(default_factory=dict)
    """The issue's examples run on this version, by probe id (verifiers.probes)."""
    test_infrastructure: list[str] = field(default_factory=list)
    """Test infrastructure files the patch touches, reverted before it ran (envs.freeze)."""
    sandbox_started: bool = False
    error: str = ""
    """Why verifying this version failed (retried once): a state, not a verdict; `applies` is then False."""


class LazySandbox:
    """Opens a pool sandbox on first use; counts starts."""

    def __init__(self, pool: PoolLike, image: str, stack: ExitStack, counter: SandboxCounter):
        self.pool, self.image, self.stack, self.counter = pool, image, stack, counter
        self.box: Box | None = None

    def get(self) -> Box:
        if self.box is None:
            self.box = self.stack.enter_context(self.pool.sandbox(self.image, workdir=WORKDIR))
            self.counter.add()
        return self.box


class PreparedSandbox:
    """A version's sandbox, ready for one run each time it is asked for: started on first use, patched
    once (the patch's applying recorded in the cache), and put back as it was after the patch before every
    run (isolation.py)."""

    def __init__(self, box: LazySandbox, patch: str, cache: OutcomeCache, apply_key: str):
        """`patch`: what is judged of the candidate (envs.freeze: its test infrastructure stays the base's)."""
        self.box, self.cache, self.apply_key = box, cache, apply_key
        self.patch = patch
        self.applied = not self.patch.strip()
        self.runs = CleanRuns(set(changed_paths(self.patch)))

    def get(self) -> Box:
        sb = self.box.get()
        if not self.applied:
            self.applied = True
            apply_patch(sb, self.patch)
            self.cache.put(self.apply_key, {"applies": True, "output": ""})
        self.runs.before_run(sb)
        return sb


class SandboxCounter:
    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()

    def add(self) -> None:
        with self._lock:
            self.count += 1


def _test_key(env: EnvLike, patch_hash: str, test: GeneratedTest, config: VerifierConfig) -> str:
    return cache_key(
        "gen", PARSE_VERSION, env.image, env.python, patch_hash, test.test_hash, str(config.test_timeout)
    )


def _regression_key(env: EnvLike, patch_hash: str, command: str, config: VerifierConfig) -> str:
    return cache_key("reg", PARSE_VERSION, env.image, patch_hash, command, str(config.regression_timeout))


HASH_SEED = "0"
"""PYTHONHASHSEED of every verification run. Python salts str and bytes hashes per process, so the order
of sets and dicts of strings changes from run to run, and so do tests that depend on it (a test that
passed on the original raised on the patch six systems agree on in one run, not in two others, see
docs/verifiers.md). One seed for the original and every candidate leaves the patch as the only thing that
differs. A runner that would seed a second interpreter of its own keeps a seed it is given."""


def shell(env: EnvLike, command: str) -> str:
    """The command after the environment's setup lines (e.g. conda activation in SWE-bench images), with
    the fixed hash seed."""
    return "\n".join([*getattr(env, "eval_commands", []), f"export PYTHONHASHSEED={HASH_SEED}", command])


def run_generated(
    box: Box, env: EnvLike, test: GeneratedTest, config: VerifierConfig, path: str | None = None
) -> Outcome:
    """Run one generated test, written at `path` (default `isolation.script_path`: a name of its own in
    the directory the test names, never a file of the candidate)."""
    path = path or script_path(test)
    box.write_file(f"{WORKDIR}/{path}", test.script)
    command = isolated(f"cd {WORKDIR} && {env.python} {shlex.quote(path)}")
    res = box.exec(shell(env, command), timeout=config.test_timeout, cwd=WORKDIR)
    return make_outcome(res.exit_code, res.output, res.timed_out, res.duration, config.excerpt_chars)


def run_regression(
    box: Box, env: EnvLike, command: str, config: VerifierConfig, task: TaskLike | None = None
) -> RegressionRun:
    # The log goes to a file and is read back whole: command output is capped (head and tail), and a cut
    # in the middle would lose test statuses.
    guarded, channel = with_channel(box, env, command)
    res = box.exec(
        shell(env, isolated(f"cd {WORKDIR} && ({guarded}) > {REGRESSION_LOG} 2>&1")),
        timeout=config.regression_timeout,
        cwd=WORKDIR,
    )
    log_text = box.read_file(REGRESSION_LOG) + res.output
    box.exec(f"rm -f {REGRESSION_LOG}")
    outcome = make_outcome(res.exit_code, log_text, res.timed_out, res.duration, config.excerpt_chars)
    # one process per file: the exit status is the last one's, so only the channel is asked
    failed = runner_for(env.test_cmd).failed_ids(log_text)
    statuses, _ = checked_statuses(
        box, channel, log_text, None, failed=failed, parse=lambda text: parse_log(text, env, task)
    )
    return RegressionRun(statuses=statuses, outcome=outcome)


def with_channel(box: Box, env: EnvLike, command: str) -> tuple[str, str | None]:
    """`command` with swescale's result channel loaded first (envs.verdict), and the channel's file (None
    when the runner takes no plugin)."""
    channel = install(box, env.test_cmd)
    return (f"{channel[0]}; {command}", channel[1]) if channel else (command, None)


def checked_statuses(
    box: Box,
    channel: str | None,
    log_text: str,
    exit_code: int | None,
    graded: list[str] | None = None,
    *,
    parse: Callable[[str], dict[str, str]],
    failed: set[str] | frozenset[str] = frozenset(),
) -> tuple[dict[str, str], str | None]:
    """The statuses `parse` reads in `log_text`, or every one of them (and each of `graded`) an ERROR
    when the log, the exit status, the runner's failure reports (`failed`: `Runner.failed_ids`) and the
    result channel disagree (envs.verdict.cross_check); with the reason."""
    statuses = parse(log_text)
    seen = read_channel(box, channel) if channel else None  # a fresh file per run: none to remove
    reason = cross_check(statuses, exit_code, seen, graded, reported_failed=failed, parse=parse)
    if reason is None:
        return statuses, None
    log.warning("verdicts disagree: %s", reason)
    return dict.fromkeys([*statuses, *(graded or [])], "ERROR"), reason


def _regression_to_json(run: RegressionRun) -> dict:
    return {"statuses": run.statuses, "outcome": run.outcome.model_dump()}


def _regression_from_json(data: dict) -> RegressionRun:
    return RegressionRun(statuses=data["statuses"], outcome=Outcome.model_validate(data["outcome"]))


def select_regression_files(
    box: SandboxSource, env: EnvLike, touched: list[str], cache: OutcomeCache, config: VerifierConfig
) -> list[str]:
    """Existing test files relevant to the touched files, found in the original code (cached)."""
    key = cache_key("select", env.image, json.dumps(touched), str(config.regression_max_files))
    if (cached := cache.get(key)) is not None:
        return cached
    sb = box.get()
    sb.write_file(FIND_TESTS_IN_BOX, FIND_TESTS.read_text())
    args = " ".join(json.dumps(p) for p in touched)
    command = f"cd {WORKDIR} && {env.python} {FIND_TESTS_IN_BOX} {config.regression_max_files} {args}"
    res = sb.exec(shell(env, command), cwd=WORKDIR, timeout=120)
    try:
        files = json.loads(res.output.strip().splitlines()[-1]) if res.exit_code == 0 else []
    except (ValueError, IndexError):
        files = []
    if res.exit_code != 0:  # not cached: the next run selects again
        log.warning("regression test selection failed: %s", res.output[-500:])
        return files
    cache.put(key, files)
    return files


def run_version(
    pool: PoolLike,
    env: EnvLike,
    patch: str,
    patch_hash: str,
    tests: list[GeneratedTest],
    regression_cmd: str | None,
    cache: OutcomeCache,
    config: VerifierConfig,
    counter: SandboxCounter,
    touched: list[str] | None = None,
    selected: list[str] | None = None,
    task: TaskLike | None = None,
    regression_fn: Callable[[SandboxSource], RegressionRun] | None = None,
    probe_fn: Callable[[SandboxSource], dict[str, ProbeOutcome]] | None = None,
) -> VersionResult:
    """Run every test on one version (patch "" = the original code), from cache where possible.

    For the original, pass `touched` to select regression files first (they land in `selected`), and
    regression_cmd=None; the command is then built from the selection. `regression_fn(box)` runs the
    regression tests instead of `regression_cmd` (targeted runs, verifiers.regression); it calls
    `box.get()` (the PreparedSandbox) only when it needs the sandbox; so does `probe_fn(box)`, which runs
    the issue's examples (verifiers.probes.run).
    """
    result = VersionResult(patch_hash=patch_hash)
    apply_key = cache_key("apply", env.image, patch_hash)
    if patch.strip() and (cached := cache.get(apply_key)) is not None and not cached["applies"]:
        result.applies, result.apply_output = False, cached["output"]
        return result
    try:
        frozen = freeze(patch, env.test_cmd)
        judged, result.test_infrastructure = frozen.judged, frozen.reverted
    except PatchError as exc:  # unread, it is not applied (before any cached outcome of it is used)
        result.applies, result.apply_output = False, str(exc)
        return result
    with ExitStack() as stack:
        box = LazySandbox(pool, env.image, stack, counter)
        prepared = PreparedSandbox(box, judged, cache, apply_key)

        try:
            if touched is not None:
                files = select_regression_files(box, env, touched, cache, config) if touched else []
                if selected is not None:
                    selected.extend(files)
                regression_cmd = (
                    runner_for(env.test_cmd).file_commands(env.test_cmd, files) if files else None
                )
            for test in tests:
                key = _test_key(env, patch_hash, test, config)
                if (cached := cache.get(key)) is not None:
                    result.outcomes[test.test_id] = Outcome.model_validate(cached)
                    continue
                outcome = run_generated(prepared.get(), env, test, config, prepared.runs.script_path(test))
                cache.put(key, outcome.model_dump())
                result.outcomes[test.test_id] = outcome
            if probe_fn is not None:
                result.probes = probe_fn(prepared)
            if regression_fn is not None:
                result.regression = regression_fn(prepared)
            elif regression_cmd:
                key = _regression_key(env, patch_hash, regression_cmd, config)
                if (cached := cache.get(key)) is not None:
                    result.regression = _regression_from_json(cached)
                else:
                    result.regression = run_regression(prepared.get(), env, regression_cmd, config, task)
                    cache.put(key, _regression_to_json(result.regression))
        except PatchError as exc:
            output = exc.output[-2000:]
            cache.put(apply_key, {"applies": False, "output": output})
            result = VersionResult(patch_hash=patch_hash, applies=False, apply_output=output)
        result.sandbox_started = box.box is not None
    return result
