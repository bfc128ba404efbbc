"""`swescale bench eval`: run predictions against their tasks' images, graded by swebench's functions.

Layout (as the harness): run_dir/<model>/<instance_id>/{patch.diff, eval.sh, test_output.txt, report.json,
run_instance.log}, and run_dir/<model>.report.json with the harness's summary keys. Resumable: an instance
whose report.json exists is not run again.
"""

from __future__ import annotations

import json
import logging
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from envs.environment import EnvBuildError, EnvSpec, prepare_environment
from envs.grading import grade, test_spec
from envs.records import DatasetError, read_records
from envs.task import Task
from sandbox import DockerSandbox
from sandbox.cleanup import ensure_atexit

if TYPE_CHECKING:
    from envs.config import EnvSettings

log = logging.getLogger(__name__)
PATCH_FILE = "/tmp/patch.diff"
EVAL_FILE, OUTPUT_FILE = "/eval.sh", "/tmp/test_output.txt"
# the harness's chain (swebench.harness.run_evaluation.GIT_APPLY_CMDS)
APPLY_CMDS = [
    "git apply --verbose",
    "git apply --verbose --3way",
    "git apply --verbose --reject",
    "patch --batch --forward --fuzz=5 -p1 -i",
]


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


def _apply(sb: DockerSandbox, say: Callable[[str], None]) -> tuple[bool, str]:
    """The harness's apply chain, restarting from a clean tree after each failed attempt."""
    out = ""
    for attempt, cmd in enumerate(APPLY_CMDS):
        if attempt:
            sb.exec("git checkout -- . ; git clean -fdq", timeout=120)
        run = sb.exec(f"{cmd} {PATCH_FILE}", timeout=300)
        out = run.output
        if run.exit_code == 0:
            say(f">>>>> Applied Patch ({cmd}):\n{out}")
            return True, out
        say(f"Failed to apply patch to container: {cmd}\n{out}")
    check = sb.exec(f"git apply --check --reverse {PATCH_FILE}", timeout=120)
    if check.exit_code == 0:
        say(">>>>> Applied Patch: verified already applied")
        return True, out
    return False, out


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
    duration: float = 0.0


def eval_sandbox(env: EnvSpec, config: EnvSettings) -> DockerSandbox:
    """A sandbox of `env` as the harness runs one: the configured limits, no network, and no
    agent-oriented environment variables."""
    return DockerSandbox(
        env.image, workdir=env.workdir, config=config.sandbox, network=False, default_env=False
    )


def run_prediction(
    sb: DockerSandbox,
    task: Task,
    env: EnvSpec,
    patch: str,
    config: EnvSettings,
    say: Callable[[str], None] = lambda _: None,
) -> EvalRun:
    """Apply `patch` by the harness's chain (an empty one: the code as it is), then run the task's
    evaluation script; the log is read back whole from a file (the exec result keeps only head and tail)."""
    if patch:
        sb.write_file(PATCH_FILE, patch)
        applied, output = _apply(sb, say)
        if not applied:
            say(f">>>>> Patch Apply Failed:\n{output}")
            return EvalRun(applied=False, apply_output=output)
    spec = test_spec(task, env)
    sb.write_file(EVAL_FILE, spec.eval_script, mode=0o755)
    run = sb.exec(f"/bin/bash {EVAL_FILE} > {OUTPUT_FILE} 2>&1", timeout=config.env.eval_timeout, cwd="/")
    log_text = sb.read_bytes(OUTPUT_FILE).decode(errors="replace")
    if run.timed_out:
        log_text += f"\n\nTimeout error: {config.env.eval_timeout} seconds exceeded."
    return EvalRun(True, "", log_text, run.timed_out, run.exit_code, run.duration)


def evaluate_instance(
    task: Task, pred: dict, run_dir: Path, config: EnvSettings, rebuild: bool = False
) -> dict[str, Any] | None:
    """One prediction: its report dict, or None on an error (logged to run_instance.log, no report).
    Runs in a sandbox with the configured limits and no network; `rebuild` as in prepare_environment.
    An empty `model_patch` grades the code as it is (`bench eval` itself never runs those)."""
    folder = instance_dir(run_dir, pred)
    report_path = folder / "report.json"
    if report_path.exists():
        return json.loads(report_path.read_text())
    folder.mkdir(parents=True, exist_ok=True)
    iid = task.instance_id
    lines: list[str] = []

    def say(msg: str) -> None:
        lines.append(f"{time.strftime('%H:%M:%S')} {msg}")

    start = time.monotonic()
    try:
        patch = pred.get("model_patch") or ""
        (folder / "patch.diff").write_text(patch)
        env = prepare_environment(task, config, rebuild=rebuild)
        say(f"image {env.image} ({env.source})")
        (folder / "eval.sh").write_text(test_spec(task, env).eval_script)
        with eval_sandbox(env, config) as sb:
            run = run_prediction(sb, task, env, patch, config, say)
        if not run.applied:
            report = {
                iid: {
                    "patch_is_None": False,
                    "patch_exists": True,
                    "patch_successfully_applied": False,
                    "resolved": False,
                    "patch_apply_failed": True,
                }
            }
            report_path.write_text(json.dumps(report, indent=4))
            return report
        log_path = folder / "test_output.txt"
        log_path.write_text(run.log)
        say(f"tests ran in {run.duration:.1f}s (exit {run.exit_code})")
        if run.timed_out:
            say("tests timed out")
            return None
        report = grade(task, env, pred, str(log_path))
        report_path.write_text(json.dumps(report, indent=4))
        say(f"resolved: {report[iid]['resolved']}")
        return report
    except EnvBuildError as exc:
        say(str(exc))
        return None
    except Exception:  # noqa: BLE001 - one instance's failure never stops the run
        say(traceback.format_exc())
        return None
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
        )
    }
    for task in tasks:
        iid = task.instance_id
        pred = predictions.get(iid)
        if pred is None:
            ids["incomplete"].add(iid)
            continue
        if pred.get("model_patch") in ("", None):
            ids["empty_patch"].add(iid)
            continue
        path = instance_dir(run_dir, pred) / "report.json"
        try:
            entry = json.loads(path.read_text())[iid]
        except (OSError, json.JSONDecodeError, KeyError):
            ids["error"].add(iid)
            continue
        if entry.get("patch_apply_failed"):  # the harness counts these as errors
            ids["error"].add(iid)
            ids["patch_apply_failed"].add(iid)
            continue
        ids["completed"].add(iid)
        ids["resolved" if entry.get("resolved") else "unresolved"].add(iid)
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
    report["schema_version"] = 2
    return report


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
            iid = futures[future]
            report = future.result()
            entry = (report or {}).get(iid, {})
            state = (
                "error"
                if report is None
                else "apply-failed"
                if entry.get("patch_apply_failed")
                else "resolved"
                if entry.get("resolved")
                else "unresolved"
            )
            say(f"{iid}: {state}")
    preds = {i: p for i, p in predictions.items() if i in by_id}
    summary = summarize(tasks, preds, run_dir)
    model = next(iter(preds.values()), {}).get("model_name_or_path", "None")
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / f"{str(model).replace('/', '__')}.report.json").write_text(json.dumps(summary, indent=4))
    return summary
