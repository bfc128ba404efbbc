"""The `swescale` command line: one module per command group, assembled here."""

from __future__ import annotations

import typer

from swescale.cli.bench import bench_app
from swescale.cli.bot import bot_app
from swescale.cli.config import config_app
from swescale.cli.env import env_app
from swescale.cli.inspect import inspect_command
from swescale.cli.sandbox import sandbox_app
from swescale.cli.select import select_command
from swescale.cli.serve import serve_app
from swescale.cli.solve import demo_command, solve_command

app = typer.Typer(
    name="swescale",
    help="Turn an issue into a verified patch by scaling test-time compute with open-weight models.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command("solve")(solve_command)
app.command("demo")(demo_command)
app.command("select")(select_command)
app.command("inspect")(inspect_command)
app.add_typer(bench_app, name="bench")
app.add_typer(env_app, name="env")
app.add_typer(sandbox_app, name="sandbox")
app.add_typer(config_app, name="config")
app.add_typer(bot_app, name="bot")
app.add_typer(serve_app, name="serve")


def main() -> None:
    from sandbox.cleanup import install_signal_handlers

    install_signal_handlers()  # Ctrl-C or SIGTERM removes every live sandbox of this process
    app()


if __name__ == "__main__":
    main()
