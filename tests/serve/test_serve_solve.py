"""The issue's done-when: `swescale serve` (two replicas of the stand-in) and `swescale solve --servers
servers.yaml` against them, one replica killed with -9 mid-run; the solve completes, Ctrl-C on serve
leaves no process. Real Docker sandboxes, real git, real HTTP; only vLLM is played by the stand-in."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from swescale.demo.replay import DATA, make_demo_repo
from swescale.serve.state import read_state

pytestmark = [pytest.mark.docker, pytest.mark.timeout(600)]
MODEL = "Qwen/Qwen2.5-Coder-32B-Instruct"
OLD = "    ordered = sorted(values)\n    return ordered[len(ordered) // 2]"
NEW = (
    "    ordered = sorted(values)\n    middle = len(ordered) // 2\n"
    "    if len(ordered) % 2 == 0:\n        return (ordered[middle - 1] + ordered[middle]) / 2\n"
    "    return ordered[middle]"
)
REPRO = "import sys\nfrom minimath import median\nsys.exit(0 if median([1, 2, 3, 4]) == 2.5 else 1)\n"


def fix_script(tag: str) -> list[dict]:
    """A trajectory that reproduces, looks around, fixes and submits; each answer 0.7 s late."""

    def call(name: str, thought: str, **arguments) -> dict:
        return {"content": thought, "tool_calls": [{"name": name, "arguments": arguments}], "delay": 0.7}

    return [
        call(
            "str_replace_editor",
            f"Reproduce ({tag}).",
            command="create",
            path="/testbed/reproduce_issue.py",
            file_text=f"# {tag}\n{REPRO}",
        ),
        call("bash", "Fails before the fix.", command="python reproduce_issue.py; echo exit=$?"),
        call("bash", "Look at the code.", command="cat minimath/stats.py"),
        call(
            "str_replace_editor",
            "Average the middle pair.",
            command="str_replace",
            path="/testbed/minimath/stats.py",
            old_str=OLD,
            new_str=NEW,
        ),
        call("bash", "Passes now.", command="python reproduce_issue.py; echo exit=$?"),
        call("submit", "Fixed."),
    ]


def steps_by_server(run_dir: Path) -> dict[str, list[str]]:
    out = {}
    for path in sorted((run_dir / "trajectories").glob("g*.json")):
        try:
            record = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue  # being rewritten
        out[record["trajectory_id"]] = [s.get("server", "") for s in record["steps"] if s.get("server")]
    return out


def test_solve_against_served_replicas_survives_a_killed_replica(
    fake_vllm, tmp_path, port_base, base_image, monkeypatch
):
    scripts = tmp_path / "scripts.json"
    scripts.write_text(json.dumps({"scripts": [fix_script("a"), fix_script("b")]}))
    monkeypatch.setenv("FAKE_VLLM_SCRIPTS", str(scripts))
    cli = [sys.executable, "-m", "swescale.cli.main"]
    serve = subprocess.Popen(
        [*cli, "serve", "--model", MODEL, "--gpus", "0,1", "--replicas", "2", "--port-base", str(port_base)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "servers.yaml").exists():
            assert serve.poll() is None and time.monotonic() < deadline, serve.stdout.read()
            time.sleep(0.1)
        starts = fake_vllm.starts()
        assert len(starts) == 2 and all("--tool-call-parser hermes" in " ".join(s["argv"]) for s in starts)
        urls = yaml.safe_load((tmp_path / "servers.yaml").read_text())["agent"]["urls"]
        repo, run_dir = make_demo_repo(tmp_path / "repo"), tmp_path / "run"
        solve = subprocess.Popen(
            [
                *cli,
                "solve",
                "--servers",
                "servers.yaml",
                "--repo",
                str(repo),
                "--issue",
                str(DATA / "issue.md"),
                "--run-dir",
                str(run_dir),
                "--output",
                str(tmp_path / "fix.diff"),
                "solve.trajectories=2",
                "verifier.test_trajectories=0",
                "model.backoff=0.2",
                "serve.metrics_interval=1",
            ],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        # kill -9 the replica that serves a running trajectory, after its second step
        deadline = time.monotonic() + 300
        while not any(len(s) >= 2 for s in steps_by_server(run_dir).values() if run_dir.exists()):
            assert solve.poll() is None and time.monotonic() < deadline, solve.stdout.read()
            time.sleep(0.1)
        moved, servers = next((t, s) for t, s in steps_by_server(run_dir).items() if len(s) >= 2)
        state = read_state(tmp_path / ".swescale" / "serve")
        victim = next(r for r in state["replicas"] if r["url"] == servers[0])
        os.kill(victim["pid"], signal.SIGKILL)
        out, _ = solve.communicate(timeout=400)
        assert solve.returncode == 0, out[-4000:]
        run = json.loads((run_dir / "run.json").read_text())
        steps = steps_by_server(run_dir)[moved]
        assert steps[0] == victim["url"] and steps[-1] != victim["url"] and steps[-1] in urls  # it moved on
        results = [json.loads(x) for x in (run_dir / "trajectories.jsonl").read_text().splitlines()]
        assert sorted(r["exit_status"] for r in results) == ["submitted", "submitted"]
        assert "minimath/stats.py" in (tmp_path / "fix.diff").read_text()
        assert set(run["usage_by_server"]) == set(urls)
        assert sum(u["calls"] for u in run["usage_by_server"].values()) == run["usage"]["calls"]
        assert run["server_metrics"] and all(
            m["prefix_cache_hit_rate"] is not None for m in run["server_metrics"]
        )
        assert "Model servers" in (run_dir / "report.html").read_text()
        deadline = time.monotonic() + 30  # the supervisor brought the killed replica back
        while (
            read_state(tmp_path / ".swescale" / "serve")["replicas"][int(victim["name"][-1])]["restarts"] < 1
        ):
            assert time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        serve.send_signal(signal.SIGINT)
        out, _ = serve.communicate(timeout=60)
    assert serve.returncode == 0, out
    assert not fake_vllm.processes()
