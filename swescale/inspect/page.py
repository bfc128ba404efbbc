"""The inspector page: one self-contained HTML file (inline CSS and JS, data embedded once as JSON, no
network), built from a solve or a bench run directory."""

from __future__ import annotations

import base64
import gzip
import json
from importlib.resources import files
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from swescale.inspect.bench import bench_view, is_bench_run
from swescale.inspect.solve import solve_view

_env = Environment(
    loader=PackageLoader("swescale.inspect", "templates"), autoescape=select_autoescape(["html", "j2"])
)
_ASSETS = files("swescale.inspect") / "assets"


def embed(data: Any) -> str:
    """JSON safe inside a <script> element (no `</` can close it)."""
    return json.dumps(data, separators=(",", ":")).replace("</", "<\\/").replace("<!--", "<\\!--")


def packed(data: Any) -> str:
    """JSON gzipped and base64-encoded: an instance's view in a bench page (the browser's
    DecompressionStream unpacks it when the instance is opened)."""
    return base64.b64encode(gzip.compress(json.dumps(data, separators=(",", ":")).encode(), 6)).decode()


def build_page(run_dir: Path, full: bool = False, live: bool = False) -> str:
    """The HTML of `run_dir`'s inspector; `live`: the page polls the server it came from and reloads when
    the run's files change (`swescale inspect --serve`)."""
    run_dir = Path(run_dir)
    if is_bench_run(run_dir):
        data, solves = bench_view(run_dir, full=full)
        title = f"swescale bench {run_dir.name}"
    else:
        data, solves = solve_view(run_dir, full=full), {}
        title = f"swescale {data['instance_id']}"
    return _env.get_template("inspect.html.j2").render(
        title=title,
        css=(_ASSETS / "inspect.css").read_text(),
        js=(_ASSETS / "inspect.js").read_text(),
        data=embed(data),
        solves={iid: packed(view) for iid, view in solves.items()},
        live=live,
    )


def write_page(run_dir: Path, out: Path | None = None, full: bool = False) -> Path:
    """Write the page (default `RUN_DIR/inspect.html`) and return its path."""
    out = Path(out) if out else Path(run_dir) / "inspect.html"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(build_page(run_dir, full=full))
    return out
