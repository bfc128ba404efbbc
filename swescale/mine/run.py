"""`swescale env mine`: a repository's history into validated SWE-bench-format tasks.

    scan commits (and merged pull requests, when the GitHub API answers) -> split source / tests ->
    environment at the parent (images shared by commits of one dependency plan) -> validation runs ->
    bench eval's grading of gold and empty patch -> problem statement -> tasks.jsonl + funnel.json

State lives in `<run_dir>/mine.sqlite`; a second run with the same run directory skips finished commits.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import git

from envs.config import EnvConfig
from envs.repos import RepoError, open_source
from envs.task import Task
from sandbox.config import SandboxConfig
from swescale.mine.candidates import Candidate, nearest_version, repo_name, scan, split
from swescale.mine.config import MineConfig
from swescale.mine.funnel import funnel, render, write_funnel
from swescale.mine.issues import IssueSource, load_issue_dump
from swescale.mine.statement import problem_statement
from swescale.mine.store import Row, Store
from swescale.mine.validate import validate

log = logging.getLogger(__name__)


class MineSettings(Protocol):
    """The sections mining reads (SwescaleConfig has them)."""

    mine: MineConfig
    env: EnvConfig
    sandbox: SandboxConfig


@dataclass
class MineResult:
    repo: str
    tasks: list[dict]
    funnel: dict
    output: Path
    run_dir: Path
    rows: list[Row]
    """Every commit of the selection, newest first, with its stage, reason and timings."""


def task_of(name: str, source: str, cand: Candidate, version: str) -> Task:
    """The candidate as an (unvalidated) task at its parent commit."""
    return Task(
        instance_id=f"{name.replace('/', '__')}-{cand.sha[:10]}",
        repo=name,
        repo_url=source,
        base_commit=cand.parent,
        patch=cand.patch,
        test_patch=cand.test_patch,
        created_at=cand.date,
        version=version,
        environment_setup_commit=cand.parent,
    )


def _row(task: Task, cand: Candidate, verdict: Any, statement: tuple[str, str, list[int]]) -> dict:
    """The dataset row: SWE-bench's fields (test lists JSON-encoded, as in the official data) and ours."""
    text, source, numbers = statement
    return {
        "instance_id": task.instance_id,
        "repo": task.repo,
        "base_commit": task.base_commit,
        "patch": task.patch,
        "test_patch": task.test_patch,
        "problem_statement": text,
        "hints_text": "",
        "created_at": task.created_at,
        "version": task.version,
        "FAIL_TO_PASS": json.dumps(verdict.fail_to_pass),
        "PASS_TO_PASS": json.dumps(verdict.pass_to_pass),
        "environment_setup_commit": verdict.environment_setup_commit or task.base_commit,
        "repo_url": task.repo_url,
        "fix_commit": cand.sha,
        "statement_source": source,
        "issue_numbers": numbers,
        "pull_request": cand.pr or None,
        "flaky_tests": verdict.flaky,
    }


def _candidates(
    repo: git.Repo, config: MineConfig, issues: IssueSource, store: Store, **window: Any
) -> list[str]:
    """Scan the history into the store (known commits are not split again); the selection's shas."""
    pulls = issues.merged_pulls() if not issues.api_off else {}
    shas = []
    for commit in scan(repo, **window):
        shas.append(commit.hexsha)
        if not store.known(commit.hexsha):
            cand = split(repo, commit, config)
            if commit.hexsha in pulls:
                cand.pr, cand.pr_text = pulls[commit.hexsha]["number"], pulls[commit.hexsha]["text"]
            store.add(cand)
    # pull requests merged with a merge commit: their diff against the first parent, unless one of the
    # scanned commits is that same change (a one-commit pull request)
    diffs = {(r.candidate.patch, r.candidate.test_patch) for r in store.rows(shas) if not r.candidate.reason}
    for sha, pr in pulls.items():
        try:
            commit = repo.commit(sha)
        except (ValueError, git.BadName):
            continue
        if len(commit.parents) < 2 or sha in shas or not _in_window(commit, window):
            continue
        if not store.known(sha):
            cand = split(repo, commit, config, parent=commit.parents[0].hexsha)
            if (cand.patch, cand.test_patch) in diffs and not cand.reason:
                continue
            store.add(cand.model_copy(update={"kind": "pr", "pr": pr["number"], "pr_text": pr["text"]}))
        shas.append(sha)
    return shas


def _in_window(commit: git.Commit, window: dict) -> bool:
    since, until = window.get("since"), window.get("until")
    stamp = time.strftime("%Y-%m-%d", time.gmtime(commit.committed_date))
    return (not since or stamp >= since[:10]) and (not until or stamp <= until[:10])


def mine(
    source: str,
    config: MineSettings,
    run_dir: Path,
    output: Path,
    *,
    since: str | None = None,
    until: str | None = None,
    limit: int | None = None,
    workers: int | None = None,
    issues_file: Path | None = None,
    model: Any = None,
    say: Callable[[str], None] = lambda _: None,
) -> MineResult:
    """Mine `source` (a git URL or path) into `output`; raises RepoError, RunDirError, ValueError (issues
    file). `model`: an agent.model.ModelClient for back-translated statements, or None."""
    if Path(source).expanduser().exists():
        source = str(Path(source).expanduser().resolve())
    repo, _ = open_source(Task(instance_id="mine", repo_url=source), config.env.repos_dir)
    name = repo_name(source, repo)
    dump = load_issue_dump(issues_file) if issues_file else {}
    run_dir = Path(run_dir)
    store = Store(run_dir / "mine.sqlite")
    try:
        store.claim_repo(name)
        issues = IssueSource(name, config.mine.github_api, dump, config.mine.github_timeout)
        shas = _candidates(repo, config.mine, issues, store, since=since, until=until, limit=limit)
        miner = _Miner(name, source, repo, config, store, issues, model, run_dir, output, shas)
        # oldest first: the first commit of a dependency plan gets the full build, later ones derive from it
        todo = [r for r in reversed(store.rows(shas)) if not r.done]
        say(f"{name}: {len(shas)} commits scanned, {len(todo)} candidates to validate")
        miner.run(todo, workers or config.mine.workers, say)
        rows = store.rows(shas)
    finally:
        store.close()
    tasks = _write_tasks(output, rows)
    data = funnel(name, rows)
    write_funnel(run_dir, data)
    say(render(data))
    say(f"{len(tasks)} tasks in {output}; funnel in {run_dir / 'funnel.json'}")
    return MineResult(name, tasks, data, output, run_dir, rows)


@dataclass
class _Miner:
    """Validation of the selection's candidates, each finished in the store at once."""

    name: str
    source: str
    repo: git.Repo
    config: MineSettings
    store: Store
    issues: IssueSource
    model: Any
    run_dir: Path
    output: Path
    shas: list[str]

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def run(self, todo: list[Row], workers: int, say: Callable[[str], None]) -> None:
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            futures = [pool.submit(self.one, row) for row in todo]
            for index, future in enumerate(as_completed(futures), 1):
                done = self.store.rows([future.result()])[0]
                verdict = (
                    "VALID" if done.stage == "validated" else f"dropped at {done.stage}: {done.reason[:120]}"
                )
                say(
                    f"[{index}/{len(todo)}] {done.candidate.sha[:10]} {done.candidate.subject[:50]!r}: {verdict}"
                )

    def one(self, row: Row) -> str:
        """Validate one candidate and record the outcome (a task row when validated); its sha."""
        cand, start = row.candidate, time.monotonic()
        task = task_of(self.name, self.source, cand, nearest_version(self.repo, cand.parent))
        try:
            verdict = validate(task, self.config, self.config.mine.repeats, self.run_dir / "check")
        except Exception as exc:  # noqa: BLE001 - one candidate's failure never stops the run
            log.exception("validating %s", cand.sha)
            self.store.finish(cand.sha, "touching", f"error: {type(exc).__name__}: {exc}", None, 0.0)
            return cand.sha
        out = None
        if verdict.stage == "validated":
            statement = problem_statement(
                cand.message,
                cand.pr_text,
                self.issues,
                self.model,
                self.config.mine,
                repo=self.name,
                tests=verdict.fail_to_pass,
                output=verdict.failing_output,
                diff=cand.patch,
            )
            out = _row(task, cand, verdict, statement)
        detail = {"env_source": verdict.env_source, "env_seconds": verdict.env_seconds}
        self.store.finish(cand.sha, verdict.stage, verdict.reason, out, time.monotonic() - start, detail)
        with self._lock:
            _write_tasks(self.output, self.store.rows(self.shas))
        return cand.sha


def _write_tasks(output: Path, rows: list[Row]) -> list[dict]:
    """Every validated task of the selection, newest commit first, replacing `output` whole."""
    tasks = [r.task for r in rows if r.done and r.task]
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(output.name + ".tmp")
    tmp.write_text("".join(json.dumps(t) + "\n" for t in tasks))
    tmp.replace(output)
    return tasks


__all__ = ["MineResult", "MineSettings", "RepoError", "mine", "task_of"]
