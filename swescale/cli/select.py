"""`swescale select`: choose one patch per task among candidates from any source, or abstain.

Abstained instances get an empty `model_patch` by default (`selection.abstain_output=empty`): the
predictions file keeps one line per instance and SWE-bench scores it as unresolved ("empty patch").
`omit` leaves the line out, `best` writes the best-ranked candidate anyway.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from swescale.cli.options import (
    ConfigFiles,
    Dataset,
    Instances,
    Overrides,
    ReposDir,
    Servers,
    config_from_cli,
    console,
    instance_ids,
    quiet_logging,
)

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
    repos_dir: ReposDir = None,
    servers: Servers = None,
    config: ConfigFiles = None,
    overrides: Overrides = None,
) -> None:
    """Select among candidate patches (SWE-bench prediction files of any systems), or abstain."""
    from envs.datasets import DatasetError, load_tasks
    from selection.sources import load_candidates, write_predictions
    from swescale.api import SelectResult, select

    quiet_logging("%(levelname)s %(name)s: %(message)s")
    # `--candidates a.jsonl b.jsonl`: typer binds only the first file to the option, the rest arrive as
    # positional arguments; anything without `=` there is another candidates file.
    extra = [Path(item) for item in overrides or [] if "=" not in item]
    candidates = [*candidates, *extra]
    cfg = config_from_cli(
        config,
        [item for item in overrides or [] if "=" in item],
        model=[model] if model else None,
        repos_dir=repos_dir,
        servers=servers,
    )
    try:
        pools = load_candidates(candidates)
    except (OSError, ValueError) as exc:
        console.print(f"[red]candidates:[/red] {exc}")
        raise typer.Exit(2) from exc
    only = instance_ids(instances)
    pools = {i: pool for i, pool in pools.items() if not only or i in only}
    try:
        tasks = {t.instance_id: t for t in load_tasks(dataset)}
    except DatasetError as exc:
        console.print(f"[red]dataset:[/red] {exc}")
        raise typer.Exit(2) from exc
    run_dir = run_dir or output.parent / f"{output.stem}.select"

    def on_result(result: SelectResult) -> None:
        decision = result.decision
        if result.error:
            console.print(f"[red]{result.instance_id}: selection failed: {result.error}[/red]")
        else:
            pick = decision.best if decision.abstained else decision.chosen
            console.print(
                f"{result.instance_id}: {'ABSTAIN' if decision.abstained else 'chose'} "
                f"{pick} (confidence {decision.confidence:.2f})"
            )

    outcome = select(tasks, pools, cfg, run_dir, on_result=on_result)
    if outcome.missing_tasks:
        missing = outcome.missing_tasks
        console.print(f"[yellow]no task for {len(missing)} instance(s): {', '.join(missing[:5])}[/yellow]")
    omit = cfg.selection.abstain_output == "omit"
    write_predictions(
        output,
        [
            {"instance_id": r.instance_id, "model_name_or_path": MODEL_NAME, "model_patch": r.patch}
            for r in outcome.results
            if not r.error and not (omit and r.decision.abstained)
        ],
    )
    console.print(
        f"{outcome.chosen} chosen, {outcome.abstained} abstained, {outcome.failed} failed -> {output} "
        f"(decisions in {run_dir})"
    )
    if outcome.failed and not outcome.chosen and not outcome.abstained:
        raise typer.Exit(1)
