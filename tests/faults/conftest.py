"""Fixtures of the fault-injection suite (the demo repository and its image, bench_repo and bench_env, are
tests/conftest.py's)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).parents[1]
for folder in ("bench", "pipeline"):  # bench_scripts and pipeline_scripts, shared with those suites
    sys.path.insert(0, str(TESTS / folder))


@pytest.fixture(scope="session")
def private_dockerd(bench_env, base_image):
    """A private Docker daemon (tests/faults/dockerd.py) holding the base and environment images, for
    faults that kill the engine itself; torn down (killed, unmounted, removed) at the end."""
    import os
    import shutil

    from dockerd import PrivateDockerd

    if os.geteuid() != 0 or shutil.which("dockerd") is None:
        reason = "a private Docker daemon needs root and dockerd"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but {reason}")
        pytest.skip(reason)
    daemon = PrivateDockerd()
    try:
        daemon.start()
        daemon.load(base_image, bench_env.image)
        yield daemon
    finally:
        daemon.close()
