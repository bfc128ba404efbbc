"""`swescale solve` and `swescale demo`: the library's solve, its outcome turned into output and exit codes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.panel import Panel
from rich.syntax import Syntax

from swescale.cli.options import (
    ConfigFiles,
    Generations,
    ModelUrls,
    Overrides,
    Servers,
    Trajectories,
    config_from_cli,
    console,
)
from swescale.config import SwescaleConfig

EXIT_OK, EXIT_FAILED, EXIT_CANNOT_START, EXIT_ABSTAINED, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


def report_outcome(outcome, output: Path | None = None) -> int:
    """Print a solve outcome; returns the exit code it stands for."""
    if outcome.resumed:
        console.print(f"resumed: {outcome.resumed} trajectories finished by an earlier run were kept")
    for reason in outcome.stop_reasons:
        console.print(f"stopped: {reason}")
    console.print(f"report: {Path(outcome.run_dir) / 'report.html'}")
    if outcome.interrupted:
        console.print(f"[yellow]{outcome.reason}[/yellow]")
        return EXIT_INTERRUPTED
    if outcome.error_class:
        console.print(f"[red]error ({outcome.error_class}):[/red] {outcome.error}")
        return EXIT_CANNOT_START
    if outcome.abstained:
        console.print(f"[yellow]abstained:[/yellow] {outcome.reason}")
        return EXIT_ABSTAINED
    console.print(Syntax(outcome.patch, "diff", theme="ansi_dark"))
    console.print(f"[green]chosen {outcome.decision.chosen}:[/green] {outcome.reason}")
    if output is not None:
        output.write_text(outcome.patch)
        console.print(f"patch written to {output}")
    return EXIT_OK


def run_solve(
    config: SwescaleConfig,
    repo: Path,
    issue: str,
    base_commit: str | None,
    run_dir: Path | None,
    output: Path | None,
    banner: str = "",
) -> int:
    """`swescale.solve` with a live display; returns the process exit code."""
    from envs.datasets import DatasetError, local_task
    from envs.environment import EnvBuildError, prepare_environment
    from swescale.api import default_run_dir, solve_task
    from swescale.outcome import RunDirError
    from swescale.preflight import PreflightError, check_services
    from swescale.progress import LiveProgress

    try:
        check_services(config)
        task = local_task(repo, issue, base_commit)
    except (PreflightError, DatasetError) as exc:
        console.print(f"[red]cannot start:[/red] {exc}")
        return EXIT_CANNOT_START
    run_dir = run_dir or default_run_dir(task.instance_id)
    if banner:
        console.print(Panel(banner, style="bold magenta"))
    console.print(f"task [bold]{task.instance_id}[/bold] -> run directory {run_dir}")
    try:
        with console.status("preparing the environment image (cached after the first build)"):
            env = prepare_environment(task, config)
        console.print(f"environment image {env.image}")
        with LiveProgress(console, title=task.instance_id) as progress:
            outcome = solve_task(task, config, run_dir, env=env, progress=progress)
    except EnvBuildError as exc:
        console.print(f"[red]environment build failed:[/red] {exc}")
        return EXIT_FAILED
    except RunDirError as exc:
        console.print(f"[red]cannot start:[/red] {exc}")
        return EXIT_CANNOT_START
    except KeyboardInterrupt:  # during the build: its container is already removed by the signal handler
        console.print("[yellow]interrupted while preparing the environment[/yellow]")
        return EXIT_INTERRUPTED
    return report_outcome(outcome, output)


def solve_command(
    repo: Annotated[Path, typer.Option(help="Local git repository with the issue.")],
    issue: Annotated[str, typer.Option(help="Issue text, or a file holding it.")],
    base_commit: Annotated[str | None, typer.Option(help="Commit to solve against (default HEAD).")] = None,
    model: ModelUrls = None,
    servers: Servers = None,
    verifier_model: Annotated[
        str | None, typer.Option(help="Judge model server URL (default: --model).")
    ] = None,
    trajectories: Trajectories = None,
    generations: Generations = None,
    output: Annotated[Path | None, typer.Option(help="Write the chosen patch here.")] = None,
    run_dir: Annotated[
        Path | None,
        typer.Option(
            help="Run directory (default runs/<task>-<time>); an interrupted run of the same task resumes."
        ),
    ] = None,
    config: ConfigFiles = None,
    overrides: Overrides = None,
) -> None:
    """Solve an issue in a local repository: parallel trajectories, verification, selection.

    Exit codes: 0 a patch was chosen, 3 abstained (no confident patch), 2 cannot start or the model server
    failed (every trajectory ended `model_error`), 130 interrupted.
    """
    extra = list(overrides or [])
    if verifier_model:
        extra.append(f"verifier_model.urls=[{verifier_model}]")
    cfg = config_from_cli(
        config, extra, model=model, trajectories=trajectories, generations=generations, servers=servers
    )
    raise typer.Exit(run_solve(cfg, repo, issue, base_commit, run_dir, output))


def demo_command(
    run_dir: Annotated[Path | None, typer.Option(help="Run directory (default runs/demo-<time>).")] = None,
    output: Annotated[Path | None, typer.Option(help="Write the chosen patch here.")] = None,
    overrides: Overrides = None,
) -> None:
    """Replay a scripted model session (no model involved) through the whole pipeline on a bundled example."""
    from swescale.demo.replay import BANNER, demo_session

    with demo_session(run_dir) as demo:
        cfg = config_from_cli(None, [*demo.overrides, *(overrides or [])])
        code = run_solve(cfg, demo.repo, demo.issue, None, demo.run_dir, output, banner=BANNER)
    raise typer.Exit(code)
