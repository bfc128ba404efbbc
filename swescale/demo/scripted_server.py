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
- `usage`: `{"prompt_tokens", "completion_tokens"}` overriding the rough chars/4 count.

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
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = [
    "ConversationPolicy",
    "Policy",
    "Reply",
    "Router",
    "ScriptedServer",
    "prompt_contains",
    "system_contains",
]


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


class ScriptedServer:
    """OpenAI-compatible HTTP server on 127.0.0.1 answering from `policy`. Use as a context manager."""

    def __init__(self, policy: Policy, model: str = "scripted", host: str = "127.0.0.1", port: int = 0):
        self.policy = policy
        self.model = model
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
        n = int(body.get("n") or 1)
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
        completion_tokens = 0
        choices = []
        for index, reply in enumerate(replies):
            choice, tokens = self._choice(index, reply, body, call_id)
            choices.append(choice)
            completion_tokens += tokens
            if reply.usage:
                prompt_tokens = reply.usage.get("prompt_tokens", prompt_tokens)
        if any(r.usage and "completion_tokens" in r.usage for r in replies):
            completion_tokens = sum((r.usage or {}).get("completion_tokens", 0) for r in replies)
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


# -- policies -----------------------------------------------------------------------------------------------


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
        """Scripts from recorded trajectory JSON files (agent/trajectory.py), for the replay demo."""
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


def reply_dict(reply: Reply) -> dict:
    """A reply as a plain dict (None fields dropped), e.g. to store scripts as JSON."""
    return {k: v for k, v in asdict(reply).items() if v not in (None, [], 0.0)}
