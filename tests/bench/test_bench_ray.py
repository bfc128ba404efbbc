"""`bench run --executor ray` on a local Ray cluster (head and one worker on 127.0.0.1, started and stopped
by the test): a node that dies means its instance runs again elsewhere; every instance lands once."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from bench_scripts import COMMON, InstancePolicy, cli, make_dataset, spawn, statuses, wait_for

from swescale.demo.scripted_server import ScriptedServer

pytestmark = [pytest.mark.docker, pytest.mark.timeout(900)]
RAY = str(Path(sys.executable).with_name("ray"))


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(args: list[str], log: Path) -> subprocess.Popen:
    """`ray start ... --block` in its own process group (every Ray process of the node is in it)."""
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    with log.open("w") as fh:
        return subprocess.Popen(
            [RAY, "start", *args, "--block", "--disable-usage-stats"],
            stdout=fh,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )


def _alive_nodes(address: str) -> int:
    host, port = address.split(":")
    try:
        socket.create_connection((host, int(port)), timeout=2).close()
    except OSError:
        return 0  # the head's GCS is not listening yet
    code = f"import ray; ray.init(address={address!r}, logging_level='ERROR'); print(sum(n['Alive'] for n in ray.nodes()))"
    try:
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        return 0
    return int(out.stdout.strip().splitlines()[-1]) if out.returncode == 0 and out.stdout.strip() else 0


def _kill(node: subprocess.Popen) -> None:
    try:
        os.killpg(node.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    node.wait(30)


@pytest.fixture
def ray_cluster(tmp_path):
    """A head (1 CPU) and one worker node (1 CPU) on 127.0.0.1; both stopped at the end."""
    temp = tempfile.mkdtemp(prefix="swr", dir="/tmp")  # short: Ray's socket paths must fit 107 bytes
    port = _port()
    light = ["--node-ip-address", "127.0.0.1", "--num-cpus", "1", "--object-store-memory", "80000000"]
    head = _start(
        ["--head", "--port", str(port), *light, "--include-dashboard", "false", "--temp-dir", temp]
        + ["--dashboard-port", str(_port())]
        + ["--dashboard-agent-listen-port", str(_port())],
        tmp_path / "ray-head.log",
    )
    nodes = [head]
    address = f"127.0.0.1:{port}"
    try:
        wait_for(lambda: _alive_nodes(address) == 1, 120, "the Ray head")
        worker = _start(
            ["--address", address, *light, "--dashboard-agent-listen-port", str(_port())],
            tmp_path / "ray-worker.log",
        )
        nodes.append(worker)
        wait_for(lambda: _alive_nodes(address) == 2, 120, "the Ray worker node")
        yield address, worker
    finally:
        for node in nodes:
            _kill(node)
        shutil.rmtree(temp, ignore_errors=True)


def test_ray_executor_retries_the_instance_of_a_dead_node(bench_env, bench_repo, ray_cluster, tmp_path):
    address, worker = ray_cluster
    cases = {"y1": "right", "y2": "wrong", "y3": "right"}
    dataset = make_dataset(tmp_path, bench_repo, cases)
    run_dir = tmp_path / "run"
    policy = InstancePolicy(cases, delay=1.5)
    with ScriptedServer(policy) as server:
        args = ["bench", "run", "--dataset", str(dataset), "--model", server.url, "--run-dir", str(run_dir)]
        args += ["--ray-address", address, "--workers", "2", "--evaluate", *COMMON]
        run = spawn(*args, log=tmp_path / "run.log")
        # both nodes are solving an instance: then the worker node dies
        wait_for(lambda: len(policy.started) >= 2, 300, "two instances solving")
        _kill(worker)
        assert run.wait(600) == 0, (tmp_path / "run.log").read_text()[-5000:]
        requests = dict(policy.requests)
        again = cli(*args)  # the same command again: nothing to do
        assert again.returncode == 0 and dict(policy.requests) == requests, again.stderr[-3000:]
    assert sum(policy.started.values()) > len(cases)  # the dead node's instance started again elsewhere
    assert set(statuses(run_dir).values()) == {"done"}
    preds = [json.loads(x) for x in (run_dir / "predictions.jsonl").read_text().splitlines()]
    assert sorted(p["instance_id"] for p in preds) == sorted(cases)
    import sqlite3

    db = sqlite3.connect(run_dir / "state.sqlite")
    verdicts = dict(db.execute("SELECT instance_id, verdict FROM instances").fetchall())
    nodes = {json.loads(r)["node"] for (r,) in db.execute("SELECT result FROM instances")}
    db.close()
    assert verdicts == {i: "resolved" if k == "right" else "unresolved" for i, k in cases.items()}
    assert all("/" in n for n in nodes)  # host/Ray node id of the node that ran it
    # the run folders came back to the driver
    assert all((run_dir / "instances" / i / "run.json").exists() for i in cases)
    # the dead node's sandboxes are removed by gc of dead owners
    time.sleep(1)
    gc = cli("sandbox", "gc")
    assert gc.returncode == 0
