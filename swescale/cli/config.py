"""`swescale config ...`."""

from __future__ import annotations

import typer
import yaml

from swescale.cli.options import ConfigFiles, Overrides, config_from_cli

config_app = typer.Typer(help="Inspect the configuration.", no_args_is_help=True)


@config_app.command("show")
def config_show(config: ConfigFiles = None, overrides: Overrides = None) -> None:
    """Print the effective config (defaults, then files, then overrides) as YAML."""
    cfg = config_from_cli(config, overrides)
    typer.echo(yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False))
