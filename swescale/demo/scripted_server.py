"""A scripted OpenAI-compatible chat server on loopback, for tests and the replay demo.

```python
def policy(request: dict) -> dict:
    return {"tool_calls": [{"name": "bash", "arguments": {"command": "ls"}}]}

with ScriptedServer(policy) as server:
    client = openai.OpenAI(base_url=server.url, api_key="x")
    ...
    server.requests  # the JSON bodies received, in order
```

Implements `GET /v1/models` and non-streaming `POST /v1/chat/completions`. The policy answers one choice;
for `n > 1` it is called n times. A reply (a dict or a `Reply`) may hold:

- `content`: assistant text; `tool_calls`: `[{"name", "arguments": dict | str, "id"?}]` (a str is sent as
  is, so malformed JSON can be scripted); `finish_reason` (default `tool_calls` or `stop`);
- `logprobs`: `[{"token", "logprob", "top_logprobs": [{"token", "logprob"}]}]` (synthesised from the
  content when the request asks for logprobs and the reply has none);
- `status`: answer this HTTP error code instead (e.g. 500); `delay`: seconds to wait before answering;
- `usage`: `{"prompt_tokens", "completion_tokens"}` overriding the rough chars/4 count, and
  `cached_tokens` (sent as `prompt_tokens_details.cached_tokens`, as vLLM does when asked);
- `reasoning`: sent as the message's `reasoning_content`, as vLLM's reasoning parsers do.

Servers differ: `json_history=True` refuses histories whose tool-call arguments are not JSON (vLLM),
`honour_n=False` answers one choice whatever `n` asks (llama.cpp), `context_window=N` refuses prompts and
cuts answers as llama.cpp does with an N-token context, `props={...}` answers `GET /props` (llama.cpp's
C++ server says its context there).

`ConversationPolicy` replays one script (list of replies) per trajectory; `Router` sends requests of
different kinds (e.g. judge prompts) to different policies.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import re
import socket
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from swescale.demo.policies import (
    ConversationPolicy,
    Policy,
    Reply,
    Router,
    prompt_contains,
    system_contains,
)

__all__ = [
    "ConversationPolicy",
    "Policy",
    "Reply",
    "Router",
    "ScriptedServer",
    "prompt_contains",
    "system_contains",
]


def _rough_tokens(text: str) -> int:
    return max(1, len(text) // 4) if text else 0


def _token_logprobs(items: list[dict], top_n: int) -> list[dict]:
    out = []
    for item in items:
        token = str(item["token"])
        tops = [
            {
                "token": str(t["token"]),
                "logprob": float(t["logprob"]),
                "bytes": list(str(t["token"]).encode()),
            }
            for t in item.get("top_logprobs", [])
        ]
        out.append(
            {
                "token": token,
                "logprob": float(item["logprob"]),
                "bytes": list(token.encode()),
                "top_logprobs": tops[:top_n] if top_n else tops,
            }
        )
    return out


def _synth_logprobs(content: str) -> list[dict]:
    return [
        {"token": tok, "logprob": 0.0, "top_logprobs": [{"token": tok, "logprob": 0.0}]}
        for tok in re.findall(r"\S+|\s+", content or "")
    ]


def _unparsable_history_call(body: dict) -> str:
    """vLLM's chat endpoint parses history tool-call arguments as JSON; why this request fails there, or ""."""
    for message in body.get("messages", []):
        for call in message.get("tool_calls") or []:
            arguments = call.get("function", {}).get("arguments", "")
            try:
                json.loads(arguments)
            except (TypeError, json.JSONDecodeError) as exc:
                return f"tool call arguments in the history are not valid JSON: {exc}"
    return ""


class ScriptedServer:
    """OpenAI-compatible HTTP server on 127.0.0.1 answering from `policy`. Use as a context manager."""

    def __init__(
        self,
        policy: Policy,
        model: str = "scripted",
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        json_history: bool = False,
        honour_n: bool = True,
        context_window: int = 0,
        props: dict | None = None,
    ):
        self.policy = policy
        self.model = model
        self.json_history = json_history
        """Refuse (400) a request whose history holds tool-call arguments that are not JSON, as vLLM does."""
        self.honour_n = honour_n
        """False: one choice whatever `n` asks, as llama.cpp's server does."""
        self.context_window = context_window
        """As llama.cpp with this many tokens of context (0: none): a prompt that does not fit is refused
        (400, llama-cpp-python's message), an answer that does not fit is cut silently (`length`)."""
        self.props = props
        """The answer of `GET /props` (llama.cpp's C++ server has it; None: 404, as llama-cpp-python)."""
        self.requests: list[dict] = []
        """JSON bodies of the chat requests received, in arrival order."""
        self.errors: list[str] = []
        """Tracebacks of policy failures (each answered with HTTP 500)."""
        self._lock = threading.Lock()
        self._ids = itertools.count()
        self._httpd = ThreadingHTTPServer((host, port), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None
        self._stopped = False

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start(self) -> ScriptedServer:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever, name="scripted-server", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop like a dead server: new connections are refused and kept-alive ones are cut unanswered."""
        self._stopped = True
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=10)
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> ScriptedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- request handling -------------------------------------------------------------------------------

    def _complete(self, body: dict) -> tuple[int, dict]:
        with self._lock:
            self.requests.append(body)
            call_id = next(self._ids)
        if self.json_history and (bad := _unparsable_history_call(body)):
            return 400, {"error": {"message": bad, "type": "invalid_request_error", "code": 400}}
        n = int(body.get("n") or 1) if self.honour_n else 1
        try:
            replies = [Reply.of(self.policy(body)) for _ in range(n)]
        except Exception:  # noqa: BLE001 - a broken policy becomes a 500, recorded for the test to see
            tb = traceback.format_exc()
            with self._lock:
                self.errors.append(tb)
            return 500, {"error": {"message": f"policy failed: {tb}", "type": "server_error", "code": 500}}
        delay = max((r.delay for r in replies), default=0.0)
        if delay:
            time.sleep(delay)
        for reply in replies:
            if reply.status and reply.status >= 400:
                return reply.status, {
                    "error": {
                        "message": reply.content or f"scripted error {reply.status}",
                        "type": "server_error",
                        "code": reply.status,
                    }
                }
        prompt_tokens = _rough_tokens(
            json.dumps(body.get("messages", [])) + json.dumps(body.get("tools", []))
        )
        completion_tokens = cached_tokens = 0
        choices = []
        for index, reply in enumerate(replies):
            choice, tokens = self._choice(index, reply, body, call_id)
            choices.append(choice)
            completion_tokens += tokens
            if reply.usage:
                prompt_tokens = reply.usage.get("prompt_tokens", prompt_tokens)
                cached_tokens = reply.usage.get("cached_tokens", cached_tokens)
        if any(r.usage and "completion_tokens" in r.usage for r in replies):
            completion_tokens = sum((r.usage or {}).get("completion_tokens", 0) for r in replies)
        if self.context_window:
            if prompt_tokens >= self.context_window:
                asked = body.get("max_tokens") or 0
                message = (
                    f"This model's maximum context length is {self.context_window} tokens. However, you "
                    f"requested {prompt_tokens + asked} tokens ({prompt_tokens} in the messages, {asked} in "
                    "the completion). Please reduce the length of the messages or completion."
                )
                return 400, {"error": {"message": message, "type": "invalid_request_error", "code": 400}}
            room = self.context_window - prompt_tokens
            limit = min(room, body.get("max_tokens") or room)
            if completion_tokens > limit:  # cut where the tokens ran out, as llama.cpp does
                completion_tokens = limit
                for choice in choices:
                    choice["finish_reason"] = "length"
                    choice["message"].pop("tool_calls", None)
                    choice["message"]["content"] = (choice["message"]["content"] or "")[: limit * 4]
        return 200, {
            "id": f"chatcmpl-scripted-{call_id}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model") or self.model,
            "choices": choices,
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
                **({"prompt_tokens_details": {"cached_tokens": cached_tokens}} if cached_tokens else {}),
            },
        }

    @staticmethod
    def _choice(index: int, reply: Reply, body: dict, call_id: int) -> tuple[dict, int]:
        tool_calls = []
        for k, call in enumerate(reply.tool_calls):
            args = call.get("arguments", {})
            tool_calls.append(
                {
                    "id": call.get("id") or f"call_{call_id}_{index}_{k}",
                    "type": "function",
                    "function": {
                        "name": call["name"],
                        "arguments": args if isinstance(args, str) else json.dumps(args),
                    },
                }
            )
        message: dict[str, Any] = {"role": "assistant", "content": reply.content}
        if reply.reasoning is not None:
            message["reasoning_content"] = reply.reasoning
        if tool_calls:
            message["tool_calls"] = tool_calls
        elif reply.content is None:
            message["content"] = ""
        choice: dict[str, Any] = {
            "index": index,
            "message": message,
            "finish_reason": reply.finish_reason or ("tool_calls" if tool_calls else "stop"),
            "logprobs": None,
        }
        if body.get("logprobs") or reply.logprobs is not None:
            items = reply.logprobs if reply.logprobs is not None else _synth_logprobs(reply.content or "")
            choice["logprobs"] = {"content": _token_logprobs(items, int(body.get("top_logprobs") or 0))}
        text = (reply.content or "") + "".join(
            t["function"]["name"] + t["function"]["arguments"] for t in tool_calls
        )
        return choice, _rough_tokens(text)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # quiet
                pass

            def _send(self, status: int, payload: dict) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _dead(self) -> bool:
                if server._stopped:  # a stopped server answers nothing, even on a kept-alive connection
                    self.close_connection = True
                    with contextlib.suppress(OSError):
                        self.connection.shutdown(socket.SHUT_RDWR)
                return server._stopped

            def do_GET(self) -> None:  # noqa: N802
                if self._dead():
                    return
                if self.path.rstrip("/").endswith("/models"):
                    self._send(
                        200,
                        {
                            "object": "list",
                            "data": [
                                {"id": server.model, "object": "model", "created": 0, "owned_by": "swescale"}
                            ],
                        },
                    )
                elif self.path.rstrip("/").endswith("/props") and server.props is not None:
                    self._send(200, server.props)
                else:
                    self._send(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})

            def do_POST(self) -> None:  # noqa: N802
                if self._dead():
                    return
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self._send(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})
                    return
                try:
                    body = json.loads(raw or b"{}")
                except json.JSONDecodeError as exc:
                    self._send(
                        400, {"error": {"message": f"bad JSON: {exc}", "type": "invalid_request_error"}}
                    )
                    return
                if body.get("stream"):
                    self._send(
                        400,
                        {"error": {"message": "streaming is not supported", "type": "invalid_request_error"}},
                    )
                    return
                status, payload = server._complete(body)
                self._send(status, payload)

        return Handler
