"""The `docker` marker is enforced (tests/conftest.py): an unmarked test that uses a Docker fixture fails
collection, and an unmarked test cannot reach the engine at all, so `pytest -m "not docker"` runs no Docker."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import NO_DOCKER

pytest_plugins = ["pytester"]

CONFTEST = (Path(__file__).parent / "conftest.py").read_text()


def test_unmarked_test_using_a_docker_fixture_fails_collection(pytester: pytest.Pytester):
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(
        test_some="""
import pytest

@pytest.fixture
def image(base_image):  # reaches Docker through another fixture
    return base_image

def test_unmarked(image):
    pass

@pytest.mark.docker
def test_marked(docker_client):
    pass

def test_plain():
    pass
"""
    )
    result = pytester.runpytest("--collect-only", "-q")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*must carry @pytest.mark.docker*", "*test_some.py::test_unmarked"])
    assert "test_marked" not in result.stderr.str() and "test_plain" not in result.stderr.str()


def test_unmarked_tests_cannot_reach_docker():
    """This test is not marked: the engine is out of reach here and in the processes it starts."""
    import docker

    assert os.environ["DOCKER_HOST"] == NO_DOCKER
    with pytest.raises(docker.errors.DockerException):
        docker.from_env(timeout=5).ping()
    child = subprocess.run(
        [sys.executable, "-c", "import docker; docker.from_env(timeout=5).ping()"], capture_output=True
    )
    assert child.returncode != 0
