"""Load tasks: local .json/.jsonl/.parquet (classic 4.x or 5.x fields), a Hugging Face dataset, or a local repo."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from envs.records import DatasetError, read_records
from envs.task import Task

__all__ = ["DatasetError", "load_tasks", "local_task"]

HF_TIMEOUT = 10.0


def _task(row: Any, where: str) -> Task:
    try:
        return Task.model_validate(row)
    except (ValidationError, json.JSONDecodeError) as exc:
        raise DatasetError(f"{where} (instance {row.get('instance_id', '?')}): {exc}") from exc


def _hub_offline() -> bool:
    return any(
        os.environ.get(v, "").lower() in ("1", "true", "yes")
        for v in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")
    )


def _from_hub(name: str, split: str) -> list[Task]:
    """A Hugging Face dataset; fails within seconds when the hub does not answer."""
    if _hub_offline():
        raise DatasetError(f"{name}: not a local file and HF_HUB_OFFLINE/HF_DATASETS_OFFLINE is set")
    from huggingface_hub import HfApi

    try:
        HfApi().dataset_info(name, timeout=HF_TIMEOUT)
    except Exception as exc:  # noqa: BLE001 - connection errors, 401/404 ...
        raise DatasetError(
            f"{name}: not a local file, and the Hugging Face hub did not serve it: "
            f"{type(exc).__name__}: {str(exc)[:300]}"
        ) from exc
    import datasets

    rows = datasets.load_dataset(name, split=split)
    return [_task(dict(row), f"{name}[{split}] row {i}") for i, row in enumerate(rows)]


def load_tasks(source: str | Path, instances: Iterable[str] | None = None, split: str = "test") -> list[Task]:
    """Tasks of a local dataset file or a Hugging Face dataset (`name` or `name:split`), optionally filtered."""
    path = Path(source)
    suffix = path.suffix.lower()
    if path.exists() or suffix in (".json", ".jsonl", ".parquet"):
        if not path.is_file():
            raise DatasetError(f"{path}: no such dataset file")
        if suffix not in (".json", ".jsonl", ".parquet"):
            raise DatasetError(f"{path}: unknown dataset format (use .json, .jsonl or .parquet)")
        tasks = [_task(row, where) for where, row in read_records(path)]
    else:
        name, _, hub_split = str(source).partition(":")
        tasks = _from_hub(name, hub_split or split)
    seen: set[str] = set()
    for task in tasks:
        if task.instance_id in seen:
            raise DatasetError(f"{source}: duplicate instance_id {task.instance_id}")
        seen.add(task.instance_id)
    if instances:
        wanted = list(dict.fromkeys(instances))
        missing = [i for i in wanted if i not in seen]
        if missing:
            raise DatasetError(f"{source}: no instance(s) {', '.join(missing)}")
        tasks = [t for t in tasks if t.instance_id in set(wanted)]
    return tasks


def local_task(repo_path: str | Path, issue: str | Path, base_commit: str | None = None) -> Task:
    """A local git repository plus issue text (a file's content, or the string itself) as a Task.

    Only committed content counts: the environment is built from `base_commit` (default HEAD).
    """
    import git

    repo_path = Path(repo_path).resolve()
    try:
        repo = git.Repo(repo_path)
        sha = repo.commit(base_commit or "HEAD").hexsha
    except (git.InvalidGitRepositoryError, git.NoSuchPathError) as exc:
        raise DatasetError(f"{repo_path}: not a git repository") from exc
    except (git.BadName, ValueError) as exc:
        raise DatasetError(f"{repo_path}: no commit {base_commit or 'HEAD'}") from exc
    issue_path = (
        Path(issue)
        if isinstance(issue, Path) or (len(str(issue)) < 4096 and "\n" not in str(issue))
        else None
    )
    text = issue_path.read_text() if issue_path is not None and issue_path.is_file() else str(issue)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", repo_path.name).strip("-") or "repo"
    github = ""
    for remote in repo.remotes:
        match = re.search(r"github\.com[:/]([^/]+/[^/]+?)(?:\.git)?/?$", next(remote.urls, ""))
        if match:
            github = match.group(1)
            break
    return Task(
        instance_id=f"{name}-{sha[:8]}",
        repo=github,
        base_commit=sha,
        problem_statement=text,
        repo_url=str(repo_path),
        environment_setup_commit=sha,
    )
