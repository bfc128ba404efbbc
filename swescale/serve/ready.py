"""Ready means usable: the engine's health path (vLLM's `/health`) answers 200, `/v1/models` lists the
served name, and one smoke request gets an answer the role can use (the agent: a tool call in the chosen
format, or any answer for a family whose `smoke` is `answer`; the judge: logprobs).
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request

from agent.config import ModelConfig
from agent.model import PROBE_SCHEMA, PROBE_TOOL, ModelClient, ModelError
from agent.parsing import TEXT_FORMAT_EXAMPLE, describe_tools
from swescale.serve.plan import ReplicaSpec
from swescale.serve.replica import Replica


class ReplicaFailed(RuntimeError):
    """A replica exited, timed out or failed its smoke request; the message ends with its log tail."""

    def __init__(self, replica: Replica, reason: str, lines: int = 40):
        self.replica = replica
        self.reason = reason
        tail = replica.tail(lines)
        super().__init__(
            f"{replica.spec.name} ({replica.spec.model} on {replica.spec.url}): {reason}\n"
            f"--- last lines of {replica.log} ---\n{tail or '(empty log)'}"
        )


class Interrupted(RuntimeError):
    """The wait was cancelled (Ctrl-C, SIGTERM or a stop request)."""


def http_get(url: str, timeout: float = 5.0) -> tuple[int, bytes] | None:
    """(status, body) of a GET, or None when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except (urllib.error.URLError, OSError, ValueError):
        return None


def serves(spec: ReplicaSpec, timeout: float = 5.0) -> bool:
    """The engine's health path answers 200 and /v1/models lists the served model name."""
    health = http_get(f"{spec.base_url}{spec.engine.health_path}", timeout)
    if health is None or health[0] != 200:
        return False
    models = http_get(f"{spec.url}/models", timeout)
    if models is None or models[0] != 200:
        return False
    try:
        listed = [m.get("id") for m in json.loads(models[1]).get("data", [])]
    except (json.JSONDecodeError, AttributeError):
        return False
    return spec.served_name in listed


def wait_serving(replica: Replica, timeout: float, stop: threading.Event) -> None:
    """Wait until the replica serves its model; raise ReplicaFailed if it exits or takes too long."""
    deadline = time.monotonic() + timeout
    while True:
        if stop.is_set():
            raise Interrupted(f"stopped while waiting for {replica.spec.name}")
        if not replica.alive():
            raise ReplicaFailed(replica, f"exited with code {replica.returncode} before it was ready")
        if serves(replica.spec):
            return
        if time.monotonic() > deadline:
            raise ReplicaFailed(replica, f"not ready after {timeout:.0f} s")
        stop.wait(0.5)


def smoke(replica: Replica, tool_format: str, timeout: float = 300.0) -> str:
    """One real request in the role's use; returns the tool format (auto resolved). Raises ReplicaFailed."""
    spec = replica.spec
    client = ModelClient(
        ModelConfig(
            urls=[spec.url], name=spec.served_name, tool_format=tool_format, retries=1, timeout=timeout
        )
    )
    try:
        if spec.role == "judge":
            result = client.chat(
                [{"role": "user", "content": f"{PROBE_TOOL}: answer YES or NO. Is 2 + 2 = 4?"}],
                logprobs=True,
                top_logprobs=5,
                temperature=0.0,
                max_tokens=1,
            )
            if not result.choices or result.choices[0].logprobs is None:
                raise ReplicaFailed(replica, "the smoke request got no logprobs (the judge needs them)")
            return tool_format
        fmt = client.tool_format  # `auto`: ModelClient's probe decides
        messages = [{"role": "user", "content": f"Call the `{PROBE_TOOL}` tool."}]
        if fmt == "text":
            system = (
                f"You have access to the following functions:\n\n{describe_tools([PROBE_SCHEMA])}\n\n"
                f"To call a function, answer with exactly one block in this format:\n\n{TEXT_FORMAT_EXAMPLE}"
            )
            messages.insert(0, {"role": "system", "content": system})
        result = client.chat(messages, tools=[PROBE_SCHEMA], temperature=0.0, max_tokens=512)
    except ModelError as exc:
        raise ReplicaFailed(replica, f"the smoke request failed: {exc}") from exc
    choice = result.choices[0] if result.choices else None
    if spec.family.smoke == "answer" and choice is not None and (choice.content or choice.tool_calls):
        return fmt
    if choice is None or not any(c["name"] == PROBE_TOOL for c in choice.tool_calls):
        answer = (choice.content or "")[:300] if choice else ""
        raise ReplicaFailed(
            replica, f"the smoke request got no {fmt} call to `{PROBE_TOOL}`; the model answered {answer!r}"
        )
    return fmt


def wait_ready(replica: Replica, tool_format: str, timeout: float, stop: threading.Event) -> str:
    """Serving, then the smoke request; returns the tool format the replica was checked in."""
    wait_serving(replica, timeout, stop)
    return smoke(replica, tool_format)
