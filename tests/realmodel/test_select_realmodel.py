"""`swescale select --servers servers.yaml` with a real judge (SmolLM2-135M on llama.cpp): the judge's P(YES)
comes from the server's real logprobs, or the verifier table says why it could not."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from realmodel_cli import swescale

pytestmark = [pytest.mark.realmodel, pytest.mark.docker, pytest.mark.timeout(600)]

CALC = '"""A calculator."""\n\n\ndef add(a, b):\n    return a - b\n'
TESTS = "from calc import add\n\n\ndef test_add_zero():\n    assert add(0, 0) == 0\n"
GIT_DATES = {"GIT_AUTHOR_DATE": "2024-01-01T00:00:00Z", "GIT_COMMITTER_DATE": "2024-01-01T00:00:00Z"}
"""Fixed dates: the same commit every run, so its environment image is built once per machine."""


def git(repo: Path, *args: str) -> str:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(repo), **GIT_DATES}
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=env
    ).stdout


def make_task(root: Path) -> tuple[Path, list[Path]]:
    """A one-file repository with a bug, its tasks file and two candidate patches (a fix and a wrong one)."""
    repo = root / "repo"
    (repo / "tests").mkdir(parents=True)
    (repo / "calc.py").write_text(CALC)
    (repo / "tests" / "test_calc.py").write_text(TESTS)
    git(repo, "init", "-q")
    git(repo, "-c", "user.email=t@example.com", "-c", "user.name=t", "add", "-A")
    git(repo, "-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qm", "init")
    task = {
        "instance_id": "demo__calc-real",
        "repo": "demo/calc",
        "repo_url": str(repo),
        "base_commit": git(repo, "rev-parse", "HEAD").strip(),
        "problem_statement": "add(2, 3) returns -1 instead of 5.",
    }
    (root / "tasks.jsonl").write_text(json.dumps(task) + "\n")
    files = []
    for name, body in (("fix", "return a + b"), ("wrong", "return a * b")):
        (repo / "calc.py").write_text(CALC.replace("return a - b", body))
        line = {
            "instance_id": task["instance_id"],
            "model_name_or_path": name,
            "model_patch": git(repo, "diff"),
        }
        files.append(root / f"{name}.jsonl")
        files[-1].write_text(json.dumps(line) + "\n")
    (repo / "calc.py").write_text(CALC)
    return root / "tasks.jsonl", files


def test_select_judges_with_the_servers_real_logprobs(real_model, base_image, tmp_path):
    tasks, candidates = make_task(tmp_path)
    run_dir, output = tmp_path / "run", tmp_path / "preds.jsonl"
    args = ["select", "--servers", str(real_model.servers), "--dataset", str(tasks)]
    args += ["--candidates", *map(str, candidates), "--output", str(output), "--run-dir", str(run_dir)]
    args += ["verifier.test_trajectories=0", "verifier.judge=true"]
    selected = swescale(*args, cwd=tmp_path, timeout=480)
    assert "Traceback" not in selected.stdout, selected.stdout
    assert selected.returncode == 0, selected.stdout
    assert "1 chosen, 0 abstained, 0 failed" in selected.stdout or "0 chosen, 1 abstained" in selected.stdout

    table = json.loads((run_dir / "demo__calc-real" / "selection_table.json").read_text())
    judged = table["meta"]["judge_method"]
    assert judged["method"] in ("logprobs", "samples", "unavailable") and judged["reason"], judged
    scores = [row["judge"] for row in table["rows"]]
    print(f"judge: {judged}; P(YES) per candidate: {scores}")
    assert len(scores) == 2 and all(s is None or 0.0 <= s <= 1.0 for s in scores), scores
    if judged["method"] == "logprobs":  # real numbers from the server's top logprobs
        assert any(s is not None for s in scores), f"logprobs probed fine, yet nothing was judged: {table}"
    decision = json.loads((run_dir / "demo__calc-real" / "decision.json").read_text())
    assert decision["abstained"] or decision["chosen"]
