"""Command-line options shared by every `swescale` command, so they read the same everywhere, and the
config loading every command does."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich.console import Console

from swescale.config import SwescaleConfig, load_config

console = Console(stderr=True)

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
Trajectories = Annotated[int | None, typer.Option(help="Trajectories per generation.")]
Generations = Annotated[int | None, typer.Option(help="Generations of refinement.")]
Servers = Annotated[
    Path | None,
    typer.Option(
        "--servers",
        help="Endpoints file written by `swescale serve` (servers.yaml): the model and judge servers.",
    ),
]


def instance_ids(instances: list[str] | None) -> list[str] | None:
    """`-i a -i b,c` -> [a, b, c]; None when no instance was named."""
    return [i for item in instances or [] for i in item.split(",") if i] or None


def config_from_cli(
    files: list[Path] | None,
    overrides: list[str] | None,
    *,
    model: list[str] | None = None,
    repos_dir: str | None = None,
    trajectories: int | None = None,
    generations: int | None = None,
    servers: Path | None = None,
) -> SwescaleConfig:
    """The effective config: files, the endpoints file, overrides, then the shared options; a bad file or
    override is a clear CLI error (exit 2)."""
    from swescale.serve.endpoints import servers_overrides

    extra = list(overrides or [])
    if model:
        extra.append(f"model.urls=[{', '.join(model)}]")
    if repos_dir:
        extra.append(f"env.repos_dir={repos_dir}")
    if trajectories is not None:
        extra.append(f"solve.trajectories={trajectories}")
    if generations is not None:
        extra.append(f"solve.generations={generations}")
    try:
        extra = (servers_overrides(servers) if servers else []) + extra
        return load_config(files or [], extra)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        console.print(f"[red]config error:[/red] {exc}")
        raise typer.Exit(2) from exc


NOISY_LOGGERS = ("docker", "urllib3", "git", "httpx", "httpcore", "httpx2", "httpcore2", "openai")
"""Libraries that log at INFO per request (openai's HTTP client is `httpx2`/`httpcore2` since openai 2.x)."""


def quiet_logging(fmt: str = "%(message)s") -> None:
    """INFO logs on stderr, without the chatter of docker, urllib3, git and the HTTP clients."""
    logging.basicConfig(level=logging.INFO, format=fmt)
    for noisy in NOISY_LOGGERS:
        logging.getLogger(noisy).setLevel(logging.WARNING)
