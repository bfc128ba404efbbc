"""Checks before a run: fail at once, saying what to start and how."""

from __future__ import annotations

import urllib.error
import urllib.request
from urllib.parse import urlparse

from swescale.config import SwescaleConfig


class PreflightError(RuntimeError):
    """Something the run needs is not there; the message says how to get it."""


def check_services(config: SwescaleConfig) -> None:
    """Docker and every configured model server must answer; raises PreflightError saying what to start."""
    check_docker()
    check_model_servers(config.model.urls, "model", config.model.api_key)
    if config.verifier.judge and config.verifier_model.urls:
        check_model_servers(config.verifier_model.urls, "verifier model", config.verifier_model.api_key)


def check_docker() -> None:
    try:
        import docker

        docker.from_env(timeout=10).ping()
    except Exception as exc:  # noqa: BLE001 - any failure means no usable engine
        raise PreflightError(
            f"the Docker engine is not reachable ({exc.__class__.__name__}: {exc}).\n"
            "Start it, e.g. `sudo systemctl start docker` or `sudo dockerd &`, "
            "or run `bash scripts/bootstrap`, which installs and starts it."
        ) from exc


def check_model_servers(urls: list[str], what: str = "model", api_key: str = "EMPTY") -> None:
    """Every URL must answer GET /models like an OpenAI-compatible server."""
    if not urls:
        raise PreflightError(
            f"no {what} server configured. Start local ones with\n"
            "  swescale serve --model <model>      (vllm serve with the model family's flags)\n"
            "and pass --servers servers.yaml, or pass any OpenAI-compatible server with --model URL\n"
            "(or run `swescale demo` for a replay without a GPU)."
        )
    for url in urls:
        request = urllib.request.Request(
            url.rstrip("/") + "/models", headers={"Authorization": f"Bearer {api_key}"}
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                response.read()
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise PreflightError(
                f"the {what} server at {url} does not answer GET /models ({exc}).\n"
                "Start an OpenAI-compatible server there, e.g.\n"
                f"  swescale serve --model <model> --port-base {_port(url)}   (vllm serve with the family's flags)"
            ) from exc


def _port(url: str) -> int:
    return urlparse(url).port or 8000
