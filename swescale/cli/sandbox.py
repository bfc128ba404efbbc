"""`swescale sandbox ...`: base images and garbage collection."""

from typing import Annotated

import typer

sandbox_app = typer.Typer(help="Docker sandboxes: base images, clean-up.", no_args_is_help=True)


@sandbox_app.command("base-image")
def base_image(
    python: Annotated[str, typer.Option("--python", help="Python version: 3.9, 3.11 or 3.13.")] = "3.11",
) -> None:
    """Make sure `swescale/base:python<ver>` exists: pull python:<ver>-slim, else build offline (debootstrap)."""
    from sandbox.images import ImageError, ensure_base_image

    try:
        name = ensure_base_image(python=python, say=typer.echo)
    except ImageError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(name)


@sandbox_app.command("gc")
def gc_command(
    all_owners: Annotated[
        bool, typer.Option("--all", help="Remove every swescale container, even of live processes.")
    ] = False,
) -> None:
    """Remove sandbox containers whose owner process is provably gone: its lease expired, or its pid is dead
    in this PID namespace (docs/architecture.md, Sandboxes)."""
    from sandbox.cleanup import gc

    removed = gc(all_owners=all_owners)
    typer.echo(f"removed {len(removed)} container(s)")
    for cid in removed:
        typer.echo(f"  {cid[:12]}")
