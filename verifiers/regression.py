"""Targeted regression runs (`verifier.regression_mode=targeted`): verification in minutes.

1. The original code runs each selected regression test file once, in its own process, with the call
   tracer of calltrace_box.py active: per test, the functions of the touched files it called; plus the
   file's run time and the test ids the log parser reports PASSED (the regression columns).
2. Each candidate runs, per file, only the tests that called a function its patch changes
   (verifiers.targets), with a timeout relative to the original's run time of that file
   (`regression_timeout_factor * seconds + regression_timeout_margin`, at most `regression_timeout`),
   or of the tests the run selects when the original timed each (a runner whose tracer hook brackets
   each test). Tests it does not run cannot see its change and count as they did on the original (passed).
   The selected tests of several files share a process where the log parser can tell them apart, and a
   runner that allows it runs them in its own process (Runner.in_process): interpreter starts and imports
   are most of a small run.

What depends on the test runner (commands, selection by test id, log parsing, the tracer's hooks) comes
from its adapter (envs.runners).

Everything is cached: the plan under (image, touched files, file selection), a candidate's file run
under (image, patch hash, command, timeout).
"""

from __future__ import annotations

import json
import logging
import shlex
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from queue import Empty, SimpleQueue

from pydantic import BaseModel, Field

from envs.runners import Runner, function_name, runner_for, tracer_hooks
from sandbox.pool import PoolFull
from verifiers.cache import OutcomeCache, cache_key
from verifiers.collect import touched_files
from verifiers.config import VerifierConfig
from verifiers.execute import (
    WORKDIR,
    RegressionRun,
    checked_statuses,
    select_regression_files,
    shell,
    with_channel,
)
from verifiers.isolation import isolated
from verifiers.logparse import PARSE_VERSION, parse_log
from verifiers.outcome import make_outcome
from verifiers.protocols import Box, EnvLike, PoolLike, RunResult, SandboxSource, TaskLike
from verifiers.table import sha256
from verifiers.targets import file_tests, process_groups, selected_ids, target_functions, targets_of

log = logging.getLogger(__name__)

TRACER = Path(__file__).with_name("calltrace_box.py")
TRACER_IN_BOX = "/tmp/swescale_calltrace_box.py"
CALLS_DIR = "/tmp/swescale_calls"
LOG = "/tmp/swescale_regression_file.log"
PLAN_VERSION = "6"
LOAD_TIMEOUT = 120  # importing the changed modules once
PASSED = "PASSED"


class FileRecord(BaseModel):
    """One regression test file on the original code."""

    file: str
    seconds: float
    """Run time on the original (with the tracer)."""
    timed_out: bool = False
    passing: list[str] = Field(default_factory=list)
    """Test ids (as the log parser names them) that pass on the original."""
    hits: dict[str, list[int]] | None = None
    """Tracer key -> indices into RegressionPlan.functions; None when the tracer recorded nothing."""
    durations: dict[str, float] | None = None
    """Tracer key -> the test's seconds on the original (when the runner's tracer hook times each test),
    else None."""


class RegressionPlan(BaseModel):
    """What the original run recorded; decides which tests each candidate runs."""

    files: list[FileRecord] = Field(default_factory=list)
    functions: list[list] = Field(default_factory=list)
    """[file, first line, last line] of every called function of a touched file."""
    spans: dict[str, dict | None] = Field(default_factory=dict)
    """Function and import spans of the touched source files (calltrace_box.py spans)."""
    seconds: float = 0.0

    def columns(self) -> list[str]:
        return sorted(column_id(r.file, t) for r in self.files for t in r.passing)


def column_id(file: str, test_id: str) -> str:
    """A regression column id unique across files: the parser's id, prefixed by the file unless it names it."""
    return test_id if test_id.startswith(f"{file}::") else f"{file}::{test_id}"


def _run_logged(
    sb: Box, env: EnvLike, command: str, timeout: float, path: str = LOG
) -> tuple[RunResult, str]:
    # the log goes to a file and is read back whole (command output is capped)
    res = sb.exec(shell(env, f"cd {WORKDIR} && ({command}) > {path} 2>&1"), timeout=timeout, cwd=WORKDIR)
    text = sb.read_file(path) + res.output
    sb.exec(f"rm -f {path}")
    return res, text


def _install_tracer(sb: Box, env: EnvLike) -> bool:
    found = sb.exec(
        shell(env, f"{env.python} -c \"import sysconfig; print(sysconfig.get_paths()['purelib'])\"")
    )
    lines = found.output.strip().splitlines()
    if found.exit_code != 0 or not lines:
        log.warning("no site-packages for the call tracer: %s", found.output[-300:])
        return False
    site = lines[-1].strip()
    sb.write_file(f"{site}/swescale_calltrace.py", TRACER.read_text())
    sb.write_file(f"{site}/swescale_calltrace.pth", "import swescale_calltrace\n")
    sb.write_file(TRACER_IN_BOX, TRACER.read_text())
    return True


def _read_calls(sb: Box, directory: str) -> list[dict] | None:
    """The recorder's files of every process of one run (None: it wrote nothing). A process killed at
    its timeout left only its journal (calls-<pid>.jsonl): its pairs are read from there, and the seconds
    of each test that ended (under a runner whose hook times tests), so a cut file whose tests called no
    touched function has an empty record (nothing for candidates to run) rather than none (run it whole)."""
    listing = sb.exec(f"ls {directory} 2>/dev/null")
    names = set(listing.output.split())
    out = []
    for name in sorted(names):
        try:
            if name.startswith("calls-") and name.endswith(".json"):
                out.append(json.loads(sb.read_file(f"{directory}/{name}")))
            elif name.startswith("calls-") and name.endswith(".jsonl") and name[:-1] not in names:
                out.append(_from_journal(sb.read_file(f"{directory}/{name}")))
        except (ValueError, OSError):
            continue
    return out or None


def _from_journal(text: str) -> dict:
    functions: list[list] = []
    index: dict[tuple, int] = {}
    hits: dict[str, list[int]] = {}
    durations: dict[str, float] = {}
    for line in text.splitlines():
        try:
            entry = json.loads(line)
            if isinstance(entry, dict):
                key, seconds = entry["seconds"]
                durations[key] = float(seconds)
                continue
            key, path, first, last = entry
        except (ValueError, TypeError, KeyError):
            continue  # a line cut by the kill
        at = index.setdefault((path, first), len(functions))
        if at == len(functions):
            functions.append([path, first, last])
        hits.setdefault(key, []).append(at)
    return {"functions": functions, "hits": hits, "elsewhere": [], "durations": durations}


def _merge_calls(data: list[dict], functions: list[list], index: dict) -> dict[str, list[int]] | None:
    """Union of the recorder files of one run, function indices mapped to `functions`."""
    hits: dict[str, set[int]] = {}
    for part in data:
        if part.get("elsewhere"):
            log.warning("touched files imported without the call recorder: %s", part["elsewhere"])
            return None
        local = []
        for path, first, last in part["functions"]:
            key = (path, first)
            if key not in index:
                index[key] = len(functions)
                functions.append([path, first, last])
            local.append(index[key])
        for test, calls in part["hits"].items():
            hits.setdefault(test, set()).update(local[i] for i in calls)
    return {k: sorted(v) for k, v in sorted(hits.items())}


def record_original(
    box: SandboxSource,
    env: EnvLike,
    touched: list[str],
    cache: OutcomeCache,
    config: VerifierConfig,
    task: TaskLike | None,
    pool: PoolLike | None = None,
) -> RegressionPlan:
    """Select the regression files and run each on the original with the call tracer (cached).

    The files are independent: with a `pool`, up to `max_parallel` sandboxes of the original share them
    (the candidates wait for this record anyway)."""
    files = select_regression_files(box, env, touched, cache, config) if touched else []
    key = cache_key("plan", PLAN_VERSION, PARSE_VERSION, env.image, json.dumps(touched), json.dumps(files))
    if (cached := cache.get(key)) is not None:
        return RegressionPlan.model_validate(cached)
    plan = RegressionPlan()
    if not files:
        return plan
    started = time.monotonic()
    sb = box.get()
    sources = [p for p in touched if p.endswith(".py") and p not in files]
    traced = _install_tracer(sb, env)
    if traced:
        command = f"cd {WORKDIR} && {env.python} {TRACER_IN_BOX} spans " + " ".join(map(shlex.quote, sources))
        res = sb.exec(shell(env, command))
        try:
            plan.spans = json.loads(res.output.strip().splitlines()[-1])
        except (ValueError, IndexError):
            log.warning("no function spans: %s", res.output[-300:])
    # more sandboxes only from the pool's free slots, never waiting for one while `sb` is held: two
    # recorders of a shared pool each holding one and waiting for another would wait forever
    workers = max(1, min(len(files), config.max_parallel)) if pool is not None else 1
    # each worker takes the next file when it is free, the largest first: one slow file no longer
    # leaves the other workers idle behind a fixed share
    sizes = _sizes(sb, files) if workers > 1 else {}
    todo: SimpleQueue[tuple[int, str]] = SimpleQueue()
    for item in sorted(enumerate(files), key=lambda item: -sizes.get(item[1], 0)):
        todo.put(item)

    def run_share(box_: Box, ok: bool) -> list[tuple[int, RunResult, dict[str, str], list | None]]:
        out = []
        while True:
            try:
                number, file = todo.get_nowait()
            except Empty:
                return out
            res, statuses, directory = _record_file(box_, env, number, file, sources, ok, config, task)
            out.append((number, res, statuses, _read_calls(box_, directory) if ok else None))

    def work(share: int) -> list[tuple[int, RunResult, dict[str, str], list | None]]:
        if share == 0 or pool is None:
            return run_share(sb, traced)
        try:
            with pool.sandbox(env.image, workdir=WORKDIR, wait=False) as other:
                return run_share(other, traced and _install_tracer(other, env))
        except PoolFull:
            return []  # no free slot: the held sandbox and the other workers take this share

    with ThreadPoolExecutor(max_workers=workers) as executor:
        results = sorted((r for part in executor.map(work, range(workers)) for r in part), key=lambda r: r[0])
    index: dict = {}
    for number, res, statuses, calls in results:
        plan.files.append(
            FileRecord(
                file=files[number],
                seconds=round(res.duration, 3),
                timed_out=res.timed_out,
                passing=sorted(t for t, s in statuses.items() if s == PASSED),
                hits=_merge_calls(calls, plan.functions, index) if calls is not None else None,
                durations={k: v for part in calls or [] for k, v in (part.get("durations") or {}).items()}
                or None,
            )
        )
    plan.seconds = round(time.monotonic() - started, 2)
    cache.put(key, plan.model_dump())
    return plan


def _sizes(sb: Box, files: list[str]) -> dict[str, int]:
    """Bytes of each test file (a rough guide to its run time); files it cannot read are left out."""
    res = sb.exec(f"cd {WORKDIR} && wc -c -- " + " ".join(map(shlex.quote, files)))
    sizes = {}
    for line in res.output.splitlines():
        count, _, name = line.strip().partition(" ")
        if count.isdigit() and name in files:
            sizes[name] = int(count)
    return sizes


def _record_file(
    sb: Box,
    env: EnvLike,
    number: int,
    file: str,
    sources: list[str],
    traced: bool,
    config: VerifierConfig,
    task: TaskLike | None,
) -> tuple[RunResult, dict[str, str], str]:
    """One file on the original, with the call recorder writing into its own folder."""
    directory = f"{CALLS_DIR}/{number}"
    tracer_config = {
        "out": directory,
        "root": WORKDIR,
        "touched": sources,
        "tests": [file],
        "hooks": tracer_hooks(),
    }
    sb.write_file(f"{directory}.json", json.dumps(tracer_config))
    sb.exec(f"mkdir -p {directory}")
    prefix = f"export SWESCALE_CALLTRACE={directory}.json; " if traced else ""
    runner = runner_for(env.test_cmd)
    command = prefix + runner.file_commands(runner.in_process(env.test_cmd), [file])
    res, text = _run_logged(sb, env, command, config.regression_timeout, f"{directory}.log")
    return res, parse_log(text, env, task), directory


def file_timeout(record: FileRecord, config: VerifierConfig) -> float:
    """A candidate's timeout for one file: relative to the original's run time, at most the flat limit."""
    relative = config.regression_timeout_factor * record.seconds + config.regression_timeout_margin
    return round(min(config.regression_timeout, relative), 1)


def subset_timeout(record: FileRecord, keywords: set[str], runner: Runner, config: VerifierConfig) -> float:
    """A subset run's timeout for one file: relative to the original's seconds of the tests of the file
    that the run's keywords select (a runner may match substrings, so also tests not asked for), when the
    original ran the whole file and timed each test; else relative to the whole file."""
    whole = file_timeout(record, config)
    if record.timed_out or not record.durations:
        return whole
    tests = file_tests(record.durations, record.file)
    seconds = sum(s for name, s in tests.items() if runner.selects(keywords, name))
    relative = config.regression_timeout_factor * seconds + config.regression_timeout_margin
    return round(min(whole, relative), 1)


LOAD_CHECK = """
import importlib, os, sys
at = sys.argv.index("--")
for path in sys.argv[1:at]:
    compile(open(path, encoding="utf-8").read(), path, "exec")
for path in sys.argv[at + 1:]:
    if not os.path.exists(path):
        continue  # removed by the patch
    parts = path[:-3].split("/")
    if parts[-1] == "__init__":
        parts.pop()
    elif not os.path.exists(os.path.join(os.path.dirname(path), "__init__.py")):
        continue  # not a package's module (a script such as setup.py): importing it would run it
    top = len(parts) - 1
    while top > 0 and os.path.exists(os.path.join(*parts[:top], "__init__.py")):
        top -= 1
    sys.path.insert(0, os.path.join(*parts[:top]) if top else ".")
    importlib.import_module(".".join(parts[top:]))
"""


def loads(
    box: SandboxSource, env: EnvLike, plan: RegressionPlan, patch: str, patch_hash: str, cache: OutcomeCache
) -> bool:
    """Whether every Python file the patch changes still compiles, and every module it changes outside
    function bodies still imports. A file that does not breaks every test importing it, not only those
    calling the changed functions (a candidate's new `from .exceptions import` of a name the module
    lacks failed every test, and ran none of them when only callers were selected; docs/verifiers.md)."""
    files = [p for p in touched_files([patch]) if p.endswith(".py")]
    if not files:
        return True
    key = cache_key("loads", env.image, patch_hash)
    if (cached := cache.get(key)) is not None:
        return bool(cached)
    tests = [r.file for r in plan.files]
    modules = sorted(targets_of(patch, plan.spans, tests).load_time - set(tests))
    args = " ".join(map(shlex.quote, [*files, "--", *modules]))
    command = isolated(f"cd {WORKDIR} && {env.python} -c {shlex.quote(LOAD_CHECK)} {args}")
    res = box.get().exec(shell(env, command), timeout=LOAD_TIMEOUT)
    ok = res.exit_code == 0 and not res.timed_out
    if not ok:
        log.info("patch %s: a changed module does not load: %s", patch_hash[:12], res.output[-300:])
    cache.put(key, ok)
    return ok


Batch = tuple[list[tuple[FileRecord, set[str] | None]], str, float]
"""(files with the ids each runs (None: the whole file), one command, its timeout)."""


def candidate_batches(
    plan: RegressionPlan, env: EnvLike, patch: str, broken: bool, config: VerifierConfig
) -> list[Batch]:
    """The commands a candidate must run. Whole files run one per process; the selected tests of the other
    files share as few processes as the runner can name them unambiguously in (fewer interpreter
    starts). `broken`: a changed file does not compile, so every file runs whole."""
    runner = runner_for(env.test_cmd)
    test_cmd = runner.in_process(env.test_cmd)
    files = [r.file for r in plan.files]
    targets = targets_of(patch, plan.spans, files)
    targets.everything = targets.everything or broken
    wanted = target_functions(targets, plan.functions, plan.spans)
    batches: list[Batch] = []
    subsets: list[tuple[FileRecord, set[str]]] = []
    for record in plan.files:
        whole = runner.file_commands(test_cmd, [record.file])
        if targets.everything or record.file in targets.edited_tests or record.hits is None:
            batches.append(([(record, None)], whole, file_timeout(record, config)))
            continue
        ids = selected_ids(record.passing, record.file, record.hits, wanted)
        if not ids:
            continue
        if runner.subset_command(test_cmd, [(record.file, ids)]) is None:
            batches.append(([(record, None)], whole, file_timeout(record, config)))
        else:
            subsets.append((record, ids))
    parts = [(r.file, ids) for r, ids in subsets]
    # where the parser's ids do not name the file, files sharing a test name need processes of their own
    names = {} if runner.ids_name_the_file else {r.file: test_names(r) for r, _ in subsets}
    costs = [subset_timeout(r, {function_name(t) for t in ids}, runner, config) for r, ids in subsets]
    for group in process_groups(parts, names, costs, config.regression_timeout):
        members = [subsets[i] for i in group]
        command = runner.subset_command(test_cmd, [parts[i] for i in group])
        keywords = {function_name(t) for _, ids in members for t in ids}  # keywords apply to every file
        timeout = min(
            config.regression_timeout, sum(subset_timeout(r, keywords, runner, config) for r, _ in members)
        )
        batches.append((members, command, round(timeout, 1)))
    return batches


def expected_seconds(plan: RegressionPlan, env: EnvLike, patch: str, config: VerifierConfig) -> float:
    """What a candidate's regression runs should take, as their timeouts add up (the original's seconds
    of the tests each runs, times the factor, plus a margin per process): the longest start first."""
    return sum(timeout for _, _, timeout in candidate_batches(plan, env, patch, False, config))


def test_names(record: FileRecord) -> set[str]:
    """Every test name the original run saw in the file: those that passed and those the recorder met."""
    return {function_name(t) for t in record.passing} | set(file_tests(record.hits or {}, record.file))


def _run_batch(
    box: SandboxSource, env: EnvLike, command: str, timeout: float, task: TaskLike | None, graded: list[str]
) -> dict:
    """One regression process, its verdicts cross-checked (`graded`: the ids it must run; a disagreement
    makes every one an ERROR: verifiers.execute.checked_statuses)."""
    sb = box.get()
    guarded, channel = with_channel(sb, env, command)
    res, text = _run_logged(sb, env, guarded, timeout)
    failed = runner_for(env.test_cmd).failed_ids(text)
    statuses, mismatch = checked_statuses(
        sb,
        channel,
        text,
        res.exit_code,
        graded,
        failed=failed,
        parse=lambda log_text: parse_log(log_text, env, task),
    )
    return {
        "statuses": statuses,
        "exit_code": 1 if mismatch else res.exit_code,
        "timed_out": res.timed_out,
        "seconds": round(res.duration, 3),
        "digest": make_outcome(res.exit_code, text, res.timed_out, res.duration, 0).output_digest,
    }


def run_candidate(
    box: SandboxSource,
    env: EnvLike,
    plan: RegressionPlan,
    patch: str,
    patch_hash: str,
    cache: OutcomeCache,
    config: VerifierConfig,
    task: TaskLike | None,
) -> RegressionRun:
    """The candidate's statuses on every regression column (tests it need not run count as passed).

    `box.get()` gives the candidate's sandbox with the patch applied; it is called only on a cache miss."""
    statuses = {column_id(r.file, t): PASSED for r in plan.files for t in r.passing}
    digests, exit_code, timed_out, seconds, ran = [], 0, False, 0.0, 0
    broken = not loads(box, env, plan, patch, patch_hash, cache)
    for members, command, timeout in candidate_batches(plan, env, patch, broken, config):
        key = cache_key("treg", PARSE_VERSION, env.image, patch_hash, command, str(timeout))
        cached = cache.get(key)
        if cached is None:
            graded = sorted(t for record, ids in members for t in (record.passing if ids is None else ids))
            cached = _run_batch(box, env, command, timeout, task, graded)
            cache.put(key, cached)
        # a clean exit means every test that ran passed, also one the parser did not report
        missing = PASSED if cached["exit_code"] == 0 and not cached["timed_out"] else "MISSING"
        for record, ids in members:
            run = set(record.passing) if ids is None else ids
            for test in run:
                statuses[column_id(record.file, test)] = cached["statuses"].get(test, missing)
            ran += len(run)
        digests.append(cached["digest"])
        exit_code = exit_code or (cached["exit_code"] or 0)
        timed_out = timed_out or cached["timed_out"]
        seconds += cached["seconds"]
    excerpt = f"ran {ran} of {len(statuses)} regression tests" + (" (a run timed out)" if timed_out else "")
    outcome = make_outcome(exit_code, excerpt, timed_out, seconds, config.excerpt_chars)
    outcome.output_digest = sha256("\n".join(digests))
    return RegressionRun(statuses=statuses, outcome=outcome, ran=ran)
