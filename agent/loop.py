"""The trajectory loop: model -> tool calls -> sandbox -> observations, until submit or a limit.

Messages are append-only (earlier ones are never rewritten, so the server's prefix cache hits), the
trajectory JSON is rewritten after every step, and on every exit the current diff becomes the candidate
patch (reproduction script and scratch files removed, see agent/patch.py).
"""

from __future__ import annotations

import shlex
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined

from agent.config import AgentConfig, AgentSettings
from agent.context import files_from_sandbox, repo_context
from agent.model import ModelClient, ModelError
from agent.parsing import TEXT_FORMAT_EXAMPLE, describe_tools
from agent.patch import filter_patch
from agent.result import ExitStatus, TrajectoryResult, Usage
from agent.tools import make_toolset
from agent.tools.base import SandboxLike
from agent.trajectory import Step, TrajectoryRecord, save_trajectory
from envs.task import Task

ROOT = "/testbed"
PROMPTS = Path(__file__).parent / "prompts"
PY = "PY=$(command -v python || command -v python3)"
GIT = "git -c safe.directory='*'"


def render(template: str, config: AgentConfig, **values: Any) -> str:
    """Render a prompt template; `config.prompts` (a folder) overrides the built-in ones."""
    folders = [config.prompts] if config.prompts else []
    env = Environment(
        loader=ChoiceLoader([FileSystemLoader(folders), FileSystemLoader(str(PROMPTS))]),
        undefined=StrictUndefined,
        keep_trailing_newline=False,
        autoescape=False,
    )
    return env.get_template(template).render(**values).strip()


def truncate(text: str, limit: int) -> str:
    """Head and tail of a long observation, the cut marked."""
    if limit <= 0 or len(text) <= limit:
        return text
    head = limit * 2 // 3
    tail = limit - head
    cut = len(text) - head - tail
    return (
        f"{text[:head]}\n<... {cut} characters elided; view smaller parts, e.g. with grep, head, tail or "
        f"view_range ...>\n{text[-tail:]}"
    )


def _format_error(submit: str, text_format: bool, tools: list[str]) -> str:
    msg = (
        "Your answer did not contain a tool call. Every answer must call exactly one tool "
        f"({', '.join(f'`{t}`' for t in tools)}); call `{submit}` when you are done."
    )
    if text_format:
        msg += f"\nUse this format:\n{TEXT_FORMAT_EXAMPLE}"
    return msg


def _run_script(sandbox: SandboxLike, script: str, timeout: float) -> int:
    # A fresh bytecode cache: in-tree .pyc files may be stale when an edit kept size and mtime second.
    cache = f"/tmp/.swescale_pycache_{uuid.uuid4().hex}"
    r = sandbox.exec(
        f'{PY}; cd {ROOT} && PYTHONPYCACHEPREFIX={cache} "$PY" {shlex.quote(script)}; '
        f"rc=$?; rm -rf {cache}; exit $rc",
        timeout=timeout,
    )
    return 124 if r.timed_out else r.exit_code


def finalize(sandbox: SandboxLike, config: AgentConfig, mode: str) -> dict[str, Any]:
    """Capture the candidate: patch without scratch files, the reproduction script and its exit codes.

    The script runs on the patched tree, then on the original code: the (filtered) patch is reverse-applied
    in place with `git apply -R` (the script and scratch files stay), and re-applied afterwards. Running in
    place keeps compiled extensions and editable installs of the environment valid.
    """
    full = sandbox.diff()
    patch, dropped = filter_patch(full, config.repro_script)
    out: dict[str, Any] = {"patch": patch if mode == "fix" else "", "dropped": dropped}
    script = config.repro_script
    check = sandbox.exec(f"cd {ROOT} && test -f {shlex.quote(script)} && echo yes || echo no", timeout=30)
    if check.output.strip() != "yes":
        return out
    out["repro_test"] = sandbox.read_file(f"{ROOT}/{script}")
    out["repro_path"] = script
    if mode == "fix":
        out["repro_exit_patched"] = _run_script(sandbox, script, config.repro_timeout)
    if not patch.strip():
        out["repro_exit_original"] = (
            out.get("repro_exit_patched")
            if mode == "fix"
            else _run_script(sandbox, script, config.repro_timeout)
        )
        return out
    tmp = "/tmp/.swescale_candidate.diff"
    sandbox.write_file(tmp, patch if patch.endswith("\n") else patch + "\n")
    reverse = sandbox.exec(f"cd {ROOT} && {GIT} apply -R --binary {tmp}", timeout=60)
    if reverse.exit_code != 0:
        out["repro_error"] = (
            f"could not reverse the patch to run the script on the original code: {reverse.output}"
        )
        return out
    try:
        out["repro_exit_original"] = _run_script(sandbox, script, config.repro_timeout)
    finally:
        again = sandbox.exec(f"cd {ROOT} && {GIT} apply --binary {tmp} && rm -f {tmp}", timeout=60)
        if again.exit_code != 0:
            out["repro_error"] = f"could not re-apply the patch: {again.output}"
    return out


def run_trajectory(
    task: Task,
    sandbox: SandboxLike,
    model: ModelClient,
    config: AgentSettings,
    out_dir: str | Path,
    trajectory_id: str,
    mode: str = "fix",
    parents: str = "",
    cancel: threading.Event | None = None,
    on_step: Callable[[int, Usage], None] | None = None,
) -> TrajectoryResult:
    """Run one agent trajectory on `task` in `sandbox` (repository at /testbed) and return its candidate.

    `on_step(steps, usage)` is called after every step (e.g. to update a live display).
    """
    if mode not in ("fix", "test"):
        raise ValueError(f"mode must be fix or test, not {mode!r}")
    acfg = config.agent
    path = Path(out_dir) / f"{trajectory_id}.json"
    started = time.monotonic()
    toolset = make_toolset(acfg.tools, sandbox, ROOT, config.sandbox.command_timeout)
    schemas = toolset.schemas()
    record = TrajectoryRecord(
        trajectory_id=trajectory_id, instance_id=task.instance_id, mode=mode, tools=schemas
    )
    messages = record.messages  # appended in place, never rewritten
    usage = Usage()
    status: ExitStatus | None = None
    error = ""
    steps = 0
    try:
        fmt = model.tool_format
        record.model, record.tool_format = model.model_name, fmt
        text_format = fmt == "text"
        context = ""
        if acfg.context_tokens > 0:
            try:
                context = repo_context(
                    files_from_sandbox(sandbox, ROOT), task.problem_statement, acfg.context_tokens
                )
            except Exception as exc:  # noqa: BLE001 - context is optional
                record.extra["context_error"] = repr(exc)
        values = dict(
            root=ROOT,
            text_format=text_format,
            tools_text=describe_tools(schemas) if text_format else "",
            format_example=TEXT_FORMAT_EXAMPLE,
            submit_name=toolset.submit_name,
            repro_script=acfg.repro_script,
            problem_statement=task.problem_statement,
            context=context,
            parents=parents,
            mode=mode,
            task=task,
        )
        messages.append({"role": "system", "content": render("system.j2", acfg, **values)})
        messages.append(
            {
                "role": "user",
                "content": render(f"instance{'_test' if mode == 'test' else ''}.j2", acfg, **values),
            }
        )
        save_trajectory(record, path)
        format_errors = 0
        while status is None:
            if cancel is not None and cancel.is_set():
                status = ExitStatus.cancelled
            elif steps >= acfg.max_steps:
                status = ExitStatus.step_limit
            elif usage.total_tokens >= acfg.max_tokens:
                status = ExitStatus.token_limit
            elif time.monotonic() - started >= acfg.max_seconds:
                status = ExitStatus.time_limit
            if status is not None:
                break
            steps += 1
            step = Step(step=steps, n_messages=len(messages))
            record.steps.append(step)
            t0 = time.monotonic()
            try:
                result = model.chat(messages, tools=schemas)
            except ModelError as exc:
                step.error = error = str(exc)
                status = ExitStatus.model_error
                break
            finally:
                step.model_seconds = time.monotonic() - t0
            step.response, step.usage = result.raw, result.usage
            usage.add(result.usage)
            choice = result.choices[0]
            calls = choice.calls()
            step.tool_calls = choice.tool_calls
            if text_format:
                calls = calls[:1]  # one action per turn; later blocks are often imagined outputs
                messages.append({"role": "assistant", "content": choice.content or ""})
            else:
                assistant: dict[str, Any] = {"role": "assistant", "content": choice.content or ""}
                if calls:
                    assistant["tool_calls"] = [c.to_message() for c in calls]
                messages.append(assistant)
            if not calls:
                format_errors += 1
                obs = _format_error(toolset.submit_name, text_format, list(toolset.tools))
                messages.append({"role": "user", "content": obs})
                step.observations.append(obs)
                if format_errors >= acfg.max_format_errors:
                    status, error = (
                        ExitStatus.format_errors,
                        f"{format_errors} consecutive answers without a tool call",
                    )
                save_trajectory(record, path)
                if on_step is not None:
                    on_step(steps, usage)
                continue
            format_errors = 0
            t1 = time.monotonic()
            for call in calls:
                if call.name == toolset.submit_name:
                    status, obs = ExitStatus.submitted, "Submitted."
                else:
                    obs = truncate(toolset.execute(call), acfg.observation_limit)
                step.observations.append(obs)
                if text_format:
                    messages.append({"role": "user", "content": f"EXECUTION RESULT of [{call.name}]:\n{obs}"})
                else:
                    messages.append({"role": "tool", "tool_call_id": call.id, "content": obs})
                if status is not None:
                    break
            step.tool_seconds = time.monotonic() - t1
            save_trajectory(record, path)
            if on_step is not None:
                on_step(steps, usage)
    except ModelError as exc:  # the start-up probe or model discovery failed
        status, error = ExitStatus.model_error, str(exc)
    except Exception as exc:  # noqa: BLE001 - a broken sandbox ends the trajectory, never the caller
        status, error = ExitStatus.sandbox_error, f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"
    result = TrajectoryResult(
        trajectory_id=trajectory_id,
        mode=mode,
        exit_status=status or ExitStatus.sandbox_error,
        steps=steps,
        usage=usage,
        error=error,
        trajectory_file=str(path),
    )
    usage.seconds = time.monotonic() - started
    try:
        captured = finalize(sandbox, acfg, mode)
        record.extra["dropped_files"] = captured.pop("dropped", [])
        if "repro_error" in captured:
            record.extra["repro_error"] = captured.pop("repro_error")
        for key, value in captured.items():
            setattr(result, key, value)
    except Exception as exc:  # noqa: BLE001
        result.error = (result.error + "\n" if result.error else "") + f"could not capture the patch: {exc!r}"
        if result.exit_status == ExitStatus.submitted:
            result.exit_status = ExitStatus.sandbox_error
    result.usage = usage
    record.result = result
    record.finished = time.time()
    save_trajectory(record, path)
    return result
