"""`swescale env ...` and `swescale bench ...`."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated

import typer

from agent.cli_options import ConfigFiles as Config
from agent.cli_options import Dataset, Instances, Overrides, ReposDir, instance_ids

env_app = typer.Typer(help="Environment images of tasks.", no_args_is_help=True)
bench_app = typer.Typer(help="SWE-bench: solve a dataset, evaluate predictions.", no_args_is_help=True)

Rebuild = Annotated[
    bool,
    typer.Option(
        "--rebuild",
        help="Build each image now on the base image, ignoring "
        "cached builds and the task's own (e.g. SWE-bench's) image.",
    ),
]


def _setup(config: list[Path] | None, overrides: list[str] | None, repos_dir: str | None):
    from agent.cli import config_from_cli

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for noisy in ("docker", "urllib3", "git"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    extra = [f"env.repos_dir={repos_dir}"] if repos_dir else []
    return config_from_cli(config, [*(overrides or []), *extra])


def _tasks(dataset: str, instances: list[str] | None):
    from envs.datasets import DatasetError, load_tasks

    try:
        return load_tasks(dataset, instance_ids(instances))
    except DatasetError as exc:
        typer.echo(f"dataset error: {exc}", err=True)
        raise typer.Exit(2) from exc


@env_app.command("build")
def build(
    dataset: Dataset,
    instances: Instances = None,
    rebuild: Rebuild = False,
    repos_dir: ReposDir = None,
    config: Config = None,
    overrides: Overrides = None,
) -> None:
    """Build (or find) the environment image of each task; prints instance_id and image."""
    from envs.environment import EnvBuildError, prepare_environment

    cfg = _setup(config, overrides, repos_dir)
    failed = 0
    for task in _tasks(dataset, instances):
        try:
            spec = prepare_environment(task, cfg, rebuild=rebuild)
            typer.echo(f"{task.instance_id}\t{spec.image}\t{spec.source}")
        except EnvBuildError as exc:
            failed += 1
            typer.echo(f"{task.instance_id}\tFAILED\t{exc}", err=True)
    if failed:
        raise typer.Exit(1)


@bench_app.command("eval")
def evaluate(
    dataset: Dataset,
    predictions: Annotated[
        Path, typer.Option("--predictions", "-p", help="swebench predictions (.jsonl/.json).")
    ],
    run_dir: Annotated[Path, typer.Option("--run-dir", help="Output folder (resumable).")],
    workers: int = typer.Option(2, "--workers", "-w"),
    instances: Instances = None,
    rebuild: Rebuild = False,
    repos_dir: ReposDir = None,
    config: Config = None,
    overrides: Overrides = None,
) -> None:
    """Evaluate predictions harness-style; writes per-instance logs and a summary report. Instances already
    evaluated in --run-dir are skipped (and their images not rebuilt)."""
    from envs.evaluate import PredictionsError, evaluate_predictions, load_predictions

    cfg = _setup(config, overrides, repos_dir)
    tasks = _tasks(dataset, instances)
    try:
        preds = load_predictions(predictions)
    except PredictionsError as exc:
        typer.echo(f"predictions error: {exc}", err=True)
        raise typer.Exit(2) from exc
    if instances:
        preds = {i: p for i, p in preds.items() if i in {t.instance_id for t in tasks}}
    summary = evaluate_predictions(
        tasks, preds, run_dir, cfg, workers=workers, rebuild=rebuild, say=lambda m: typer.echo(m, err=True)
    )
    keys = (
        "total_instances",
        "submitted_instances",
        "completed_instances",
        "resolved_instances",
        "unresolved_instances",
        "empty_patch_instances",
        "error_instances",
    )
    typer.echo(
        json.dumps({k: summary[k] for k in keys} | {"resolved_ids": summary["resolved_ids"]}, indent=2)
    )
