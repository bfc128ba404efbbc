"""Repository sources, sanitized checkouts, harness specs and detection, host pip access."""

from __future__ import annotations

import subprocess

from envs.pipconf import HOST_ROOT, host_pip_access
from envs.repos import candidate_sources, open_source, sanitized_checkout
from envs.specs import build_plan, harness_spec
from envs.task import Task


def test_source_order(tmp_path, calc_repo):
    repo, base, _ = calc_repo
    mirror = tmp_path / "local__calc"
    subprocess.run(["git", "clone", "-q", "--bare", str(repo), str(mirror)], check=True)
    task = Task(instance_id="x", repo="local/calc", base_commit=base)
    assert candidate_sources(task, tmp_path) == [str(mirror), "https://github.com/local/calc"]
    assert candidate_sources(task.model_copy(update={"repo_url": "/elsewhere"}), tmp_path)[0] == "/elsewhere"
    assert open_source(task, tmp_path)[1] == str(mirror)


def test_sanitized_checkout_has_no_future(tmp_path, calc_repo):
    repo, base, head = calc_repo
    from git import Repo

    dest = tmp_path / "tb"
    assert sanitized_checkout(Repo(repo), base, dest) == base
    run = lambda *a: subprocess.run(["git", *a], cwd=dest, capture_output=True, text=True)  # noqa: E731
    assert run("cat-file", "-e", head).returncode != 0
    assert run("for-each-ref").stdout == "" and run("remote").stdout == ""
    assert run("rev-list", "--all").stdout.split() == [base]
    assert not (dest / "FUTURE_SECRET.txt").exists()


def test_harness_specs_and_detection(calc_repo, calc_task):
    task = Task(instance_id="psf__requests-3362", repo="psf/requests", version="2.10")
    spec = harness_spec(task)
    assert spec["test_cmd"] == "pytest -rA" and spec["python"] == "3.9"
    from git import Repo

    plan = build_plan(calc_task, Repo(calc_repo[0]), "3.11")
    assert plan.source == "detected" and ("install", "python -m pip install -e '.[test]'") in plan.steps
    assert plan.log_parser == "parse_log_pytest" and "pytest" in plan.test_cmd


def test_pip_access_rewrites_host_paths(monkeypatch, tmp_path):
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    monkeypatch.setenv("PIP_FIND_LINKS", str(wheels))
    monkeypatch.setenv("PIP_INDEX_URL", "https://pypi.example/simple")
    access = host_pip_access()
    assert access.env["PIP_FIND_LINKS"] == HOST_ROOT + str(wheels)
    assert access.mounts[str(wheels)] == HOST_ROOT + str(wheels)
    assert access.env["PIP_INDEX_URL"] == "https://pypi.example/simple" and access.tmpfs == [HOST_ROOT]


def test_non_editable_installs_are_redone_after_the_patch(calc_task):
    """As the harness's eval script: psf/requests (`pip install .`) is reinstalled offline; editable ones are not."""
    from envs.environment import EnvSpec
    from envs.grading import eval_script
    from envs.specs import reinstall_command

    requests = Task(
        instance_id="psf__requests-3362",
        repo="psf/requests",
        version="2.10",
        base_commit="abc",
        test_patch=calc_task.test_patch,
    )
    command = "python -m pip install --no-index --no-build-isolation ."
    assert reinstall_command(harness_spec(requests)) == command
    script = eval_script(requests, EnvSpec(image="x"))
    assert script.index("diff abc") < script.index(command) < script.index("git apply -v")
    flask = Task(instance_id="pallets__flask-4045", repo="pallets/flask", version="2.0")
    assert reinstall_command(harness_spec(flask)) == ""
    assert "pip install" not in eval_script(calc_task, EnvSpec(image="x"))


def test_sanitized_checkout_keeps_past_tags_only(tmp_path, calc_repo):
    """Version tools (setuptools_scm) need the tags before the base; tags after it would leak the future."""
    repo, base, head = calc_repo
    from git import Repo

    source = tmp_path / "tagged"
    subprocess.run(["git", "clone", "-q", str(repo), str(source)], check=True)
    tag = lambda *a: subprocess.run(["git", "-C", str(source), "tag", *a], check=True)  # noqa: E731
    tag("-a", "v0.1", "-m", "release 0.1", base)
    tag("v0.1-light", base)
    tag("-a", "v0.2", "-m", "release 0.2 (holds the fix)", head)
    dest = tmp_path / "tb"
    sanitized_checkout(Repo(source), base, dest)
    run = lambda *a: subprocess.run(["git", *a], cwd=dest, capture_output=True, text=True)  # noqa: E731
    assert run("tag").stdout.split() == ["v0.1", "v0.1-light"]
    assert run("describe", "--tags").stdout.strip() == "v0.1"
    assert run("cat-file", "-e", head).returncode != 0
