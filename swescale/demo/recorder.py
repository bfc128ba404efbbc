"""Record a real model server: a loopback proxy that forwards every request and keeps request/answer pairs.

```python
with Recorder("http://127.0.0.1:8080/v1") as recorder:
    ...  # point the client at recorder.url instead of the server
recorder.save("tests/data/real_model/session.json")
```

Recordings are replayed without the server (`recorded_scripts` for a `ConversationPolicy` in a
`ScriptedServer`, or each answer through the client's parser), so parser and loop changes are tested
against what a real model wrote. A recording
is `{"upstream", "model", "exchanges": [{"request", "status", "response"}]}`: chat requests only (the
`/v1/models` answer is kept as `model`), in the order they were answered.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from swescale.demo.policies import Reply


class Recorder:
    """A loopback proxy to `upstream` (an OpenAI-compatible base URL); use as a context manager."""

    def __init__(self, upstream: str, host: str = "127.0.0.1", port: int = 0, timeout: float = 600.0):
        self.upstream, self.timeout = upstream.rstrip("/"), timeout
        self.exchanges: list[dict[str, Any]] = []
        self.model: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer((host, port), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> Recorder:
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="recorder", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            data = {"upstream": self.upstream, "model": self.model, "exchanges": self.exchanges}
        path.write_text(json.dumps(data, separators=(",", ":")) + "\n")
        return path

    def _forward(self, method: str, path: str, body: bytes | None) -> tuple[int, bytes]:
        suffix = path.split("/v1", 1)[-1]
        request = urllib.request.Request(
            self.upstream + suffix, data=body, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                return answer.status, answer.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # quiet
                pass

            def _relay(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                status, data = recorder._forward(method, self.path, body)
                try:
                    answer = json.loads(data or b"null")
                except json.JSONDecodeError:
                    answer = {"text": data.decode(errors="replace")}
                with recorder._lock:
                    if self.path.rstrip("/").endswith("/chat/completions"):
                        request = json.loads(body or b"{}")
                        recorder.exchanges.append({"request": request, "status": status, "response": answer})
                    elif self.path.rstrip("/").endswith("/models"):
                        recorder.model = answer
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802
                self._relay("GET")

            def do_POST(self) -> None:  # noqa: N802
                self._relay("POST")

        return Handler


def load_recording(path: str | Path) -> dict[str, Any]:
    return json.loads(Path(path).read_text())


def reply_of(response: dict[str, Any]) -> Reply:
    """A recorded answer (its first choice) as a ScriptedServer reply: the same text, calls, finish reason
    and token counts."""
    message = response["choices"][0]["message"]
    calls = [
        {"name": c["function"]["name"], "arguments": c["function"]["arguments"], "id": c.get("id", "")}
        for c in message.get("tool_calls") or []
    ]
    usage = response.get("usage") or {}
    return Reply(
        content=message.get("content"),
        tool_calls=calls,
        finish_reason=response["choices"][0].get("finish_reason"),
        usage={k: usage[k] for k in ("prompt_tokens", "completion_tokens") if k in usage} or None,
    )


def recorded_scripts(recording: dict[str, Any]) -> list[list[Reply]]:
    """The recorded answers per conversation, in recorded order: scripts for `ConversationPolicy`, which
    replays them on any task. A request without an assistant message starts a conversation; a later one
    belongs to the conversation whose first answer it carries. The start-up probe is left out."""
    scripts: list[list[Reply]] = []
    for exchange in recording["exchanges"]:
        request = exchange["request"]
        if exchange["status"] != 200 or any(
            t.get("function", {}).get("name") == "swescale_probe" for t in request.get("tools") or []
        ):
            continue
        reply = reply_of(exchange["response"])
        first = next((m for m in request.get("messages", []) if m.get("role") == "assistant"), None)
        if first is None:
            scripts.append([reply])
            continue
        sent = (first.get("content") or "").strip()[:200]
        script = next(s for s in scripts if (s[0].content or "").strip()[:200] == sent)
        script.append(reply)
    return scripts
