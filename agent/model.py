"""OpenAI-compatible chat client: several endpoints, retries, usage accounting, native or text tool calls.

```python
client = ModelClient(ModelConfig(urls=["http://localhost:8000/v1"]))
result = client.chat(messages, tools=schemas, n=4, logprobs=True, top_logprobs=5)
result.choices[0].tool_calls, client.usage, client.tool_format  # "native" or "text"
```

With `tool_format` `text` (or `auto` resolved to text by the start-up probe) tools are not sent to the
server: the caller describes them in the system prompt and `chat` parses `<function=...>` blocks from the
content into `tool_calls`.
"""

from __future__ import annotations

import itertools
import threading
import time
from contextlib import contextmanager
from typing import Any

import openai
from pydantic import BaseModel, Field
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from agent.config import ModelConfig
from agent.parsing import ToolCall, make_call, parse_text_calls
from agent.result import Usage

PROBE_TOOL = "swescale_probe"
"""Name of the tool the start-up probe offers (ScriptedServer's ConversationPolicy answers it)."""


class ModelError(RuntimeError):
    """A model call failed after all retries (or with a non-retryable error)."""


class TokenLogprob(BaseModel):
    token: str
    logprob: float
    top_logprobs: list[tuple[str, float]] = Field(default_factory=list)


class Choice(BaseModel):
    content: str | None = None
    tool_calls: list[dict] = Field(default_factory=list)
    """`[{"id", "name", "arguments"}]`, arguments the raw JSON string (use `calls()` for typed ones)."""
    finish_reason: str | None = None
    logprobs: list[TokenLogprob] | None = None

    def calls(self) -> list[ToolCall]:
        return [make_call(c["name"], c["arguments"], c.get("id", "")) for c in self.tool_calls]


class ChatResult(BaseModel):
    choices: list[Choice]
    usage: Usage
    model: str = ""
    url: str = ""
    tool_format: str = "native"
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
        self._usage = Usage()
        self._name = config.name
        self._format = config.tool_format if config.tool_format in ("native", "text") else ""
        if config.tool_format not in ("native", "text", "auto"):
            raise ValueError(f"tool_format must be native, text or auto, not {config.tool_format!r}")

    # -- properties ---------------------------------------------------------------------------------------

    @property
    def usage(self) -> Usage:
        """Usage summed over every call of this client (a copy)."""
        with self._lock:
            return self._usage.model_copy()

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
        with self._probe_lock:
            if not self._format:
                self._format = self._probe()
        return self._format

    def _probe(self) -> str:
        tool = {
            "type": "function",
            "function": {
                "name": PROBE_TOOL,
                "description": "Reply with a call to this tool.",
                "parameters": {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": []},
            },
        }
        try:
            result = self._call(
                dict(
                    messages=[{"role": "user", "content": f"Call the `{PROBE_TOOL}` tool."}],
                    tools=[tool],
                    tool_choice="auto",
                    max_tokens=64,
                    temperature=0.0,
                ),
                retries=1,
            )
        except ModelError as exc:
            if "status 4" in str(exc):  # the server rejects tools
                return "text"
            raise
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
        **extra: Any,
    ) -> ChatResult:
        """One chat completion (n choices). Raises ModelError after `config.retries` retries."""
        fmt = self.tool_format if tools else (self._format or "native")
        params: dict[str, Any] = dict(
            messages=messages,
            n=n,
            temperature=self.config.temperature if temperature is None else temperature,
            max_tokens=self.config.max_tokens if max_tokens is None else max_tokens,
            **extra,
        )
        if logprobs:
            params["logprobs"] = True
            if top_logprobs:
                params["top_logprobs"] = top_logprobs
        if stop:
            params["stop"] = stop
        if tools and fmt == "native":
            params["tools"] = tools
        result = self._call(params)
        result.tool_format = fmt
        if tools and fmt == "text":
            for k, choice in enumerate(result.choices):
                calls = parse_text_calls(choice.content or "", tools, id_prefix=f"text_{k}")
                choice.tool_calls = [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in calls]
        return result

    @contextmanager
    def _endpoint(self):
        with self._lock:  # least in flight, ties broken round robin
            start = next(self._rr)
            order = [self._endpoints[(start + i) % len(self._endpoints)] for i in range(len(self._endpoints))]
            ep = min(order, key=lambda e: e.in_flight)
            ep.in_flight += 1
        try:
            with ep.slots:
                yield ep
        finally:
            with self._lock:
                ep.in_flight -= 1

    def _retrying(self, retries: int | None = None) -> Retrying:
        """Retries with exponential backoff on connection errors, timeouts, 429 and 5xx; others at once."""
        retries = self.config.retries if retries is None else retries
        return Retrying(
            stop=stop_after_attempt(retries + 1),
            wait=wait_exponential(multiplier=self.config.backoff, max=30.0),
            retry=retry_if_exception(_retryable),
            reraise=True,
        )

    def _call(self, params: dict, retries: int | None = None) -> ChatResult:
        model = self.model_name
        retrying = self._retrying(retries)
        try:
            for attempt in retrying:
                with attempt, self._endpoint() as ep:  # each attempt takes the least busy server
                    started = time.monotonic()
                    response = ep.client.chat.completions.create(
                        model=model, timeout=self.config.timeout, **params
                    )
                    return self._result(response, ep.url, time.monotonic() - started)
        except openai.OpenAIError as exc:
            n = retrying.statistics.get("attempt_number", 1)
            status = getattr(exc, "status_code", None)
            raise ModelError(
                f"model call failed after {n} attempt{'s' if n > 1 else ''}"
                + (f" (status {status})" if status else "")
                + f": {getattr(exc, 'message', exc)}"
            ) from exc
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
            choices.append(
                Choice(content=msg.content, tool_calls=calls, finish_reason=c.finish_reason, logprobs=lps)
            )
        u = response.usage
        usage = Usage(
            prompt_tokens=getattr(u, "prompt_tokens", 0) or 0,
            completion_tokens=getattr(u, "completion_tokens", 0) or 0,
            calls=1,
            seconds=seconds,
        )
        with self._lock:
            self._usage.add(usage)
        return ChatResult(choices=choices, usage=usage, model=response.model or "", url=url, raw=raw)
