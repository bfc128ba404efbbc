"""Which tasks of a dataset a bench run covers: `--instances`, `--slice A:B`, `--shuffle --seed`."""

from __future__ import annotations

import random

from envs.records import DatasetError
from envs.task import Task


def parse_slice(text: str) -> slice:
    """`A:B`, `A:` or `:B` (Python slice bounds, negative allowed) -> slice; raises DatasetError."""
    start, sep, stop = text.partition(":")
    try:
        if not sep:
            raise ValueError
        return slice(int(start) if start.strip() else None, int(stop) if stop.strip() else None)
    except ValueError as exc:
        raise DatasetError(f"--slice {text!r}: expected A:B with integers, e.g. 0:50") from exc


def select_tasks(
    tasks: list[Task], slice_text: str | None = None, shuffle: bool = False, seed: int = 0
) -> list[Task]:
    """The dataset order, shuffled with `seed` when asked, then sliced. Same arguments, same tasks."""
    out = list(tasks)
    if shuffle:
        random.Random(seed).shuffle(out)
    if slice_text:
        out = out[parse_slice(slice_text)]
    if not out:
        raise DatasetError("no tasks selected (check --instances and --slice)")
    return out
