"""Answers of the exec server cannot be forged by the commands it runs (issue #11, point 7)."""

from __future__ import annotations

import pytest

from sandbox import DockerSandbox, SandboxConfig
from tests.sandbox.conftest import TEST_LABEL
from tests.sandbox.forger import FORGER

pytestmark = pytest.mark.docker

FORGE_THEN_FAIL = f"python3 - <<'EOF'\n{FORGER}\nEOF\nexit 1"


def assert_true_outcome(sb: DockerSandbox) -> str:
    for _ in range(3):  # the forged answers carry the next ids too
        res = sb.exec(FORGE_THEN_FAIL, timeout=60)
        assert res.exit_code == 1 and not res.ok, res.output
        assert "FORGER wrote to" in res.output  # the attempt ran to its end
    assert sb.exec("echo still; exit 3").exit_code == 3  # the channel is intact
    assert sb.exec("echo still").output == "still\n"
    return res.output


def test_forged_answers_never_reach_the_client(base_image, run_tag):
    with DockerSandbox(base_image, workdir="/", labels={TEST_LABEL: run_tag}) as sb:
        assert not sb._fallback  # the exec server runs, sealed
        output = assert_true_outcome(sb)
    assert "including /proc/1/fd/1: True" in output  # the container's stdout is writable, and unread
    for name in ("fd/0", "fd/1", "fd/2", "mem", "environ"):
        assert f"FORGER denied server {name}" in output  # the server's pipes and memory are out of reach


def test_unsealable_server_falls_back_to_docker_exec(base_image, run_tag):
    # With CAP_SYS_PTRACE a command could read the server: it refuses to serve and docker exec takes over.
    caps = [*SandboxConfig().cap_add, "SYS_PTRACE"]
    # docker exec delivers stdout and stderr in arrival order, so the forger's report may land before the
    # last of its forged stderr lines: keep the whole output, so the report is found wherever it lands
    config = SandboxConfig(cap_add=caps, output_limit=4_000_000)
    with DockerSandbox(base_image, workdir="/", config=config, labels={TEST_LABEL: run_tag}) as sb:
        assert sb._fallback
        assert_true_outcome(sb)
