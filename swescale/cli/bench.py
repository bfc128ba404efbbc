"""`swescale bench ...`: solve a SWE-bench-format dataset, evaluate predictions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from swescale.cli.env import Rebuild, load_tasks_or_exit
from swescale.cli.options import (
    ConfigFiles,
    Dataset,
    Instances,
    ModelUrls,
    Overrides,
    ReposDir,
    Servers,
    config_from_cli,
    console,
    instance_ids,
    quiet_logging,
)
from swescale.cli.solve import EXIT_CANNOT_START, EXIT_INTERRUPTED

bench_app = typer.Typer(help="SWE-bench: solve a dataset, evaluate predictions.", no_args_is_help=True)
MODEL_NAME = "swescale"


def write_predictions(path: Path, predictions: dict[str, str]) -> None:
    path.write_text(
        "".join(
            json.dumps({"instance_id": iid, "model_name_or_path": MODEL_NAME, "model_patch": patch}) + "\n"
            for iid, patch in predictions.items()
        )
    )


@bench_app.command("run")
def bench_run_command(
    dataset: Dataset,
    run_dir: Annotated[Path, typer.Option(help="One run directory per instance below it (resumable).")],
    output: Annotated[Path, typer.Option(help="Predictions file (.jsonl) to write.")],
    instances: Instances = None,
    model: ModelUrls = None,
    repos_dir: ReposDir = None,
    servers: Servers = None,
    validate: Annotated[
        bool,
        typer.Option("--validate", help="Validate tasks first (bench validate); skip those not valid."),
    ] = False,
    config: ConfigFiles = None,
    overrides: Overrides = None,
) -> None:
    """Solve every task of a dataset; write SWE-bench predictions (an abstention is an empty patch)."""
    from swescale.api import BenchInstance, bench_run
    from swescale.preflight import PreflightError

    cfg = config_from_cli(config, overrides, model=model, repos_dir=repos_dir, servers=servers)
    tasks = load_tasks_or_exit(dataset, instances)
    predictions: dict[str, str] = {}

    def on_instance(index: int, item: BenchInstance) -> None:
        state = "done in an earlier run" if item.resumed else (f"failed: {item.error}" if item.error else "")
        state = f"skipped, not a valid task: {item.invalid}" if item.invalid else state
        console.print(f"[{index}/{len(tasks)}] {item.instance_id} {state}".rstrip())
        predictions[item.instance_id] = item.patch
        write_predictions(output, predictions)

    try:
        bench_run(tasks, cfg, run_dir, on_instance=on_instance, validate=validate)
    except PreflightError as exc:
        console.print(f"[red]cannot start:[/red] {exc}")
        raise typer.Exit(EXIT_CANNOT_START) from exc
    except KeyboardInterrupt as exc:
        console.print("[yellow]interrupted: finished instances are kept; rerun to resume[/yellow]")
        raise typer.Exit(EXIT_INTERRUPTED) from exc
    solved = sum(1 for patch in predictions.values() if patch)
    console.print(f"{solved} of {len(predictions)} instances got a patch; predictions in {output}")


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
    config: ConfigFiles = None,
    overrides: Overrides = None,
) -> None:
    """Evaluate predictions harness-style; writes per-instance logs and a summary report. Instances already
    evaluated in --run-dir are skipped (and their images not rebuilt)."""
    from envs.evaluate import PredictionsError, evaluate_predictions, load_predictions

    quiet_logging()
    cfg = config_from_cli(config, overrides, repos_dir=repos_dir)
    tasks = load_tasks_or_exit(dataset, instances)
    try:
        preds = load_predictions(predictions)
    except PredictionsError as exc:
        typer.echo(f"predictions error: {exc}", err=True)
        raise typer.Exit(2) from exc
    if instance_ids(instances):
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


@bench_app.command("validate")
def validate(
    dataset: Dataset,
    run_dir: Annotated[
        Path, typer.Option("--run-dir", help="Output folder: gold/ and empty/ runs, validation.json.")
    ] = Path("validation"),
    workers: int = typer.Option(2, "--workers", "-w", help="Tasks validated at a time."),
    instances: Instances = None,
    rebuild: Rebuild = False,
    repos_dir: ReposDir = None,
    config: ConfigFiles = None,
    overrides: Overrides = None,
) -> None:
    """Check tasks: run each gold patch and the empty patch through `bench eval`'s evaluation; a task is
    valid when gold resolves and empty does not. Writes RUN_DIR/validation.json and prints a table per
    repository and version; exit 1 when a task is not valid. Finished runs in --run-dir are reused."""
    from envs.validate import VALID, validate_tasks

    quiet_logging()
    cfg = config_from_cli(config, overrides, repos_dir=repos_dir)
    tasks = load_tasks_or_exit(dataset, instances)

    def on_task(item) -> None:
        reason = f" ({item.reason})" if item.reason else ""
        typer.echo(
            f"{item.instance_id}: {item.status} [gold {item.gold}, empty {item.empty}]{reason}", err=True
        )

    report = validate_tasks(tasks, cfg, workers=workers, run_dir=run_dir, rebuild=rebuild, on_task=on_task)
    typer.echo(report.table())
    typer.echo(f"report: {run_dir / 'validation.json'}", err=True)
    if any(t.status != VALID for t in report.tasks):
        raise typer.Exit(1)
