"""Base images and the `swescale sandbox` commands."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from sandbox import DockerSandbox, images
from swescale.cli.sandbox import sandbox_app
from tests.sandbox.conftest import TEST_LABEL

pytestmark = pytest.mark.docker


def test_ensure_base_image_is_idempotent(base_image, docker_client):
    said: list[str] = []
    assert images.ensure_base_image("3.11", client=docker_client, say=said.append) == base_image
    assert said and "nothing to do" in said[0]


def test_base_image_has_the_tools(base_image, run_tag):
    with DockerSandbox(base_image, workdir="/", labels={TEST_LABEL: run_tag}) as sb:
        r = sb.exec(
            "python3 --version && git --version && patch --version && python3 -m venv /tmp/v && pip --version"
        )
        assert r.exit_code == 0, r.output


def test_offline_build_errors(docker_client, monkeypatch):
    monkeypatch.setattr(images, "image_exists", lambda client, name: False)
    monkeypatch.setattr(images, "registry_reachable", lambda timeout=3.0: False)
    with pytest.raises(images.ImageError, match="supported: 3.9, 3.11, 3.13"):
        images.ensure_base_image("2.7", client=docker_client)
    monkeypatch.setattr(images.shutil, "which", lambda name: None)
    with pytest.raises(images.ImageError, match="apt-get install debootstrap"):
        images.ensure_base_image("3.11", client=docker_client)


def test_cli_base_image_and_gc(base_image):
    runner = CliRunner()
    result = runner.invoke(sandbox_app, ["base-image", "--python", "3.11"])
    assert result.exit_code == 0 and "nothing to do" in result.output and base_image in result.output
    result = runner.invoke(sandbox_app, ["gc"])
    assert result.exit_code == 0 and "removed" in result.output
