"""Error classes of bench instances: what went wrong, so that a failure is never taken for an answer.

environment-build (the image could not be built), docker-infrastructure (the engine or a sandbox failed),
model-server (a model server did not answer), agent (a bug on our side or in the task), timeout
(`bench.instance_timeout` reached without a patch), worker-lost (with Ray: the instance's worker process or
node died on every one of Ray's tries).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import docker
import openai
import requests

from agent.model import ModelError
from agent.result import ExitStatus, TrajectoryResult
from envs.environment import EnvBuildError
from sandbox.result import SandboxError

RETRYABLE = ("docker-infrastructure", "model-server")
"""Classes worth another attempt in the same run (`bench.max_attempts`). Not `worker-lost`: Ray already ran
the task again (`bench.ray_max_retries`), and one failure is retried by one layer (docs/architecture.md)."""
WORKER_LOST = "worker-lost"


class InstanceTimeout(TimeoutError):
    """The instance reached `bench.instance_timeout`."""


def classify(exc: BaseException) -> str:
    """The error class of an exception that ended an instance."""
    if isinstance(exc, EnvBuildError):
        return "environment-build"
    if isinstance(exc, InstanceTimeout):
        return "timeout"
    if isinstance(exc, ModelError | openai.OpenAIError):
        return "model-server"
    if isinstance(exc, docker.errors.DockerException | SandboxError | requests.ConnectionError):
        return "docker-infrastructure"
    text = str(exc).lower()
    if type(exc).__name__ == "PreflightError":
        return "docker-infrastructure" if "docker" in text else "model-server"
    return "agent"


def server_down(text: str) -> bool:
    """Did a model call fail because the server did not answer (a connection error, a timeout, a 5xx or
    429 after ModelClient's retries and failover), not because it refused the request (a 4xx, e.g. a prompt
    over the context length)?"""
    if "could not discover" in text or "lists no model" in text:
        return True
    if "failed after" not in text:
        return False
    status = re.search(r"\(status (\d{3})\)", text)
    return status is None or int(status.group(1)) >= 500 or int(status.group(1)) == 429


def _infrastructure(result: TrajectoryResult) -> str | None:
    """The error class of a trajectory that ended on infrastructure, else None."""
    if result.exit_status == ExitStatus.sandbox_error:
        return "docker-infrastructure"
    if result.exit_status == ExitStatus.model_error and server_down(result.error or ""):
        return "model-server"
    return None


def last_results(run_dir: Path) -> list[TrajectoryResult]:
    """The latest result of each trajectory of a solve run directory (a resumed run appends new ones)."""
    path = Path(run_dir) / "trajectories.jsonl"
    if not path.exists():
        return []
    latest: dict[str, TrajectoryResult] = {}
    for line in path.read_text().splitlines():
        try:
            result = TrajectoryResult.model_validate_json(line)
        except ValueError:
            continue  # a line cut short by a kill
        latest[result.trajectory_id] = result
    return list(latest.values())


def trajectory_failures(results: list[TrajectoryResult]) -> tuple[str, str] | None:
    """(class, message) when trajectories ended on the model server or a sandbox failing, else None.

    Such a run is not the configured experiment (its trajectories died, they did not try and fail), so its
    outcome is an error, never a prediction; the next attempt reruns only those trajectories."""
    failed = [(r, kind) for r in results if (kind := _infrastructure(r))]
    if not failed:
        return None
    kind = "model-server" if any(k == "model-server" for _, k in failed) else "docker-infrastructure"
    first = next(r for r, k in failed if k == kind)
    detail = (first.error or "").strip().splitlines()
    message = f"{len(failed)} of {len(results)} trajectories failed ({first.exit_status}): " + (
        detail[0][:500] if detail else "no detail"
    )
    return kind, message


def error_summary(exc: BaseException, limit: int = 2000) -> str:
    """A one-message description of an exception (type and text, cut to `limit` characters)."""
    text = f"{type(exc).__name__}: {exc}"
    if len(text) > limit:
        text = text[: limit // 2] + "\n...\n" + text[-limit // 2 :]
    return text


def outcome_json(run_dir: Path) -> dict | None:
    """run.json of a solve run directory, if it was written (the run reached its end or was interrupted)."""
    path = Path(run_dir) / "run.json"
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
