"""Environment images built for real: contents, hidden-test safety, caching, failing builds."""

from __future__ import annotations

import subprocess

import pytest

from envs.datasets import local_task
from envs.environment import EnvBuildError, prepare_environment
from envs.task import Task
from sandbox import DockerSandbox, ExecResult

pytestmark = pytest.mark.docker


def test_image_has_base_only(calc_env, calc_repo, calc_task, docker_client):
    _, base, head = calc_repo
    assert calc_env.source in ("built", "cached") and calc_env.log_parser == "parse_log_pytest"
    config = docker_client.images.get(calc_env.image).attrs["Config"]
    assert (
        config["Cmd"] == ["sleep", "infinity"] and not config["Entrypoint"]
    )  # not the sandbox's boot command
    assert config["Labels"]["swescale.owner"] == "" and config["Labels"]["swescale.env.commit"] == base
    assert not [e for e in config["Env"] if e.startswith(("PAGER=", "TQDM_DISABLE=", "PIP_"))]
    with DockerSandbox(calc_env.image, default_env=False) as box:

        def sh(cmd: str) -> ExecResult:
            return box.exec(cmd, timeout=60)

        assert sh("git rev-parse HEAD").output.strip() == base
        assert sh(f"git cat-file -e {head}").exit_code != 0  # no future commit
        assert sh("git for-each-ref; git remote; git reflog").output.strip() == ""
        assert sh("git status --porcelain").output.strip() == ""  # build artefacts excluded
        assert "test_add" not in sh("cat tests/test_calc.py").output  # no test_patch
        assert sh("ls FUTURE_SECRET.txt").exit_code != 0
        assert (
            sh("ls /tmp/swescale-host /etc/pip.conf").exit_code != 0
        )  # no host pip config or CA mount points
        assert sh(f"{calc_env.python} -m pytest -q tests").exit_code == 0
    again = prepare_environment(calc_task, _config())
    assert again.image == calc_env.image and again.source == "cached"


def _config():
    from swescale.config import load_config

    return load_config([], ["env.image_prefix=swescale-test/env", "env.pull=false"])


def test_failing_build_names_step(docker_client, base_image, tmp_path):
    from tests.envs.conftest import make_repo

    repo = tmp_path / "broken"
    sha = make_repo(repo, {"requirements.txt": "swescale-no-such-package-zzz==0.0.1\n", "m.py": "x = 1\n"})
    task = Task(instance_id="local__broken-1", repo_url=str(repo), base_commit=sha)
    with pytest.raises(EnvBuildError) as info:
        prepare_environment(task, _config())
    assert info.value.step == "requirements:requirements.txt"
    assert "swescale-no-such-package-zzz" in info.value.log_tail
    assert "failed at step 'requirements:requirements.txt'" in str(info.value)


def test_missing_repository_is_a_build_error(env_config):
    task = Task(instance_id="x", repo_url="/nonexistent/repo", base_commit="abc")
    with pytest.raises(EnvBuildError) as info:
        prepare_environment(task, env_config)
    assert info.value.step == "repository"


def test_same_commit_from_another_copy_reuses_the_image(docker_client, base_image, calc_repo, tmp_path):
    """The cache key is the code (commit), not where it was cloned from or what the task is called."""
    repo, base, _ = calc_repo
    specs = []
    for name in ("first-copy", "second-copy"):
        copy = tmp_path / name
        subprocess.run(["git", "clone", "-q", "--no-local", str(repo), str(copy)], check=True)
        specs.append(prepare_environment(local_task(copy, "add() subtracts", base), _config()))
    assert specs[0].image != specs[1].image  # tags name the folder ...
    assert docker_client.images.get(specs[0].image).id == docker_client.images.get(specs[1].image).id
    assert specs[1].source == "cached"  # ... but the second copy reused the first copy's image
