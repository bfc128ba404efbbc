"""`swescale env mine`: a repository's history into validated SWE-bench-format tasks."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Annotated

import typer

from swescale.cli.options import (
    ConfigFiles,
    ModelUrls,
    Overrides,
    ReposDir,
    config_from_cli,
    quiet_logging,
)
from swescale.cli.solve import EXIT_CANNOT_START, EXIT_INTERRUPTED


def default_run_dir(source: str) -> Path:
    """`runs/mine/<name>-<hash of the source>`: the same repository resumes in the same folder."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", source.rstrip("/").removesuffix(".git"))[-40:].strip("-.")
    return Path("runs") / "mine" / f"{name or 'repo'}-{hashlib.sha1(source.encode()).hexdigest()[:8]}"


def mine_command(
    repo: Annotated[
        str, typer.Option("--repo", help="Repository: a git URL or a local path (bare mirrors too).")
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="Tasks file (.jsonl) to write.")],
    since: Annotated[str | None, typer.Option(help="Only commits after this date (git's --since).")] = None,
    until: Annotated[str | None, typer.Option(help="Only commits before this date (git's --until).")] = None,
    limit: Annotated[int | None, typer.Option(help="Scan at most N commits, newest first.", min=1)] = None,
    workers: Annotated[
        int | None, typer.Option(help="Candidates validated at once (default mine.workers).", min=1)
    ] = None,
    run_dir: Annotated[
        Path | None, typer.Option(help="State, logs and funnel (resumable); default runs/mine/<repo>.")
    ] = None,
    model: ModelUrls = None,
    issues: Annotated[
        Path | None, typer.Option(help="Issues dump (.json/.jsonl: number, title, body) for linked issues.")
    ] = None,
    repos_dir: ReposDir = None,
    config: ConfigFiles = None,
    overrides: Overrides = None,
) -> None:
    """Mine validated tasks from a repository's history: commits changing source and tests, validated by
    repeated test runs and bench eval's grading; prints the funnel. Run again with the same --run-dir to
    resume (finished commits are skipped)."""
    from agent.model import ModelClient
    from envs.repos import RepoError
    from swescale.mine.run import mine
    from swescale.mine.store import RunDirError
    from swescale.preflight import PreflightError, check_docker, check_model_servers

    quiet_logging()
    cfg = config_from_cli(config, overrides, model=model, repos_dir=repos_dir)
    try:
        check_docker()
        if model:
            check_model_servers(cfg.model.urls, "model", cfg.model.api_key)
    except PreflightError as exc:
        typer.echo(f"cannot start: {exc}", err=True)
        raise typer.Exit(EXIT_CANNOT_START) from exc
    client = ModelClient(cfg.model.model_copy(update={"temperature": 0.0})) if model else None
    try:
        mine(
            repo,
            cfg,
            run_dir or default_run_dir(repo),
            output,
            since=since,
            until=until,
            limit=limit,
            workers=workers,
            issues_file=issues,
            model=client,
            say=lambda m: typer.echo(m, err=True),
        )
    except (RepoError, RunDirError, ValueError) as exc:
        typer.echo(f"cannot mine: {exc}", err=True)
        raise typer.Exit(EXIT_CANNOT_START) from exc
    except KeyboardInterrupt as exc:
        typer.echo("interrupted: run the same command again to resume", err=True)
        raise typer.Exit(EXIT_INTERRUPTED) from exc
