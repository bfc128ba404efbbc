"""Load tasks: local .json/.jsonl/.parquet (classic 4.x or 5.x fields), a Hugging Face dataset, or a local repo."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from envs.task import Task

HF_TIMEOUT = 10.0


class DatasetError(ValueError):
    """A dataset that cannot be read; the message names the file and the line or item."""


def _task(row: Any, where: str) -> Task:
    if not isinstance(row, dict):
        raise DatasetError(f"{where}: expected an object, got {type(row).__name__}")
    try:
        return Task.model_validate(row)
    except (ValidationError, json.JSONDecodeError) as exc:
        raise DatasetError(f"{where} (instance {row.get('instance_id', '?')}): {exc}") from exc


def _from_jsonl(path: Path) -> list[Task]:
    tasks = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DatasetError(f"{path}:{lineno}: invalid JSON: {exc.msg} (column {exc.colno})") from exc
            tasks.append(_task(row, f"{path}:{lineno}"))
    return tasks


def _from_json(path: Path) -> list[Task]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DatasetError(f"{path}:{exc.lineno}: invalid JSON: {exc.msg} (column {exc.colno})") from exc
    if isinstance(data, dict) and "instance_id" in data:
        data = [data]
    elif isinstance(data, dict):  # {instance_id: row}
        data = [{"instance_id": key, **row} if isinstance(row, dict) else row for key, row in data.items()]
    if not isinstance(data, list):
        raise DatasetError(f"{path}: expected a list of instances, got {type(data).__name__}")
    return [_task(row, f"{path}: item {i}") for i, row in enumerate(data)]


def _from_parquet(path: Path) -> list[Task]:
    import pyarrow.parquet as pq

    try:
        rows = pq.read_table(path).to_pylist()
    except Exception as exc:  # noqa: BLE001 - pyarrow raises many types
        raise DatasetError(f"{path}: not a readable parquet file: {exc}") from exc
    return [_task(row, f"{path}: row {i}") for i, row in enumerate(rows)]


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
        loader = {".jsonl": _from_jsonl, ".json": _from_json, ".parquet": _from_parquet}.get(suffix)
        if loader is None:
            raise DatasetError(f"{path}: unknown dataset format (use .json, .jsonl or .parquet)")
        tasks = loader(path)
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
