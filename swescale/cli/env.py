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
    workers: Annotated[int, typer.Option(help="Images prepared at once (and env.max_parallel_builds).")] = 2,
    rebuild: Rebuild = False,
    repos_dir: ReposDir = None,
    config: ConfigFiles = None,
    overrides: Overrides = None,
) -> None:
    """Build (or find) the environment image of each task ahead of a run, `--workers` at once (tasks of
    the same spec share one build); prints instance_id, image and source as each is ready."""
    from envs.environment import EnvBuildError, prepare_environments

    quiet_logging()
    extra = [f"env.max_parallel_builds={workers}", *(overrides or [])]
    cfg = config_from_cli(config, extra, repos_dir=repos_dir)
    failed = 0
    for task, spec in prepare_environments(load_tasks_or_exit(dataset, instances), cfg, workers, rebuild):
        if isinstance(spec, EnvBuildError):
            failed += 1
            typer.echo(f"{task.instance_id}\tFAILED\t{spec}", err=True)
        else:
            typer.echo(f"{task.instance_id}\t{spec.image}\t{spec.source}")
    if failed:
        raise typer.Exit(1)


@env_app.command("prune")
def prune_command(
    max_images: Annotated[int | None, typer.Option(help="Keep at most this many (env.max_images).")] = None,
    max_disk_gb: Annotated[
        float | None, typer.Option(help="Keep them within this many GB (env.max_disk_gb).")
    ] = None,
    config: ConfigFiles = None,
    overrides: Overrides = None,
) -> None:
    """Remove swescale's least recently used environment images beyond the budget, never one in use (by a
    container, or leased by a running instance)."""
    import docker

    from envs.image_budget import GB, env_images, prune

    quiet_logging()
    extra = list(overrides or [])
    extra += [f"env.max_images={max_images}"] if max_images is not None else []
    extra += [f"env.max_disk_gb={max_disk_gb}"] if max_disk_gb is not None else []
    cfg = config_from_cli(config, extra)
    if not (cfg.env.max_images or cfg.env.max_disk_gb):
        typer.echo(
            "no budget: give --max-images or --max-disk-gb (or env.max_images / env.max_disk_gb)", err=True
        )
        raise typer.Exit(2)
    report = prune(cfg.env, say=typer.echo)
    for tag in report.in_use:
        typer.echo(f"kept (in use): {tag}")
    left = env_images(docker.from_env(), cfg.env)
    typer.echo(
        f"removed {len(report.removed)} image(s), {report.freed_bytes / GB:.2f} GB; {len(left)} left "
        f"({sum(i.size for i in {i.image_id: i for i in left}.values()) / GB:.2f} GB)"
    )


def _register() -> None:
    from swescale.cli.mine import mine_command

    env_app.command("mine")(mine_command)


_register()
