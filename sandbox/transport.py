"""Talking JSON lines to the in-container exec server over the attached (multiplexed) stdio stream."""

from __future__ import annotations

import itertools
import json
import socket
import struct
import threading
from concurrent.futures import Future
from typing import Any

from sandbox.result import SandboxError

STDOUT, STDERR = 1, 2
STDERR_KEEP = 8192  # bytes of the server's stderr kept for error messages


class ServerChannel:
    """Requests go out as JSON lines on the container's stdin; a reader thread demultiplexes Docker's
    8-byte-header frames from stdout and resolves the future waiting for each answer's id."""

    def __init__(self, sock: Any) -> None:
        self._sock: socket.socket = getattr(sock, "_sock", sock)
        self._sock.settimeout(None)
        self._keepalive = sock  # keeps docker-py's response (and so the connection) alive
        self._send_lock = threading.Lock()
        self._pending: dict[int, Future] = {0: Future()}  # id 0 is the server's "ready" greeting
        self._pending_lock = threading.Lock()
        self._ids = itertools.count(1)
        self.stderr = b""
        self.closed: str | None = None
        self._reader = threading.Thread(target=self._read_loop, name="sandbox-reader", daemon=True)
        self._reader.start()

    def wait_ready(self, timeout: float) -> dict:
        return self._wait(0, self._pending[0], timeout)

    def request(self, payload: dict, timeout: float | None) -> dict:
        """Send one request and wait for its answer (raises SandboxError if the server dies or is silent)."""
        rid = next(self._ids)
        future: Future = Future()
        with self._pending_lock:
            if self.closed:
                raise SandboxError(f"exec server is gone: {self.closed}")
            self._pending[rid] = future
        data = (json.dumps({**payload, "id": rid}) + "\n").encode()
        try:
            with self._send_lock:
                self._sock.sendall(data)
        except OSError as exc:
            self._fail(f"send failed: {exc}")
        return self._wait(rid, future, timeout)

    def _wait(self, rid: int, future: Future, timeout: float | None) -> dict:
        try:
            return future.result(timeout)
        except TimeoutError as exc:
            raise SandboxError(f"exec server did not answer within {timeout}s") from exc
        finally:
            with self._pending_lock:
                self._pending.pop(rid, None)

    def close(self) -> None:
        self._fail("closed")
        try:
            self._sock.close()
        except OSError:
            pass

    def _fail(self, reason: str) -> None:
        with self._pending_lock:
            if not self.closed:
                self.closed = reason
            pending, self._pending = list(self._pending.values()), {}
        tail = self.stderr.decode(errors="replace").strip()
        for future in pending:
            if not future.done():
                future.set_exception(SandboxError(f"exec server is gone: {reason}\n{tail}".strip()))

    def _recv_exact(self, n: int) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            chunk = self._sock.recv(n - len(buf))
            if not chunk:
                raise EOFError
            buf += chunk
        return bytes(buf)

    def _read_loop(self) -> None:
        line_buf = bytearray()
        try:
            while True:
                stream, size = struct.unpack(">BxxxL", self._recv_exact(8))
                payload = self._recv_exact(size)
                if stream == STDERR:
                    self.stderr = (self.stderr + payload)[-STDERR_KEEP:]
                    continue
                line_buf += payload
                while (nl := line_buf.find(b"\n")) >= 0:
                    line, line_buf = bytes(line_buf[:nl]), line_buf[nl + 1 :]
                    self._dispatch(line)
        except (EOFError, OSError) as exc:
            self._fail(f"stream ended ({type(exc).__name__})")
        except Exception as exc:  # noqa: BLE001 - never let the reader die silently
            self._fail(f"reader crashed: {exc!r}")

    def _dispatch(self, line: bytes) -> None:
        try:
            answer = json.loads(line)
            rid = answer.get("id")
        except (ValueError, AttributeError):
            self.stderr = (self.stderr + b"unexpected stdout: " + line[:200] + b"\n")[-STDERR_KEEP:]
            return
        with self._pending_lock:
            future = self._pending.get(rid)
        if future is not None and not future.done():
            future.set_result(answer)
