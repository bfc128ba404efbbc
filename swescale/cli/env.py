"""`swescale env ...`: environment images of tasks."""

from __future__ import annotations

from typing import Annotated

import typer

from swescale.cli.options import (
    ConfigFiles,
    Dataset,
    Instances,
    Overrides,
    ReposDir,
    config_from_cli,
    instance_ids,
    quiet_logging,
)

env_app = typer.Typer(help="Environment images of tasks.", no_args_is_help=True)

Rebuild = Annotated[
    bool,
    typer.Option(
        "--rebuild",
        help="Build each image now on the base image, ignoring "
        "cached builds and the task's own (e.g. SWE-bench's) image.",
    ),
]


def load_tasks_or_exit(dataset: str, instances: list[str] | None):
    """The dataset's tasks (only the named instances, if any); a bad dataset is a clear error, exit 2."""
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
    config: ConfigFiles = None,
    overrides: Overrides = None,
) -> None:
    """Build (or find) the environment image of each task; prints instance_id and image."""
    from envs.environment import EnvBuildError, prepare_environment

    quiet_logging()
    cfg = config_from_cli(config, overrides, repos_dir=repos_dir)
    failed = 0
    for task in load_tasks_or_exit(dataset, instances):
        try:
            spec = prepare_environment(task, cfg, rebuild=rebuild)
            typer.echo(f"{task.instance_id}\t{spec.image}\t{spec.source}")
        except EnvBuildError as exc:
            failed += 1
            typer.echo(f"{task.instance_id}\tFAILED\t{exc}", err=True)
    if failed:
        raise typer.Exit(1)


def _register() -> None:
    from swescale.cli.mine import mine_command

    env_app.command("mine")(mine_command)


_register()
