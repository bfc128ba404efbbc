"""commit(): a sandbox's file system saved as an image, without the sandbox's own boot command, owner or mounts."""

from __future__ import annotations

import uuid

import pytest
from docker.types import Mount

from sandbox import DockerSandbox, SandboxError
from tests.sandbox.conftest import TEST_LABEL

pytestmark = pytest.mark.docker


@pytest.fixture
def repository(docker_client):
    """An image repository name unique to this test; its images are removed afterwards."""
    name = f"swescale-test/commit-{uuid.uuid4().hex[:10]}"
    yield name
    for image in docker_client.images.list(name=name):
        docker_client.images.remove(image.id, force=True)


def test_commit_keeps_files_not_the_sandbox(base_image, docker_client, run_tag, repository, tmp_path):
    (tmp_path / "secret.txt").write_text("host only\n")
    mounts = [
        Mount("/tmp/host", None, type="tmpfs"),
        Mount("/tmp/host/secret.txt", str(tmp_path / "secret.txt"), type="bind", read_only=True),
    ]
    with DockerSandbox(
        base_image, workdir="/", labels={TEST_LABEL: run_tag}, mounts=mounts, default_env=False, network=False
    ) as sb:
        assert sb.exec("cat /tmp/host/secret.txt").output == "host only\n"
        assert "PAGER" not in sb.exec("env").output  # default_env=False
        sb.exec("echo built > /built.txt && echo scratch > /tmp/host/scratch.txt")
        image = sb.commit(
            repository, "v1", labels={"purpose": "test"}, conf={"Env": ["FOO=bar"], "WorkingDir": "/"}
        )
    assert image.tags == [f"{repository}:v1"]
    config = image.attrs["Config"]
    assert not config["Entrypoint"] and config["Cmd"] == ["sleep", "infinity"]  # not the exec server boot
    assert config["Labels"]["purpose"] == "test" and config["Labels"]["swescale.owner"] == ""
    assert not config.get("Volumes") and "FOO=bar" in config["Env"]
    assert not [e for e in config["Env"] if e.startswith(("PAGER=", "TQDM_DISABLE="))]
    with DockerSandbox(f"{repository}:v1", workdir="/", labels={TEST_LABEL: run_tag}) as again:
        assert again.exec("cat /built.txt").output == "built\n"
        assert again.exec("echo $FOO").output == "bar\n"
        assert again.exec("ls /tmp/host").output.strip() in ("", "secret.txt")  # at most an empty mount stub
        assert again.exec("cat /tmp/host/secret.txt").output.strip() == ""
    run = docker_client.containers.run(
        f"{repository}:v1", remove=True, labels={TEST_LABEL: run_tag}, command=["sh", "-c", "echo plain"]
    )
    assert run == b"plain\n"  # the image's own command line works without the sandbox's entrypoint


def test_commit_refuses_ro_mounts_and_closed_sandboxes(base_image, run_tag, repository, tmp_path):
    with DockerSandbox(
        base_image, workdir="/", labels={TEST_LABEL: run_tag}, ro_mounts={str(tmp_path): "/mnt/host"}
    ) as sb:
        with pytest.raises(SandboxError, match="ro_mounts"):
            sb.commit(repository, "v1")
    with pytest.raises(SandboxError, match="not running"):
        sb.commit(repository, "v2")
