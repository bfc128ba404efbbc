"""`swescale env ...` and `swescale bench ...`."""

import typer

env_app = typer.Typer(help="Environment images of tasks.", no_args_is_help=True)
bench_app = typer.Typer(help="SWE-bench: evaluate predictions.", no_args_is_help=True)
