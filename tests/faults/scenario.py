"""The fault-injection scenarios of `tests/faults` and `benchmarks/faults.py`: a `swescale bench run
--workers 2 --evaluate` over tasks on the demo repository, the model the scripted server, faults caused
for real while it runs, then the same command again until every instance is settled.

One instance per fault (the fault fires once, on that instance's trajectory):

| instance | fault |
| --- | --- |
| f-rm | its sandbox container is removed (`docker rm -f`) after the trajectory's first command |
| f-kill | the exec server inside its container is killed (`kill -9`) after the first command |
| f-500 | the model server answers 500 three times, then hangs past the client's timeout, then answers |
| f-lock | another process holds a write transaction on the verifier cache (`BEGIN IMMEDIATE`) for longer
  than its busy timeout, from the instance's first request |
| f-grade | its grading raises (the grading folder is a file) in the first run; the fault is gone after |
| f-disk | its second command writes without end (up to a safety cap far past `sandbox.disk_limit`) |

and the driver is killed with SIGKILL once f-rm and f-kill are done and another instance is running.

The dockerd scenario (`dockerd=`, a private daemon of `tests/faults/dockerd.py`, never the host's engine):
f-dockerd's trajectory has the daemon killed (SIGKILL) after its first command and started again with the
same arguments `DOCKERD_DOWN` seconds later, while d-1 (the other worker) runs; d-2 waits in the queue.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
from bench_scripts import COMMON, SCRIPTS, instance_rows, make_dataset, marker, spawn, statuses, wait_for
from pipeline_scripts import bash

from swescale.bench.state import instance_dir
from swescale.demo.scripted_server import Reply, ScriptedServer

CASES = {i: "right" for i in ("f-rm", "f-kill", "f-500", "f-lock", "f-grade", "f-disk")}
FAULTS = ("kill -9 of the driver", *CASES)
DOCKERD_CASES = {i: "right" for i in ("f-dockerd", "d-1", "d-2")}
DOCKERD_FAULTS = ("f-dockerd",)
DOCKERD_DOWN = 3.0
"""Seconds the private daemon stays down before it is started again (its start may take ~10 s more:
it stops the containers the killed daemon left running)."""
DISK_LIMIT = "256m"
FILL = "dd if=/dev/zero of=/tmp/fill bs=1M count=3072 status=none; echo exit=$?"
"""The runaway write: 3 GB, a safety cap (12 times the limit) should the watchdog fail."""
DISK_NOTE = "disk limit of 256 MB was reached"
LOCK_SECONDS = 40.0
"""How long the verifier cache stays locked: more than the cache's busy timeout (30 s)."""
HANG_SECONDS = 8.0
OVERRIDES = [
    *COMMON,
    "model.retries=5",
    "model.backoff=0.2",
    "model.timeout=4",  # a hanging answer costs 4 s
    "solve.sandbox_backoff=0.5",
    "bench.status_interval=3600",
    f"sandbox.disk_limit={DISK_LIMIT}",
]
KILL_SERVER = (  # the pattern does not match this shell's own command line
    'for p in /proc/[0-9]*; do grep -qa "exec_serve[r]" "$p/cmdline" && kill -9 "${p#/proc/}"; done; true'
)
HOLD_LOCK = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
db.execute("ROLLBACK")
"""


@dataclass
class Outcome:
    """What a scenario run left, for the test's assertions and the benchmark's table."""

    run_dir: Path
    seconds: float
    fired: list[str] = field(default_factory=list)
    rows: dict[str, dict] = field(default_factory=dict)
    predictions: list[dict] = field(default_factory=list)
    trajectories: dict[str, Counter] = field(default_factory=dict)
    """Per instance: exit statuses of every trajectory attempt recorded."""
    verification_retries: dict[str, list[str]] = field(default_factory=dict)
    """Per instance: the first errors of verifications that ran again (verifier tables' meta)."""
    observations: dict[str, str] = field(default_factory=dict)
    """Per instance: what the agent was told after the command its fault hit (f-disk)."""
    docker_restarts: int = 0
    containers_left: list[str] = field(default_factory=list)
    runs: int = 0
    killed: bool = False


class FaultPolicy:
    """The scripted model of the scenario: every instance gets the right fix, its first reply a command
    that leaves a marker file in the sandbox (so its container can be found); the fault of the instance
    fires once, as its trajectory's second request arrives (the marker written)."""

    def __init__(self, cases: dict[str, str], inject: bool, lock_file: Path, dockerd: Any = None):
        self.cases, self.inject, self.lock_file, self.dockerd = cases, inject, lock_file, dockerd
        self.tag = uuid.uuid4().hex[:12]
        self.fired: list[str] = []
        self.failures = Counter[str]()
        self.observations: dict[str, str] = {}
        self._lock = threading.Lock()
        self.holder: subprocess.Popen | None = None
        self.restart: threading.Thread | None = None

    def marker_file(self, iid: str) -> str:
        return f"/tmp/swescale-fault-{self.tag}-{iid}"

    def _instance(self, request: dict) -> str | None:
        text = "\n".join(str(m.get("content") or "") for m in request["messages"] if m["role"] == "user")
        return next((iid for iid in self.cases if marker(iid) in text), None)

    def _fire(self, iid: str) -> bool:
        with self._lock:
            if not self.inject or iid in self.fired:
                return False
            self.fired.append(iid)
            return True

    def __call__(self, request: dict) -> Reply:
        iid = self._instance(request)
        if iid is None:
            return Reply(content="NO")
        step = sum(1 for m in request["messages"] if m["role"] == "assistant")
        script = [
            bash(f"touch {self.marker_file(iid)}", "Start."),
            *own_repro(SCRIPTS[self.cases[iid]][0], iid),
        ]
        if iid == "f-disk":
            if step == 1 and self.inject and iid not in self.fired:
                self._fire(iid)
                return Reply.of(bash(FILL, "Make a large scratch file."))
            if step == 2 and iid in self.fired:
                self.observations[iid] = str(request["messages"][-1].get("content") or "")
                return Reply.of(bash("rm -f /tmp/fill", "Remove it again."))
            step -= 2 if iid in self.fired and step > 2 else 0
        if iid == "f-500" and self.inject and iid not in self.fired:
            with self._lock:
                self.failures[iid] += 1
                count = self.failures[iid]
            if count <= 3:
                return Reply(status=500)
            self._fire(iid)
            return Reply.of({**script[step], "delay": HANG_SECONDS})
        if iid == "f-lock" and step == 0 and self._fire(iid):
            self.holder = hold_lock(self.lock_file, LOCK_SECONDS)
        if iid in ("f-rm", "f-kill") and step == 1 and self._fire(iid):
            break_sandbox(self.marker_file(iid), remove=iid == "f-rm")
        if iid == "f-dockerd" and step == 1 and self._fire(iid):
            self.dockerd.kill(signal.SIGKILL)  # mid-run: the sandboxes' exec sessions are cut now
            self.restart = threading.Thread(target=self._restart_dockerd, name="dockerd-restart")
            self.restart.start()
        if step >= len(script):
            return Reply.of({"content": "Done.", "tool_calls": [{"name": "submit", "arguments": {}}]})
        return Reply.of(script[step])

    def _restart_dockerd(self) -> None:
        time.sleep(DOCKERD_DOWN)
        self.dockerd.start()  # the same arguments


def own_repro(script: list[dict], iid: str) -> list[dict]:
    """The script with a reproduction test of the instance's own (a comment naming it), so that each
    instance's verification runs (and writes to the verifier cache) instead of reusing another's."""
    out = []
    for reply in script:
        for call in reply.get("tool_calls", []):
            if (
                call["arguments"].get("path", "").endswith("reproduce_issue.py")
                and "file_text" in call["arguments"]
            ):
                arguments = {**call["arguments"], "file_text": call["arguments"]["file_text"] + f"# {iid}\n"}
                reply = {**reply, "tool_calls": [{**call, "arguments": arguments}]}
        out.append(reply)
    return out


def break_sandbox(marker_file: str, remove: bool) -> None:
    """Remove the container holding `marker_file`, or kill -9 the exec server inside it."""
    client = docker.from_env()
    for container in client.containers.list(filters={"label": "swescale=1"}):
        if container.exec_run(["test", "-f", marker_file]).exit_code != 0:
            continue
        if remove:
            container.remove(force=True)
        else:
            container.exec_run(["sh", "-c", KILL_SERVER])
        return
    raise AssertionError(f"no sandbox holds {marker_file}")


def hold_lock(path: Path, seconds: float) -> subprocess.Popen:
    """Another process holding a write transaction on the SQLite file `path` for `seconds`."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(path), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    return holder


def _trajectory_statuses(run_dir: Path, iid: str) -> Counter:
    path = instance_dir(run_dir, iid) / "trajectories.jsonl"
    lines = path.read_text().splitlines() if path.exists() else []
    return Counter(json.loads(line)["exit_status"] for line in lines if line.strip())


def _verification_retries(run_dir: Path, iid: str) -> list[str]:
    tables = sorted(instance_dir(run_dir, iid).glob("gen*/**/verifier_table.json"))
    return [
        e for t in tables for e in json.loads(t.read_text())["meta"].get("verification_retries", {}).values()
    ]


def _containers(pids: list[int]) -> list[str]:
    import socket

    client = docker.from_env()
    owners = {f"{socket.gethostname()}:{pid}" for pid in pids}
    return [
        c.name
        for c in client.containers.list(all=True, filters={"label": "swescale=1"})
        if c.labels.get("swescale.owner") in owners
    ]


@contextlib.contextmanager
def docker_host(host: str | None) -> Iterator[None]:
    """DOCKER_HOST set to `host` for this process and the commands it starts (None: left as it is)."""
    before = os.environ.get("DOCKER_HOST")
    if host is not None:
        os.environ["DOCKER_HOST"] = host
    try:
        yield
    finally:
        if host is not None:
            os.environ.pop("DOCKER_HOST", None)
            if before is not None:
                os.environ["DOCKER_HOST"] = before


def run_scenario(
    root: Path, repo: Path, inject: bool = True, timeout: float = 600, dockerd: Any = None
) -> Outcome:
    """The scenario in `root` (faults when `inject`); runs the command until nothing is left to do. With
    `dockerd` (a started `PrivateDockerd` holding the images), the dockerd scenario on that daemon."""
    with docker_host(dockerd.host if dockerd is not None else None):
        return _run(root, repo, inject, timeout, dockerd)


def _run(root: Path, repo: Path, inject: bool, timeout: float, dockerd: Any) -> Outcome:
    from verifiers.cache import SqliteCache

    cases = DOCKERD_CASES if dockerd is not None else CASES
    dataset = make_dataset(root, repo, cases)
    run_dir, cache_dir = root / "run", root / "cache"
    cache_dir.mkdir(parents=True, exist_ok=True)
    lock_file = cache_dir / "verifier_cache.sqlite"
    SqliteCache(lock_file, "")._store.close()  # the file and its schema exist before anyone locks it
    policy = FaultPolicy(cases, inject, lock_file, dockerd)
    grade_fault = instance_dir(run_dir, "f-grade") / "eval"
    if inject and "f-grade" in cases:
        grade_fault.parent.mkdir(parents=True)
        grade_fault.write_text("a file where the grading writes its folder\n")
    started = time.monotonic()
    outcome = Outcome(run_dir=run_dir, seconds=0.0)
    pids: list[int] = []
    with ScriptedServer(policy) as server:
        args = ["bench", "run", "--dataset", str(dataset), "--model", server.url, "--run-dir", str(run_dir)]
        args += ["--workers", "2", "--evaluate", f"verifier.cache_dir={cache_dir}", *OVERRIDES]
        first = spawn(*args, log=root / "run-1.log")
        pids.append(first.pid)
        outcome.runs = 1
        if inject and dockerd is None:

            def mid_run() -> bool:
                states = statuses(run_dir)
                done = states.get("f-rm") == "done" and states.get("f-kill") == "done"
                return (done and "running" in states.values()) or first.poll() is not None

            wait_for(mid_run, timeout, "f-rm and f-kill done, another instance running")
            if first.poll() is None:
                os.kill(first.pid, signal.SIGKILL)
                outcome.killed = True
        first.wait(timeout)
        for run in range(2, 5):  # the same command until it has nothing to do
            rows = instance_rows(run_dir)
            unsettled = [
                r for r in rows.values() if r["status"] != "done" or r["verdict"] in (None, "eval-error")
            ]
            if not unsettled:
                break
            if run == 3 and grade_fault.is_file():  # the grading fault is gone after the rerun
                grade_fault.unlink()
            again = spawn(*args, log=root / f"run-{run}.log")
            pids.append(again.pid)
            again.wait(timeout)
            outcome.runs = run
        if policy.holder is not None:
            policy.holder.wait(LOCK_SECONDS + 30)
        if policy.restart is not None:
            policy.restart.join(timeout)
    outcome.seconds = time.monotonic() - started
    outcome.fired = list(policy.fired) + (["kill -9 of the driver"] if outcome.killed else [])
    if inject and grade_fault.parent.exists():
        outcome.fired.append("f-grade")
    outcome.rows = instance_rows(run_dir)
    outcome.predictions = [
        json.loads(line) for line in (run_dir / "predictions.jsonl").read_text().splitlines()
    ]
    outcome.trajectories = {iid: _trajectory_statuses(run_dir, iid) for iid in cases}
    outcome.verification_retries = {iid: _verification_retries(run_dir, iid) for iid in cases}
    outcome.observations = dict(policy.observations)
    outcome.containers_left = _containers(pids)
    outcome.docker_restarts = dockerd.restarts if dockerd is not None else 0
    return outcome
