"""OpenAI-compatible chat client: several endpoints, retries, usage accounting, native or text tool calls.

```python
client = ModelClient(ModelConfig(urls=["http://localhost:8000/v1"]))
result = client.chat(messages, tools=schemas, n=4, logprobs=True, top_logprobs=5)
result.choices[0].tool_calls, client.usage, client.tool_format  # "native" or "text"
client.chat(messages, ledger=run.child("fix"))  # also counted in the caller's ledger (agent.usage)
```

With `tool_format` `text` (or `auto` resolved to text by the start-up probe) tools are not sent to the
server: the caller describes them in the system prompt and `chat` parses `<function=...>` blocks from the
content into `tool_calls`. In both formats `chat` splits reasoning off the answer (`reasoning_content`,
`reasoning` or `<think>` blocks -> `Choice.reasoning`) and, when the server returned no tool calls, reads
calls the model wrote into its content (`agent.parsing.parse_content_calls`).

A 400 answer saying the context is full raises `ContextLengthError`; when only the completion does not
fit, `chat` first retries once with `max_tokens` cut to the room left. Each server's context window is
learned once (config, vLLM's /v1/models, llama.cpp's /props, such an error, or an answer the server cut
short of `max_tokens`, as llama-cpp-python does silently); then `max_tokens` is capped to the room left, and an answer cut by a full
context is marked `Choice.cut_by_context`.

Replicas: `chat(..., session=trajectory_id)` keeps a conversation on one server (its prefix cache), first
chosen by rendezvous hashing of the session id, so the choice is stable and only a failed server's
sessions move. A connection error, timeout or 5xx marks the server down for a while and the call moves
to another server at once; the session stays there. Calls without a session go to the least busy server.
`usage_by_server` records which server served what. With an empty `config.name` every server's own
model is asked for (a mix of models behind one client).

Usage: every request is recorded once, when it ends (answered: tokens, cached and new prompt tokens, a
call; failed: an error, a timeout, the seconds lost; sent again after a failure: a retry), per server, in the client's `ledger` and in the `ledger` the
caller passes to `chat`. `ModelView` is the client seen from one ledger (a run's stage, say), for code that
calls `chat` without one.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import threading
import time
import urllib.request
import uuid
from contextlib import contextmanager
from typing import Any

import openai
from pydantic import BaseModel, Field
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from agent.config import ModelConfig
from agent.parsing import ToolCall, make_call, parse_content_calls, split_reasoning
from agent.usage import Ledger, Usage, record

PROBE_TOOL = "swescale_probe"
"""Name of the tool the start-up probe offers (ScriptedServer's ConversationPolicy answers it)."""
PROBE_SCHEMA = {
    "type": "function",
    "function": {
        "name": PROBE_TOOL,
        "description": "Reply with a call to this tool.",
        "parameters": {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": []},
    },
}


_PRIVATE = ("default_max_tokens", "room_capped")
"""Keys of a request's params that the client reads and never sends."""
MIN_COMPLETION_TOKENS = 256
"""A request whose prompt leaves less room than this for the answer is a full context, not retried."""
_CONTEXT_FULL = re.compile(
    r"maximum context length|context length|context window|context_length_exceeded|prompt is too long|"
    r"too many (?:input )?tokens",
    re.I,
)
_LIMIT = re.compile(r"maximum context length is (\d+)", re.I)
_PROMPT = re.compile(r"(\d+) (?:input tokens|tokens? in the messages|in the messages)", re.I)


class ModelError(RuntimeError):
    """A model call failed after all retries (or with a non-retryable error)."""

    def __init__(self, message: str, attempts: int = 1, retry_seconds: float = 0.0):
        super().__init__(message)
        self.attempts, self.retry_seconds = attempts, retry_seconds
        """Requests sent, and the seconds they and the waits between them took."""


class ContextLengthError(ModelError):
    """The server refused the request (400) because prompt plus completion exceed the model's context."""

    def __init__(self, message: str, limit: int | None = None, prompt_tokens: int | None = None):
        super().__init__(message)
        self.limit, self.prompt_tokens = limit, prompt_tokens

    @property
    def room(self) -> int | None:
        """Completion tokens that still fit, when the server's message says (vLLM's does)."""
        if self.limit is None or self.prompt_tokens is None:
            return None
        return self.limit - self.prompt_tokens


def _context_error(exc: openai.APIStatusError, prefix: str) -> ContextLengthError | None:
    message = str(getattr(exc, "message", exc))
    if exc.status_code not in (400, 413) or not _CONTEXT_FULL.search(message):
        return None
    limit, prompt = _LIMIT.search(message), _PROMPT.search(message)
    return ContextLengthError(
        f"{prefix}: {message}",
        int(limit.group(1)) if limit else None,
        int(prompt.group(1)) if prompt else None,
    )


class TokenLogprob(BaseModel):
    token: str
    logprob: float
    top_logprobs: list[tuple[str, float]] = Field(default_factory=list)


class Choice(BaseModel):
    content: str | None = None
    """The answer, reasoning removed (and, in the native format, call blocks read from it)."""
    reasoning: str = ""
    """The model's reasoning (`reasoning_content`/`reasoning` of the message, or `<think>` blocks)."""
    tool_calls: list[dict] = Field(default_factory=list)
    """`[{"id", "name", "arguments"}]`, arguments the raw JSON string (use `calls()` for typed ones)."""
    finish_reason: str | None = None
    logprobs: list[TokenLogprob] | None = None
    parse_errors: list[str] = Field(default_factory=list)
    """Why blocks of the content that look like tool calls could not be read."""
    cut_by_context: bool = False
    """Cut (`finish_reason: length`) because the context window was full, not at the requested
    `max_tokens` (llama.cpp shortens such answers silently; the client capped it to the room left)."""

    def calls(self) -> list[ToolCall]:
        return [make_call(c["name"], c["arguments"], c.get("id", "")) for c in self.tool_calls]


class ChatResult(BaseModel):
    choices: list[Choice]
    usage: Usage
    model: str = ""
    url: str = ""
    tool_format: str = "native"
    attempts: int = 1
    """Requests sent for this answer (more than one after failures: timeouts, lost connections, 5xx)."""
    retry_seconds: float = 0.0
    """Seconds before the request that was answered: failed attempts and the waits between them."""
    raw: dict = Field(default_factory=dict)
    """The server's JSON answer."""


class _Endpoint:
    def __init__(self, url: str, config: ModelConfig):
        self.url = url
        self.client = openai.OpenAI(
            base_url=url, api_key=config.api_key or "EMPTY", max_retries=0, timeout=config.timeout
        )
        self.slots = threading.Semaphore(max(1, config.max_in_flight))
        self.in_flight = 0
        self.name = config.name
        """The served model (asked from this server when config.name is empty)."""
        self.asked_context = False
        self.down_until = 0.0
        """monotonic() time before which the server counts as down (after a failure)."""
        self.failures = 0
        """Consecutive failures (the down time doubles with each)."""
        self.context = config.context_window or None
        """The model's context window in tokens: configured, else learned (vLLM's /v1/models
        `max_model_len`, a context-length error, an answer the server cut short of `max_tokens`)."""

    def weight(self, session: str) -> int:
        """Rendezvous-hashing weight of this server for a session (stable across runs and processes)."""
        return int.from_bytes(
            hashlib.blake2b(f"{session}|{self.url}".encode(), digest_size=8).digest(), "big"
        )


_RETRYABLE = (
    openai.APIConnectionError,
    openai.APITimeoutError,
    openai.InternalServerError,
    openai.RateLimitError,
)


def _retryable(exc: Exception) -> bool:
    if isinstance(exc, _RETRYABLE):
        return True
    return isinstance(exc, openai.APIStatusError) and exc.status_code >= 500


def _server_failed(exc: Exception) -> bool:
    """The server itself is gone or broken (not just busy): fail over to another one."""
    if isinstance(exc, openai.APIConnectionError | openai.APITimeoutError):
        return True
    return isinstance(exc, openai.APIStatusError) and exc.status_code >= 500


class ModelClient:
    """Chat completions over one or several OpenAI-compatible servers (least in flight, bounded per server)."""

    def __init__(self, config: ModelConfig):
        if not config.urls:
            raise ValueError("ModelConfig.urls is empty: give at least one OpenAI-compatible server URL")
        self.config = config
        self._endpoints = [_Endpoint(u, config) for u in config.urls]
        self._lock = threading.Lock()
        self._probe_lock = threading.Lock()
        self._rr = itertools.count()
        self.ledger = Ledger()
        """Everything this client's requests cost, per server (callers' ledgers count their own part)."""
        self._sticky: dict[str, _Endpoint] = {}
        """Session -> the server it stays on."""
        self._sizes: dict[str, tuple[int, int]] = {}
        """Session -> (characters, prompt tokens) of its last request: the next prompt's size estimate."""
        self._name = config.name
        self._format = config.tool_format if config.tool_format in ("native", "text") else ""
        if config.tool_format not in ("native", "text", "auto"):
            raise ValueError(f"tool_format must be native, text or auto, not {config.tool_format!r}")

    # -- properties ---------------------------------------------------------------------------------------

    @property
    def usage(self) -> Usage:
        """Usage summed over every call of this client (a copy)."""
        return self.ledger.total

    @property
    def usage_by_server(self) -> dict[str, Usage]:
        """Usage per server URL (copies): which replica served how many calls and tokens."""
        return self.ledger.by_server

    @property
    def model_name(self) -> str:
        """`config.name`, or the first model the first reachable server lists under /v1/models."""
        if not self._name:
            try:
                for attempt in self._retrying():
                    with attempt:
                        self._name = self._discover_name()
            except (openai.OpenAIError, LookupError) as exc:
                raise ModelError(f"could not discover the model name: {exc}") from exc
        return self._name

    def _discover_name(self) -> str:
        errors = []
        for ep in self._endpoints:
            try:
                models = ep.client.models.list(timeout=min(self.config.timeout, 30)).data
            except openai.OpenAIError as exc:
                errors.append(exc)
                continue
            if models:
                return models[0].id
        if errors:
            raise errors[-1]
        raise LookupError("no server lists a model under /v1/models")

    @property
    def tool_format(self) -> str:
        """`native` or `text`; `auto` is resolved once by a probe request with one tool."""
        return self.resolve_tool_format()

    def resolve_tool_format(self, ledger: Ledger | None = None) -> str:
        """`tool_format`; the probe, when this call runs it, is also recorded in `ledger`."""
        with self._probe_lock:
            if not self._format:
                self._format = self._probe(ledger)
        return self._format

    def _probe(self, ledger: Ledger | None) -> str:
        try:
            result = self._call(
                dict(
                    messages=[{"role": "user", "content": f"Call the `{PROBE_TOOL}` tool."}],
                    tools=[PROBE_SCHEMA],
                    tool_choice="auto",
                    max_tokens=64,
                    temperature=0.0,
                ),
                retries=1,
                ledger=ledger,
            )
        except ModelError as exc:
            if "status 4" in str(exc):  # the server rejects tools
                return "text"
            raise
        for choice in result.choices:  # a call written into the content: tools reach the model
            _read_answer(choice, [PROBE_SCHEMA], "native")
        return "native" if any(c.tool_calls for c in result.choices) else "text"

    # -- calls ------------------------------------------------------------------------------------------------

    def chat(
        self,
        messages: list[dict],
        tools: list[dict] | None = None,
        n: int = 1,
        logprobs: bool = False,
        top_logprobs: int | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        stop: list[str] | None = None,
        session: str | None = None,
        ledger: Ledger | None = None,
        **extra: Any,
    ) -> ChatResult:
        """One chat completion (n choices). Raises ModelError after `config.retries` retries.

        `session` (e.g. a trajectory id) keeps the calls of one conversation on one server; `ledger` is
        the caller's, where the call's usage is recorded too."""
        probe_ledger = ledger.root if ledger is not None else None  # a probe is the run's, no stage's
        fmt = self.resolve_tool_format(probe_ledger) if tools else (self._format or "native")
        params: dict[str, Any] = dict(
            messages=messages,
            n=n,
            temperature=self.config.temperature if temperature is None else temperature,
            max_tokens=self.config.max_tokens if max_tokens is None else max_tokens,
            **extra,
        )
        if max_tokens is None:
            params["default_max_tokens"] = True  # `_fit` may leave a small context more room
        if logprobs:
            params["logprobs"] = True
            if top_logprobs:
                params["top_logprobs"] = top_logprobs
        if stop:
            params["stop"] = stop
        if tools and fmt == "native":
            params["tools"] = tools
        result = self._call_fitting(params, session if self.config.affinity else None, ledger)
        result.tool_format = fmt
        for choice in result.choices:
            _read_answer(choice, tools, fmt)
        return result

    def _up(self) -> list[_Endpoint]:
        now = time.monotonic()
        return [e for e in self._endpoints if e.down_until <= now]

    def _pick(self, session: str | None) -> _Endpoint:
        """The session's server (kept while it is up), else the least busy; called with the lock held."""
        up = self._up() or [min(self._endpoints, key=lambda e: e.down_until)]
        if session is not None:
            ep = self._sticky.get(session)
            if ep not in up:
                ep = self._sticky[session] = max(up, key=lambda e: e.weight(session))
            return ep
        start = next(self._rr)  # least in flight, ties broken round robin
        return min((up[(start + i) % len(up)] for i in range(len(up))), key=lambda e: e.in_flight)

    def _call_fitting(self, params: dict, session: str | None, ledger: Ledger | None) -> ChatResult:
        """`_call`; when the prompt fits but the requested completion does not, once more with less."""
        try:
            return self._call(params, session=session, ledger=ledger)
        except ContextLengthError as exc:
            room = exc.room
            if room is None or room < MIN_COMPLETION_TOKENS or room >= params["max_tokens"]:
                raise
            return self._call({**params, "max_tokens": room}, session=session, ledger=ledger, repeat=True)

    @contextmanager
    def _endpoint(self, session: str | None = None):
        with self._lock:
            ep = self._pick(session)
            ep.in_flight += 1
        try:
            with ep.slots:
                yield ep
        finally:
            with self._lock:
                ep.in_flight -= 1

    def _retrying(self, retries: int | None = None, failover: bool = False) -> Retrying:
        """Retries on connection errors, timeouts, 429 and 5xx (others at once), with exponential backoff;
        with `failover`, at once when the failed server can be left for another one that is up."""
        retries = self.config.retries if retries is None else retries
        backoff = wait_exponential(multiplier=self.config.backoff, max=30.0)
        return Retrying(
            stop=stop_after_attempt(retries + 1),
            wait=self._failover_wait if failover else backoff,
            retry=retry_if_exception(_retryable),
            reraise=True,
        )

    def _failover_wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if exc is not None and _server_failed(exc) and self._up():
            return 0.0  # fail over at once
        return wait_exponential(multiplier=self.config.backoff, max=30.0)(state)

    def _mark(self, ep: _Endpoint, failed: bool) -> None:
        with self._lock:
            if failed:
                ep.down_until = time.monotonic() + min(self.config.backoff * 2**ep.failures, 30.0)
                ep.failures += 1
            else:
                ep.down_until, ep.failures = 0.0, 0

    def _served_name(self, ep: _Endpoint) -> str:
        """The model to ask this server for: config.name, else the first it lists (asked once, with the
        context window where the server says it)."""
        if not ep.name or ep.context is None and not ep.asked_context:
            ep.asked_context = True
            try:
                models = ep.client.models.list(timeout=min(self.config.timeout, 30)).data
            except openai.APIStatusError:
                if ep.name:  # the name is configured: a server without /v1/models is served all the same
                    return ep.name
                raise
            if not models:
                raise ModelError(f"{ep.url} lists no model under /v1/models")
            ep.name = ep.name or models[0].id
            served = next((m for m in models if m.id == ep.name), models[0])
            if isinstance(length := (served.model_extra or {}).get("max_model_len"), int):
                ep.context = ep.context or length  # vLLM says
            ep.context = ep.context or _props_context(ep.url)  # llama.cpp's C++ server says here
        return ep.name

    def _fit(self, params: dict, ep: _Endpoint, session: str | None) -> dict:
        """`max_tokens` capped to the room the context leaves (when the server's context is known), so no
        server shortens an answer unasked; a default leaves three quarters of a small context to the
        conversation. The prompt's size is estimated from the session's previous request (4 characters a
        token for what is new; an estimate too low is safe: a server that then shortens the answer is
        caught by `_learn`)."""
        if ep.context is None:
            return params
        wanted = params["max_tokens"]
        if params.get("default_max_tokens"):
            wanted = min(wanted, max(MIN_COMPLETION_TOKENS, ep.context // 4))
        chars = len(json.dumps(params["messages"]))
        before = self._sizes.get(session) if session is not None else None
        estimate = before[1] + (chars - before[0]) // 4 if before else chars // 4
        fitted = min(wanted, max(MIN_COMPLETION_TOKENS, ep.context - estimate))
        return {**params, "max_tokens": fitted, "room_capped": fitted < wanted}

    def _learn(self, ep: _Endpoint, sent: dict, result: ChatResult, session: str | None) -> None:
        """Count the new prompt tokens; mark answers cut by the context, and learn the window from them."""
        usage = result.usage
        before = 0
        if session is not None:
            with self._lock:
                before = self._sizes.get(session, (0, 0))[1]
                self._sizes[session] = (len(json.dumps(sent["messages"])), usage.prompt_tokens)
        fresh = (
            usage.prompt_tokens - usage.cached_tokens if usage.cached_tokens else usage.prompt_tokens - before
        )
        usage.new_prompt_tokens = max(0, min(usage.prompt_tokens, fresh))
        for choice in result.choices:
            if choice.finish_reason != "length":
                continue
            if len(result.choices) == 1 and 0 < usage.completion_tokens < sent["max_tokens"]:
                choice.cut_by_context = True  # the server shortened it: the context ran out
                ep.context = usage.prompt_tokens + usage.completion_tokens
            elif sent.get("room_capped"):
                choice.cut_by_context = True  # capped to the room left, and that ran out

    def _call(
        self,
        params: dict,
        retries: int | None = None,
        session: str | None = None,
        ledger: Ledger | None = None,
        repeat: bool = False,
    ) -> ChatResult:
        """One request with tenacity's retries, each attempt recorded; `repeat`: the first attempt
        already repeats a failed request."""
        retrying = self._retrying(retries, failover=True)
        begun = mark = time.monotonic()  # mark: the end of the last failed attempt
        try:
            for attempt in retrying:
                with attempt, self._endpoint(session) as ep:  # a failed server is skipped by the next one
                    retry = int(repeat or attempt.retry_state.attempt_number > 1)
                    started = time.monotonic()
                    try:
                        name = self._served_name(ep)
                        sent = self._fit(params, ep, session)
                        body = {k: v for k, v in sent.items() if k not in _PRIVATE}
                        response = ep.client.chat.completions.create(
                            model=name, timeout=self.config.timeout, **body
                        )
                    except openai.OpenAIError as exc:
                        self._mark(ep, _server_failed(exc))
                        now = time.monotonic()  # the failed attempt and the wait before it are lost
                        timeout = int(isinstance(exc, openai.APITimeoutError))
                        failed = Usage(errors=1, retries=retry, timeouts=timeout, retry_seconds=now - mark)
                        record(failed, ep.url, self.ledger, ledger)
                        mark = now
                        raise
                    self._mark(ep, False)
                    result = self._result(response, ep.url, time.monotonic() - started)
                    self._learn(ep, sent, result, session)
                    result.usage.retries = retry
                    result.usage.retry_seconds = started - mark if retry else 0.0
                    result.attempts = attempt.retry_state.attempt_number
                    result.retry_seconds = started - begun if result.attempts > 1 else 0.0
                    record(result.usage, ep.url, self.ledger, ledger)
                    return result
        except openai.OpenAIError as exc:
            n = retrying.statistics.get("attempt_number", 1)
            lost = time.monotonic() - begun
            status = getattr(exc, "status_code", None)
            prefix = f"model call failed after {n} attempt{'s' if n > 1 else ''}" + (
                f" (status {status})" if status else ""
            )
            if isinstance(exc, openai.APIStatusError) and (full := _context_error(exc, prefix)):
                if full.limit:
                    for ep in self._endpoints:  # one model behind the client: each server's window
                        ep.context = ep.context or full.limit
                full.attempts, full.retry_seconds = n, lost
                raise full from exc
            raise ModelError(f"{prefix}: {getattr(exc, 'message', exc)}", n, lost) from exc
        raise AssertionError("unreachable: tenacity either returns or re-raises")

    def _result(self, response: Any, url: str, seconds: float) -> ChatResult:
        raw = response.model_dump(mode="json", exclude_none=True)
        choices = []
        for c in response.choices:
            msg = c.message
            calls = [
                {"id": tc.id, "name": tc.function.name, "arguments": tc.function.arguments or ""}
                for tc in (msg.tool_calls or [])
                if getattr(tc, "function", None) is not None
            ]
            lps = None
            if c.logprobs is not None and c.logprobs.content is not None:
                lps = [
                    TokenLogprob(
                        token=t.token,
                        logprob=t.logprob,
                        top_logprobs=[(x.token, x.logprob) for x in (t.top_logprobs or [])],
                    )
                    for t in c.logprobs.content
                ]
            extra = msg.model_extra or {}
            reasoning = extra.get("reasoning_content") or extra.get("reasoning") or ""
            choices.append(
                Choice(
                    content=msg.content,
                    reasoning=reasoning if isinstance(reasoning, str) else "",
                    tool_calls=calls,
                    finish_reason=c.finish_reason,
                    logprobs=lps,
                )
            )
        u = response.usage
        usage = Usage(
            prompt_tokens=getattr(u, "prompt_tokens", 0) or 0,
            completion_tokens=getattr(u, "completion_tokens", 0) or 0,
            cached_tokens=getattr(getattr(u, "prompt_tokens_details", None), "cached_tokens", 0) or 0,
            calls=1,
            seconds=seconds,
        )
        return ChatResult(choices=choices, usage=usage, model=response.model or "", url=url, raw=raw)


def _props_context(url: str) -> int | None:
    """The context window llama.cpp's server gives under `/props` (next to `/v1`), or None (no such route:
    vLLM, llama-cpp-python)."""
    root = url.rstrip("/").removesuffix("/v1")
    try:
        with urllib.request.urlopen(f"{root}/props", timeout=5) as answer:
            props = json.loads(answer.read())
    except (OSError, ValueError):
        return None
    if not isinstance(props, dict):
        return None
    n_ctx = (props.get("default_generation_settings") or {}).get("n_ctx") or props.get("n_ctx")
    return n_ctx if isinstance(n_ctx, int) and n_ctx > 0 else None


def _read_answer(choice: Choice, tools: list[dict] | None, fmt: str) -> None:
    """Split the reasoning off the answer; without native tool calls, read calls from the content (in the
    native format their blocks leave the content, so the history holds each call once)."""
    thought = ""
    if choice.content:
        thought, choice.content = split_reasoning(choice.content)
    choice.reasoning = "\n".join(t for t in (choice.reasoning, thought) if t)
    if not tools or choice.tool_calls:
        return
    found = parse_content_calls(choice.content or "", tools, id_prefix=f"call_{uuid.uuid4().hex[:12]}")
    choice.tool_calls = [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in found.calls]
    choice.parse_errors = found.errors
    if fmt == "native" and found.calls:
        choice.content = found.rest


class ModelView:
    """A model client seen from one ledger: the same servers, limits and tool format; its calls (and a
    start-up probe it triggers) are recorded in `ledger` too, unless `chat` is given a ledger of its own."""

    def __init__(self, model: Any, ledger: Ledger) -> None:
        self._model, self.ledger = model, ledger

    def chat(self, messages: list[dict], tools: list[dict] | None = None, **kwargs: Any) -> ChatResult:
        kwargs["ledger"] = kwargs.get("ledger") or self.ledger
        return self._model.chat(messages, tools, **kwargs)

    @property
    def tool_format(self) -> str:
        """The client's; a probe it runs for this is the whole run's cost (the ledger's root), no stage's."""
        return self._model.resolve_tool_format(self.ledger.root)

    @property
    def usage(self) -> Usage:
        """Usage of the calls seen from this view's ledger (a copy)."""
        return self.ledger.total

    @property
    def usage_by_server(self) -> dict[str, Usage]:
        return self.ledger.by_server

    def __getattr__(self, name: str) -> Any:  # config, model_name, resolve_tool_format ... of the client
        return getattr(self._model, name)
