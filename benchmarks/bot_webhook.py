"""Webhook acknowledgement latency: a signed delivery answered 202 (signature check, JSON parse, durable
dedupe record in SQLite with fsync, queueing) versus GET /healthz on the same server (HTTP alone).

The target is "202 at once": a delivery should cost a small multiple of a bare request, far below
GitHub's 10-second delivery timeout. Usage: python benchmarks/bot_webhook.py [--n 200]
"""

from __future__ import annotations

import argparse
import json
import socket
import tempfile
import threading
import time
import urllib.request
import uuid

import uvicorn
from sandbox_overhead import p50  # the same timing loop as the other benchmarks

from swescale.bot.server import BotServer, create_app
from swescale.bot.signature import sign
from swescale.config import load_config

SECRET = "benchmark-secret"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=200, help="requests timed per kind")
    args = parser.parse_args()
    state = tempfile.mkdtemp(prefix="swescale-bot-bench-")
    config = load_config(overrides=[f"bot.state_dir={state}", "bot.workers=0"])
    server = BotServer(config, SECRET, token="unused-token")
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    http = uvicorn.Server(uvicorn.Config(create_app(server), log_level="warning"))
    threading.Thread(target=http.run, kwargs={"sockets": [sock]}, daemon=True).start()
    while not http.started:
        time.sleep(0.05)
    # An outsider's comment: the whole receive path runs (signature, parse, association, durable record).
    body = json.dumps({
        "action": "created",
        "issue": {"number": 1, "title": "t", "body": "b"},
        "comment": {"id": 1, "body": "/swescale solve", "author_association": "NONE", "user": {"login": "x"}},
        "repository": {"full_name": "o/r", "clone_url": "", "default_branch": "main"},
        "sender": {"login": "x", "type": "User"},
    }).encode()  # fmt: skip
    headers = {"X-GitHub-Event": "issue_comment", "X-Hub-Signature-256": sign(SECRET, body)}

    def deliver() -> None:
        request = urllib.request.Request(
            f"{url}/webhook", data=body, headers={**headers, "X-GitHub-Delivery": str(uuid.uuid4())}
        )
        with urllib.request.urlopen(request) as answer:
            assert answer.status == 202

    def health() -> None:
        with urllib.request.urlopen(f"{url}/healthz") as answer:
            assert answer.status == 200

    deliver(), health()  # warm up
    health_p50 = p50(health, args.n)
    deliver_p50 = p50(deliver, args.n)
    http.should_exit = True
    print(f"GET /healthz p50: {health_p50 * 1000:.2f} ms")
    print(f"signed delivery -> 202 p50: {deliver_p50 * 1000:.2f} ms")
    print(f"ratio: {deliver_p50 / health_p50:.1f}x (delivery / health check)")


if __name__ == "__main__":
    main()
