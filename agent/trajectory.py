"""Trajectory files: one JSON per trajectory, rewritten atomically after every step, and its loader.

Requests are append-only, so the file keeps the final message list once and, per step, how many of those
messages the request sent (`Step.n_messages`): `record.request_messages(i)` is exactly what step i sent.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from agent.result import TrajectoryResult
from agent.usage import Usage


class Step(BaseModel):
    step: int
    n_messages: int
    """Number of leading `messages` sent in this step's request."""
    response: dict = Field(default_factory=dict)
    """Raw server answer (JSON)."""
    tool_calls: list[dict] = Field(default_factory=list)
    """`[{"id", "name", "arguments"}]` as the model produced them."""
    reasoning: str = ""
    """The model's reasoning in this step (kept here, not sent back to the model)."""
    finish_reason: str = ""
    observations: list[str] = Field(default_factory=list)
    """What the model was shown for each call (after truncation)."""
    usage: Usage = Field(default_factory=Usage)
    server: str = ""
    """URL of the server (replica) that answered this step."""
    model_seconds: float = 0.0
    attempts: int = 0
    """Requests sent for this step's answer (more than one: the client retried failures)."""
    retry_seconds: float = 0.0
    """Of `model_seconds`, the time failed requests and the waits between them took."""
    tool_seconds: float = 0.0
    """Time the tool calls took, the working tree's diff after them (`diff`) included."""
    diff: str | None = None
    """The working tree's diff after this step (scratch files and the reproduction script left out, as in
    the candidate patch), when the step ran a tool and the diff changed; None otherwise."""
    error: str = ""


class TrajectoryRecord(BaseModel):
    trajectory_id: str
    instance_id: str = ""
    mode: str = "fix"
    model: str = ""
    tool_format: str = ""
    tools: list[dict] = Field(default_factory=list)
    """Tool schemas offered (sent natively, or described in the system prompt in the text format)."""
    messages: list[dict] = Field(default_factory=list)
    steps: list[Step] = Field(default_factory=list)
    started: float = Field(default_factory=time.time)
    finished: float | None = None
    result: TrajectoryResult | None = None
    """Set when the trajectory ended (exit status, patch, reproduction test, usage)."""
    extra: dict[str, Any] = Field(default_factory=dict)

    def request_messages(self, step: int) -> list[dict]:
        return self.messages[: self.steps[step].n_messages]

    def replies(self) -> list[dict]:
        """The model's first choice of each step as ScriptedServer replies (for replaying a session)."""
        out = []
        for step in self.steps:
            choices = step.response.get("choices") or []
            if not choices:
                continue
            msg = choices[0].get("message", {})
            calls = [
                {
                    "name": c["function"]["name"],
                    "arguments": c["function"].get("arguments", "{}"),
                    "id": c.get("id"),
                }
                for c in msg.get("tool_calls") or []
            ]
            out.append({"content": msg.get("content"), "tool_calls": calls})
        return out


def save_trajectory(record: TrajectoryRecord, path: str | Path) -> None:
    """Atomic write: a temporary file in the same folder, then rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(record.model_dump_json(indent=1))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_trajectory(path: str | Path) -> TrajectoryRecord:
    return TrajectoryRecord.model_validate(json.loads(Path(path).read_text()))
