"""No leaks: a registry of live sandboxes, removed at exit and on SIGINT/SIGTERM, and gc of containers
whose owner is provably gone (sandbox/owner.py)."""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import signal
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, wait
from typing import Any, Protocol

import docker

from sandbox import owner
from sandbox.result import SandboxError

log = logging.getLogger(__name__)

LABEL = "swescale"


class _Closable(Protocol):
    def close(self) -> None: ...


_live: dict[int, _Closable] = {}
_lock = threading.RLock()  # re-entrant: a signal handler may run while the main thread holds it
_atexit_installed = False
_signals_installed = False
_gc_done = False
_closing = False  # clean-up at exit or on a signal began: a sandbox registered now is removed at once
_creating: dict[int, int] = {}  # thread id -> containers it is creating and has not registered yet
CLOSE_WAIT = 10.0  # seconds clean-up waits for other threads' containers being created
STOP_WAIT = 30.0  # seconds an interrupted run waits for its threads once their sandboxes are removed


def owner_labels() -> dict[str, str]:
    """Labels every sandbox of this process carries: the swescale mark and its owner (sandbox/owner.py)."""
    return {LABEL: "1", **owner.owner_labels()}


@contextlib.contextmanager
def creating() -> Iterator[None]:
    """Around creating a container and registering its sandbox, so clean-up that has begun waits for it
    (a container another thread is creating while a signal's clean-up runs would outlive the process)."""
    me = threading.get_ident()
    with _lock:
        if _closing:
            raise SandboxError("shutting down: no new sandboxes")
        _creating[me] = _creating.get(me, 0) + 1
    try:
        yield
    finally:
        with _lock:
            _creating[me] -= 1
            if not _creating[me]:
                del _creating[me]


def shutting_down() -> bool:
    """Has clean-up at exit or on a signal begun (no new sandboxes, every live one being removed)?"""
    with _lock:
        return _closing


def register(sandbox: _Closable) -> None:
    """Track a sandbox until it closes; once clean-up has begun, close it at once (SandboxError)."""
    with _lock:
        _live[id(sandbox)] = sandbox
        closing = _closing
    ensure_atexit()
    if closing:
        with contextlib.suppress(Exception):
            sandbox.close()
        raise SandboxError("shutting down: sandbox removed")


def unregister(sandbox: _Closable) -> None:
    with _lock:
        _live.pop(id(sandbox), None)


def close_all() -> None:
    """Remove every live sandbox of this process, and those other threads are creating meanwhile (for up
    to CLOSE_WAIT seconds); from now on new sandboxes are refused."""
    global _closing
    me = threading.get_ident()
    deadline = time.monotonic() + CLOSE_WAIT
    tried: set[int] = set()
    with _lock:
        _closing = True
    while True:
        with _lock:
            sandboxes = [s for key, s in _live.items() if key not in tried]
            pending = any(thread != me for thread in _creating)
        for sandbox in sandboxes:
            tried.add(id(sandbox))
            with contextlib.suppress(Exception):
                sandbox.close()
        if not sandboxes and (not pending or time.monotonic() > deadline):
            return
        if not sandboxes:
            time.sleep(0.05)


def stop_work(futures: Iterable[Future], timeout: float = STOP_WAIT) -> bool:
    """Ctrl-C of work running in threads (image builds, bench instances), in a bounded time: queued futures
    are cancelled; new sandboxes are refused from now on and live ones removed, so the commands and builds
    in flight fail at once; then the running futures get `timeout` seconds to end. Returns whether they did
    (a thread still blocked in a Docker call ends with that call's own timeout). Afterwards sandboxes may
    start again: the process may go on (the library API after a KeyboardInterrupt)."""
    global _closing
    running = [future for future in futures if not future.cancel() and not future.done()]
    close_all()
    _, late = wait(running, timeout=timeout)
    if late:
        log.warning("%d interrupted tasks still running after %.0f s", len(late), timeout)
    with _lock:
        _closing = False
    return not late


def _chain(signum: int, previous: Any):
    def handler(sig: int, frame: Any) -> None:
        global _closing
        close_all()
        if callable(previous):  # e.g. KeyboardInterrupt: the process may go on and start sandboxes again
            with _lock:
                _closing = False
            previous(sig, frame)
        else:  # SIG_DFL (or unknown): restore the default action and re-raise
            signal.signal(sig, signal.SIG_DFL)
            os.kill(os.getpid(), sig)

    return handler


def ensure_atexit() -> None:
    """Once per process: remove every live sandbox at interpreter exit."""
    global _atexit_installed
    with _lock:
        if not _atexit_installed:
            atexit.register(close_all)
            _atexit_installed = True


def install_signal_handlers() -> None:
    """SIGINT/SIGTERM remove every live sandbox, then act as before. Called by entry points (the CLI),
    never by library code; only possible in the main thread. A signal the process ignores stays ignored
    (a shell starts background jobs with SIGINT ignored: a Ctrl-C meant for the shell must not remove
    the sandboxes of a run that goes on)."""
    global _signals_installed
    ensure_atexit()
    with _lock:
        if _signals_installed or threading.current_thread() is not threading.main_thread():
            return
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous = signal.getsignal(signum)
            if previous is None or previous == signal.SIG_IGN:  # set outside Python, or ignored: leave it
                continue
            signal.signal(signum, _chain(signum, previous))
        _signals_installed = True


def owner_alive(labels: dict[str, str]) -> bool:
    """Is the owner named by these labels (`owner_labels()`) possibly alive (not provably gone)?"""
    return not owner.owner_gone(labels)


def gc(all_owners: bool = False, client: docker.DockerClient | None = None) -> list[str]:
    """Remove swescale containers whose owner is provably gone (sandbox/owner.py: lease expired, or dead in
    our PID namespace); with `all_owners`: every swescale container, live owners and other hosts included.
    Returns the removed container ids."""
    client = client or docker.from_env()
    leases = {} if all_owners else owner.read_leases()
    removed = []
    # The low-level list carries the labels, so no per-container inspect can race a concurrent removal.
    for info in client.api.containers(all=True, filters={"label": f"{LABEL}=1"}):
        if all_owners or owner.owner_gone(info.get("Labels") or {}, leases):
            try:
                client.api.remove_container(info["Id"], force=True)
                removed.append(info["Id"])
            except docker.errors.NotFound:
                pass
            except docker.errors.APIError as exc:
                if "already in progress" not in str(exc):
                    log.warning("could not remove sandbox container %s: %s", info["Id"][:12], exc)
    return removed


def gc_once(client: docker.DockerClient) -> None:
    """The first sandbox start of a process removes containers left by killed processes on this host."""
    global _gc_done
    with _lock:
        if _gc_done:
            return
        _gc_done = True
    try:
        removed = gc(client=client)
        if removed:
            log.info("removed %d sandbox containers of dead processes", len(removed))
    except docker.errors.DockerException as exc:
        log.warning("sandbox gc failed: %s", exc)
