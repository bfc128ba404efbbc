"""The state file of a running `swescale serve` (`<state_dir>/state.json`), and ending one from outside.

It holds the supervisor's pid, its phase (starting, ready, stopping) and per replica its URL, pid,
process group, status (starting, up, down, failed) and restarts.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import tempfile
import time
from pathlib import Path

from swescale.serve.replica import group_alive, kill_group

STATE = "state.json"


def write_state(state_dir: Path, data: dict) -> None:
    state_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".state.", dir=state_dir)
    with os.fdopen(fd, "w") as fh:
        json.dump({**data, "updated": time.time()}, fh, indent=1)
    os.replace(tmp, state_dir / STATE)


def read_state(state_dir: Path) -> dict | None:
    try:
        return json.loads((Path(state_dir) / STATE).read_text())
    except (OSError, json.JSONDecodeError):
        return None


def remove_state(state_dir: Path) -> None:
    (Path(state_dir) / STATE).unlink(missing_ok=True)


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def live_groups(state: dict) -> list[int]:
    """Process groups of the state's replicas that still have a process."""
    return [r["pgid"] for r in state.get("replicas", []) if r.get("pgid") and group_alive(r["pgid"])]


def live_state(state_dir: Path) -> dict | None:
    """The state of a serve whose supervisor or replicas still run (a stale file is None)."""
    state = read_state(state_dir)
    if state is None:
        return None
    if pid_alive(state.get("pid")) or live_groups(state):
        return state
    return None


def stop_serve(state_dir: Path, timeout: float = 60.0) -> dict | None:
    """Stop a running serve: SIGTERM its supervisor and wait; then end any replica group still alive
    (e.g. after the supervisor was killed with -9). Returns the state it stopped, None if none ran."""
    state = live_state(state_dir)
    if state is None:
        remove_state(state_dir)
        return None
    pid = state.get("pid")
    if pid_alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
    for pgid in live_groups(state):
        kill_group(pgid, timeout=10)
    remove_state(state_dir)
    return state
