"""Rows of a dataset or predictions file: JSONL, JSON (a list, one object, or an object keyed by
instance id, as the swebench harness accepts) or parquet. Errors name the file and the line or item."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


class DatasetError(ValueError):
    """A dataset or predictions file that cannot be read; the message names the file and the line or item."""


def _jsonl(path: Path, text: str) -> list[tuple[str, Any]]:
    rows = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                rows.append((f"{path}:{lineno}", json.loads(line)))
            except json.JSONDecodeError as exc:
                raise DatasetError(f"{path}:{lineno}: invalid JSON: {exc.msg} (column {exc.colno})") from exc
    return rows


def _json(path: Path, text: str) -> list[tuple[str, Any]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DatasetError(f"{path}:{exc.lineno}: invalid JSON: {exc.msg} (column {exc.colno})") from exc
    if isinstance(data, dict) and "instance_id" in data:
        data = [data]
    elif isinstance(data, dict):  # {instance_id: row}
        data = [{"instance_id": key, **row} if isinstance(row, dict) else row for key, row in data.items()]
    if not isinstance(data, list):
        raise DatasetError(f"{path}: expected a list of instances, got {type(data).__name__}")
    return [(f"{path}: item {i}", row) for i, row in enumerate(data)]


def _parquet(path: Path) -> list[tuple[str, Any]]:
    import pyarrow.parquet as pq

    try:
        rows = pq.read_table(path).to_pylist()
    except Exception as exc:  # noqa: BLE001 - pyarrow raises many types
        raise DatasetError(f"{path}: not a readable parquet file: {exc}") from exc
    return [(f"{path}: row {i}", row) for i, row in enumerate(rows)]


def read_records(path: str | Path, key: str | None = "instance_id") -> list[tuple[str, dict]]:
    """(where, row) for every row of the file; every row is an object with a `key` (None: any object)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        rows = _parquet(path)
    else:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise DatasetError(f"{path}: {exc.strerror or exc}") from exc
        if suffix == ".jsonl":
            rows = _jsonl(path, text)
        elif suffix == ".json":
            rows = _json(path, text)
        else:  # unknown suffix: one JSON document, else JSON lines
            try:
                rows = _json(path, text)
            except DatasetError:
                rows = _jsonl(path, text)
    for where, row in rows:
        if not isinstance(row, dict):
            raise DatasetError(f"{where}: expected an object, got {type(row).__name__}")
        if key and key not in row:
            raise DatasetError(f"{where}: no {key}")
    return rows
