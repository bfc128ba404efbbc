"""`swescale inspect --serve`: the inspector page of a live run on a loopback port. The page is rebuilt on
each load and polls `/version` (the run's files' sizes and modification times); when a trajectory or a
table is saved, it reloads, keeping its view (the URL hash)."""

from __future__ import annotations

import hashlib
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from swescale.inspect.page import build_page

WATCHED = (".json", ".jsonl", ".sqlite", ".sqlite-wal")
LOOPBACK = "127.0.0.1"


def version(run_dir: Path) -> str:
    """A digest of the run's data files' sizes and modification times (git work trees inside are skipped)."""
    digest = hashlib.sha256()
    for root, dirs, names in os.walk(run_dir):
        dirs[:] = sorted(
            d for d in dirs if not d.startswith(".") and not os.path.exists(os.path.join(root, d, ".git"))
        )
        for name in sorted(names):
            if name.endswith(WATCHED) and not name.startswith("."):
                stat = os.stat(os.path.join(root, name))
                digest.update(f"{root}/{name}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def make_server(run_dir: Path, port: int = 0, full: bool = False) -> ThreadingHTTPServer:
    """A server for `run_dir` on 127.0.0.1:`port` (0: any free port); call `serve_forever()`."""
    run_dir = Path(run_dir)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            path = self.path.split("?")[0]
            if path == "/":
                body, kind = build_page(run_dir, full=full, live=True).encode(), "text/html; charset=utf-8"
            elif path == "/version":
                body, kind = version(run_dir).encode(), "text/plain"
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Cache-Control", "no-store")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet
            pass

    return ThreadingHTTPServer((LOOPBACK, port), Handler)
