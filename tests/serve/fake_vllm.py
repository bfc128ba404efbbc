"""Stand-in for the `vllm` executable: a test double at the process boundary (we do not own vLLM).

`vllm serve MODEL --host H --port P --served-model-name NAME ...` records its command line and
CUDA_VISIBLE_DEVICES, starts a child process (like vLLM's engine core, so stopping must end the whole
process group), then serves the scripted OpenAI-compatible server on H:P under NAME, plus `/health` and a
vLLM-like Prometheus `/metrics` (prefix-cache queries and hits computed from the prompts it saw).

Environment knobs:
  FAKE_VLLM_RECORD        file: one JSON line per start ({"argv", "cuda", "pid"})
  FAKE_VLLM_SCRIPTS       JSON file {"scripts": [[reply, ...], ...]}: the agent conversations (one script
                          per trajectory, shared by all replicas); judge prompts get the demo's YES verdict
  FAKE_VLLM_COUNTER       file holding the replicas' shared "next script" counter
  FAKE_VLLM_LOAD_SECONDS  seconds of "model loading" before the port opens
  FAKE_VLLM_FAIL          print this as an error and exit 1 instead of serving (a bad flag, no memory)
  FAKE_VLLM_NO_TOOLS      1: answer tool requests with plain text (a server without a parser)
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from swescale.demo.policies import PROBE_TOOL, ConversationPolicy, Reply, Router, system_contains
from swescale.demo.replay import DATA, JudgeReplay
from swescale.demo.scripted_server import ScriptedServer

JUDGE = "You are a patch verifier"


class SharedConversationPolicy(ConversationPolicy):
    """ConversationPolicy whose "next unused script" counter is a file shared by every replica."""

    def __init__(self, scripts, counter: Path):
        super().__init__(scripts)
        self.counter = counter

    def __call__(self, request: dict) -> Reply:
        with self.counter.open("a+") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            fh.seek(0)
            self.started = int(fh.read() or 0)
            reply = super().__call__(request)
            fh.seek(0)
            fh.truncate()
            fh.write(str(self.started))
        return reply


def probe_policy(request: dict) -> Reply:
    """Start-up requests: the tool-format probe (native), its text-format form, the judge's smoke request."""
    names = [t.get("function", {}).get("name") for t in request.get("tools") or []]
    system = "".join(str(m.get("content")) for m in request.get("messages", []) if m.get("role") == "system")
    if os.environ.get("FAKE_VLLM_NO_TOOLS") == "1" and (names or system):
        return Reply(content="I would call a tool, but I cannot.")
    if PROBE_TOOL in names:
        return Reply(tool_calls=[{"name": PROBE_TOOL, "arguments": {}}])
    if PROBE_TOOL in system:
        return Reply(content=f"<function={PROBE_TOOL}>\n</function>")
    return Reply(content="YES")


def is_probe(request: dict) -> bool:
    text = json.dumps(request.get("messages", [])) + json.dumps(request.get("tools", []))
    return PROBE_TOOL in text


def make_policy() -> Router:
    session = json.loads((DATA / "session.json").read_text())
    judge = JudgeReplay([{"match": "", "reply": session["judge"][0]["reply"]}])
    routes = [(is_probe, probe_policy), (system_contains(JUDGE), judge)]
    scripts_file = os.environ.get("FAKE_VLLM_SCRIPTS")
    scripts = json.loads(Path(scripts_file).read_text())["scripts"] if scripts_file else []
    counter = Path(os.environ.get("FAKE_VLLM_COUNTER") or f"/tmp/fake-vllm-counter-{os.getpid()}")
    return Router(routes, default=SharedConversationPolicy(scripts, counter))


class FakeVllm(ScriptedServer):
    """ScriptedServer plus /health and /metrics, counting what vLLM's Prometheus endpoint would."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.prompts: list[str] = []
        self.counts = {"running": 0, "queries": 0, "hits": 0, "generation": 0, "prompt": 0}

    def _complete(self, body: dict):
        prompt = json.dumps(body.get("messages", []))
        with self._lock:
            self.counts["running"] += 1
        try:
            status, payload = super()._complete(body)
        finally:
            with self._lock:
                self.counts["running"] -= 1
        if status == 200:
            with self._lock:
                tokens = len(prompt) // 4
                best = max((len(os.path.commonprefix([prompt, p])) for p in self.prompts), default=0)
                self.prompts.append(prompt)
                self.counts["queries"] += tokens
                self.counts["hits"] += min(best // 4, tokens)
                self.counts["prompt"] += tokens
                self.counts["generation"] += payload["usage"]["completion_tokens"]
        print(f"chat {status} {body.get('model')}", flush=True)
        return status, payload

    def metrics_text(self) -> str:
        c, label = self.counts, f'{{engine="0",model_name="{self.model}"}}'
        lines = []
        for name, kind, value in (
            ("vllm:num_requests_running", "gauge", c["running"]),
            ("vllm:num_requests_waiting", "gauge", 0),
            ("vllm:prefix_cache_queries", "counter", c["queries"]),
            ("vllm:prefix_cache_hits", "counter", c["hits"]),
            ("vllm:generation_tokens", "counter", c["generation"]),
            ("vllm:prompt_tokens", "counter", c["prompt"]),
        ):
            sample = f"{name}_total" if kind == "counter" else name
            lines += [f"# HELP {name} {name}", f"# TYPE {name} {kind}", f"{sample}{label} {float(value)}"]
        return "\n".join(lines) + "\n"

    def _handler_class(self):
        base = super()._handler_class()
        server = self

        class Handler(base):
            def do_GET(self) -> None:  # noqa: N802
                if self.path == "/health":
                    self._send_raw(200, b"", "text/plain")
                elif self.path == "/metrics":
                    self._send_raw(200, server.metrics_text().encode(), "text/plain; version=0.0.4")
                else:
                    super().do_GET()

            def _send_raw(self, status: int, data: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="vllm")
    parser.add_argument("command", choices=["serve"])
    parser.add_argument("model")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--served-model-name", default=None)
    args, _ = parser.parse_known_args(argv)
    record = os.environ.get("FAKE_VLLM_RECORD")
    if record:
        entry = {"argv": ["vllm", *argv], "cuda": os.environ.get("CUDA_VISIBLE_DEVICES"), "pid": os.getpid()}
        with open(record, "a") as fh:
            fh.write(json.dumps(entry) + "\n")
    print(f"INFO fake vllm {os.getpid()} loading {args.model}", flush=True)
    engine = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"])  # the "engine core"
    time.sleep(float(os.environ.get("FAKE_VLLM_LOAD_SECONDS") or 0))
    if os.environ.get("FAKE_VLLM_FAIL"):
        print(f"ERROR {os.environ['FAKE_VLLM_FAIL']}", flush=True)
        engine.kill()
        return 1
    server = FakeVllm(
        make_policy(), model=args.served_model_name or args.model, host=args.host, port=args.port
    )
    print(f"INFO serving on http://{args.host}:{args.port}", flush=True)
    threading.Thread(target=engine.wait, daemon=True).start()
    server._httpd.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
