"""A git smart-HTTP server on loopback (`git http-backend` under wsgiref) that demands Basic auth with
one token, so pushes and fetches prove the token reached git, and only through the credential helper."""

from __future__ import annotations

import base64
import os
import socketserver
import subprocess
import threading
from pathlib import Path
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args) -> None:
        pass


class _Threading(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


class GitHttpServer:
    """Serves the bare repositories under `root` at http://127.0.0.1:PORT/<name>.git."""

    def __init__(self, root: Path, token: str):
        self.root, self.token = Path(root), token
        self.authorizations: list[str] = []
        self._server = make_server("127.0.0.1", 0, self._app, server_class=_Threading, handler_class=_Quiet)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _app(self, environ, start_response):
        auth = environ.get("HTTP_AUTHORIZATION", "")
        self.authorizations.append(auth)
        expected = "Basic " + base64.b64encode(f"x-access-token:{self.token}".encode()).decode()
        if auth != expected:
            start_response("401 Unauthorized", [("WWW-Authenticate", 'Basic realm="git"')])
            return [b"authentication required\n"]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        cgi_env = {
            "PATH": os.environ.get("PATH", ""),
            "GIT_PROJECT_ROOT": str(self.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "REMOTE_USER": "x-access-token",
            "REQUEST_METHOD": environ["REQUEST_METHOD"],
            "PATH_INFO": environ.get("PATH_INFO", ""),
            "QUERY_STRING": environ.get("QUERY_STRING", ""),
            "CONTENT_TYPE": environ.get("CONTENT_TYPE", ""),
            "CONTENT_LENGTH": str(len(body)),
            "HTTP_CONTENT_ENCODING": environ.get("HTTP_CONTENT_ENCODING", ""),
            "GIT_HTTP_MAX_REQUEST_BUFFER": "100M",
        }
        proc = subprocess.run(["git", "http-backend"], input=body, env=cgi_env, capture_output=True)
        head, _, payload = proc.stdout.partition(b"\r\n\r\n")
        headers, status = [], "200 OK"
        for line in head.decode().split("\r\n"):
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = value.strip()
            elif name:
                headers.append((name, value.strip()))
        start_response(status, headers)
        return [payload]

    def __enter__(self) -> GitHttpServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
