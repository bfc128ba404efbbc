"""`swescale config ...`."""

from __future__ import annotations

import typer
import yaml

from swescale.cli.options import ConfigFiles, Overrides, config_from_cli
from swescale.config import public_dump

config_app = typer.Typer(help="Inspect the configuration.", no_args_is_help=True)


@config_app.command("show")
def config_show(config: ConfigFiles = None, overrides: Overrides = None) -> None:
    """Print the effective config (defaults, then files, then overrides) as YAML, API keys left out."""
    cfg = config_from_cli(config, overrides)
    typer.echo(yaml.safe_dump(public_dump(cfg), sort_keys=False))
