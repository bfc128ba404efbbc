"""Scripted model replies and checks shared by the end-to-end solve tests."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from swescale.config import load_config
from swescale.demo.replay import DATA

SESSION = json.loads((DATA / "session.json").read_text())
ISSUE = (DATA / "issue.md").read_text()
OLD = "    ordered = sorted(values)\n    return ordered[len(ordered) // 2]"
REPRO_STRICT = "import sys\nfrom minimath import median\nsys.exit(0 if median([1, 2, 3, 4]) == 2.5 else 1)\n"
REPRO_WEAK = "import sys\nfrom minimath import median\nsys.exit(1 if median([1, 2, 3, 4]) == 3 else 0)\n"


def bash(command: str, thought: str) -> dict:
    return {"content": thought, "tool_calls": [{"name": "bash", "arguments": {"command": command}}]}


def edit(thought: str, **arguments) -> dict:
    return {"content": thought, "tool_calls": [{"name": "str_replace_editor", "arguments": arguments}]}


def submit(thought: str) -> dict:
    return {"content": thought, "tool_calls": [{"name": "submit", "arguments": {}}]}


def slow_script(tag: str, delay: float = 1.0, steps: int = 40) -> list[dict]:
    """A trajectory that keeps looking around (each answer `delay` seconds late) and never submits early."""
    return [
        {**bash(f"ls -la  # {tag} {i}", f"Exploring ({tag}, step {i})."), "delay": delay}
        for i in range(steps)
    ]


LOWER_MIDDLE = [
    edit("Reproduce.", command="create", path="/testbed/reproduce_issue.py", file_text=REPRO_WEAK),
    bash(
        "sed -i 's|return ordered\\[len(ordered) // 2\\]|return ordered[(len(ordered) - 1) // 2]|' "
        "minimath/stats.py",
        "Lower middle.",
    ),
    submit("Done."),
]
RIGHT_FIX = [
    edit("Reproduce the bug.", command="create", path="/testbed/reproduce_issue.py", file_text=REPRO_STRICT),
    bash("python reproduce_issue.py; echo exit=$?", "Fails before the fix."),
    edit(
        "Average the middle pair for even lengths.",
        command="str_replace",
        path="/testbed/minimath/stats.py",
        old_str=OLD,
        new_str="    ordered = sorted(values)\n    middle = len(ordered) // 2\n"
        "    if len(ordered) % 2 == 0:\n        return (ordered[middle - 1] + ordered[middle]) / 2\n"
        "    return ordered[middle]",
    ),
    submit("Fixed."),
]


def solve_config(url: str, *overrides: str):
    return load_config(
        overrides=[
            f"model.urls=[{url}]",
            "model.tool_format=native",
            "model.retries=1",
            "verifier.test_trajectories=0",
            "sandbox.max_concurrent=4",
            *overrides,
        ]
    )


def hidden_check(repo: Path, patch: str) -> bool:
    """Does `patch` fix the bug? Applied to a fresh checkout, checked by a probe the agent never saw."""
    subprocess.run(["git", "apply", "-"], input=patch, text=True, cwd=repo, check=True)
    probe = "from minimath import median; assert median([1, 2, 3, 4]) == 2.5; assert median([5, 1, 3]) == 3"
    return subprocess.run(["python3", "-c", probe], cwd=repo).returncode == 0
