"""How to install and test a repository: SWE-bench harness specs (swebench 4.x data), or detection."""

from __future__ import annotations

import configparser
import functools
import json
import re
import shlex
import tomllib
from pathlib import Path

import git
from pydantic import BaseModel

from envs.harness_env import constraints
from envs.internet import service_commands, service_steps
from envs.repos import read_file_at
from envs.task import Task

SPECS_FILE = Path(__file__).parent / "data" / "swebench_specs.json"
DEFAULT_TEST_CMD = "python -m pytest -rA -p no:cacheprovider"
DEFAULT_PARSER = "parse_log_pytest"
TEST_EXTRAS = ("test", "tests", "testing", "dev")
_REQ_FILES = (
    "requirements.txt",
    "requirements-dev.txt",
    "requirements-test.txt",
    "requirements_test.txt",
    "requirements_dev.txt",
    "test-requirements.txt",
    "dev-requirements.txt",
    "requirements/test.txt",
    "requirements/tests.txt",
    "requirements/dev.txt",
    "requirements/testing.txt",
)


class BuildPlan(BaseModel):
    """What an environment image build runs (each step in /testbed with /opt/venv active)."""

    python: str
    """Wanted Python version (`3.9`); the base image decides what is really used."""
    steps: list[tuple[str, str]]
    """(step name, bash command) in order."""
    files: dict[str, str] = {}
    """Extra files written into the build container before the steps (e.g. requirements)."""
    test_cmd: str = DEFAULT_TEST_CMD
    log_parser: str = DEFAULT_PARSER
    eval_commands: list[str] = []
    """Commands the evaluation script runs before the tests (harness `eval_commands`)."""
    constraints: list[str] = []
    """pip constraints applied to every build step (envs.harness_env.CONSTRAINTS)."""
    source: str = "detected"
    """`swebench-specs` or `detected`."""
    dep_text: str = ""
    """Everything the dependencies depend on (keys the image cache)."""


@functools.cache
def harness_data() -> dict:
    return json.loads(SPECS_FILE.read_text())


def harness_spec(task: Task) -> dict | None:
    return harness_data()["specs"].get(task.repo, {}).get(task.version)


def harness_test_cmd(spec: dict | None) -> str:
    """The test command of a harness spec ("" without one); a list of commands joined by `&&`."""
    test_cmd = (spec or {}).get("test_cmd", "")
    return test_cmd if isinstance(test_cmd, str) else " && ".join(test_cmd)


def reinstall_command(spec: dict | None) -> str:
    """What the evaluation script runs once the patch is applied, as the harness's does: the spec's
    `install`, when it is not editable (an editable install sees the patch anyway). Evaluation has no
    network, so pip builds from what the image holds (builds of such specs add `wheel` for it)."""
    install = (spec or {}).get("install", "")
    if not install or re.search(r"(^|\s)(-e|--editable)(\s|$)|\bdevelop\b", install):
        return ""
    return install.replace("pip install", "pip install --no-index --no-build-isolation")


def _pip_name(conda_spec: str) -> str:
    """`numpy=1.19` (conda) -> `numpy==1.19`."""
    return re.sub(r"(?<![=<>!~])=(?!=)", "==", conda_spec.strip())


def _requirements(repo: git.Repo, commit: str, paths: list[str]) -> str:
    """The harness's requirements text: the first file found, `-r` includes inlined, editable self dropped."""

    def keep(line: str) -> bool:
        return not any(line.strip().startswith(x) for x in ("-e .", "#", ".[test"))

    for path in paths:
        text = read_file_at(repo, commit, path)
        if text is None:
            continue
        folder, extra, own = path.rpartition("/")[0], [], []
        for line in text.splitlines():
            if line.strip().startswith("-r"):
                include = line.strip()[2:].strip()
                sub = read_file_at(repo, commit, f"{folder}/{include}" if folder else include) or ""
                extra += [x for x in sub.splitlines() if keep(x)]
            elif keep(line):
                own.append(line)
        return "\n".join(extra + own) + "\n"
    return ""


def _env_yml_packages(repo: git.Repo, commit: str, paths: list[str]) -> list[str]:
    """Best effort: conda environment.yml dependencies as pip requirements (no conda in our images)."""
    import yaml

    for path in paths:
        text = read_file_at(repo, commit, path)
        if text is None:
            continue
        out: list[str] = []
        for dep in (yaml.safe_load(text) or {}).get("dependencies", []):
            if isinstance(dep, dict):
                out += [str(d) for d in dep.get("pip", [])]
            elif not re.match(r"^(python|pip)\b", str(dep)):
                out.append(_pip_name(str(dep)))
        return out
    return []


def conda_packages_command(pkgs: list[str]) -> str:
    """Install an environment.yml's packages with pip: all at once, else one by one, skipping (and naming in
    the log) only those PyPI does not have (conda-only packages such as cdms2); other failures fail."""
    quoted = " ".join(map(shlex.quote, pkgs))
    one = (
        'python -m pip install "$p" > /tmp/swescale/pip.log 2>&1 || '
        "{ grep -q 'No matching distribution' /tmp/swescale/pip.log && "
        'echo "swescale: $p is not on PyPI (conda-only); skipped"; } || { cat /tmp/swescale/pip.log; exit 1; }'
    )
    return f"python -m pip install {quoted} || for p in {quoted}; do {one}; done"


def plan_from_harness(task: Task, spec: dict, repo: git.Repo) -> BuildPlan:
    data = harness_data()
    setup_commit = task.environment_setup_commit or task.base_commit
    steps: list[tuple[str, str]] = []
    files: dict[str, str] = {}
    packages = spec.get("packages", "")
    if packages == "requirements.txt":
        files["/tmp/swescale/requirements.txt"] = _requirements(
            repo, setup_commit, data["reqs_paths"].get(task.repo, [])
        )
        steps.append(("requirements", "python -m pip install -r /tmp/swescale/requirements.txt"))
    elif packages == "environment.yml":
        pkgs = _env_yml_packages(repo, setup_commit, data["env_yml_paths"].get(task.repo, []))
        if pkgs:
            steps.append(("environment.yml", conda_packages_command(pkgs)))
    elif packages:
        steps.append(
            (
                "packages",
                "python -m pip install " + " ".join(shlex.quote(_pip_name(p)) for p in packages.split()),
            )
        )
    if spec.get("pip_packages"):
        steps.append(
            ("pip_packages", "python -m pip install " + " ".join(map(shlex.quote, spec["pip_packages"])))
        )
    if task.repo in data["install"]:
        steps.append(("repo_install", data["install"][task.repo]))
    steps += [(f"pre_install_{i}", cmd) for i, cmd in enumerate(spec.get("pre_install", []))]
    if reinstall_command(spec):
        steps.append(("wheel", "python -m pip install wheel"))  # to reinstall offline at evaluation
    if spec.get("install"):
        steps.append(("install", spec["install"]))
    steps += service_steps(task)
    test_cmd = spec["test_cmd"] if isinstance(spec["test_cmd"], str) else " && ".join(spec["test_cmd"])
    return BuildPlan(
        python=str(spec.get("python", "3.11")),
        steps=steps,
        files=files,
        test_cmd=test_cmd,
        log_parser=data["parsers"].get(task.repo, DEFAULT_PARSER),
        eval_commands=[*spec.get("eval_commands", []), *service_commands(task)],
        constraints=constraints(task),
        source="swebench-specs",
        dep_text=json.dumps([spec, files], sort_keys=True),
    )


def _declared_extras(repo: git.Repo, commit: str) -> tuple[list[str], str]:
    """Test-ish extras the project declares, and the packaging files' text."""
    texts, extras = [], set()
    pyproject = read_file_at(repo, commit, "pyproject.toml")
    if pyproject:
        texts.append(pyproject)
        try:
            extras |= set(tomllib.loads(pyproject).get("project", {}).get("optional-dependencies", {}))
        except tomllib.TOMLDecodeError:
            pass
    setup_cfg = read_file_at(repo, commit, "setup.cfg")
    if setup_cfg:
        texts.append(setup_cfg)
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read_string(setup_cfg)
            if parser.has_section("options.extras_require"):
                extras |= set(parser["options.extras_require"])
        except configparser.Error:
            pass
    setup_py = read_file_at(repo, commit, "setup.py")
    if setup_py:
        texts.append(setup_py)
        block = re.search(r"extras_require\s*=\s*\{(.*?)\}", setup_py, re.S)
        if block:
            extras |= set(re.findall(r"['\"]([\w-]+)['\"]\s*:", block.group(1)))
    return sorted(e for e in extras if e in TEST_EXTRAS), "\n".join(texts)


def _tox_deps(tox_ini: str) -> list[str]:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(tox_ini)
    except configparser.Error:
        return []
    if not parser.has_option("testenv", "deps"):
        return []
    return [
        d.strip()
        for d in parser["testenv"]["deps"].splitlines()
        if d.strip() and not d.strip().startswith(("-", "#", ".")) and "{" not in d
    ]


def detect_plan(task: Task, repo: git.Repo, python: str) -> BuildPlan:
    """Any Python project: install the package (with test extras), requirements files, tox deps, pytest."""
    commit = task.base_commit
    extras, packaging = _declared_extras(repo, commit)
    steps: list[tuple[str, str]] = []
    dep_text = [packaging]
    for path in _REQ_FILES:
        text = read_file_at(repo, commit, path)
        if text is not None:
            dep_text.append(text)
            steps.append((f"requirements:{path}", f"python -m pip install -r {shlex.quote(path)}"))
    tox = read_file_at(repo, commit, "tox.ini")
    deps = _tox_deps(tox) if tox else []
    if deps:
        dep_text.append(tox or "")
        steps.append(("tox_deps", "python -m pip install " + " ".join(map(shlex.quote, deps))))
    if packaging:
        target = f".[{','.join(extras)}]" if extras else "."
        steps.append(("install", f"python -m pip install -e {shlex.quote(target)}"))
    steps.append(("pytest", "python -m pip install pytest"))
    steps += service_steps(task)
    return BuildPlan(
        python=python, steps=steps, eval_commands=service_commands(task), dep_text="\n".join(dep_text)
    )


def build_plan(task: Task, repo: git.Repo, default_python: str) -> BuildPlan:
    spec = harness_spec(task)
    return plan_from_harness(task, spec, repo) if spec else detect_plan(task, repo, default_python)
