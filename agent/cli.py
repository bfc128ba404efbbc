"""The `swescale` command line. Each package contributes its own sub-commands."""

from __future__ import annotations

from pathlib import Path

import typer
import yaml
from rich.console import Console

from agent.cli_options import ConfigFiles, Overrides
from agent.config import SwescaleConfig, load_config

console = Console(stderr=True)


def config_from_cli(files: list[Path] | None, overrides: list[str] | None) -> SwescaleConfig:
    """Load the effective config, turning bad files or overrides into a clear CLI error."""
    try:
        return load_config(files or [], overrides or [])
    except (OSError, ValueError, yaml.YAMLError) as exc:
        console.print(f"[red]config error:[/red] {exc}")
        raise typer.Exit(2) from exc


app = typer.Typer(
    name="swescale",
    help="Turn an issue into a verified patch by scaling test-time compute with open-weight models.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
config_app = typer.Typer(help="Inspect the configuration.", no_args_is_help=True)
app.add_typer(config_app, name="config")


@config_app.command("show")
def config_show(config: ConfigFiles = None, overrides: Overrides = None) -> None:
    """Print the effective config (defaults, then files, then overrides) as YAML."""
    cfg = config_from_cli(config, overrides)
    typer.echo(yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False))


def _register_subcommands() -> None:
    from agent.bench_run import bench_run_command
    from agent.solve_cli import demo_command, solve_command
    from envs.cli import bench_app, env_app
    from sandbox.cli import sandbox_app
    from selection.cli import select_command

    app.command("solve")(solve_command)
    app.command("demo")(demo_command)
    app.command("select")(select_command)
    app.add_typer(sandbox_app, name="sandbox")
    app.add_typer(env_app, name="env")
    bench_app.command("run")(bench_run_command)
    app.add_typer(bench_app, name="bench")


_register_subcommands()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
