"""Images swescale did not build (a task's own, a pulled SWE-bench image) made to hold what a built one holds.

In a sandbox of the image (no network), `adopt`:
- checks the repository at the workdir: HEAD at the task's base commit, neither the gold nor the test patch
  applied; a failed check raises ImageCheckError naming the image (never a silent run);
- cleans the history as built images are cleaned (envs.repos.CLEAN_HISTORY: no later commit, ref, tag,
  remote, reflog or object); the working tree is left as the image has it (its installed state);
- finds the task's environment: SWE-bench's conda env (`/opt/miniconda3/envs/testbed`, its python not on
  the default PATH) is activated once and the variables the activation sets (PATH, CONDA_PREFIX, ...) become
  the image's own, so the agent's shell, its reproduction runs, test-writing agents and verifiers all run in
  it, as they do in images swescale builds (whose venv is on the image's PATH);
and commits the result as a derived image, labelled with what it found (so it is checked once).
"""

from __future__ import annotations

import json
import shlex
from typing import TYPE_CHECKING

import docker
from pydantic import BaseModel

from envs.repos import CLEAN_HISTORY
from envs.task import Task
from sandbox import DockerSandbox
from sandbox.patch import ANY_OWNER_GIT, is_applied

if TYPE_CHECKING:
    from envs.config import EnvSettings

ADOPT_VERSION = 1
"""Bumped whenever the checks or the clean-up change (derived images of older versions are not reused)."""
LABEL = "swescale.env.adopted"
WORKDIR = "/testbed"
CONDA_ROOT = "/opt/miniconda3"
CONDA_ENV = f"{CONDA_ROOT}/envs/testbed"
# git run as root on a repository another user may own (SWE-bench images), whatever the image's git config
GIT_PRELUDE = "git() { command git -c safe.directory='*' \"$@\"; }\n"
SHELL_VARS = {"_", "SHLVL", "PWD", "OLDPWD", "PS1", "HOSTNAME", "HOME"}
"""Variables of the shell itself, never taken from an activation."""


class ImageCheckError(RuntimeError):
    """The image breaks an invariant swescale cannot restore (the message names the image)."""


class Adopted(BaseModel):
    """What adoption found, kept in the derived image's label."""

    activation: list[str] = []
    """Shell lines activating the task's environment (SWE-bench's conda env), empty if none was found."""
    python: str = "python"
    """The environment's interpreter."""
    cleaned: str = ""
    """What the history clean-up removed."""


def _sh(sb: DockerSandbox, cmd: str, timeout: float = 600) -> tuple[int, str]:
    res = sb.exec(GIT_PRELUDE + cmd, timeout=timeout)
    return res.exit_code, res.output.strip()


def _check(sb: DockerSandbox, image: str, task: Task) -> None:
    """The repository's HEAD and working tree (raises ImageCheckError)."""
    code, head = _sh(sb, "git rev-parse --verify 'HEAD^{commit}'")
    if code != 0:
        raise ImageCheckError(f"{image}: no git repository with a commit at {sb.workdir}: {head[-300:]}")
    if task.base_commit and head != task.base_commit:
        raise ImageCheckError(f"{image}: HEAD is {head}, not the task's base commit {task.base_commit}")
    for name, patch in (("gold patch", task.patch), ("test patch", task.test_patch)):
        if not patch.strip():
            continue
        if is_applied(sb, patch, timeout=600, git=ANY_OWNER_GIT):
            raise ImageCheckError(f"{image}: the task's {name} is already applied in {sb.workdir}")


def _environment(sb: DockerSandbox, image: str) -> tuple[list[str], dict[str, str], str]:
    """(activation lines, the variables they set, the interpreter) of the image's task environment."""
    code, _ = _sh(sb, f"test -x {CONDA_ENV}/bin/python")
    if code != 0:
        return [], {}, "python"
    if _sh(sb, f"test -f {CONDA_ROOT}/bin/activate")[0] == 0:
        activation = [f"source {CONDA_ROOT}/bin/activate", "conda activate testbed"]
    else:
        activation = [f"source {CONDA_ENV}/bin/activate"]
    script = " && ".join(activation)
    before = _sh(sb, "bash -c 'env -0'", timeout=60)[1]
    code, after = _sh(sb, f"bash -c {shlex.quote(script + ' >/dev/null 2>&1 && env -0')}", timeout=120)
    if code != 0:
        raise ImageCheckError(f"{image}: activating {CONDA_ENV} failed ({script}): {after[-500:]}")

    def parse(text: str) -> dict[str, str]:
        return dict(item.split("=", 1) for item in text.split("\0") if "=" in item)

    old, new = parse(before), parse(after)
    changed = {k: v for k, v in new.items() if old.get(k) != v and k not in SHELL_VARS}
    if not changed.get("PATH", "").startswith(f"{CONDA_ENV}/bin"):
        raise ImageCheckError(f"{image}: `{script}` does not put {CONDA_ENV}/bin first on PATH")
    return activation, changed, f"{CONDA_ENV}/bin/python"


def adopt(
    dc: docker.DockerClient, image: str, tag: str, task: Task, config: EnvSettings, labels: dict[str, str]
) -> Adopted:
    """Check, clean and commit `image` as `tag` (labels added); raises ImageCheckError."""
    source = dc.images.get(image).attrs.get("Config") or {}
    with DockerSandbox(
        image, workdir=WORKDIR, config=config.sandbox, network=False, default_env=False, client=dc
    ) as sb:
        _check(sb, image, task)
        code, cleaned = _sh(sb, CLEAN_HISTORY, timeout=config.env.build_timeout)
        if code != 0:
            raise ImageCheckError(f"{image}: cleaning the repository's history failed: {cleaned[-1000:]}")
        activation, variables, python = _environment(sb, image)
        adopted = Adopted(activation=activation, python=python, cleaned=cleaned.splitlines()[-1])
        sb.exec("rm -rf /opt/swescale")  # the exec server and the pinned base of this sandbox
        env = dict(e.split("=", 1) for e in source.get("Env") or [] if "=" in e)
        conf = {"Env": [f"{k}={v}" for k, v in {**env, **variables}.items()]}
        repository, _, version = tag.rpartition(":")
        sb.commit(repository, version, labels={**labels, LABEL: adopted.model_dump_json()}, conf=conf)
    return adopted


def adopted_from(dc: docker.DockerClient, tag: str) -> Adopted:
    """What adoption found, read back from a derived image."""
    return Adopted.model_validate(json.loads(dc.images.get(tag).labels[LABEL]))
