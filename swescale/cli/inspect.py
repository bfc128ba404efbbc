"""`swescale inspect RUN_DIR`: a solve or bench run as one self-contained HTML page, served live, or its
trajectories exported to mini-swe-agent's or SWE-agent's format."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from swescale.cli.options import console


def inspect_command(
    run_dir: Annotated[
        Path, typer.Argument(help="A solve or bench run directory.", exists=True, file_okay=False)
    ],
    out: Annotated[
        Path | None,
        typer.Option(help="The HTML file (default RUN_DIR/inspect.html); with --export, the folder."),
    ] = None,
    full: Annotated[
        bool, typer.Option(help="Keep every observation whole (default: only the chosen and runner-up's).")
    ] = False,
    serve: Annotated[
        bool, typer.Option(help="Serve the page on 127.0.0.1, reloading as the run saves.")
    ] = False,
    port: Annotated[int, typer.Option(help="Port of --serve (0: any free one).")] = 8765,
    export: Annotated[
        str | None,
        typer.Option(help="Export the trajectories instead: `mini` (.traj.json) or `sweagent` (.traj)."),
    ] = None,
) -> None:
    """Inspect a run: decision, candidates, verifier matrix, every trajectory step by step."""
    if export is not None:
        from swescale.inspect.export import FORMATS
        from swescale.inspect.export import export as export_run

        if export not in FORMATS or out is None:
            console.print(f"[red]--export takes one of {', '.join(FORMATS)} and needs --out DIR[/red]")
            raise typer.Exit(2)
        written = export_run(run_dir, export, out)
        console.print(f"{len(written)} trajectories written under {out}")
        return
    if serve:
        from swescale.inspect.serve import make_server

        server = make_server(run_dir, port=port, full=full)
        console.print(f"serving {run_dir} at http://127.0.0.1:{server.server_address[1]}/ (Ctrl-C stops)")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
        return
    from swescale.inspect.page import write_page

    path = write_page(run_dir, out, full=full)
    console.print(f"inspector: {path} ({path.stat().st_size / 1e6:.1f} MB)")
