"""`swescale bot github` (one GitHub Actions event) and `swescale bot serve` (the webhook server)."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Annotated

import typer

from swescale.cli.options import (
    ConfigFiles,
    Generations,
    ModelUrls,
    Overrides,
    Servers,
    Trajectories,
    config_from_cli,
    console,
    quiet_logging,
)

bot_app = typer.Typer(help="The CI bot: solve labelled issues, review pull requests.", no_args_is_help=True)
SECRET_VARIABLE = "SWESCALE_WEBHOOK_SECRET"


def _config(config, overrides, model, trajectories, generations, servers):
    from swescale.bot.redact import redactor

    cfg = config_from_cli(
        config, overrides, model=model, trajectories=trajectories, generations=generations, servers=servers
    )
    redactor.add(*(key for key in (cfg.model.api_key, cfg.verifier_model.api_key) if key != "EMPTY"))
    return cfg


def _logging() -> None:
    from swescale.bot.redact import redactor

    quiet_logging("%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("github").setLevel(logging.WARNING)
    redactor.install()


@bot_app.command("github")
def github_command(
    event_path: Annotated[
        Path | None, typer.Option(help="Event payload (default $GITHUB_EVENT_PATH).")
    ] = None,
    event_name: Annotated[str | None, typer.Option(help="Event name (default $GITHUB_EVENT_NAME).")] = None,
    model: ModelUrls = None,
    servers: Servers = None,
    trajectories: Trajectories = None,
    generations: Generations = None,
    config: ConfigFiles = None,
    overrides: Overrides = None,
) -> None:
    """Handle this GitHub Actions run's event: solve a labelled issue or review a pull request.

    Exit codes: 0 handled (draft PR, abstention comment, review, or an event that asks for nothing),
    1 the job failed (a comment on the issue says why), 2 cannot start.
    """
    from swescale.bot.actions import ActionsError, read_env, run_event, take_token, write_outputs
    from swescale.bot.client import BotAuthError
    from swescale.bot.events import Ignored

    token = take_token()
    _logging()
    cfg = _config(config, overrides, model, trajectories, generations, servers)
    try:
        result = run_event(read_env(event_path, event_name), cfg, token)
    except (ActionsError, BotAuthError) as exc:
        console.print(f"[red]cannot start:[/red] {exc}")
        raise typer.Exit(2) from exc
    write_outputs(result)
    if isinstance(result, Ignored):
        console.print(f"nothing to do: {result.reason}")
        raise typer.Exit(0)
    console.print(f"{result.state}: {result.url or result.message}")
    raise typer.Exit(1 if result.state == "failed" else 0)


@bot_app.command("serve")
def serve_command(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
    secret_file: Annotated[
        Path | None, typer.Option(help=f"File holding the webhook secret (default ${SECRET_VARIABLE}).")
    ] = None,
    model: ModelUrls = None,
    servers: Servers = None,
    trajectories: Trajectories = None,
    generations: Generations = None,
    config: ConfigFiles = None,
    overrides: Overrides = None,
) -> None:
    """Serve GitHub webhooks: signed deliveries are queued (SQLite) and run by bounded workers.

    Auth: GITHUB_TOKEN, or a GitHub App (bot.app_id and bot.app_private_key_file).
    """
    import uvicorn

    from swescale.bot.actions import take_token
    from swescale.bot.redact import redactor
    from swescale.bot.server import BotServer, ServerBusyError, create_app

    token = take_token()
    secret = secret_file.read_text().strip() if secret_file else os.environ.pop(SECRET_VARIABLE, "")
    redactor.add(secret)
    _logging()
    cfg = _config(config, overrides, model, trajectories, generations, servers)
    if not secret:
        console.print(f"[red]cannot start:[/red] no webhook secret (${SECRET_VARIABLE} or --secret-file)")
        raise typer.Exit(2)
    if not token and not (cfg.bot.app_id and cfg.bot.app_private_key_file):
        console.print(
            "[red]cannot start:[/red] no GITHUB_TOKEN and no GitHub App (bot.app_id, bot.app_private_key_file)"
        )
        raise typer.Exit(2)
    try:
        server = BotServer(cfg, secret, token)
    except ServerBusyError as exc:
        console.print(f"[red]cannot start:[/red] {exc}")
        raise typer.Exit(2) from exc
    console.print(f"swescale bot listening on http://{host}:{port}/webhook (state in {cfg.bot.state_dir})")
    uvicorn.run(create_app(server), host=host, port=port, log_config=None, log_level="info")
