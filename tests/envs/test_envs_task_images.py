"""A task's own image laid out as SWE-bench's are (issue #11, points 2 and 3), built offline on the base image:
the repository cloned with its future (a later commit behind a tag, the remote and the reflog) and reset to
the base commit; a conda-like env at /opt/miniconda3/envs/testbed with activate scripts, its python not on
the default PATH (where a system `python` is)."""

from __future__ import annotations

import contextlib
import uuid

import docker
import pytest

from agent.agent import run_trajectory
from agent.model import ModelClient
from agent.trajectory import load_trajectory
from envs.environment import EnvBuildError, prepare_environment
from sandbox import DockerSandbox
from swescale.config import AgentConfig, ModelConfig, SwescaleConfig
from swescale.demo.scripted_server import ConversationPolicy, ScriptedServer
from tests.envs.conftest import TEST_PATCH
from verifiers.run import verify
from verifiers.table import Candidate, GeneratedTest

pytestmark = pytest.mark.docker

ENV = "/opt/miniconda3/envs/testbed"
LAYOUT = f"""set -e
git clone -q /src /testbed && rm -rf /src && cd /testbed && git reset -q --hard BASE
git config user.email t@t && git config user.name t
python3 -m venv --without-pip {ENV}
site=$({ENV}/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
echo 'MARK = 1' > "$site/swescale_env_marker.py"
echo /testbed > "$site/testbed.pth"
printf 'export CONDA_PREFIX={ENV}\\nexport CONDA_DEFAULT_ENV=testbed\\nexport PATH={ENV}/bin:$PATH\\n' \\
  > {ENV}/bin/activate
mkdir -p /opt/miniconda3/bin
printf 'conda() {{ [ "$1" = activate ] && . "/opt/miniconda3/envs/$2/bin/activate"; }}\\n' \\
  > /opt/miniconda3/bin/activate
ln -sf /usr/bin/python3 /usr/local/bin/python
"""
REPRO = (
    "import sys\nimport swescale_env_marker\nfrom calc import add\n\nsys.exit(0 if add(2, 2) == 4 else 1)\n"
)
CHECK = f"import sys\nimport swescale_env_marker\nfrom calc import add\n\nassert sys.prefix == {ENV!r}\nassert add(2, 2) == 4\n"


def _remove(client, name: str) -> None:
    with contextlib.suppress(docker.errors.ImageNotFound):
        client.images.remove(name, force=True)


def _commit(sb: DockerSandbox, name: str) -> str:
    repository, _, tag = name.rpartition(":")
    sb.commit(repository, tag)
    return name


@pytest.fixture(scope="module")
def sweb_like(docker_client, base_image, calc_repo):
    repo, base, _ = calc_repo
    made = []
    with DockerSandbox(base_image, workdir="/", default_env=False) as sb:
        sb.copy_to(repo, "/")
        assert sb.exec("mv /calc /src").exit_code == 0
        r = sb.exec(LAYOUT.replace("BASE", base), cwd="/", timeout=300)
        assert r.exit_code == 0, r.output
        made.append(_commit(sb, f"swescale-test/sweb-like:{uuid.uuid4().hex[:10]}"))
    yield made[0]
    for name in made:
        _remove(docker_client, name)


@pytest.fixture(scope="module")
def adopted(sweb_like, calc_task, env_config, docker_client):
    task = calc_task.model_copy(update={"image": sweb_like})
    env = prepare_environment(task, env_config)
    yield task, env
    _remove(docker_client, env.image)


def test_task_image_is_checked_and_cleaned(sweb_like, adopted, calc_repo, env_config, docker_client):
    _, base, future = calc_repo
    with DockerSandbox(sweb_like, default_env=False) as raw:  # the image as given: its future is reachable
        assert raw.exec(f"git cat-file -e {future}").exit_code == 0
        assert "v1" in raw.exec("git tag").output and "origin" in raw.exec("git remote").output
    task, env = adopted
    with DockerSandbox(env.image, default_env=False) as box:
        assert box.exec("git rev-parse HEAD").output.strip() == base
        assert box.exec(f"git cat-file -e {future}").exit_code != 0
        assert box.exec("git for-each-ref --format='%(refname)'").output.split() == ["refs/heads/main"]
        assert box.exec("git remote; git reflog; ls .git/ORIG_HEAD 2>/dev/null").output.strip() == ""
        assert box.exec("git log --all --format=%H").output.split() == [base]
        assert box.exec("ls FUTURE_SECRET.txt").exit_code != 0
    assert env.source == "task-image" and env.source_image == sweb_like and env.image != sweb_like
    again = prepare_environment(task, env_config)  # checked once: the derived image is reused
    assert again.image == env.image
    assert docker_client.images.get(again.image).id == docker_client.images.get(env.image).id


@pytest.mark.parametrize(
    "damage, message",
    [
        ("git checkout -q v1", "not the task's base commit"),
        (f"git apply - <<'EOF'\n{TEST_PATCH}EOF", "test patch is already applied"),
    ],
    ids=["head-after-base", "test-patch-applied"],
)
def test_image_breaking_the_invariants_is_refused(
    sweb_like, calc_task, env_config, docker_client, damage, message
):
    name = f"{sweb_like}-{message.split()[0]}"
    with DockerSandbox(sweb_like, workdir="/testbed", default_env=False) as sb:
        assert sb.exec(damage).exit_code == 0
        _commit(sb, name)
    try:
        with pytest.raises(EnvBuildError) as info:
            prepare_environment(calc_task.model_copy(update={"image": name}), env_config)
        assert info.value.step == "image-check" and name in str(info.value) and message in str(info.value)
    finally:
        _remove(docker_client, name)


def call(name: str, **args) -> dict:
    return {"tool_calls": [{"name": name, "arguments": args}]}


def test_agent_repro_and_verifiers_run_in_the_task_env(adopted, tmp_path):
    task, env = adopted
    script = [
        call("bash", command="python -c 'import sys; print(sys.prefix)'; command -v python"),
        call("str_replace_editor", command="create", path="/testbed/reproduce_issue.py", file_text=REPRO),
        call("bash", command="sed -i '2s/a - b/a + b/' calc/__init__.py && git commit -qam fix"),
        call("submit"),
    ]
    with ScriptedServer(ConversationPolicy([script])) as server:
        config = SwescaleConfig(
            model=ModelConfig(urls=[server.url], retries=2, backoff=0.01, timeout=30),
            agent=AgentConfig(context_tokens=0),
        )
        with DockerSandbox(env.image, workdir="/testbed") as sb:
            result = run_trajectory(task, sb, ModelClient(config.model), config, tmp_path, "t-1", mode="fix")
    observations = [o for step in load_trajectory(tmp_path / "t-1.json").steps for o in step.observations]
    assert f"{ENV}\n{ENV}/bin/python" in observations[0]  # the agent's shell runs in the env
    assert "+    return a + b" in result.patch and "reproduce_issue" not in result.patch  # committed: kept
    assert (result.repro_exit_original, result.repro_exit_patched) == (1, 0)  # both runs in the env

    assert env.python == f"{ENV}/bin/python"
    config.verifier.cache_dir = str(tmp_path)
    test = GeneratedTest(test_id="t_env", script=CHECK, source="test", path="check_env.py")
    table = verify(
        task,
        env,
        [Candidate(candidate_id="fix", patch=result.patch, source="test")],
        [test],
        config,
        out_dir=tmp_path,
        regression=False,
        judge=False,
    )
    assert table.row("fix").outcomes["t_env"].passed
    reference = table.test("t_env").reference
    assert reference.exit_code == 1 and "AssertionError" in reference.output_excerpt  # not ImportError
