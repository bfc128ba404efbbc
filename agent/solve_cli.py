"""`swescale solve` and `swescale demo`."""

import typer


def solve_command() -> None:
    """Solve an issue in a local repository."""
    raise typer.Exit(1)


def demo_command() -> None:
    """Replay a recorded model session on a bundled example (no GPU needed)."""
    raise typer.Exit(1)
