"""`swescale select`: choose one patch per task among candidates from any source, or abstain."""

import typer


def select_command() -> None:
    """Select among candidate patches (SWE-bench prediction files), or abstain."""
    raise typer.Exit(1)
