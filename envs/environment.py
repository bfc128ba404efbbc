"""Environment images: the repository at /testbed at base_commit, dependencies installed, tests runnable.

Sources, in order: the task's own image (5.x `image`, or SWE-bench's published name) when present or
pullable, checked and cleaned into a derived image (envs.adopt); else a build on the base image (SWE-bench harness specs, or detection), cached by a key of
(repository, commit, dependency spec, base image) kept in the image tag and labels.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import tempfile
import threading
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path
from typing import TYPE_CHECKING

import docker
import git
from docker.types import Mount
from pydantic import BaseModel

from envs.adopt import ADOPT_VERSION, Adopted, ImageCheckError, adopt, adopted_from
from envs.envlink import PTH_LINE, PTH_NAME
from envs.harness_env import BASE_PACKAGES
from envs.image_budget import build_lock, build_slot, check_disk, prune, touch
from envs.pipconf import HOST_ROOT, host_pip_access
from envs.repos import RepoError, open_source, sanitized_checkout
from envs.specs import DEFAULT_PARSER, DEFAULT_TEST_CMD, BuildPlan, build_plan, harness_data, harness_spec
from envs.task import Task
from sandbox import DockerSandbox
from sandbox.cleanup import stop_work
from sandbox.images import DEBIAN_RELEASES, ensure_base_image, image_exists

if TYPE_CHECKING:
    from envs.config import EnvSettings

log = logging.getLogger(__name__)
VENV = "/opt/venv"
RECIPE_VERSION = 4
"""Bumped whenever the build steps around the plan change (2: pip upgraded in the venv; 3: past tags kept;
4: conda-like interpreter (envs/envlink.py) with the harness env's base packages (envs/harness_env.py))."""
CONSTRAINTS_FILE = "/tmp/swescale/constraints.txt"
ENVLINK = Path(__file__).with_name("envlink.py")
WORKDIR = "/testbed"
LABEL = "swescale.env"
PLAN_LABEL, DERIVED_LABEL = f"{LABEL}.plan", f"{LABEL}.derived_from"
_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


class EnvSpec(BaseModel):
    """A ready environment image and how to test in it."""

    image: str
    test_cmd: str = DEFAULT_TEST_CMD
    """Test command; test files are appended (harness style)."""
    log_parser: str = DEFAULT_PARSER
    """swebench log parser name (swebench.harness.log_parsers.PARSER_REGISTRY)."""
    python: str = "python"
    """Interpreter to use inside the image."""
    eval_commands: list[str] = []
    """Shell lines run before the tests (e.g. activating conda in SWE-bench's own images)."""
    eval_script: str = ""
    """A complete evaluation script the task carries (swebench 5.x); used instead of a generated one."""
    workdir: str = WORKDIR
    base_commit: str = ""
    source: str = "built"
    """`task-image`, `built`, `derived` (from an image of another commit, see `prepare_environment`)
    or `cached`."""
    source_image: str = ""
    """The task's own image this one was derived from (checked and cleaned, envs.adopt), if any."""


class EnvBuildError(RuntimeError):
    """An image build failed at `step`; `log_tail` is the end of that step's output."""

    def __init__(self, step: str, log_tail: str, instance_id: str = ""):
        self.step, self.log_tail, self.instance_id = step, log_tail, instance_id
        who = f" of {instance_id}" if instance_id else ""
        super().__init__(f"environment build{who} failed at step '{step}':\n{log_tail}")


def _tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def _lock(key: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(key, threading.Lock())


def _task_image(task: Task, config: EnvSettings, dc: docker.DockerClient) -> EnvSpec | None:
    """The task's own image if it is here or can be pulled, checked and cleaned (envs.adopt)."""
    candidates = [task.image] if task.image else []
    if task.repo in harness_data()["specs"]:
        candidates.append(task.swebench_image)
    for image in dict.fromkeys(candidates):
        found = image_exists(dc, image)
        if not found and config.env.pull:
            try:
                name, _, tag = (
                    image.rpartition(":") if ":" in image.rsplit("/", 1)[-1] else (image, "", "latest")
                )
                dc.images.pull(name, tag=tag or "latest")
                found = True
            except docker.errors.APIError as exc:
                log.info("cannot pull %s: %s", image, str(exc)[:200])
        if not found:
            continue
        tag, adopted = _adopt(task, image, config, dc)
        spec = harness_spec(task) or {}
        return EnvSpec(
            image=tag,
            test_cmd=spec.get("test_cmd", DEFAULT_TEST_CMD)
            if isinstance(spec.get("test_cmd", ""), str)
            else " && ".join(spec["test_cmd"]),
            log_parser=task.log_parser or harness_data()["parsers"].get(task.repo, DEFAULT_PARSER),
            python=adopted.python,
            eval_commands=adopted.activation + spec.get("eval_commands", []),
            eval_script=task.eval_script,
            base_commit=task.base_commit,
            source="task-image",
            source_image=image,
        )
    return None


def base_pythons(wanted: str, default: str) -> list[str]:
    """Pythons to try for a spec asking for `wanted`: itself, then the Debian ones above it, nearest first
    (a 3.6 or 3.8 spec runs on 3.9 rather than on the default), then `default`."""

    def key(version: str) -> tuple[int, ...]:
        return tuple(int(p) for p in version.split(".") if p.isdigit())

    newer = sorted((v for v in DEBIAN_RELEASES if key(v) > key(wanted)), key=key)
    return list(dict.fromkeys([wanted, *newer, default]))


def _base_image(python: str, config: EnvSettings) -> str:
    """The sandbox base image for `python`, else for the nearest newer Python (offline machines build only
    Debian's), else the configured default."""
    if config.sandbox.base_image:
        return config.sandbox.base_image
    candidates = base_pythons(python, config.sandbox.python)
    for version in candidates:
        try:
            image = ensure_base_image(python=version)
        except Exception as exc:  # noqa: BLE001 - no such image offline: try the next Python
            if version == candidates[-1]:
                raise
            log.info("no base image for Python %s (%s)", version, exc)
            continue
        if version != python:
            log.warning("no base image for Python %s; using Python %s", python, version)
        return image
    raise AssertionError("unreachable: the last candidate raises")


def image_key(task: Task, plan: BuildPlan, base_image_id: str) -> str:
    """Cache key of an environment image. The commit id names the code and its whole history, so where the
    repository was cloned from (a URL, a mirror, a temporary copy) does not enter the key."""
    payload = [task.repo, task.base_commit, plan.model_dump(), base_image_id, RECIPE_VERSION]
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def plan_key(repo: git.Repo, task: Task, plan: BuildPlan, base_image_id: str) -> str:
    """Key of what an image holds besides the code: the repository (named by its root commits, so two
    repositories never share), the dependency plan and the base image. Images with equal plan keys
    differ only in the checked-out commit."""
    roots = sorted(repo.git.rev_list("--max-parents=0", task.base_commit).split())
    payload = [roots, plan.model_dump(), base_image_id, RECIPE_VERSION]
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _sibling(dc: docker.DockerClient, plan: str, repo: git.Repo, commit: str) -> tuple[str, str] | None:
    """(image id, commit) of an image of the same repository and dependency plan at an ancestor of
    `commit` (a full build in preference, then the nearest), if there is one. Only the past: the
    build artefacts a derived image keeps (egg-info, ...) never tell of later commits."""
    found = []
    for image in dc.images.list(filters={"label": f"{PLAN_LABEL}={plan}"}):
        other = image.labels.get(f"{LABEL}.commit", "")
        if other and other != commit and repo.is_ancestor(other, commit):
            distance = int(repo.git.rev_list("--count", f"{other}..{commit}"))
            found.append((bool(image.labels.get(DERIVED_LABEL)), distance, image.id, other))
    return min(found)[2:] if found else None


def _cached_image(dc: docker.DockerClient, tag: str, key: str) -> str | None:
    """The image built for `key`: under `tag`, or under another tag (then also tagged `tag`)."""
    if image_exists(dc, tag):
        return tag
    for image in dc.images.list(filters={"label": f"{LABEL}.key={key}"}):
        repository, _, name = tag.rpartition(":")
        image.tag(repository, name)
        return tag
    return None


def _image_tag(task: Task, config: EnvSettings, key: str) -> str:
    slug = (task.repo.replace("/", "__") if task.repo else task.instance_id).lower()
    slug = re.sub(r"[^a-z0-9_.-]+", "-", slug)[:80].strip("-.") or "repo"
    return f"{config.env.image_prefix}:{slug}-{task.base_commit[:10]}-{key[:12]}"


def _spec_from_image(dc: docker.DockerClient, tag: str) -> EnvSpec:
    labels = dc.images.get(tag).labels or {}
    return EnvSpec.model_validate({**json.loads(labels[f"{LABEL}.spec"]), "image": tag, "source": "cached"})


def _adopt(task: Task, image: str, config: EnvSettings, dc: docker.DockerClient) -> tuple[str, Adopted]:
    """The derived image of `image` for `task` (made once, then cached under its key)."""
    payload = [dc.images.get(image).id, task.base_commit, task.patch, task.test_patch, ADOPT_VERSION]
    key = hashlib.sha256(json.dumps(payload).encode()).hexdigest()
    tag = _image_tag(task, config, key)
    with _lock(tag):
        if not _cached_image(dc, tag, key):
            labels = {LABEL: "1", f"{LABEL}.key": key, f"{LABEL}.source": image}
            try:
                adopt(dc, image, tag, task, config, labels)
            except ImageCheckError as exc:
                raise EnvBuildError("image-check", str(exc), task.instance_id) from exc
        return tag, adopted_from(dc, tag)


def prepare_environment(
    task: Task, config: EnvSettings, rebuild: bool = False, share: bool = False
) -> EnvSpec:
    """An image for `task` (see module doc); raises EnvBuildError naming the failing step.

    `rebuild`: build now on the base image, skipping the task's own image and any cached build (the new
    image takes over the cache tag). `share`: when an image of the same repository and dependency plan
    exists at another commit (`plan_key`), derive this one from it (its layers plus the sanitized history
    at this commit: seconds instead of a build); the result is cached under this commit's key, so later
    calls without `share` find it. Sound for editable installs (detected plans), which see the new code."""
    dc = docker.from_env(timeout=int(max(config.env.build_timeout, 600)))
    if not rebuild:
        own = _task_image(task, config, dc)
        if own is not None:
            return own
    try:
        repo, _ = open_source(task, config.env.repos_dir)
    except RepoError as exc:
        raise EnvBuildError("repository", str(exc), task.instance_id) from exc
    if not task.base_commit:
        task = task.model_copy(update={"base_commit": repo.commit("HEAD").hexsha})
    try:
        plan = build_plan(task, repo, config.sandbox.python)
    except Exception as exc:  # noqa: BLE001 - unreadable packaging files etc.
        raise EnvBuildError("plan", f"{type(exc).__name__}: {exc}", task.instance_id) from exc
    base = _base_image(plan.python, config)
    base_id = dc.images.get(base).id
    key = image_key(task, plan, base_id)
    tag = _image_tag(task, config, key)
    shared = plan_key(repo, task, plan, base_id)
    with _lock(tag), build_lock(config.env, tag):
        if not rebuild and _cached_image(dc, tag, key):
            touch(config.env, tag)
            return _spec_from_image(dc, tag)
        spec = EnvSpec(
            image=tag,
            test_cmd=plan.test_cmd,
            log_parser=plan.log_parser,
            eval_commands=plan.eval_commands,
            base_commit=task.base_commit,
            source="built",
        )
        labels = {
            LABEL: "1",
            f"{LABEL}.key": key,
            f"{LABEL}.repo": task.repo or task.repo_url,
            f"{LABEL}.spec": spec.model_dump_json(exclude={"image", "source"}),
            PLAN_LABEL: shared,
        }
        spec = _build_or_derive(
            task, plan, repo, base, tag, labels, spec, shared if share and not rebuild else "", config, dc
        )
        touch(config.env, tag)
    if config.env.max_images or config.env.max_disk_gb:
        prune(config.env, dc)
    return spec


def _build_or_derive(task, plan, repo, base, tag, labels, spec, shared, config, dc) -> EnvSpec:
    """With `shared` (a plan key): derive from an image of the same plan when one exists, else build it
    (one full build per plan; the other commits wait, then derive). Without it: build."""
    if shared:
        with _lock(f"plan:{shared}"):
            sibling = _sibling(dc, shared, repo, task.base_commit)
            if sibling is None:
                _full_build(task, plan, repo, base, tag, labels, config, dc)
                return spec
        try:
            _derive(task, repo, sibling, tag, labels, config, dc)
            return spec.model_copy(update={"source": "derived"})
        except EnvBuildError as exc:
            log.warning("[%s] deriving from %s failed (%s): full build", task.instance_id, sibling[1], exc)
    _full_build(task, plan, repo, base, tag, labels, config, dc)
    return spec


def _full_build(task, plan, repo, base, tag, labels, config, dc) -> None:
    """A build within the disk budget and the bound on builds at once."""
    with build_slot(config.env):
        problem = check_disk(config.env, dc, tag)
        if problem:
            raise EnvBuildError("disk", problem, task.instance_id)
        _build(task, plan, repo, base, tag, labels, config, dc)


def _step(sb: DockerSandbox, task: Task, name: str, cmd: str, timeout: float, **kwargs) -> str:
    """Run one build step; raises EnvBuildError with the end of its output when it fails."""
    log.info("[%s] %s: %s", task.instance_id, name, cmd)
    run = sb.exec(cmd, timeout=timeout, **{"cwd": WORKDIR, **kwargs})
    if run.timed_out:
        raise EnvBuildError(name, _tail(run.output) + f"\n(timed out after {timeout:.0f}s)", task.instance_id)
    if run.exit_code != 0:
        raise EnvBuildError(name, _tail(run.output) + f"\n(exit code {run.exit_code})", task.instance_id)
    return run.output


def _box(image: str, network: bool, config: EnvSettings, dc: docker.DockerClient, **kwargs) -> DockerSandbox:
    """A build sandbox: the configured limits, no agent-oriented environment variables."""
    return DockerSandbox(
        image, workdir=WORKDIR, config=config.sandbox, network=network, default_env=False, client=dc, **kwargs
    )


def _checkout(repo: git.Repo, task: Task, tmp: Path) -> tuple[Path, str]:
    """The sanitized checkout of the task's commit in `tmp/testbed`, and its SHA."""
    tree = tmp / "testbed"
    try:
        return tree, sanitized_checkout(repo, task.base_commit, tree)
    except Exception as exc:  # noqa: BLE001 - git errors of any kind
        raise EnvBuildError("checkout", f"{type(exc).__name__}: {exc}", task.instance_id) from exc


def _finalize(sha: str) -> str:
    """Build artefacts (egg-info, build/...) out of `git status` and diffs without a new commit, and the
    checks that the tree is at `sha` with no branch, remote or later ref left."""
    return (
        "git config --global --add safe.directory '*' && "
        "git ls-files --others --exclude-standard >> .git/info/exclude; rm -rf /tmp/swescale; "
        f'test "$(git rev-parse HEAD)" = {sha} && test -z "$(git for-each-ref --no-merged HEAD)"'
        ' && test -z "$(git for-each-ref | grep -v refs/tags/)" && git status --short'
    )


def _derive(task: Task, repo: git.Repo, sibling: tuple[str, str], tag: str, labels: dict, config, dc) -> None:
    """`tag` from the sibling image: its .git replaced by the sanitized history at the task's commit, the
    tree reset to it (build artefacts, excluded from git at build time, stay), no network."""
    image, commit = sibling
    timeout = config.env.build_timeout
    with tempfile.TemporaryDirectory(prefix="swescale-env-") as tmp:
        tree, sha = _checkout(repo, task, Path(tmp))
        with _box(image, False, config, dc) as sb:
            sb.copy_to(tree / ".git", "/tmp/swescale")
            _step(
                sb,
                task,
                "checkout",
                "cp .git/info/exclude /tmp/swescale/exclude && rm -rf .git && mv /tmp/swescale/.git .git"
                " && cat /tmp/swescale/exclude >> .git/info/exclude && git reset -q --hard && git clean -fdq",
                timeout,
            )
            _step(sb, task, "finalize", _finalize(sha), timeout)
            repository, _, version = tag.rpartition(":")
            sb.commit(repository, version, labels={**labels, f"{LABEL}.commit": sha, DERIVED_LABEL: commit})
    log.info("[%s] derived %s from the image of %s", task.instance_id, tag, commit[:10])


def _venv_command(sb: DockerSandbox) -> str:
    """Create the env: a venv whose interpreter is a copy of its own (--copies), the envlink hook in the base
    interpreter (so links to the env's interpreter run in the env, as with conda), and the conda env's base
    packages (bullseye's own pip 20 cannot build current projects)."""
    sb.write_file("/tmp/swescale/swescale_envlink.py", ENVLINK.read_text())
    install_hook = (
        "import os, shutil, site; d = [p for p in site.getsitepackages() if os.path.isdir(p)][-1]; "
        "shutil.copy('/tmp/swescale/swescale_envlink.py', d); "
        f"open(os.path.join(d, {PTH_NAME!r}), 'w').write({PTH_LINE!r})"
    )
    return (
        f'python3 -c "{install_hook}" && python3 -m venv --copies {VENV} && '
        f"python -m pip install -q {' '.join(BASE_PACKAGES)} && python --version"
    )


def _build(task, plan, repo, base, tag, labels, config, dc) -> None:
    """Run the plan in a networked sandbox from `base`, then commit it as `tag`.

    Build sandboxes get the configured limits (EnvSettings.sandbox) but network, and the host's pip
    access only per step (never baked into the image)."""
    access = host_pip_access()
    env = {
        **access.env,
        "PATH": f"{VENV}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "VIRTUAL_ENV": VENV,
        "DEBIAN_FRONTEND": "noninteractive",
    }
    timeout = config.env.build_timeout

    def step(sb: DockerSandbox, name: str, cmd: str, cwd: str = WORKDIR) -> str:
        return _step(sb, task, name, cmd, timeout, cwd=cwd, env=env)

    image_env = [
        e for e in (dc.images.get(base).attrs["Config"].get("Env") or []) if not e.startswith("PATH=")
    ]
    conf = {
        "Env": [*image_env, f"PATH={env['PATH']}", f"VIRTUAL_ENV={VENV}"],
        "WorkingDir": WORKDIR,
        "Cmd": ["sleep", "infinity"],
        "Entrypoint": None,
    }
    with tempfile.TemporaryDirectory(prefix="swescale-env-") as tmp:
        tree, sha = _checkout(repo, task, Path(tmp))
        mounts = [Mount(path, None, type="tmpfs") for path in access.tmpfs]  # before the binds below them
        mounts += [Mount(inside, host, type="bind", read_only=True) for host, inside in access.mounts.items()]
        with _box(base, True, config, dc, mounts=mounts) as sb:
            sb.copy_to(tree, "/")
            step(sb, "venv", _venv_command(sb), cwd="/")
            for path, text in plan.files.items():
                sb.write_file(path, text)
            if plan.constraints:
                sb.write_file(CONSTRAINTS_FILE, "\n".join(plan.constraints) + "\n")
                env["PIP_CONSTRAINT"] = CONSTRAINTS_FILE
            for name, cmd in plan.steps:
                step(sb, name, cmd)
            step(sb, "finalize", _finalize(sha))
            labels = {**labels, f"{LABEL}.commit": sha}
            draft = sb.commit(labels=labels, conf=conf)  # untagged
        # Docker left empty mount-point stubs of the host binds: drop them in a last layer
        try:
            with _box(draft.id, False, config, dc) as clean:
                step(clean, "cleanup", f"rm -rf {HOST_ROOT}", cwd="/")
                repository, _, version = tag.rpartition(":")
                clean.commit(repository, version, labels=labels, conf=conf)
        except BaseException:
            dc.images.remove(draft.id, force=True)
            raise
        # (on success the draft is the final image's parent layer, like a `docker build` intermediate)
    log.info("[%s] built %s", task.instance_id, tag)


def prepare_environments(
    tasks: list[Task], config: EnvSettings, workers: int = 2, rebuild: bool = False
) -> Iterator[tuple[Task, EnvSpec | EnvBuildError]]:
    """Prepare many tasks' images ahead, `workers` at once (builds bounded by `env.max_parallel_builds`);
    tasks of the same spec share one build. Yields (task, spec or the build error) as each finishes."""
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="env-build") as pool:
        futures = {pool.submit(prepare_environment, task, config, rebuild): task for task in tasks}
        pending = set(futures)
        try:
            while pending:  # with a timeout: a Ctrl-C is handled at once, not when a build ends
                done, pending = wait(pending, timeout=1.0, return_when=FIRST_COMPLETED)
                for future in done:
                    try:
                        yield futures[future], future.result()
                    except EnvBuildError as exc:
                        yield futures[future], exc
        except KeyboardInterrupt:  # builds cancelled, their sandboxes removed, within cleanup.STOP_WAIT
            stop_work(futures)
            raise
