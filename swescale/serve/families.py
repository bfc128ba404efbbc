"""Model families: which vLLM flags and which tool-call format a model needs, and what its smoke request checks.

```python
table = load_families("my_families.yaml")     # built-ins, extended or overridden by a user file
family = family_for("Qwen/Qwen2.5-Coder-32B-Instruct", table)
family.name, family.tool_format, family.args  # "qwen-hermes", "native", [--enable-auto-tool-choice, ...]
```
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

BUILTIN = Path(__file__).with_name("families.yaml")


class Family(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    match: list[str] = Field(default_factory=list)
    """Texts of which one must occur in the model name (case-insensitive)."""
    tool_format: Literal["native", "text", "auto"] = "auto"
    args: list[str] = Field(default_factory=list)
    """Flags for `vllm serve`."""
    smoke: Literal["tool_call", "answer"] = "tool_call"
    """What the agent's smoke request must get: a call to the probe tool in the tool format, or, for models
    too small to call a tool on request (SmolLM2-135M), any answer."""


class FamilyTable(BaseModel):
    model_config = ConfigDict(extra="forbid")

    families: list[Family] = Field(default_factory=list)
    default: Family = Family(name="unknown")


def _read(path: Path) -> tuple[FamilyTable, dict]:
    try:
        data = yaml.safe_load(path.read_text()) or {}
        return FamilyTable.model_validate(data), data
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        raise ValueError(f"model family file {path}: {exc}") from exc


def load_families(user_file: str | Path | None = None) -> FamilyTable:
    """The built-in table; a user file's families replace built-ins of the same name or come first."""
    table, _ = _read(BUILTIN)
    if not user_file:
        return table
    user, raw = _read(Path(user_file))
    by_name = {f.name: f for f in user.families}
    merged = [by_name.pop(f.name, f) for f in table.families]
    new = [f for f in user.families if f.name in by_name]
    default = user.default if "default" in raw else table.default
    return FamilyTable(families=new + merged, default=default)


def family_for(model: str, table: FamilyTable) -> Family:
    """The first family with a `match` text in `model` (case-insensitive), else the table's default."""
    lowered = model.lower()
    for family in table.families:
        if any(m.lower() in lowered for m in family.match):
            return family
    return table.default
