"""`swescale solve` and `swescale demo`."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.panel import Panel
from rich.syntax import Syntax

from agent.cli_options import ConfigFiles, Overrides
from agent.config import ModelConfig, SwescaleConfig

if TYPE_CHECKING:
    from agent.pipeline import SolveOutcome
    from envs.task import Task

console = Console(stderr=True)

EXIT_ABSTAINED = 3
EXIT_INTERRUPTED = 130


def judge_config(config: SwescaleConfig) -> ModelConfig:
    """The judge's servers: `verifier_model`, falling back to the agent's servers and model name."""
    judge = config.verifier_model
    if judge.urls:
        return judge
    return judge.model_copy(
        update={
            "urls": config.model.urls,
            "name": judge.name or config.model.name,
            "api_key": config.model.api_key,
        }
    )


def check_services(config: SwescaleConfig) -> None:
    """Docker and every configured model server must answer; raises PreflightError saying what to start."""
    from agent.preflight import check_docker, check_model_servers

    check_docker()
    check_model_servers(config.model.urls, "model", config.model.api_key)
    if config.verifier.judge and config.verifier_model.urls:
        check_model_servers(config.verifier_model.urls, "verifier model", config.verifier_model.api_key)


def solve_task(config: SwescaleConfig, task: Task, run_dir: Path) -> tuple[int, SolveOutcome | None]:
    """Environment, pipeline and report for one task; returns (exit code, outcome)."""
    from agent.model import ModelClient
    from agent.pipeline import RunDirError, SolveRun
    from agent.progress import LiveProgress
    from agent.report import write_report
    from envs.environment import EnvBuildError, prepare_environment

    console.print(f"task [bold]{task.instance_id}[/bold] -> run directory {run_dir}")
    with console.status("preparing the environment image (cached after the first build)"):
        try:
            env = prepare_environment(task, config)
        except EnvBuildError as exc:
            console.print(f"[red]environment build failed:[/red] {exc}")
            return 1, None
        except KeyboardInterrupt:  # the build container is already removed by the sandbox's handler
            console.print("[yellow]interrupted while preparing the environment[/yellow]")
            return EXIT_INTERRUPTED, None
    console.print(f"environment image {env.image}")
    model = ModelClient(config.model)
    judge = ModelClient(judge_config(config)) if config.verifier.judge else None
    solver = SolveRun(task, env, config, run_dir, model, judge)
    try:
        with LiveProgress(console, solver.usage, title=task.instance_id) as progress:
            solver.progress = progress
            outcome = solver.run()
    except RunDirError as exc:
        console.print(f"[red]cannot start:[/red] {exc}")
        return 2, None
    if outcome.resumed:
        console.print(f"resumed: {outcome.resumed} trajectories finished by an earlier run were kept")
    report = write_report(
        run_dir, outcome, solver.table, solver.candidates, solver.results, task.problem_statement
    )
    for reason in outcome.stop_reasons:
        console.print(f"stopped: {reason}")
    console.print(f"report: {report}")
    if outcome.interrupted:
        console.print(f"[yellow]{outcome.reason}[/yellow]")
        return EXIT_INTERRUPTED, outcome
    if outcome.abstained:
        console.print(f"[yellow]abstained:[/yellow] {outcome.reason}")
        return EXIT_ABSTAINED, outcome
    console.print(Syntax(outcome.patch, "diff", theme="ansi_dark"))
    console.print(f"[green]chosen {outcome.decision.chosen}:[/green] {outcome.reason}")
    return 0, outcome


def run_solve(
    config: SwescaleConfig,
    repo: Path,
    issue: str,
    base_commit: str | None,
    run_dir: Path | None,
    output: Path | None,
    banner: str = "",
) -> int:
    """The whole solve pipeline for a local repository; returns the process exit code."""
    from agent.preflight import PreflightError
    from envs.datasets import DatasetError, local_task

    try:
        check_services(config)
        task = local_task(repo, issue, base_commit)
    except (PreflightError, DatasetError) as exc:
        console.print(f"[red]cannot start:[/red] {exc}")
        return 2
    run_dir = run_dir or Path("runs") / f"{task.instance_id}-{time.strftime('%Y%m%d-%H%M%S')}"
    if banner:
        console.print(Panel(banner, style="bold magenta"))
    code, outcome = solve_task(config, task, run_dir)
    if code == 0 and output is not None:
        output.write_text(outcome.patch)
        console.print(f"patch written to {output}")
    return code


def solve_command(
    repo: Annotated[Path, typer.Option(help="Local git repository with the issue.")],
    issue: Annotated[str, typer.Option(help="Issue text, or a file holding it.")],
    base_commit: Annotated[str | None, typer.Option(help="Commit to solve against (default HEAD).")] = None,
    model: Annotated[
        list[str] | None, typer.Option(help="OpenAI-compatible server URL (repeatable).")
    ] = None,
    verifier_model: Annotated[
        str | None, typer.Option(help="Judge model server URL (default: --model).")
    ] = None,
    trajectories: Annotated[int | None, typer.Option(help="Trajectories per generation.")] = None,
    generations: Annotated[int | None, typer.Option(help="Generations of refinement.")] = None,
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

    Exit codes: 0 a patch was chosen, 3 abstained (no confident patch), 2 cannot start, 130 interrupted.
    """
    from agent.cli import config_from_cli

    extra = list(overrides or [])
    if model:
        extra.append(f"model.urls=[{', '.join(model)}]")
    if verifier_model:
        extra.append(f"verifier_model.urls=[{verifier_model}]")
    if trajectories is not None:
        extra.append(f"solve.trajectories={trajectories}")
    if generations is not None:
        extra.append(f"solve.generations={generations}")
    cfg = config_from_cli(config, extra)
    raise typer.Exit(run_solve(cfg, repo, issue, base_commit, run_dir, output))


def demo_command(
    run_dir: Annotated[Path | None, typer.Option(help="Run directory (default runs/demo-<time>).")] = None,
    output: Annotated[Path | None, typer.Option(help="Write the chosen patch here.")] = None,
    overrides: Overrides = None,
) -> None:
    """Replay a recorded model session through the whole pipeline on a bundled example (no GPU needed)."""
    from agent.demo import run_demo

    raise typer.Exit(run_demo(run_dir, output, overrides or []))
