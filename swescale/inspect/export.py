"""Export a run's trajectories in the formats other tools read.

- mini-swe-agent's `*.traj.json` (`trajectory_format: mini-swe-agent-1.1`): `info` (model_stats,
  exit_status, submission), `messages` in the OpenAI chat format whose assistant messages carry
  `extra.actions`, and a last `exit` message; read by `mini-extra inspector`
  (minisweagent/run/utilities/inspector.py) and written by minisweagent/agents/default.py `serialize`.
- SWE-agent's `.traj` (sweagent/types.py `AgentRunResult`): `trajectory` (steps: action, observation,
  response, thought, state, execution_time, query, extra_info), `history` (messages with a
  `message_type`), `info` (exit_status, submission, model_stats); read by SWE-agent's web inspector
  (sweagent/inspector/server.py).

Layout: `OUT/<instance_id>/<trajectory_id>.traj.json` (mini) or `.traj` (SWE-agent); a bench run's
instances each get their folder.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from agent.trajectory import TrajectoryRecord, load_trajectory
from swescale.bench.state import INSTANCES_DIR
from swescale.inspect.bench import is_bench_run

FORMATS = ("mini", "sweagent")
MINI_EXIT = {
    "submitted": "Submitted",
    "step_limit": "LimitsExceeded",
    "token_limit": "LimitsExceeded",
    "time_limit": "TimeExceeded",
    "format_errors": "RepeatedFormatError",
}
"""Our exit statuses as mini-swe-agent names them (the others keep their name)."""


def _action(call: dict) -> str:
    """A tool call as one command line: bash's command, else the tool's name and its arguments."""
    args = call.get("arguments")
    try:
        parsed = json.loads(args) if isinstance(args, str) else args
    except ValueError:
        parsed = args
    if call.get("name") == "bash" and isinstance(parsed, dict) and "command" in parsed:
        return str(parsed["command"])
    return f"{call.get('name', '')} {json.dumps(parsed) if not isinstance(parsed, str) else parsed}".strip()


def _assistant_steps(record: TrajectoryRecord) -> dict[int, Any]:
    """Index of each step's assistant message in `record.messages` -> the step."""
    return {step.n_messages: step for step in record.steps}


def _exit(record: TrajectoryRecord) -> tuple[str, str]:
    result = record.result
    return (str(result.exit_status) if result else "running"), (result.patch if result else "")


def to_mini(record: TrajectoryRecord) -> dict[str, Any]:
    steps = _assistant_steps(record)
    messages = []
    for index, message in enumerate(record.messages):
        out = {k: v for k, v in message.items() if k in ("role", "content", "tool_calls", "tool_call_id")}
        step = steps.get(index)
        if message.get("role") == "assistant" and step is not None:
            out["extra"] = {
                "actions": [{"command": _action(c), "tool_call_id": c.get("id")} for c in step.tool_calls],
                "cost": 0.0,
                "tokens": step.usage.total_tokens,
            }
            if step.reasoning:
                out["reasoning_content"] = step.reasoning
        messages.append(out)
    status, patch = _exit(record)
    mini_status = MINI_EXIT.get(status, status)
    messages.append(
        {"role": "exit", "content": mini_status, "extra": {"exit_status": mini_status, "submission": patch}}
    )
    usage = record.result.usage if record.result else None
    return {
        "info": {
            "model_stats": {"instance_cost": 0.0, "api_calls": usage.calls if usage else len(record.steps)},
            "config": {"agent_type": "swescale", "model": {"model_name": record.model}},
            "mini_version": "swescale-export",
            "exit_status": mini_status,
            "submission": patch,
        },
        "messages": messages,
        "trajectory_format": "mini-swe-agent-1.1",
        "instance_id": record.instance_id,
        "trajectory_id": record.trajectory_id,
    }


def to_sweagent(record: TrajectoryRecord) -> dict[str, Any]:
    steps = _assistant_steps(record)
    history: list[dict[str, Any]] = []
    trajectory = []
    for index, message in enumerate(record.messages):
        role, content = message.get("role", ""), message.get("content") or ""
        step = steps.get(index)
        if role == "assistant":
            calls = step.tool_calls if step else []
            action = "\n".join(_action(c) for c in calls)
            history.append(
                {
                    "role": "assistant",
                    "content": content,
                    "thought": content,
                    "action": action,
                    "message_type": "action",
                    "agent": "main",
                    "tool_calls": message.get("tool_calls"),
                }
            )
            if step is not None:
                trajectory.append(
                    {
                        "action": action,
                        "observation": "\n".join(step.observations),
                        "response": content,
                        "thought": (step.reasoning + "\n" + content).strip(),
                        "state": {},
                        "execution_time": step.tool_seconds,
                        "query": [],
                        "extra_info": {
                            "step": step.step,
                            "tokens": step.usage.total_tokens,
                            "error": step.error,
                        },
                    }
                )
        else:
            item = {
                "role": "user" if role == "tool" else role,
                "content": content,
                "message_type": "system_prompt" if role == "system" else "observation",
                "agent": "main",
            }
            if role == "tool":
                item["tool_call_ids"] = [message.get("tool_call_id")]
            history.append(item)
    status, patch = _exit(record)
    usage = record.result.usage if record.result else None
    return {
        "environment": "swescale",
        "trajectory": trajectory,
        "history": history,
        "info": {
            "exit_status": status,
            "submission": patch,
            "model_stats": {
                "instance_cost": 0.0,
                "tokens_sent": usage.prompt_tokens if usage else 0,
                "tokens_received": usage.completion_tokens if usage else 0,
                "api_calls": usage.calls if usage else len(record.steps),
            },
            "swe_agent_version": "swescale-export",
        },
        "replay_config": None,
    }


def _solve_dirs(run_dir: Path) -> list[Path]:
    if is_bench_run(run_dir):
        return sorted(p for p in (run_dir / INSTANCES_DIR).glob("*") if p.is_dir())
    return [run_dir]


def export(run_dir: Path, fmt: str, out: Path) -> list[Path]:
    """Write every trajectory of the run (solve or bench) in `fmt` under `out`; returns the files."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}: one of {', '.join(FORMATS)}")
    convert, suffix = (to_mini, ".traj.json") if fmt == "mini" else (to_sweagent, ".traj")
    written = []
    for folder in _solve_dirs(Path(run_dir)):
        for path in sorted((folder / "trajectories").glob("*.json")):
            try:
                record = load_trajectory(path)
            except ValueError:
                continue  # a file being written or of another kind
            target = Path(out) / (record.instance_id or folder.name) / f"{record.trajectory_id}{suffix}"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(convert(record), indent=1))
            written.append(target)
    return written
