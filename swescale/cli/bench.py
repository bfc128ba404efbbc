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
EXIT_ERRORS = 1


def _run_options(
    workers: int | None, executor: str | None, ray_address: str | None, evaluate: bool
) -> list[str]:
    extra = [f"bench.workers={workers}"] if workers is not None else []
    extra += [f"bench.executor={executor}"] if executor else []
    extra += [f"bench.ray_address={ray_address!r}", "bench.executor=ray"] if ray_address else []
    return extra + (["bench.evaluate=true"] if evaluate else [])


@bench_app.command("run")
def bench_run_command(
    dataset: Dataset,
    run_dir: Annotated[
        Path,
        typer.Option(help="Bench run directory: state.sqlite, predictions.jsonl, instances/ (resumable)."),
    ],
    output: Annotated[Path | None, typer.Option(help="Also write the predictions here (.jsonl).")] = None,
    instances: Instances = None,
    slice_: Annotated[
        str | None, typer.Option("--slice", help="Tasks A:B of the dataset order (after --shuffle).")
    ] = None,
    shuffle: Annotated[bool, typer.Option(help="Shuffle the dataset order (with --seed).")] = False,
    seed: Annotated[int, typer.Option(help="Seed of --shuffle.")] = 0,
    workers: Annotated[int | None, typer.Option(help="Instances at once (bench.workers).")] = None,
    executor: Annotated[str | None, typer.Option(help="`local` (threads) or `ray` (bench.executor).")] = None,
    ray_address: Annotated[
        str | None, typer.Option(help="Ray cluster: `auto` or HOST:PORT (implies --executor ray).")
    ] = None,
    evaluate: Annotated[bool, typer.Option(help="Grade each prediction as it lands.")] = False,
    retry_errors: Annotated[
        bool, typer.Option(help="Run the instances that ended in an error again.")
    ] = False,
    redo: Annotated[
        list[str] | None, typer.Option(help="Run these instance ids again from scratch (repeatable).")
    ] = None,
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
    """Solve a dataset: many instances at once under global limits, state in SQLite, kill-safe (rerun the
    same command to resume). Writes SWE-bench predictions; an abstention is an empty patch, an error is
    no prediction.

    Exit codes: 0 every instance done, 1 some ended in an error (see `bench report`), 2 cannot start,
    130 interrupted (rerun to resume)."""
    from envs.datasets import DatasetError
    from swescale.api import bench_run
    from swescale.bench.state import StateError
    from swescale.bench.tasks import select_tasks
    from swescale.preflight import PreflightError

    quiet_logging()
    extra = [*(overrides or []), *_run_options(workers, executor, ray_address, evaluate)]
    cfg = config_from_cli(config, extra, model=model, repos_dir=repos_dir, servers=servers)
    try:
        tasks = select_tasks(load_tasks_or_exit(dataset, instances), slice_, shuffle, seed)
        summary = bench_run(
            tasks,
            cfg,
            run_dir,
            output=output,
            retry_errors=retry_errors,
            redo=instance_ids(redo),
            console=console,
            validate=validate,
        )
    except (PreflightError, DatasetError, StateError) as exc:
        console.print(f"[red]cannot start:[/red] {exc}")
        raise typer.Exit(EXIT_CANNOT_START) from exc
    if summary.interrupted:
        console.print(
            "[yellow]interrupted: finished instances are kept; rerun the same command to resume[/yellow]"
        )
        raise typer.Exit(EXIT_INTERRUPTED)
    resolved = f", {summary.resolved} resolved" if summary.resolved is not None else ""
    console.print(
        f"{summary.done} of {summary.total} instances done{resolved}, {summary.errors} errors, "
        f"{summary.pending} pending; predictions in {summary.predictions}"
        + (f" and {output}" if output else "")
    )
    if summary.errors:
        console.print(f"errors: {', '.join(summary.error_ids[:10])} (rerun with --retry-errors)")
        raise typer.Exit(EXIT_ERRORS)


@bench_app.command("report")
def bench_report_command(
    run_dir: Annotated[Path, typer.Argument(help="A `bench run` directory.")],
    grade_candidates: Annotated[
        bool, typer.Option(help="Grade every candidate first (coverage, selection accuracy need it).")
    ] = False,
    workers: Annotated[int, typer.Option(help="Instances graded at once.")] = 2,
    config: ConfigFiles = None,
    overrides: Overrides = None,
) -> None:
    """Resolve rate, coverage (oracle), selection accuracy, abstentions, tokens and time per instance and
    per stage; writes summary.json and report.html into RUN_DIR and prints the main figures. Grading uses
    the run's config, or the one --config / overrides give."""
    from swescale.bench.report import grade_candidates as grade_all
    from swescale.bench.report import text_summary, write_report
    from swescale.bench.state import STATE_FILE, BenchState
    from swescale.config import SwescaleConfig

    quiet_logging()
    if not (run_dir / STATE_FILE).is_file():
        console.print(f"[red]cannot report:[/red] {run_dir} holds no bench run ({STATE_FILE} missing)")
        raise typer.Exit(EXIT_CANNOT_START)
    with BenchState(run_dir, lock=False) as state:
        if grade_candidates:  # with the run's own config unless the command line gives one
            stored = state.meta("config")
            cfg = (
                SwescaleConfig.model_validate(stored)
                if stored and not (config or overrides)
                else config_from_cli(config, overrides)
            )
            graded = grade_all(state, run_dir, cfg, workers=workers)
            console.print(f"candidates of {graded} instances graded")
        summary = write_report(state, run_dir)
    typer.echo(text_summary(summary))
    console.print(f"report: {run_dir / 'report.html'}, figures: {run_dir / 'summary.json'}")


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
