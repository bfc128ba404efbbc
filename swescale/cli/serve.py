"""`swescale serve` (start and watch local vLLM or llama.cpp servers), `swescale serve status`, `swescale serve stop`."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from swescale.cli.options import ConfigFiles, config_from_cli, console
from swescale.serve.config import ServeConfig
from swescale.serve.engines import ENGINES, EngineError, engine_named
from swescale.serve.families import load_families
from swescale.serve.metrics import scrape
from swescale.serve.plan import PlanError, ReplicaSpec, parse_gpus, plan_replicas
from swescale.serve.ready import Interrupted, http_get
from swescale.serve.replica import log_tail
from swescale.serve.state import live_state, read_state, stop_serve
from swescale.serve.supervisor import ServeError, Supervisor

Sets = Annotated[
    list[str] | None, typer.Option("--set", help="Config override key=value, e.g. serve.max_model_len=32768.")
]

serve_app = typer.Typer(
    help="Local model servers (vLLM or llama.cpp): started per model family, checked, restarted; "
    "endpoints in servers.yaml.",
    invoke_without_command=True,
)


def _serve_config(files: list[Path] | None, sets: list[str] | None) -> ServeConfig:
    return config_from_cli(files, sets).serve


def _plan_table(specs: list[ReplicaSpec]) -> Table:
    engines = ", ".join(dict.fromkeys(s.engine.name for s in specs))
    table = Table(title=f"replicas ({engines})", title_justify="left")
    for column in ("replica", "model", "family", "tools", "GPUs", "URL"):
        table.add_column(column)
    for s in specs:
        gpus = ",".join(map(str, s.gpus)) if s.gpus is not None else "(not pinned)"
        gpus = gpus if s.engine.gpus else "-"
        dp = f" x{s.data_parallel} (data parallel)" if s.data_parallel > 1 else ""
        table.add_row(s.name, s.model, s.family.name, s.tool_format, gpus + dp, s.url)
    return table


def run_foreground(specs: list[ReplicaSpec], config: ServeConfig, endpoints: Path) -> int:
    """Serve until SIGINT/SIGTERM; every replica is stopped on the way out. Returns the exit code."""
    sup = Supervisor(specs, config, endpoints, on_event=lambda m: console.print(escape(m), highlight=False))

    def request_stop(signum: int, frame: object) -> None:
        sup.stop_event.set()

    previous = {s: signal.signal(s, request_stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        sup.start()
        console.print(f"[green]serving[/green]: use --servers {endpoints}; Ctrl-C stops every replica")
        sup.watch()
        return 0
    except ServeError as exc:
        console.print(f"[red]serve failed:[/red] {escape(str(exc))}", highlight=False)  # log tails: no markup
        return 1
    except Interrupted:
        console.print("[yellow]interrupted before every replica was ready[/yellow]")
        return 130
    finally:
        console.print("stopping every replica")
        sup.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _detach(args: list[str], config: ServeConfig) -> int:
    """Run the supervisor in the background (its own session); return once it is ready or failed."""
    state_dir = Path(config.state_dir)
    running = live_state(state_dir)
    if running is not None:
        console.print(f"[red]already running[/red] (pid {running.get('pid')}); see `swescale serve status`")
        return 1
    state_dir.mkdir(parents=True, exist_ok=True)
    log = state_dir / "supervisor.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "swescale.cli.serve", *args],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    console.print(f"supervisor pid {proc.pid}, log {log}; waiting until every replica is ready")
    try:
        while proc.poll() is None:
            state = read_state(state_dir)
            if state and state.get("pid") == proc.pid and state.get("status") == "ready":
                console.print(f"[green]ready[/green]: endpoints in {state['endpoints']}")
                console.print("`swescale serve status` shows the replicas, `swescale serve stop` ends them")
                return 0
            time.sleep(0.3)
    except KeyboardInterrupt:
        stop_serve(state_dir, config.stop_timeout + 30)
        return 130
    console.print(f"[red]serve exited with code {proc.returncode}[/red]; last lines of {log}:")
    console.print(log_tail(log, 40), markup=False, highlight=False)
    return 1


@serve_app.callback()
def serve(
    ctx: typer.Context,
    model: Annotated[
        list[str] | None,
        typer.Option(
            "--model",
            help="The agent's model (repeatable: a mix of models): a name or folder for vLLM; "
            "a .gguf file or pkg:PACKAGE (a GGUF an installed package ships) for llama.cpp.",
        ),
    ] = None,
    engine: Annotated[
        str | None,
        typer.Option(help=f"Inference engine: {' or '.join(ENGINES)} (default: serve.engine, vllm)."),
    ] = None,
    max_model_len: Annotated[
        int | None, typer.Option(help="Context length (0: the model's own); serve.max_model_len.")
    ] = None,
    threads: Annotated[int | None, typer.Option(help="llama.cpp: CPU threads per replica.")] = None,
    chat_format: Annotated[
        str | None,
        typer.Option(help="llama.cpp: chat format, e.g. functionary-v2 (default: the GGUF's template)."),
    ] = None,
    judge: Annotated[str | None, typer.Option(help="Judge model (served on its own GPU group).")] = None,
    gpus: Annotated[str | None, typer.Option(help="GPUs to use, e.g. 0,1,2,3 (default: not pinned).")] = None,
    tensor_parallel: Annotated[int | None, typer.Option(help="GPUs per replica.")] = None,
    replicas: Annotated[
        str, typer.Option(help="Replicas per agent model, or auto (as GPUs allow).")
    ] = "auto",
    port_base: Annotated[int | None, typer.Option(help="Port of the first replica.")] = None,
    data_parallel: Annotated[
        bool, typer.Option("--data-parallel", help="One process per model with vLLM's --data-parallel-size.")
    ] = False,
    endpoints: Annotated[Path, typer.Option(help="Endpoints file to write.")] = Path("servers.yaml"),
    families: Annotated[Path | None, typer.Option(help="YAML file extending the model family table.")] = None,
    detach: Annotated[bool, typer.Option(help="Run in the background; see serve status / stop.")] = False,
    config: ConfigFiles = None,
    sets: Sets = None,
) -> None:
    """Start a server per replica (`vllm serve` with the model family's flags, or llama.cpp's), wait until
    each is usable, write the endpoints file, restart replicas that die; Ctrl-C or SIGTERM stops them all.

    Then point other commands at the servers: `swescale solve --servers servers.yaml ...`.
    """
    if ctx.invoked_subcommand is not None:
        return
    if not model:
        console.print("[red]give --model NAME_OR_PATH[/red] (or a sub-command: status, stop)")
        raise typer.Exit(2)
    extra = list(sets or [])
    if engine is not None:
        try:
            engine_named(engine)
        except EngineError as exc:
            console.print(f"[red]{escape(str(exc))}[/red]")
            raise typer.Exit(2) from exc
    for key, value in (
        ("engine", engine),
        ("max_model_len", max_model_len),
        ("threads", threads),
        ("chat_format", chat_format),
        ("tensor_parallel", tensor_parallel),
        ("port_base", port_base),
        ("families_file", families and str(families.resolve())),
    ):
        if value is not None:
            extra.append(f"serve.{key}={value}")
    if data_parallel:
        extra.append("serve.data_parallel=true")
    cfg = _serve_config(config, extra)
    try:
        if replicas != "auto" and not replicas.isdigit():
            raise PlanError(f"--replicas must be a number or auto, not {replicas!r}")
        count = None if replicas == "auto" else int(replicas)
        specs = plan_replicas(model, judge, parse_gpus(gpus), count, cfg, load_families(cfg.families_file))
    except (PlanError, ValueError) as exc:
        console.print(f"[red]cannot plan the replicas:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from exc
    console.print(_plan_table(specs))
    if detach:
        args = [a for m in model for a in ("--model", m)] + ["--endpoints", str(endpoints.resolve())]
        args += ["--judge", judge] if judge else []
        args += ["--gpus", gpus] if gpus else []
        args += ["--replicas", replicas]
        args += [a for f in config or [] for a in ("--config", str(Path(f).resolve()))]
        args += [a for s in extra for a in ("--set", s)]
        raise typer.Exit(_detach(args, cfg))
    raise typer.Exit(run_foreground(specs, cfg, endpoints))


@serve_app.command("status")
def status_command(config: ConfigFiles = None, sets: Sets = None) -> None:
    """Show the running replicas: status, health now, restarts, load and prefix-cache hit rate."""
    cfg = _serve_config(config, sets)
    state = live_state(Path(cfg.state_dir))
    if state is None:
        console.print(f"no swescale serve running from {cfg.state_dir}")
        raise typer.Exit(1)
    table = Table(title=f"swescale serve (pid {state['pid']}, {state['status']})", title_justify="left")
    for column in (
        "replica",
        "model",
        "URL",
        "status",
        "health",
        "restarts",
        "running",
        "waiting",
        "hit rate",
    ):
        table.add_column(column)
    for r in state["replicas"]:
        engine = engine_named(r.get("engine", "vllm"))
        health = http_get(r["url"].removesuffix("/v1") + engine.health_path, timeout=3)
        reading = scrape(r["url"], timeout=3) or {}
        queries = reading.get("prefix_cache_queries")
        hits = f"{reading.get('prefix_cache_hits', 0) / queries:.0%}" if queries else ""
        hits = hits if engine.metrics else "n/a"
        table.add_row(
            r["name"],
            r["model"],
            r["url"],
            r["status"],
            "200" if health and health[0] == 200 else "no answer" if health is None else str(health[0]),
            str(r["restarts"]),
            f"{reading['running']:g}" if "running" in reading else "",
            f"{reading['waiting']:g}" if "waiting" in reading else "",
            hits,
        )
    Console(width=None if sys.stdout.isatty() else 200).print(table)
    endpoints = Path(state["endpoints"])
    if endpoints.exists():
        typer.echo(f"endpoints: {endpoints}")


@serve_app.command("stop")
def stop_command(config: ConfigFiles = None, sets: Sets = None) -> None:
    """Stop a running (e.g. --detach) serve and every replica it started."""
    cfg = _serve_config(config, sets)
    state = stop_serve(Path(cfg.state_dir), cfg.stop_timeout + 30)
    if state is None:
        console.print(f"no swescale serve running from {cfg.state_dir}")
        return
    console.print(f"stopped swescale serve (pid {state['pid']}) and {len(state['replicas'])} replica(s)")


if __name__ == "__main__":
    serve_app()
