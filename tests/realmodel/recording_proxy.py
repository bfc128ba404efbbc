"""A recording proxy between swescale and the real model server: every request is forwarded as it came and its
JSON body kept, so a test can check what the server received (stdlib only; one thread per request)."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


class RecordingProxy:
    """`with RecordingProxy("http://127.0.0.1:PORT/v1") as proxy:` serves `proxy.url` (same `/v1` path);
    `proxy.chat_requests` are the JSON bodies of the chat completions it forwarded."""

    def __init__(self, upstream: str):
        self.upstream = upstream.rstrip("/").removesuffix("/v1")
        self.requests: list[tuple[str, str, Any]] = []
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    @property
    def chat_requests(self) -> list[dict]:
        with self._lock:
            return [body for method, path, body in self.requests if path.endswith("/chat/completions")]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Forward(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                self._forward(None)

            def do_POST(self) -> None:
                self._forward(self.rfile.read(int(self.headers.get("Content-Length") or 0)))

            def _forward(self, body: bytes | None) -> None:
                try:
                    recorded = json.loads(body) if body else None
                except ValueError:
                    recorded = body  # not JSON: kept as bytes, the check reports it
                with proxy._lock:
                    proxy.requests.append((self.command, self.path, recorded))
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                request = urllib.request.Request(
                    proxy.upstream + self.path, data=body, headers=headers, method=self.command
                )
                try:
                    with urllib.request.urlopen(request, timeout=600) as answer:
                        status, answer_headers, payload = answer.status, answer.headers, answer.read()
                except urllib.error.HTTPError as exc:
                    status, answer_headers, payload = exc.code, exc.headers, exc.read()
                self.send_response(status)
                for key, value in answer_headers.items():
                    if key.lower() not in HOP_BY_HOP:
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        return Forward

    def __enter__(self) -> RecordingProxy:
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


ROLES = {"system", "user", "assistant", "tool"}


def vllm_history_problems(request: dict) -> list[str]:
    """What vLLM's chat endpoint would reject in a request's history: an unknown role or content that is not
    text, a tool call whose arguments are not a JSON string that parses to an object (vLLM json.loads them
    to render the template), or a tool message answering no call."""
    problems, call_ids = [], set()
    for index, message in enumerate(request.get("messages", [])):
        if message.get("role") not in ROLES:
            problems.append(f"message {index}: role {message.get('role')!r}")
        content = message.get("content")
        if not (isinstance(content, str) or (content is None and message.get("tool_calls"))):
            problems.append(f"message {index}: content {content!r} is not text")
        for call in message.get("tool_calls") or []:
            call_ids.add(call.get("id"))
            arguments = call.get("function", {}).get("arguments")
            try:
                parsed = json.loads(arguments) if isinstance(arguments, str) else None
            except ValueError:
                parsed = None
            if not isinstance(parsed, dict):
                problems.append(f"message {index}: tool call arguments {arguments!r} are not a JSON object")
        if message.get("role") == "tool" and message.get("tool_call_id") not in call_ids:
            problems.append(f"message {index}: a tool message answers no earlier call")
    return problems
