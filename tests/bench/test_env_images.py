"""Environment images within a disk budget: LRU prune never removes an image in use (a container's, or one
leased by a live process), a killed holder's lease lapses, `swescale env prune`, the free-disk check."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import uuid

import docker
import pytest
from bench_scripts import cli

from envs.config import EnvConfig
from envs.datasets import local_task
from envs.environment import EnvBuildError, prepare_environment
from envs.image_budget import ENV_LABEL, check_disk, env_images, lease, prune, touch
from sandbox.images import image_exists
from swescale.config import load_config

pytestmark = pytest.mark.docker


@pytest.fixture
def images(docker_client, base_image, tmp_path):
    """Three small environment images under a prefix of this test only (a, b, c: c used last)."""
    prefix = f"swescale-test/prune-{uuid.uuid4().hex[:8]}"
    config = EnvConfig(image_prefix=prefix, usage_file=str(tmp_path / "images.sqlite"))
    made = []
    for name in ("a", "b", "c"):
        box = docker_client.containers.create(base_image, ["sh", "-c", f"echo {name} > /{name}"])
        try:
            box.start()
            box.wait(timeout=60)
            box.commit(repository=prefix, tag=name, conf={"Labels": {ENV_LABEL: "1", "test": prefix}})
        finally:
            box.remove(force=True)
        made.append(f"{prefix}:{name}")
        touch(config, made[-1])
    yield config, made
    for tag in made:
        if image_exists(docker_client, tag):
            docker_client.images.remove(tag, force=True)


def test_prune_removes_least_recently_used_but_never_an_image_in_use(docker_client, images, tmp_path):
    config, (a, b, c) = images
    assert [i.tag for i in env_images(docker_client, config)] == [c, b, a]  # most recently used first
    running = docker_client.containers.run(a, ["sleep", "300"], detach=True, labels={"swescale": "1"})
    try:
        with lease(config, b):  # b is held by a running instance of this process (a lease is a use)
            touch(config, c)  # c used last: b and a are over the budget of one image
            report = prune(config.model_copy(update={"max_images": 1}), docker_client)
            assert report.removed == [] and report.in_use == [b, a]
        # a lease of a process killed with SIGKILL lapses
        script = textwrap.dedent(
            f"""
            import os, signal
            from envs.config import EnvConfig
            from envs.image_budget import lease
            with lease(EnvConfig.model_validate_json({config.model_dump_json()!r}), {b!r}):
                print("leased", flush=True)
                os.kill(os.getpid(), signal.SIGKILL)
            """
        )
        proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=os.getcwd())
        assert proc.returncode == -signal.SIGKILL and "leased" in proc.stdout, proc.stderr
        touch(config, c)
        report = prune(config.model_copy(update={"max_images": 1}), docker_client)
        assert report.removed == [b] and report.in_use == [a]
        assert image_exists(docker_client, a) and image_exists(docker_client, c)
    finally:
        running.remove(force=True)
    # the CLI, with the image no longer in use
    overrides = [f"env.image_prefix={config.image_prefix}", f"env.usage_file={config.usage_file}"]
    out = cli("env", "prune", "--max-images", "1", *overrides)
    assert out.returncode == 0, out.stderr
    assert f"removed {a}" in out.stdout and "removed 1 image(s)" in out.stdout
    assert not image_exists(docker_client, a) and image_exists(docker_client, c)
    assert cli("env", "prune", *overrides).returncode == 2  # no budget given: a clear error


def test_disk_check_prunes_then_refuses_a_build(docker_client, images, tmp_path):
    from swescale.demo.replay import make_demo_repo

    config, (a, b, c) = images
    hungry = config.model_copy(update={"min_free_gb": 10.0**7})  # more than any disk has
    message = check_disk(hungry, docker_client, "x")
    assert "GB free" in message and "env.min_free_gb" in message
    assert not any(image_exists(docker_client, t) for t in (a, b, c))  # all unused: pruned to make room
    # a build that would not fit is refused before it starts, naming the step
    repo = make_demo_repo(tmp_path / "repo")
    (repo / "NEW").write_text("a commit no image was built for\n")
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "new"], cwd=repo, check=True
    )
    settings = load_config().model_copy(update={"env": hungry})
    with pytest.raises(EnvBuildError) as err:
        prepare_environment(local_task(repo, "issue"), settings)
    assert err.value.step == "disk"
    assert docker.from_env().images.list(filters={"label": f"test={config.image_prefix}"}) == []


def test_env_build_workers_shares_one_build_between_tasks_of_one_spec(bench_env, bench_repo, tmp_path):
    from bench_scripts import make_dataset

    dataset = make_dataset(
        tmp_path, bench_repo, {"s1": "right", "s2": "wrong", "s3": "right", "s4": "broken"}
    )
    out = cli("env", "build", "--dataset", str(dataset), "--workers", "3")
    assert out.returncode == 1  # s4 cannot be built
    lines = dict(line.split("\t", 1) for line in out.stdout.splitlines())
    assert sorted(lines) == ["s1", "s2", "s3"] and len({v.split("\t")[0] for v in lines.values()}) == 1
    assert lines["s1"].split("\t")[0] == bench_env.image
    assert "s4\tFAILED" in out.stderr
