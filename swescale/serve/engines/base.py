"""What every engine says about itself, and the defaults they share.

An engine builds a replica's command line, finds and names its model, maps a model family to the tool
format its server can give, and says what it supports: GPU placement (`--gpus`, tensor and data
parallelism), configurable prefix caching, Prometheus `/metrics`, and the path that answers once it is up.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from swescale.serve.config import ServeConfig
    from swescale.serve.families import Family


class Replica(Protocol):
    """What an engine reads of a planned replica (swescale.serve.plan.ReplicaSpec)."""

    location: str
    served_name: str
    host: str
    port: int
    tensor_parallel: int
    data_parallel: int
    family: Family


class EngineError(ValueError):
    """The engine cannot serve what was asked (the message says why)."""


@dataclass(frozen=True)
class Engine:
    name: str
    gpus: bool
    """Replicas are placed on GPUs (`--gpus`, `--tensor-parallel`, `--data-parallel`)."""
    prefix_caching: bool
    """`serve.prefix_caching` turns the server's prefix cache on or off."""
    metrics: bool
    """The server has a Prometheus `/metrics` (prefix-cache hit rate, load, throughput)."""
    health_path: str
    """GET path answering 200 once the server is up."""
    install_hint: str
    """How to install the engine, for errors."""

    def locate(self, model: str) -> str:
        """What the server loads for `model` (a name, a folder, a file); EngineError if it cannot."""
        return model

    def served_name(self, model: str, location: str) -> str:
        """The name clients ask for: the model as given, or the folder name of a local model."""
        path = Path(location)
        return path.name if path.is_dir() else model

    def tool_format(self, family: Family) -> str:
        """The tool format a replica of `family` is checked in (`auto`: the smoke request decides)."""
        return family.tool_format

    def missing(self, config: ServeConfig) -> str | None:
        """Why the engine cannot run at all here (None: it may); checked before any replica starts."""
        return None

    def argv(self, spec: Replica, config: ServeConfig) -> list[str]:
        raise NotImplementedError
