"""Scripted answers for `ScriptedServer`: one reply, a conversation replayed per trajectory, a router.

`ConversationPolicy` replays one script (list of replies) per trajectory; `Router` sends requests of
different kinds (e.g. judge prompts) to different policies.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

Policy = Callable[[dict], "Reply | dict"]


@dataclass
class Reply:
    """One scripted choice. Plain dicts with the same keys are accepted everywhere."""

    content: str | None = None
    tool_calls: list[dict] = field(default_factory=list)
    logprobs: list[dict] | None = None
    status: int | None = None
    delay: float = 0.0
    finish_reason: str | None = None
    usage: dict | None = None
    reasoning: str | None = None
    """Sent as the message's `reasoning_content` (vLLM's reasoning parsers)."""

    @classmethod
    def of(cls, value: Reply | dict | str) -> Reply:
        if isinstance(value, Reply):
            return value
        if isinstance(value, str):
            return cls(content=value)
        unknown = set(value) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown reply keys {sorted(unknown)}")
        return cls(**{k: v for k, v in value.items() if v is not None or k == "content"})


Policy = Callable[[dict], "Reply | dict | str"]


def _canon_args(args: Any) -> str:
    if isinstance(args, str):
        try:
            args = json.loads(args)
        except json.JSONDecodeError:
            return args.strip()
    return json.dumps(args, sort_keys=True)


def _fingerprint_reply(reply: Reply) -> str:
    if reply.tool_calls:
        return json.dumps([(c["name"], _canon_args(c.get("arguments", {}))) for c in reply.tool_calls])
    return (reply.content or "").strip()


def _fingerprint_message(message: dict) -> str:
    calls = message.get("tool_calls") or []
    if calls:
        return json.dumps(
            [(c["function"]["name"], _canon_args(c["function"].get("arguments", "{}"))) for c in calls]
        )
    content = message.get("content") or ""
    if isinstance(content, list):  # content parts
        content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return content.strip()


def _text_of(request: dict, role: str) -> str:
    parts = []
    for message in request.get("messages", []):
        if message.get("role") == role:
            content = message.get("content") or ""
            if isinstance(content, list):
                content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
            parts.append(content)
    return "\n".join(parts)


PROBE_TOOL = "swescale_probe"
"""Tool of agent.model.ModelClient's tool-format probe (kept in sync with agent.model.PROBE_TOOL)."""


def _tool_names(request: dict) -> list[str]:
    return [t.get("function", {}).get("name") for t in request.get("tools") or []]


def submit_reply(request: dict) -> Reply:
    """The reply that ends a trajectory: a native `submit`/`finish` call, or its text form."""
    names = _tool_names(request)
    for name in ("submit", "finish"):
        if name in names:
            return Reply(tool_calls=[{"name": name, "arguments": {}}])
    system = _text_of(request, "system")
    finish = "<function=finish>" in system or re.search(r"FUNCTION #\d+: finish\b", system)
    name = "finish" if finish else "submit"
    return Reply(content=f"<function={name}>\n</function>")


class ConversationPolicy:
    """Replays one script per trajectory: `scripts[i]` is the list of replies of trajectory i.

    A request without assistant messages starts a conversation and takes the next unused script; later
    requests find their script by their first assistant message (so scripts must start with distinct
    replies) and get reply k, k = number of assistant messages in the request. Past the end of its script
    (or when all scripts are used) a conversation is answered with `end` (default: a `submit`/`finish` call).
    Requests of ModelClient's tool-format probe (a tool named `swescale_probe`) get a call to it and take
    no script.
    """

    def __init__(self, scripts: Sequence[Sequence[Reply | dict | str]], end: Policy | None = None):
        self.scripts = [[Reply.of(r) for r in script] for script in scripts]
        self.end = end or submit_reply
        self.started = 0
        """How many conversations have taken a script."""
        self._lock = threading.Lock()
        firsts = [_fingerprint_reply(s[0]) for s in self.scripts if s]
        if len(set(firsts)) != len(firsts):
            raise ValueError("scripts must start with distinct replies (they identify the conversation)")
        self._by_first = {_fingerprint_reply(s[0]): i for i, s in enumerate(self.scripts) if s}

    def __call__(self, request: dict) -> Reply:
        if PROBE_TOOL in _tool_names(request):  # ModelClient's start-up probe takes no script
            return Reply(tool_calls=[{"name": PROBE_TOOL, "arguments": {}}])
        assistants = [m for m in request.get("messages", []) if m.get("role") == "assistant"]
        if not assistants:
            with self._lock:
                index = self.started
                self.started += 1
            if index >= len(self.scripts) or not self.scripts[index]:
                return Reply.of(self.end(request))
            return self.scripts[index][0]
        index = self._by_first.get(_fingerprint_message(assistants[0]))
        if index is None:
            raise LookupError(f"no script starts with {_fingerprint_message(assistants[0])[:200]!r}")
        script = self.scripts[index]
        return script[len(assistants)] if len(assistants) < len(script) else Reply.of(self.end(request))

    @classmethod
    def from_trajectories(cls, paths: Sequence[str], end: Policy | None = None) -> ConversationPolicy:
        """Scripts from saved trajectory JSON files (agent/trajectory.py): replays a real run's answers."""
        from agent.trajectory import load_trajectory

        return cls([load_trajectory(p).replies() for p in paths], end=end)


class Router:
    """Send each request to the first policy whose predicate accepts it, else to `default`.

    `Router([(system_contains("judge"), judge_policy)], default=agent_policy)`.
    """

    def __init__(
        self, routes: Sequence[tuple[Callable[[dict], bool], Policy]], default: Policy | None = None
    ):
        self.routes = list(routes)
        self.default = default

    def __call__(self, request: dict) -> Reply | dict | str:
        for predicate, policy in self.routes:
            if predicate(request):
                return policy(request)
        if self.default is None:
            raise LookupError("no route accepts the request")
        return self.default(request)


def system_contains(text: str) -> Callable[[dict], bool]:
    """Predicate: the system prompt contains `text`."""
    return lambda request: text in _text_of(request, "system")


def prompt_contains(text: str) -> Callable[[dict], bool]:
    """Predicate: the system or first user message contains `text`."""

    def predicate(request: dict) -> bool:
        messages = request.get("messages", [])
        first_user = next((m for m in messages if m.get("role") == "user"), {})
        content = first_user.get("content") or ""
        if isinstance(content, list):
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        return text in _text_of(request, "system") or text in content

    return predicate
