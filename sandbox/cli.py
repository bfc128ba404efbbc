"""`swescale sandbox ...`: base images and garbage collection."""

import typer

sandbox_app = typer.Typer(help="Docker sandboxes: base images, clean-up.", no_args_is_help=True)
