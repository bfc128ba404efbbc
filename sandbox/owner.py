"""Who owns a sandbox container, told apart across PID namespaces: a random id per process and a lease it
renews.

A pid means something only in its PID namespace: a process in a container with host networking (Ray
workers, CI runners) shares the host's name but not its pids, so a pid check from outside calls it dead.
Each owning process therefore gets a random id (a new one after a fork), written on its containers with
its kernel (boot id) and PID namespace, and a row in a host-wide lease file (`leases_path()`, through
`sandbox.store`) whose expiry a daemon thread pushes forward every `RENEW_EVERY` seconds. An owner is
provably gone when its lease expired (or was given up at exit), or, in the judge's own PID namespace of
the same kernel, when its pid is dead or reused. Anything else (a lease file the judge cannot see, an
owner on another kernel) counts as alive. Processes in containers share their leases by mounting one
file at `$SWESCALE_SANDBOX_LEASES`.
"""

from __future__ import annotations

import atexit
import logging
import os
import socket
import threading
import time
import uuid
from pathlib import Path

from sandbox.store import DatabaseError, Store

log = logging.getLogger(__name__)

OWNER_LABEL = "swescale.owner"
"""`host:pid` of the owner (for people reading `docker ps`; the pid is the owner's own namespace's)."""
OWNER_START_LABEL = "swescale.owner_start"
OWNER_ID_LABEL = "swescale.owner_id"
PIDNS_LABEL = "swescale.owner_pidns"
"""`<boot id>/<pid namespace>`: a pid check means something only where this is the judge's own."""

RENEW_EVERY = 10.0  # seconds between renewals of the lease
LEASE_SECONDS = 60.0  # a lease not renewed for this long has expired: the owner is gone
FORGET_AFTER = 7 * 86400.0  # expired leases are deleted this long after their expiry
LEASES_ENV = "SWESCALE_SANDBOX_LEASES"

MIGRATIONS = [
    "CREATE TABLE leases (owner TEXT PRIMARY KEY, pidns TEXT NOT NULL, pid INTEGER NOT NULL,"
    " expires REAL NOT NULL)"
]


def leases_path() -> Path:
    """The host-wide lease file: `$SWESCALE_SANDBOX_LEASES`, else ~/.cache/swescale/sandbox-leases.sqlite."""
    return Path(os.environ.get(LEASES_ENV) or Path.home() / ".cache" / "swescale" / "sandbox-leases.sqlite")


def open_leases() -> Store:
    return Store(leases_path(), MIGRATIONS, synchronous="NORMAL", busy_timeout=10.0)


def proc_start(pid: int) -> str:
    """Start time of a process (clock ticks since boot), to tell a live owner from a reused pid."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[19].decode()
    except (OSError, IndexError):
        return ""


def pid_namespace() -> str:
    """This process's kernel boot and PID namespace: equal strings mean the same pids."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        return f"{boot}/{os.readlink('/proc/self/ns/pid')}"
    except OSError:
        return ""


class Lease:
    """This process's owner id and its lease, renewed by a daemon thread from the first `labels()` on."""

    def __init__(self) -> None:
        self.owner = uuid.uuid4().hex
        self.pid = os.getpid()
        self.pidns = pid_namespace()
        self._store: Store | None = None
        self._started = False
        self._stop = threading.Event()
        self._lock = threading.Lock()

    def labels(self) -> dict[str, str]:
        """The owner labels of a new container; the lease is taken (and renewed from now on)."""
        self._start()
        return {
            OWNER_LABEL: f"{socket.gethostname()}:{self.pid}",
            OWNER_START_LABEL: proc_start(self.pid),
            OWNER_ID_LABEL: self.owner,
            PIDNS_LABEL: self.pidns,
        }

    def _start(self) -> None:
        with self._lock:
            if self._started:
                return
            self._started = True
        self._renew()  # before the first container exists: gc elsewhere never sees it without a lease
        threading.Thread(target=self._keep, name="sandbox-lease", daemon=True).start()
        atexit.register(self.release)

    def _write(self, expires: float) -> None:
        if self._store is None:
            self._store = open_leases()
        self._store.execute(
            "INSERT OR REPLACE INTO leases VALUES (?, ?, ?, ?)", (self.owner, self.pidns, self.pid, expires)
        )

    def _renew(self) -> None:
        try:
            self._write(time.time() + LEASE_SECONDS)
        except (OSError, DatabaseError) as exc:  # no lease: only a pid check in our namespace judges us
            log.warning("sandbox lease in %s not renewed: %s", leases_path(), exc)

    def _keep(self) -> None:
        while not self._stop.wait(RENEW_EVERY):
            self._renew()

    def release(self) -> None:
        """At exit: the lease expires now (sandboxes left behind by a failed removal are anyone's to gc)."""
        self._stop.set()
        try:
            self._write(time.time())
        except (OSError, DatabaseError):
            pass


_lease: Lease | None = None
_lease_lock = threading.Lock()


def current() -> Lease:
    """This process's lease (a forked child gets its own)."""
    global _lease
    with _lease_lock:
        if _lease is None or _lease.pid != os.getpid():
            _lease = Lease()
        return _lease


def owner_labels() -> dict[str, str]:
    """Labels naming this process as the owner of a container."""
    return current().labels()


def read_leases() -> dict[str, float]:
    """Every known owner id and its lease's expiry (empty when the file cannot be read); leases expired
    long ago are deleted."""
    try:
        with open_leases() as store:
            store.execute("DELETE FROM leases WHERE expires < ?", (time.time() - FORGET_AFTER,))
            return {
                row["owner"]: row["expires"] for row in store.execute("SELECT owner, expires FROM leases")
            }
    except (OSError, DatabaseError) as exc:
        log.warning("sandbox leases in %s unreadable: %s", leases_path(), exc)
        return {}


def _pid_gone(labels: dict[str, str]) -> bool:
    """The pid check, meaningful only in the owner's own PID namespace: dead, or reused by another process."""
    _, _, pid_text = labels.get(OWNER_LABEL, "").rpartition(":")
    if not pid_text.isdigit():
        return False
    pid = int(pid_text)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass
    start = labels.get(OWNER_START_LABEL)
    return bool(start) and proc_start(pid) not in ("", start)


def owner_gone(labels: dict[str, str], leases: dict[str, float] | None = None) -> bool:
    """Is the owner named by these labels provably gone? `leases`: `read_leases()`, read once by a caller
    judging many containers."""
    owner = labels.get(OWNER_ID_LABEL)
    if not owner:
        # A container of an older swescale names no PID namespace, so its pid proves nothing here: from
        # another namespace (a process in a container, `unshare`) a live owner looks dead, and removing its
        # sandboxes mid-run is what this module exists to prevent. Only `gc --all` removes these.
        return False
    expires = (read_leases() if leases is None else leases).get(owner)
    if expires is not None and expires < time.time():
        return True
    here = pid_namespace()
    return bool(here) and labels.get(PIDNS_LABEL) == here and _pid_gone(labels)
