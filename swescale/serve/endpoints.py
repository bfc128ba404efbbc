"""The endpoints file (`servers.yaml`): per role, the URLs, served model name and tool format.

```yaml
agent: {name: Qwen/Qwen2.5-Coder-32B-Instruct, tool_format: native,
        urls: [http://127.0.0.1:8000/v1, http://127.0.0.1:8001/v1], models: [Qwen/Qwen2.5-Coder-32B-Instruct]}
judge: {...}            # only when serve was given --judge
```
`swescale serve` writes it once every replica is ready; `--servers FILE` on other commands turns it into
config overrides (`servers_overrides`): model.urls / name / tool_format and verifier_model.urls / name.
A mix of agent models has an empty `name`: each server's own name is used.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from swescale.serve.plan import ReplicaSpec


class RoleEndpoints(BaseModel):
    model_config = ConfigDict(extra="forbid")

    urls: list[str]
    name: str = ""
    """Served model name ("" for a mix of models: each server's own)."""
    tool_format: Literal["native", "text", "auto"] = "auto"
    models: list[str] = Field(default_factory=list)
    """The models as given to serve (names or paths)."""


class Endpoints(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agent: RoleEndpoints
    judge: RoleEndpoints | None = None


def endpoints_of(specs: list[ReplicaSpec], formats: dict[str, str]) -> Endpoints:
    """Endpoints of ready replicas; `formats` maps replica name to the tool format it was checked in."""
    roles: dict[str, RoleEndpoints] = {}
    for role in ("agent", "judge"):
        mine = [s for s in specs if s.role == role]
        if not mine:
            continue
        names = sorted({s.served_name for s in mine})
        used = {formats.get(s.name, s.tool_format) for s in mine}
        if role == "agent" and len(used) > 1:
            raise ValueError(f"the agent models answered in different tool formats {sorted(used)}")
        roles[role] = RoleEndpoints(
            urls=[s.url for s in mine],
            name=names[0] if len(names) == 1 else "",
            tool_format=used.pop() if len(used) == 1 else "auto",
            models=list(dict.fromkeys(s.model for s in mine)),
        )
    return Endpoints(**roles)


def write_endpoints(endpoints: Endpoints, path: Path) -> None:
    """Atomic write (a reader never sees half a file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    header = (
        f"# written by `swescale serve` at {time.strftime('%Y-%m-%d %H:%M:%S')}; use with --servers {path}\n"
    )
    body = yaml.safe_dump(endpoints.model_dump(mode="json", exclude_none=True), sort_keys=False)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w") as fh:
        fh.write(header + body)
    os.replace(tmp, path)


def read_endpoints(path: str | Path) -> Endpoints:
    """Parse an endpoints file; ValueError saying what is wrong."""
    try:
        data = yaml.safe_load(Path(path).read_text())
        return Endpoints.model_validate(data or {})
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        raise ValueError(f"endpoints file {path} (written by `swescale serve`): {exc}") from exc


def servers_overrides(path: str | Path) -> list[str]:
    """`key=value` overrides that point the config at the servers of an endpoints file."""
    endpoints = read_endpoints(path)
    agent = endpoints.agent
    out = [
        f"model.urls={json.dumps(agent.urls)}",
        f"model.name={json.dumps(agent.name)}",
        f"model.tool_format={agent.tool_format}",
    ]
    if endpoints.judge is not None:
        out += [
            f"verifier_model.urls={json.dumps(endpoints.judge.urls)}",
            f"verifier_model.name={json.dumps(endpoints.judge.name)}",
        ]
    return out
