"""The agent: model -> tool calls -> environment -> observations, until submit or a limit.

```python
result = Agent(model, sandbox, config, trajectory_id="g0-t0", out_dir=run_dir / "trajectories").run(task)
```

Messages are append-only (earlier ones are never rewritten, so the server's prefix cache hits), the
trajectory JSON is rewritten after every step, and on every exit the current diff becomes the candidate
patch (reproduction script and scratch files removed; see `agent.candidate`).
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from agent.candidate import capture_candidate
from agent.config import AgentSettings
from agent.context import files_from_sandbox, repo_context
from agent.model import ChatResult, Choice, ContextLengthError, ModelError
from agent.parsing import TEXT_FORMAT_EXAMPLE, ToolCall, describe_tools
from agent.patch import filter_patch
from agent.result import ExitStatus, TrajectoryResult
from agent.templating import render, task_view
from agent.tools import make_toolset
from agent.tools.base import Environment
from agent.trajectory import Step, TrajectoryRecord, save_trajectory
from agent.usage import Ledger, Usage
from envs.task import Task

ROOT = "/testbed"
CUT_ANSWER_KEPT = 2000
"""Characters of an answer cut at the token limit that stay in the history (the rest only fills the context)."""


class Model(Protocol):
    """What the agent needs of a model (`agent.model.ModelClient`, `agent.model.ModelView`)."""

    @property
    def model_name(self) -> str: ...
    @property
    def tool_format(self) -> str: ...
    @property
    def ledger(self) -> Ledger: ...
    def chat(self, messages: list[dict], tools: list[dict] | None = None, **kwargs: Any) -> ChatResult: ...


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


class Agent:
    """One trajectory of one task in one environment. `run(task)` returns its result, never raises for a
    broken model or sandbox (those become exit statuses)."""

    def __init__(
        self,
        model: Model,
        env: Environment,
        config: AgentSettings,
        *,
        trajectory_id: str,
        out_dir: str | Path,
        mode: str = "fix",
        cancel: threading.Event | None = None,
        on_step: Callable[[int, Usage], None] | None = None,
    ):
        if mode not in ("fix", "test"):
            raise ValueError(f"mode must be fix or test, not {mode!r}")
        self.model, self.env, self.config = model, env, config.agent
        self.trajectory_id, self.mode, self.cancel, self.on_step = trajectory_id, mode, cancel, on_step
        self.path = Path(out_dir) / f"{trajectory_id}.json"
        self.toolset = make_toolset(self.config.tools, env, ROOT, config.sandbox.command_timeout)
        self.schemas = self.toolset.schemas()
        self.ledger = model.ledger.child(trajectory_id)
        """This trajectory's usage, counted in the model's ledger (e.g. its stage of the run) too."""
        self.steps = 0
        self.error = ""
        self.format_errors = 0
        self.started = time.monotonic()
        self.record: TrajectoryRecord | None = None
        self.last_diff = ""
        """The working tree's (filtered) diff as last recorded on a step; the pinned base is the empty diff."""

    @property
    def usage(self) -> Usage:
        return self.ledger.total

    @property
    def messages(self) -> list[dict]:
        return self.record.messages  # appended in place, never rewritten

    @property
    def text_format(self) -> bool:
        return self.model.tool_format == "text"

    # -- the run -----------------------------------------------------------------------------------------------

    def run(self, task: Task, parents: str = "") -> TrajectoryResult:
        self.record = TrajectoryRecord(
            trajectory_id=self.trajectory_id, instance_id=task.instance_id, mode=self.mode, tools=self.schemas
        )
        status: ExitStatus | None = None
        try:
            self.start(task, parents)
            while status is None:
                status = self.limit_reached() or self.step()
        except ModelError as exc:  # the start-up probe or model discovery failed
            status, self.error = ExitStatus.model_error, str(exc)
        except Exception as exc:  # noqa: BLE001 - a broken sandbox ends the trajectory, never the caller
            status = ExitStatus.sandbox_error
            self.error = f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"
        return self.finish(status)

    def start(self, task: Task, parents: str) -> None:
        """The system and instance prompts (templates see the task without its hidden fields)."""
        self.record.model, self.record.tool_format = self.model.model_name, self.model.tool_format
        values = dict(
            root=ROOT,
            text_format=self.text_format,
            tools_text=describe_tools(self.schemas) if self.text_format else "",
            format_example=TEXT_FORMAT_EXAMPLE,
            submit_name=self.toolset.submit_name,
            repro_script=self.config.repro_script,
            problem_statement=task.problem_statement,
            context=self.context(task),
            parents=parents,
            mode=self.mode,
            task=task_view(task),
        )
        instance = f"instance{'_test' if self.mode == 'test' else ''}.j2"
        self.messages.append({"role": "system", "content": render("system.j2", self.config, **values)})
        self.messages.append({"role": "user", "content": render(instance, self.config, **values)})
        save_trajectory(self.record, self.path)

    def context(self, task: Task) -> str:
        """The repository skeleton most relevant to the issue (optional: a failure only leaves a note)."""
        if self.config.context_tokens <= 0:
            return ""
        try:
            files = files_from_sandbox(self.env, ROOT)
            return repo_context(files, task.problem_statement, self.config.context_tokens)
        except Exception as exc:  # noqa: BLE001
            self.record.extra["context_error"] = repr(exc)
            return ""

    def limit_reached(self) -> ExitStatus | None:
        if self.cancel is not None and self.cancel.is_set():
            return ExitStatus.cancelled
        if self.steps >= self.config.max_steps:
            self.error = f"step limit: {self.steps} steps (agent.max_steps)"
            return ExitStatus.step_limit
        if (spent := self.usage.spent_tokens) >= self.config.max_tokens:
            self.error = (
                f"token budget spent: {spent} new prompt and completion tokens >= {self.config.max_tokens} "
                "(agent.max_tokens)"
            )
            return ExitStatus.token_limit
        if (seconds := time.monotonic() - self.started) >= self.config.max_seconds:
            self.error = f"time limit: {seconds:.0f} s >= {self.config.max_seconds:.0f} s (agent.max_seconds)"
            return ExitStatus.time_limit
        return None

    # -- one step ----------------------------------------------------------------------------------------------

    def step(self) -> ExitStatus | None:
        """Query the model once and act on its answer; returns the exit status when the trajectory ends."""
        self.steps += 1
        step = Step(step=self.steps, n_messages=len(self.messages))
        self.record.steps.append(step)
        t0 = time.monotonic()
        try:
            session = f"{self.record.instance_id}/{self.trajectory_id}"  # one replica per trajectory
            result = self.model.chat(self.messages, tools=self.schemas, session=session, ledger=self.ledger)
        except ContextLengthError as exc:
            step.error = self.error = str(exc)
            step.attempts, step.retry_seconds = exc.attempts, exc.retry_seconds
            return ExitStatus.context_exceeded
        except ModelError as exc:
            step.error = self.error = str(exc)
            step.attempts, step.retry_seconds = exc.attempts, exc.retry_seconds
            return ExitStatus.model_error
        finally:
            step.model_seconds = time.monotonic() - t0
        step.response, step.usage, step.server = result.raw, result.usage, result.url
        step.attempts, step.retry_seconds = result.attempts, result.retry_seconds
        choice = result.choices[0] if result.choices else Choice()
        step.reasoning, step.finish_reason = choice.reasoning, choice.finish_reason or ""
        calls = choice.calls()
        step.tool_calls = choice.tool_calls
        problem = self.answer_problem(choice, calls)
        if problem:  # the answer's calls are not run (kept as text in the history); the model is told why
            content = self.as_text(choice.content or "", calls)
            if choice.finish_reason == "length" and len(content) > CUT_ANSWER_KEPT:  # not kept whole
                content = content[:CUT_ANSWER_KEPT] + "\n[... the rest of this cut answer is not kept ...]"
            self.messages.append(self.assistant_message(content, []))
            status = self.format_error(step, problem)
        else:
            ignored = len(calls) - 1 if self.text_format else 0
            calls = calls[:1] if self.text_format else calls  # later text blocks are often imagined outputs
            self.messages.append(self.assistant_message(choice.content or "", calls))
            status = self.act(step, calls, ignored)
        save_trajectory(self.record, self.path)
        if self.on_step is not None:
            self.on_step(self.steps, self.usage)
        return status

    def answer_problem(self, choice: Choice, calls: list[ToolCall]) -> str:
        """Why the answer's calls cannot run (a cut answer, no call, an unreadable call), or ""."""
        if choice.finish_reason == "length" and choice.cut_by_context:
            return (
                "Your answer was cut off because the conversation filled the model's context window, so "
                "none of its tool calls ran. Little room is left: answer with one short tool call, view "
                "smaller parts of files, or submit."
            )
        if choice.finish_reason == "length":
            return (
                "Your answer was cut off at the completion token limit before it ended, so none of its tool "
                "calls ran (a cut call may be incomplete). Answer more briefly: shorter reasoning, and split "
                "long edits or files into several smaller calls."
            )
        unreadable = [c for c in calls if c.error]
        if unreadable:  # kept as text: a history holding them as calls is refused by servers that parse it
            return (
                "Your tool call could not be read: "
                + "; ".join(f"`{c.name}`: {c.error}" for c in unreadable)
                + "."
            )
        runnable = calls[:1] if self.text_format else calls
        if runnable and all(c.name not in self.toolset.tools for c in runnable):
            names = ", ".join(f"`{c.name}`" for c in runnable)
            return f"There is no tool {names} (the format example's name is not a tool either)."
        if calls:
            return ""
        if choice.parse_errors:
            return "Your tool call could not be read: " + "; ".join(choice.parse_errors) + "."
        if not (choice.content or "").strip():
            return "Your answer was empty."
        return "Your answer did not contain a tool call."

    def as_text(self, content: str, calls: list[ToolCall]) -> str:
        """The answer's content with its native calls written in as text (they are not run); in the text
        format the calls are in the content already."""
        if self.text_format or not calls:
            return content
        return "\n".join(part for part in (content, *(c.to_text() for c in calls)) if part)

    def assistant_message(self, content: str, calls: list[ToolCall]) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": content}
        if calls and not self.text_format:
            message["tool_calls"] = [c.to_message() for c in calls]
        return message

    def format_error(self, step: Step, problem: str) -> ExitStatus | None:
        """An answer whose calls do not run: say why and how to answer; too many in a row end the trajectory."""
        self.format_errors += 1
        tools = ", ".join(f"`{t}`" for t in self.toolset.tools)
        obs = (
            f"{problem} Every answer must call exactly one tool ({tools}); "
            f"call `{self.toolset.submit_name}` when you are done."
        )
        if self.text_format:
            obs += f"\nUse this format:\n{TEXT_FORMAT_EXAMPLE}"
        self.messages.append({"role": "user", "content": obs})
        step.observations.append(obs)
        if self.format_errors >= self.config.max_format_errors:
            self.error = f"{self.format_errors} consecutive answers without a runnable tool call"
            return ExitStatus.format_errors
        return None

    def act(self, step: Step, calls: list[ToolCall], ignored: int = 0) -> ExitStatus | None:
        """Run the calls in order; a submit ends the trajectory (later calls are not run). `ignored` later
        calls of a text-format answer were not run: the model is told."""
        self.format_errors = 0
        t1 = time.monotonic()
        status = None
        ran_tool = False
        for call in calls:
            if call.name == self.toolset.submit_name:
                status, obs = ExitStatus.submitted, "Submitted."
            else:
                obs = truncate(self.toolset.execute(call), self.config.observation_limit)
                ran_tool = True
            if ignored:
                obs += f"\n[Only the first of your {ignored + 1} tool calls ran: call one tool per answer.]"
            step.observations.append(obs)
            if self.text_format:
                self.messages.append(
                    {"role": "user", "content": f"EXECUTION RESULT of [{call.name}]:\n{obs}"}
                )
            else:
                self.messages.append({"role": "tool", "tool_call_id": call.id, "content": obs})
            if status is not None:
                break
        if ran_tool:
            self.record_diff(step)
        step.tool_seconds = time.monotonic() - t1
        return status

    def record_diff(self, step: Step) -> None:
        """Set `step.diff` to the working tree's diff (filtered as the candidate patch is) when it changed:
        one `env.diff()` per step that ran a tool. A failure only leaves a note (the step stands)."""
        try:
            diff, _ = filter_patch(self.env.diff(), self.config.repro_script)
        except Exception as exc:  # noqa: BLE001 - the inspector's view, never the trajectory's end
            self.record.extra["diff_error"] = repr(exc)
            return
        if diff != self.last_diff:
            step.diff = self.last_diff = diff

    # -- the end -----------------------------------------------------------------------------------------------

    def finish(self, status: ExitStatus | None) -> TrajectoryResult:
        """Capture the candidate from the environment and save the trajectory's last state."""
        usage = self.usage
        usage.seconds = time.monotonic() - self.started  # the trajectory's wall time, not its calls'
        result = TrajectoryResult(
            trajectory_id=self.trajectory_id,
            mode=self.mode,
            exit_status=status or ExitStatus.sandbox_error,
            steps=self.steps,
            usage=usage,
            error=self.error,
            trajectory_file=str(self.path),
        )
        try:
            captured = capture_candidate(self.env, self.config, self.mode)
            self.record.extra["dropped_files"] = captured.pop("dropped", [])
            if "repro_error" in captured:
                self.record.extra["repro_error"] = captured.pop("repro_error")
            for key, value in captured.items():
                setattr(result, key, value)
        except Exception as exc:  # noqa: BLE001
            result.error = (
                result.error + "\n" if result.error else ""
            ) + f"could not capture the patch: {exc!r}"
            if result.exit_status == ExitStatus.submitted:
                result.exit_status = ExitStatus.sandbox_error
        self.record.result = result
        self.record.finished = time.time()
        save_trajectory(self.record, self.path)
        return result


def run_trajectory(
    task: Task,
    sandbox: Environment,
    model: Model,
    config: AgentSettings,
    out_dir: str | Path,
    trajectory_id: str,
    mode: str = "fix",
    parents: str = "",
    cancel: threading.Event | None = None,
    on_step: Callable[[int, Usage], None] | None = None,
) -> TrajectoryResult:
    """One agent trajectory on `task` in `sandbox` (repository at /testbed); `on_step(steps, usage)` is
    called after every step (e.g. to update a live display)."""
    agent = Agent(
        model,
        sandbox,
        config,
        trajectory_id=trajectory_id,
        out_dir=out_dir,
        mode=mode,
        cancel=cancel,
        on_step=on_step,
    )
    return agent.run(task, parents)
