"""`swescale bench run`: the solve pipeline over a dataset, writing predictions `swescale bench eval` and
the swebench harness accept. Resumable: finished instances are kept, interrupted ones resume."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from agent.cli_options import instance_ids
from agent.solve_cli import EXIT_INTERRUPTED, check_services, console, solve_task

MODEL_NAME = "swescale"


def _finished(run_dir: Path) -> dict | None:
    """The outcome of an instance's earlier run, if it ran to its end."""
    path = run_dir / "run.json"
    if not path.exists():
        return None
    outcome = json.loads(path.read_text())
    return None if outcome.get("interrupted") else outcome


def bench_run_command(
    dataset: Annotated[
        str, typer.Option("--dataset", "-d", help="Tasks: .json/.jsonl/.parquet or a HF name.")
    ],
    run_dir: Annotated[Path, typer.Option(help="One run directory per instance below it (resumable).")],
    output: Annotated[Path, typer.Option(help="Predictions file (.jsonl) to write.")],
    instances: Annotated[list[str] | None, typer.Option("--instances", "-i", help="Instance ids.")] = None,
    model: Annotated[
        list[str] | None, typer.Option(help="OpenAI-compatible server URL (repeatable).")
    ] = None,
    repos_dir: Annotated[str | None, typer.Option(help="Folder of owner__name git mirrors.")] = None,
    config: Annotated[list[Path] | None, typer.Option("--config", "-c", help="YAML config file.")] = None,
    overrides: Annotated[list[str] | None, typer.Argument(help="key=value overrides")] = None,
) -> None:
    """Solve every task of a dataset; write SWE-bench predictions (an abstention is an empty patch)."""
    from agent.cli import config_from_cli
    from agent.preflight import PreflightError
    from envs.datasets import DatasetError, load_tasks

    extra = list(overrides or [])
    if model:
        extra.append(f"model.urls=[{', '.join(model)}]")
    if repos_dir:
        extra.append(f"env.repos_dir={repos_dir}")
    cfg = config_from_cli(config, extra)
    try:
        check_services(cfg)
        tasks = load_tasks(dataset, instance_ids(instances))
    except (PreflightError, DatasetError) as exc:
        console.print(f"[red]cannot start:[/red] {exc}")
        raise typer.Exit(2) from exc
    predictions: dict[str, str] = {}
    for index, task in enumerate(tasks, 1):
        task_dir = run_dir / task.instance_id
        earlier = _finished(task_dir)
        if earlier is not None:
            console.print(f"[{index}/{len(tasks)}] {task.instance_id}: done in an earlier run")
            predictions[task.instance_id] = earlier.get("patch", "")
        else:
            console.print(f"[{index}/{len(tasks)}] {task.instance_id}")
            code, outcome = solve_task(cfg, task, task_dir)
            if code == EXIT_INTERRUPTED:
                raise typer.Exit(code)
            predictions[task.instance_id] = outcome.patch if outcome is not None else ""
        output.write_text(
            "".join(
                json.dumps({"instance_id": iid, "model_name_or_path": MODEL_NAME, "model_patch": patch})
                + "\n"
                for iid, patch in predictions.items()
            )
        )
    solved = sum(1 for patch in predictions.values() if patch)
    console.print(f"{solved} of {len(predictions)} instances got a patch; predictions in {output}")
