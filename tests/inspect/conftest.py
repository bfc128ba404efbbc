"""Fixtures of the inspector's tests: helpers by module name, headless Chromium (`browser` marker: skipped on
a developer machine without Chromium, never when CI=true, like `docker`), and real runs shared per session: the
demo (`swescale demo`) and a small bench run on the demo repository (tests/bench's scripted model)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
sys.path[:0] = [str(HERE), str(HERE.parent / "bench"), str(HERE.parent / "pipeline")]
ARTIFACTS = HERE.parents[1] / "artifacts" / "inspect"
"""Screenshots of the browser tests (kept by CI; gitignored)."""


@pytest.fixture(scope="session")
def chromium_session():
    missing = [name for name in ("chromium", "chromedriver") if shutil.which(name) is None]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("selenium (the dev extra)")
    if missing:
        message = f"no {', '.join(missing)} (scripts/bootstrap installs them)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but {message}")
        pytest.skip(message)
    from browser import chromium

    with chromium() as driver:
        yield driver


@pytest.fixture
def driver(request, chromium_session):
    """The session's Chromium, its console log emptied; only for tests marked `browser`."""
    if request.node.get_closest_marker("browser") is None:
        pytest.fail("a test that drives Chromium must carry @pytest.mark.browser")
    chromium_session.get_log("browser")
    return chromium_session


@pytest.fixture
def screenshot(request):
    """Save the driver's screen as artifacts/inspect/<test>-<name>.png."""

    def save(driver, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{request.node.name}-{name}.png"
        driver.save_screenshot(str(path))
        return path

    return save


@pytest.fixture(scope="session")
def demo_run(docker_client, base_image, tmp_path_factory) -> Path:
    """`swescale demo`'s run directory: the whole pipeline, real sandboxes, the scripted model."""
    from bench_scripts import cli

    run_dir = tmp_path_factory.mktemp("inspect-demo") / "run"
    done = cli("demo", "--run-dir", str(run_dir), timeout=900)
    assert done.returncode == 0, done.stderr[-4000:]
    return run_dir


@pytest.fixture(scope="session")
def small_bench_run(docker_client, base_image, tmp_path_factory) -> Path:
    """A graded bench run of three instances on the demo repository (one right, one wrong, one mixed)."""
    from bench_scripts import COMMON, InstancePolicy, cli, make_dataset

    from swescale.demo.replay import make_demo_repo
    from swescale.demo.scripted_server import Reply, Router, ScriptedServer, system_contains

    folder = tmp_path_factory.mktemp("inspect-bench")
    repo = make_demo_repo(folder / "minimath")
    cases = {"b1": "mixed", "b2": "wrong", "b3": "right"}
    dataset = make_dataset(folder, repo, cases)
    run_dir = folder / "run"
    policy = Router(
        [(system_contains("You are a patch verifier"), lambda _: Reply(content="YES"))],
        default=InstancePolicy(cases),
    )
    overrides = [o for o in COMMON if not o.startswith(("solve.trajectories", "verifier.judge"))]
    with ScriptedServer(policy) as server:
        args = ["bench", "run", "--dataset", str(dataset), "--model", server.url, "--run-dir", str(run_dir)]
        run = [*args, "--workers", "2", "--evaluate", "solve.trajectories=2", *overrides]
        done = cli(*run, timeout=900)
        for _ in range(3):  # an infrastructure error (a busy shared engine): retried as a user would
            if done.returncode == 0 or "--retry-errors" not in done.stderr:
                break
            done = cli(*run, "--retry-errors", timeout=900)
        assert done.returncode == 0, done.stderr[-4000:]
    assert len(list((run_dir / "instances").iterdir())) == 3
    return run_dir
