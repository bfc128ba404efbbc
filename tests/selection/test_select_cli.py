"""`swescale select` end to end: a small git repo, a tasks file, three prediction files, a real env image."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from swescale.cli.main import app

pytestmark = pytest.mark.docker

CALC = '''"""A calculator."""


def add(a, b):
    """Add two numbers."""
    return a - b


def mul(a, b):
    return a * b
'''
TESTS = """from calc import add, mul


def test_mul():
    assert mul(2, 3) == 6


def test_add_zero():
    assert add(0, 0) == 0
"""


# Fixed dates: the same commit id every run, so the environment image is built once per machine.
GIT_DATES = {"GIT_AUTHOR_DATE": "2024-01-01T00:00:00Z", "GIT_COMMITTER_DATE": "2024-01-01T00:00:00Z"}


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, **GIT_DATES},
    ).stdout


def diff(repo: Path, path: str, content: str) -> str:
    original = (repo / path).read_text()
    (repo / path).write_text(content)
    out = git(repo, "diff")
    (repo / path).write_text(original)
    return out


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("select_e2e")
    repo = root / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    git(repo, "config", "user.email", "t@example.com")
    git(repo, "config", "user.name", "t")
    (repo / "calc.py").write_text(CALC)
    (repo / "tests").mkdir()
    (repo / "tests" / "test_calc.py").write_text(TESTS)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "init")
    base = git(repo, "rev-parse", "HEAD").strip()
    task = {
        "instance_id": "demo__calc-1",
        "repo": "demo/calc",
        "repo_url": str(repo),
        "base_commit": base,
        "problem_statement": "add(2, 3) returns -1 instead of 5.",
    }
    (root / "tasks.jsonl").write_text(json.dumps(task) + "\n")
    fix = diff(repo, "calc.py", CALC.replace("return a - b", "return a + b"))
    fix_cosmetic = diff(repo, "calc.py", CALC.replace("return a - b", "# the fix\n    return (a +  b)"))
    # Wrong: "fixes" add by breaking mul, which an existing test catches.
    wrong = diff(repo, "calc.py", CALC.replace("return a - b", "return a + b").replace("a * b", "a + b"))
    for name, system, patch in [
        ("sys_a", "model-a", fix),
        ("sys_b", "model-b", wrong),
        ("sys_c", "model-c", fix_cosmetic),
    ]:
        line = {"instance_id": "demo__calc-1", "model_name_or_path": system, "model_patch": patch}
        (root / f"{name}.jsonl").write_text(json.dumps(line) + "\n")
    return root


def test_select_over_prediction_files(project):
    out = project / "preds.jsonl"
    run_dir = project / "run"
    result = CliRunner().invoke(
        app,
        [
            "select",
            "--dataset",
            str(project / "tasks.jsonl"),
            "--candidates",
            str(project / "sys_b.jsonl"),
            str(project / "sys_a.jsonl"),
            str(project / "sys_c.jsonl"),
            "--output",
            str(out),
            "--run-dir",
            str(run_dir),
            "verifier.judge=false",
        ],
    )
    assert result.exit_code == 0, result.output
    preds = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(preds) == 1 and preds[0]["model_name_or_path"] == "swescale-select"
    assert (
        "return a + b" in preds[0]["model_patch"] and "a * b" not in preds[0]["model_patch"].split("+++")[1]
    )
    decision = json.loads((run_dir / "demo__calc-1" / "decision.json").read_text())
    assert decision["chosen"] in {"sys_a/model-a:demo__calc-1", "sys_c/model-c:demo__calc-1"}
    assert not decision["abstained"]
    counts = sorted(g["count"] for g in decision["groups"])
    assert counts == [1, 2]  # the cosmetic variant merged with the plain fix
    wrong = next(c for c in decision["clusters"] if "sys_b/model-b:demo__calc-1" in c["members"])
    assert wrong["new_regressions"] >= 1
    assert decision["sources"]["sys_b/model-b:demo__calc-1"].endswith("sys_b.jsonl")


def test_select_reads_the_repository_from_repos_dir(project):
    """A task without repo_url: its code comes from `--repos-dir` (a mirror named owner__name.git)."""
    mirrors = project / "mirrors"
    mirrors.mkdir(exist_ok=True)
    if not (mirrors / "demo__calc.git").exists():
        git(project, "clone", "-q", "--bare", str(project / "repo"), str(mirrors / "demo__calc.git"))
    task = json.loads((project / "tasks.jsonl").read_text())
    task.pop("repo_url")
    (project / "tasks_mirror.jsonl").write_text(json.dumps(task) + "\n")
    out, run_dir = project / "preds_mirror.jsonl", project / "run_mirror"
    args = ["select", "--dataset", str(project / "tasks_mirror.jsonl"), "--output", str(out)]
    args += ["--candidates", str(project / "sys_a.jsonl"), str(project / "sys_c.jsonl")]
    args += ["--run-dir", str(run_dir), "--repos-dir", str(mirrors), "verifier.judge=false"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    decision = json.loads((run_dir / "demo__calc-1" / "decision.json").read_text())
    # the cosmetic variant merges with the plain fix only by AST normalization, which needs the repository
    assert [g["count"] for g in decision["groups"]] == [2]
