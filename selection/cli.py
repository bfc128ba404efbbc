"""`swescale select`: choose one patch per task among candidates from any source, or abstain.

Abstained instances get an empty `model_patch` by default (`selection.abstain_output=empty`): the
predictions file keeps one line per instance and SWE-bench scores it as unresolved ("empty patch").
`omit` leaves the line out, `best` writes the best-ranked candidate anyway.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from agent.cli_options import ConfigFiles, Dataset, Instances, Overrides, instance_ids

MODEL_NAME = "swescale-select"


def select_command(
    dataset: Dataset,
    candidates: Annotated[
        list[Path], typer.Option("--candidates", help="Prediction or pool file (repeatable).")
    ],
    output: Annotated[Path, typer.Option("--output", help="Predictions JSONL to write.")],
    run_dir: Annotated[Path | None, typer.Option("--run-dir", help="Where decisions and tables go.")] = None,
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            help="OpenAI-compatible URL: enables test-writing "
            "trajectories, the judge and the selection trajectory.",
        ),
    ] = None,
    instances: Instances = None,
    config: ConfigFiles = None,
    overrides: Overrides = None,
) -> None:
    """Select among candidate patches (SWE-bench prediction files of any systems), or abstain."""
    from agent.cli import config_from_cli, console
    from envs.datasets import load_tasks
    from selection.pipeline import select_task
    from selection.sources import load_candidates, write_predictions

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    # `--candidates a.jsonl b.jsonl`: typer binds only the first file to the option, the rest arrive as
    # positional arguments; anything without `=` there is another candidates file.
    extra = [Path(item) for item in overrides or [] if "=" not in item]
    candidates = [*candidates, *extra]
    cfg = config_from_cli(config, [item for item in overrides or [] if "=" in item])
    if model:
        cfg.model.urls = [model]
    try:
        pools = load_candidates(candidates)
    except (OSError, ValueError) as exc:
        console.print(f"[red]candidates:[/red] {exc}")
        raise typer.Exit(2) from exc
    only = instance_ids(instances)
    wanted = [i for i in pools if not only or i in only]
    try:
        tasks = {t.instance_id: t for t in load_tasks(dataset)}
    except ValueError as exc:
        console.print(f"[red]dataset:[/red] {exc}")
        raise typer.Exit(2) from exc
    missing = [i for i in wanted if i not in tasks]
    if missing:
        console.print(f"[yellow]no task for {len(missing)} instance(s): {', '.join(missing[:5])}[/yellow]")
    run_dir = run_dir or output.parent / f"{output.stem}.select"
    chat = judge = None
    if cfg.model.urls:
        from agent.model import ModelClient
        from agent.solve_cli import judge_config

        chat = ModelClient(cfg.model)
        judge = ModelClient(judge_config(cfg)) if cfg.verifier.judge else None

    predictions, chosen, abstained, failed = [], 0, 0, 0
    for instance_id in wanted:
        task = tasks.get(instance_id)
        if task is None:
            continue
        try:
            _, decision = select_task(task, pools[instance_id], cfg, run_dir, chat, judge)
        except Exception as exc:  # noqa: BLE001 - one broken task must not stop the others
            logging.getLogger(__name__).exception("%s: selection failed", instance_id)
            console.print(f"[red]{instance_id}: selection failed: {exc}[/red]")
            failed += 1
            continue
        by_id = {c.candidate_id: c for c in pools[instance_id]}
        pick = decision.chosen
        if decision.abstained:
            abstained += 1
            if cfg.selection.abstain_output == "omit":
                continue
            pick = decision.best if cfg.selection.abstain_output == "best" else None
        else:
            chosen += 1
        patch = by_id[pick].patch if pick else ""
        predictions.append(
            {"instance_id": instance_id, "model_name_or_path": MODEL_NAME, "model_patch": patch}
        )
        console.print(
            f"{instance_id}: {'ABSTAIN' if decision.abstained else 'chose'} "
            f"{pick or decision.best} (confidence {decision.confidence:.2f})"
        )
    write_predictions(output, predictions)
    console.print(
        f"{chosen} chosen, {abstained} abstained, {failed} failed -> {output} (decisions in {run_dir})"
    )
    if failed and not chosen and not abstained:
        raise typer.Exit(1)
