"""Command-line options shared by every `swescale` command, so they read the same everywhere."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

ConfigFiles = Annotated[
    list[Path] | None, typer.Option("--config", "-c", help="YAML config file (repeatable).")
]
Overrides = Annotated[list[str] | None, typer.Argument(help="key=value overrides, e.g. solve.trajectories=8")]
Dataset = Annotated[
    str, typer.Option("--dataset", "-d", help="Tasks: .json/.jsonl/.parquet or a HF dataset name.")
]
Instances = Annotated[
    list[str] | None, typer.Option("--instances", "-i", help="Instance ids (repeatable, or comma-separated).")
]
ReposDir = Annotated[str | None, typer.Option("--repos-dir", help="Folder of owner__name git mirrors.")]
ModelUrls = Annotated[
    list[str] | None, typer.Option("--model", help="OpenAI-compatible server URL (repeatable).")
]


def instance_ids(instances: list[str] | None) -> list[str] | None:
    """`-i a -i b,c` -> [a, b, c]; None when no instance was named."""
    return [i for item in instances or [] for i in item.split(",") if i] or None
