"""`swescale bench eval`: run predictions against their tasks' images, graded by swebench's functions.

Layout (as the harness): run_dir/<model>/<instance_id>/{patch.diff, eval.sh, test_output.txt, report.json,
run_instance.log}, and run_dir/<model>.report.json with the harness's summary keys. Resumable: an instance
whose report.json exists is not run again.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shlex
import time
import traceback
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from envs.environment import EnvBuildError, EnvSpec, _tail, prepare_environment
from envs.faults import END, START, TEST_EXIT, Fault, classify
from envs.freeze import freeze
from envs.grading import grade, test_spec
from envs.internet import drop_setup_caps, sandbox_caps, sandbox_setup
from envs.records import DatasetError, read_records
from envs.runners import parse_test_log, runner_for
from envs.specs import harness_spec
from envs.task import Task
from envs.verdict import Channel, cross_check, guarded_script, install, read_channel
from sandbox import DockerSandbox
from sandbox.cleanup import ensure_atexit
from sandbox.patch import HARNESS, Attempt, PatchError, apply_patch, changed_paths

if TYPE_CHECKING:
    from envs.config import EnvSettings

log = logging.getLogger(__name__)
PATCH_FILE = "/tmp/patch.diff"
EVAL_FILE, OUTPUT_FILE = "/eval.sh", "/tmp/test_output.txt"
ERROR_FILE = "error.json"
"""Beside report.json's place: the fault of an instance that could not be evaluated (kind, reason)."""
APPLY_FAILED = {
    "patch_is_None": False,
    "patch_exists": True,
    "patch_successfully_applied": False,
    "resolved": False,
    "patch_apply_failed": True,
}


class SandboxSetupError(RuntimeError):
    """The evaluation sandbox could not be prepared (its stand-ins of the internet)."""


class PredictionsError(DatasetError):
    """Unreadable predictions file."""


def load_predictions(path: str | Path) -> dict[str, dict]:
    """instance_id -> prediction, from swebench-format .jsonl, or .json (list, or dict keyed by id)."""
    try:
        rows = [row for _, row in read_records(path)]
    except DatasetError as exc:
        raise PredictionsError(str(exc)) from exc
    out: dict[str, dict] = {}
    for row in rows:
        row.setdefault("model_name_or_path", "None")
        row.setdefault("model_patch", None)
        out[row["instance_id"]] = row
    return out


def instance_dir(run_dir: Path, pred: dict) -> Path:
    return Path(run_dir) / str(pred["model_name_or_path"]).replace("/", "__") / pred["instance_id"]


def _apply(sb: DockerSandbox, patch: str, say: Callable[[str], None]) -> tuple[bool, str]:
    """The harness's apply chain (sandbox.patch.HARNESS), logged as the harness logs it; (applied, the
    last apply command's output)."""

    def record(attempt: Attempt) -> None:
        if attempt.check:
            if attempt.ok:
                say(">>>>> Applied Patch: verified already applied")
        elif attempt.ok:
            say(f">>>>> Applied Patch ({attempt.command}):\n{attempt.output}")
        else:
            say(f"Failed to apply patch to container: {attempt.command}\n{attempt.output}")

    try:
        apply_patch(sb, patch, chain=HARNESS, patch_file=PATCH_FILE, timeout=300, on_attempt=record)
    except PatchError as exc:
        outputs = [a.output for a in exc.attempts if not a.check]
        return False, outputs[-1] if outputs else str(exc)
    return True, ""


@dataclass
class EvalRun:
    """One run of a task's evaluation script on a patched tree."""

    applied: bool
    """Whether the patch applied (an empty patch always does: nothing to apply)."""
    apply_output: str
    log: str = ""
    """The evaluation script's whole output (test markers and the recorded exit code included)."""
    timed_out: bool = False
    exit_code: int = 0
    """The test command's exit status (the script exits with it), through the sealed exec channel."""
    duration: float = 0.0
    reverted: list[str] = field(default_factory=list)
    """Test infrastructure the patch changed, reverted for the run (envs.freeze)."""
    channel: Channel | None = None
    """What swescale's result-channel plugin saw (None: the runner takes none; envs.verdict)."""


@contextmanager
def eval_sandbox(env: EnvSpec, config: EnvSettings, task: Task | None = None) -> Iterator[DockerSandbox]:
    """A started sandbox of `env` as the harness runs one: the configured limits, no network, and no
    agent-oriented environment variables. With `task`: at least the CPUs its harness spec gives, and the
    local stand-ins of the internet its tests call set up (envs.internet: the capabilities that takes are
    dropped again for the evaluation script)."""
    limits = _sandbox_config(task, config) if task is not None else config.sandbox
    with DockerSandbox(env.image, workdir=env.workdir, config=limits, network=False, default_env=False) as sb:
        for cmd in sandbox_setup(task) if task is not None else []:
            run = sb.exec(cmd, timeout=120, cwd="/")
            if run.exit_code != 0:
                raise SandboxSetupError(f"sandbox setup failed (exit {run.exit_code}): {run.output[-400:]}")
        yield sb


def run_prediction(
    sb: DockerSandbox,
    task: Task,
    env: EnvSpec,
    patch: str,
    config: EnvSettings,
    say: Callable[[str], None] = lambda _: None,
    spec: Any = None,
) -> EvalRun:
    """Apply `patch` by the harness's chain (an empty one: the code as it is), its test infrastructure
    frozen (envs.freeze: only `judged` is applied), then run the task's evaluation script with the result
    channel (envs.verdict); the log is read back whole from a file (the exec result keeps only head and
    tail)."""

    def apply_failed(output: str, reverted: list[str]) -> EvalRun:  # the harness's marker, then the run
        say(f">>>>> Patch Apply Failed:\n{output}")
        return EvalRun(applied=False, apply_output=output, reverted=reverted)

    try:
        frozen = freeze(patch, env.test_cmd)
    except PatchError as exc:  # malformed: its test files cannot be checked, so it is not applied
        return apply_failed(str(exc), [])
    if frozen.reverted or frozen.held_out:
        say(f"test infrastructure reverted: {frozen.reverted}; new test files left out: {frozen.held_out}")
    if frozen.judged:
        applied, output = _apply(sb, frozen.judged, say)
        if not applied:
            return apply_failed(output, frozen.reverted)
    else:
        say("empty patch: the tests run on the unpatched code")
    spec = spec or test_spec(task, env)
    channel = install(sb, env.test_cmd)
    sb.write_file(EVAL_FILE, guarded_script(spec.eval_script, channel and channel[0]), mode=0o755)
    command = f"{drop_setup_caps(sb.config.cap_add)}/bin/bash {EVAL_FILE} > {OUTPUT_FILE} 2>&1"
    run = sb.exec(command, timeout=config.env.eval_timeout, cwd="/")
    log_text = sb.read_bytes(OUTPUT_FILE).decode(errors="replace")
    if run.timed_out:
        log_text += f"\n\nTimeout error: {config.env.eval_timeout} seconds exceeded."
    seen = read_channel(sb, channel[1]) if channel else None
    return EvalRun(True, "", log_text, run.timed_out, run.exit_code, run.duration, frozen.reverted, seen)


@dataclass
class InstanceResult:
    """The outcome of evaluating one prediction."""

    instance_id: str
    state: str
    """`resolved`, `unresolved`, `apply-failed` or `error` (then `fault` says why)."""
    report: dict[str, Any] | None = None
    """swebench's per-instance report (None for errors)."""
    fault: Fault | None = None
    seconds: float = 0.0
    reverted: list[str] = field(default_factory=list)
    """Test infrastructure the patch changed, reverted for the run (envs.freeze): it touches it."""

    @classmethod
    def from_report(cls, iid: str, report: dict[str, Any], seconds: float = 0.0) -> InstanceResult:
        entry = report[iid]
        state = (
            "apply-failed"
            if entry.get("patch_apply_failed")
            else "resolved"
            if entry.get("resolved")
            else "unresolved"
        )
        reverted = list(entry.get("test_infrastructure_reverted") or [])
        return cls(iid, state, report=report, seconds=seconds, reverted=reverted)


def _in_repo(sb: DockerSandbox, task: Task, patch: str) -> Callable[[str], bool]:
    """Is a module of that name part of the repository (tracked, or added by a patch)? Cached per name."""
    added = [path for diff in (task.patch, task.test_patch, patch) for path in changed_paths(diff)]
    listing = f"{{ git ls-files; printf '%s\\n' {' '.join(map(shlex.quote, added))}; }}"
    cache: dict[str, bool] = {}

    def check(name: str) -> bool:
        if name not in cache:
            pattern = f"(^|/){re.escape(name)}(/|\\.py$|\\.so$|$)"
            run = sb.exec(f"{listing} | grep -qE {shlex.quote(pattern)}", timeout=60)
            cache[name] = run.exit_code != 1  # grep's "no match"; any failure counts as "in the repo"
        return cache[name]

    return check


def _write_fault(
    folder: Path, iid: str, fault: Fault, seconds: float, reverted: list[str] | None = None
) -> InstanceResult:
    record = {"instance_id": iid, **fault.as_dict(), "test_infrastructure_reverted": reverted or []}
    (folder / ERROR_FILE).write_text(json.dumps(record, indent=4))
    return InstanceResult(iid, "error", fault=fault, seconds=seconds, reverted=reverted or [])


def _test_in_sandbox(task, env, spec, patch, config, say) -> tuple[EvalRun, Callable[[str], bool]] | None:
    """`run_prediction` in a harness-like sandbox, plus which modules the log reports missing belong to the
    repository (asked while the sandbox is alive); None when the patch did not apply."""
    with eval_sandbox(env, config, task) as sb:
        run = run_prediction(sb, task, env, patch, config, say, spec)
        if not run.applied:
            return None
        in_repo = _in_repo(sb, task, patch)
        known = {name: in_repo(name) for name in _candidate_modules(run.log)}
    return run, lambda name: known.get(name, True)  # names not asked: "in the repo"


def _sandbox_config(task: Task, config: EnvSettings):
    """The configured sandbox limits, with at least the CPUs the harness spec gives the task's containers
    (`nano_cpus`: pylint counts cgroup CPUs and skips its listed parallel tests below two), and the
    capabilities the task's stand-ins of the internet take to set up."""
    wanted = (harness_spec(task) or {}).get("nano_cpus", 0) / 1e9
    update: dict[str, Any] = {}
    if wanted > config.sandbox.cpus:
        update["cpus"] = min(wanted, float(os.cpu_count() or 1))
    extra = [c for c in sandbox_caps(task) if c not in config.sandbox.cap_add]
    if extra:
        update["cap_add"] = [*config.sandbox.cap_add, *extra]
    return config.sandbox.model_copy(update=update) if update else config.sandbox


def _candidate_modules(log: str) -> set[str]:
    """Top-level modules a log reports missing (the only names classify() asks about)."""
    names = re.findall(r"No module named '?([\w.]+)'?|cannot import name '?\w+'? from '?([\w.]+)", log)
    return {(a or b).split(".")[0] for a, b in names}


def evaluate_instance(
    task: Task, pred: dict, run_dir: Path, config: EnvSettings, rebuild: bool = False
) -> InstanceResult:
    """One prediction (an empty patch runs the tests on the unpatched code), in a sandbox with the
    configured limits and no network; `rebuild` as in prepare_environment. A run that cannot have measured
    the patch is an `error` with its fault, written to error.json (and evaluated again on resume)."""
    folder = instance_dir(run_dir, pred)
    iid = task.instance_id
    report_path = folder / "report.json"
    if report_path.exists():
        return InstanceResult.from_report(iid, json.loads(report_path.read_text()))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / ERROR_FILE).unlink(missing_ok=True)
    lines: list[str] = []

    def say(msg: str) -> None:
        lines.append(f"{time.strftime('%H:%M:%S')} {msg}")

    start = time.monotonic()
    try:
        patch = pred.get("model_patch") or ""
        (folder / "patch.diff").write_text(patch)
        env = prepare_environment(task, config, rebuild=rebuild)
        say(f"image {env.image} ({env.source})")
        spec = test_spec(task, env)
        (folder / "eval.sh").write_text(spec.eval_script)
        ran = _test_in_sandbox(task, env, spec, patch, config, say)
        if ran is None:
            report = {iid: {**APPLY_FAILED}}
            report_path.write_text(json.dumps(report, indent=4))
            return InstanceResult.from_report(iid, report, time.monotonic() - start)
        run, in_repo = ran
        output = run.log  # with the harness's timeout note when the tests timed out
        log_path = folder / "test_output.txt"
        log_path.write_text(output)
        say(f"tests ran in {run.duration:.1f}s (exit {run.exit_code})")
        if run.timed_out:
            fault = Fault("timeout", f"the tests ran longer than {config.env.eval_timeout:.0f}s")
            return _write_fault(folder, iid, fault, time.monotonic() - start)
        tests_log = output.split(START, 1)[-1].split(END, 1)[0]
        status = parse_test_log(tests_log, env, task)
        logged_exit = TEST_EXIT.search(output)
        mismatch = cross_check(
            status,
            run.exit_code,
            run.channel,
            [*task.FAIL_TO_PASS, *task.PASS_TO_PASS],
            int(logged_exit.group(1)) if logged_exit else None,
            failed_quietly=False,  # swebench's grading reads that rule itself (unresolved, as the harness)
            reported_failed=runner_for(env.test_cmd).failed_ids(tests_log),
            parse=lambda text: parse_test_log(text, env, task),
        )
        if mismatch:
            say(f"verdicts disagree: {mismatch}")
            fault = Fault("verdict-mismatch", mismatch)
            return _write_fault(folder, iid, fault, time.monotonic() - start, run.reverted)
        report = grade(task, env, pred, str(log_path))
        report[iid]["test_infrastructure_reverted"] = run.reverted
        if not report[iid]["resolved"]:
            fault = classify(
                task, output, status, patch, workdir=env.workdir, test_cmd=env.test_cmd, in_repo=in_repo
            )
            if fault:
                say(f"environment fault: {fault}")
                return _write_fault(folder, iid, fault, time.monotonic() - start)
        report_path.write_text(json.dumps(report, indent=4))
        say(f"resolved: {report[iid]['resolved']}")
        return InstanceResult.from_report(iid, report, time.monotonic() - start)
    except SandboxSetupError as exc:
        say(str(exc))
        return _write_fault(folder, iid, Fault("no-start", str(exc)), time.monotonic() - start)
    except EnvBuildError as exc:
        say(str(exc))
        fault = Fault("build", f"step '{exc.step}' failed: {_tail(exc.log_tail, 8)}")
        return _write_fault(folder, iid, fault, time.monotonic() - start)
    except Exception as exc:  # noqa: BLE001 - one instance's failure never stops the run
        say(traceback.format_exc())
        fault = Fault("internal", f"{type(exc).__name__}: {str(exc)[:500]}")
        return _write_fault(folder, iid, fault, time.monotonic() - start)
    finally:
        say(f"total {time.monotonic() - start:.1f}s")
        with (folder / "run_instance.log").open("a") as fh:
            fh.write("\n".join(lines) + "\n")


def summarize(tasks: list[Task], predictions: dict[str, dict], run_dir: Path) -> dict[str, Any]:
    """The harness's run report (make_run_report's keys) over our per-instance reports."""
    ids: dict[str, set[str]] = {
        k: set()
        for k in (
            "completed",
            "resolved",
            "unresolved",
            "error",
            "incomplete",
            "empty_patch",
            "patch_apply_failed",
            "test_infrastructure",
        )
    }
    reasons: dict[str, str] = {}
    for task in tasks:
        iid = task.instance_id
        pred = predictions.get(iid)
        if pred is None:
            ids["incomplete"].add(iid)
            continue
        if pred.get("model_patch") in ("", None):
            ids["empty_patch"].add(iid)
            continue
        folder = instance_dir(run_dir, pred)
        try:
            entry = json.loads((folder / "report.json").read_text())[iid]
        except (OSError, json.JSONDecodeError, KeyError):
            ids["error"].add(iid)
            reasons[iid] = _fault_text(folder)
            continue
        if entry.get("patch_apply_failed"):  # the harness counts these as errors
            ids["error"].add(iid)
            ids["patch_apply_failed"].add(iid)
            continue
        ids["completed"].add(iid)
        ids["resolved" if entry.get("resolved") else "unresolved"].add(iid)
        if entry.get("test_infrastructure_reverted"):
            ids["test_infrastructure"].add(iid)
    report: dict[str, Any] = {
        "total_instances": len(tasks),
        "submitted_instances": len(predictions),
        **{
            f"{k}_instances": len(ids[k])
            for k in ("completed", "resolved", "unresolved", "empty_patch", "error")
        },
    }
    for key in ("completed", "incomplete", "empty_patch"):
        report[f"{key}_ids"] = sorted(ids[key])
    report["submitted_ids"] = sorted(predictions)
    for key in ("resolved", "unresolved", "error", "patch_apply_failed"):
        report[f"{key}_ids"] = sorted(ids[key])
    report["test_infrastructure_ids"] = sorted(ids["test_infrastructure"])  # ours: touched, reverted
    report["error_reasons"] = dict(sorted(reasons.items()))  # ours: why each error measured nothing
    report["schema_version"] = 2
    return report


def _fault_text(folder: Path) -> str:
    try:
        fault = json.loads((folder / ERROR_FILE).read_text())
        return f"{fault['kind']}: {fault['reason']}"
    except (OSError, json.JSONDecodeError, KeyError):
        return "not evaluated (no report)"


def evaluate_predictions(
    tasks: list[Task],
    predictions: dict[str, dict],
    run_dir: str | Path,
    config: EnvSettings,
    workers: int = 2,
    say: Callable[[str], None] = print,
    rebuild: bool = False,
) -> dict[str, Any]:
    """Evaluate every prediction whose task is given (images built as needed, or all rebuilt with
    `rebuild`, except for instances already evaluated in run_dir); returns the summary, also written to
    run_dir/<model>.report.json."""
    run_dir = Path(run_dir)
    by_id = {t.instance_id: t for t in tasks}
    unknown = sorted(set(predictions) - set(by_id))
    if unknown:
        say(f"warning: {len(unknown)} predictions for instances not in the dataset: {', '.join(unknown[:5])}")
    todo = [
        (by_id[i], p) for i, p in predictions.items() if i in by_id and p.get("model_patch") not in ("", None)
    ]
    done = sum(1 for t, p in todo if (instance_dir(run_dir, p) / "report.json").exists())
    ensure_atexit()  # workers' sandboxes are removed at exit (the CLI adds SIGINT/SIGTERM)
    say(f"{len(todo)} predictions to evaluate ({done} already done), {workers} workers")
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = {
            pool.submit(evaluate_instance, t, p, run_dir, config, rebuild): t.instance_id for t, p in todo
        }
        for future in as_completed(futures):
            result = future.result()
            say(f"{result.instance_id}: {result.state}" + (f" ({result.fault})" if result.fault else ""))
    preds = {i: p for i, p in predictions.items() if i in by_id}
    summary = summarize(tasks, preds, run_dir)
    model = next(iter(preds.values()), {}).get("model_name_or_path", "None")
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / f"{str(model).replace('/', '__')}.report.json").write_text(json.dumps(summary, indent=4))
    return summary
