"""Datasets, scripted model policies and CLI helpers of the bench tests."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from pipeline_scripts import LOWER_MIDDLE, RIGHT_FIX

from swescale.demo.scripted_server import Reply

ISSUE = (
    "median([1, 2, 3, 4]) returns 3; the median of an even number of values is the mean of the middle two."
)
SCRIPTS = {"right": [RIGHT_FIX], "wrong": [LOWER_MIDDLE], "mixed": [RIGHT_FIX, LOWER_MIDDLE]}
FAST = [
    "solve.trajectories=1",
    "verifier.test_trajectories=0",
    "verifier.judge=false",
    "verifier.regression=false",
]
COMMON = [*FAST, "model.tool_format=native", "model.name=scripted", "sandbox.max_concurrent=4"]


def marker(instance_id: str) -> str:
    return f"[case {instance_id}]"


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True).stdout


def _hidden_test(repo: Path) -> str:
    tests = repo / "tests" / "test_stats.py"
    original = tests.read_text()
    tests.write_text(original + "\n\ndef test_median_even():\n    assert median([1, 2, 3, 4]) == 2.5\n")
    patch = _git(repo, "diff")
    tests.write_text(original)
    return patch


MISSING_COMMIT = "deadbeef" * 5


def make_dataset(folder: Path, repo: Path, cases: dict[str, str]) -> Path:
    """A SWE-bench-format dataset: one task per case on `repo`, each with the hidden test the agent never
    sees and a marker naming the case in its issue. Kind `broken`: its base commit is not in the
    repository, so its environment image cannot be built."""
    folder.mkdir(parents=True, exist_ok=True)
    base, test_patch = _git(repo, "rev-parse", "HEAD").strip(), _hidden_test(repo)
    rows = []
    for iid, kind in cases.items():
        rows.append(
            {
                "instance_id": iid,
                "repo": "local/minimath",
                "repo_url": str(repo),
                "base_commit": MISSING_COMMIT if kind == "broken" else base,
                "problem_statement": f"{ISSUE} {marker(iid)}",
                "test_patch": test_patch,
                "FAIL_TO_PASS": json.dumps(["tests/test_stats.py::test_median_even"]),
                "PASS_TO_PASS": json.dumps(
                    ["tests/test_stats.py::test_mean", "tests/test_stats.py::test_median_odd"]
                ),
                "version": "0.1",
            }
        )
    path = folder / "tasks.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


class InstancePolicy:
    """The model for bench tests: the instance is found by the marker in its issue, its scripts are taken
    in turn by new conversations (so resumed and retried trajectories get a script again), and a
    conversation is followed by its first reply. `delay` slows every reply; `hooks[iid]` runs on the first
    request of that instance. Records which instances started conversations."""

    def __init__(self, cases: dict[str, str], delay: float = 0.0, hooks: dict[str, Callable] | None = None):
        self.cases, self.delay, self.hooks = cases, delay, dict(hooks or {})
        self.started: Counter[str] = Counter()
        self.requests: Counter[str] = Counter()
        self._lock = threading.Lock()

    def _instance(self, request: dict) -> str | None:
        text = "\n".join(
            str(m.get("content") or "") for m in request.get("messages", []) if m["role"] == "user"
        )
        return next((iid for iid in self.cases if marker(iid) in text), None)

    def __call__(self, request: dict) -> Reply:
        iid = self._instance(request)
        if iid is None:
            return Reply(content="NO")
        scripts = SCRIPTS[self.cases[iid]]
        assistants = [m for m in request["messages"] if m["role"] == "assistant"]
        with self._lock:
            self.requests[iid] += 1
            hook = self.hooks.pop(iid, None)
            if not assistants:
                script = scripts[self.started[iid] % len(scripts)]
                self.started[iid] += 1
        if hook is not None:
            hook()
        if assistants:
            first = assistants[0].get("content")
            script = next((s for s in scripts if s[0]["content"] == first), scripts[0])
        step = len(assistants)
        reply = (
            script[step]
            if step < len(script)
            else {"content": "Done.", "tool_calls": [{"name": "submit", "arguments": {}}]}
        )
        return Reply.of({**reply, "delay": self.delay})


def cli(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "swescale.cli.main", *args], capture_output=True, text=True, timeout=timeout
    )


def spawn(*args: str, log: Path) -> subprocess.Popen:
    with log.open("w") as fh:
        return subprocess.Popen(
            [sys.executable, "-m", "swescale.cli.main", *args], stdout=fh, stderr=subprocess.STDOUT
        )


def instance_rows(run_dir: Path) -> dict[str, dict]:
    """instance id -> its whole row of the bench state (read directly, as a user inspecting the file would)."""
    db = sqlite3.connect(run_dir / "state.sqlite")
    db.row_factory = sqlite3.Row
    try:
        return {r["instance_id"]: dict(r) for r in db.execute("SELECT * FROM instances")}
    finally:
        db.close()


def statuses(run_dir: Path) -> dict[str, str]:
    """instance id -> status, read from the state without taking the driver's lock."""
    path = run_dir / "state.sqlite"
    if not path.exists():
        return {}
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            return dict(db.execute("SELECT instance_id, status FROM instances").fetchall())
        finally:
            db.close()
    except sqlite3.OperationalError:
        return {}


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)
