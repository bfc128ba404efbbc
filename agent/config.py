"""The one typed swescale config: YAML files plus `key=value` overrides."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from agent.configbase import Section
from envs.config import EnvConfig
from sandbox.config import SandboxConfig
from selection.config import SelectionConfig
from verifiers.config import VerifierConfig


class ModelConfig(Section):
    urls: list[str] = []
    """Base URLs of OpenAI-compatible servers (e.g. http://localhost:8000/v1); requests are spread over them."""
    name: str = ""
    """Model name; empty means the first model the server lists under /v1/models."""
    api_key: str = "EMPTY"
    """API key sent to the servers (vLLM accepts any unless started with --api-key)."""
    temperature: float = 0.8
    """Sampling temperature of agent trajectories."""
    max_tokens: int = 4096
    """Maximum completion tokens per model call."""
    timeout: float = 300.0
    """Timeout of one model call, in seconds."""
    retries: int = 4
    """Retries on connection errors, 5xx answers and timeouts, with exponential backoff."""
    backoff: float = 1.0
    """First retry delay in seconds; doubles on each retry (capped at 30 s)."""
    max_in_flight: int = 8
    """Maximum concurrent requests per server."""
    tool_format: str = "auto"
    """`native` (OpenAI tool calls), `text` (<function=...> blocks) or `auto` (probe the server at start-up)."""


class AgentConfig(Section):
    tools: str = "default"
    """Tool profile: `default` (bash, str_replace_editor, submit), `openhands` or `r2egym`."""
    max_steps: int = 40
    """Step limit of one trajectory; at the limit the current diff is submitted."""
    max_tokens: int = 200_000
    """Token limit (prompt + completion, summed over calls) of one trajectory."""
    max_seconds: float = 1800.0
    """Wall-time limit of one trajectory, in seconds."""
    max_format_errors: int = 3
    """Consecutive unparsable model answers before the trajectory stops."""
    repro_script: str = "reproduce_issue.py"
    """Reproduction script the agent writes at the repository root."""
    observation_limit: int = 10_000
    """Characters of a tool observation shown to the model; longer ones keep head and tail."""
    context_tokens: int = 2_000
    """Token budget of the repository skeleton in the first prompt (0 disables it)."""
    repro_timeout: float = 120.0
    """Timeout of one run of the reproduction script (on the original and on the patched code), in seconds."""
    prompts: str = ""
    """Folder whose `system.j2` / `instance.j2` / `instance_test.j2` override the built-in prompt templates."""


class SolveConfig(Section):
    trajectories: int = 4
    """Agent trajectories per generation."""
    generations: int = 1
    """Generations of evolutionary refinement."""
    parents: int = 2
    """Top candidates that become parents of the next generation."""
    first_finish: int = 0
    """Short-m@k: stop the rest of a generation once this many trajectories finished (0 = off)."""
    max_total_tokens: int = 0
    """Token budget of the whole run (0 = unlimited)."""
    max_model_calls: int = 0
    """Model-call budget of the whole run (0 = unlimited)."""
    max_seconds: float = 0.0
    """Wall-time budget of the whole run, in seconds (0 = unlimited)."""
    early_stop_judge: float = 0.9
    """Stop refining when the best candidate passes every distinguishing test with at least this judge score."""


class SwescaleConfig(Section):
    """Everything swescale can be told. Load with `load_config`."""

    model: ModelConfig = ModelConfig()
    """The agent's model servers."""
    verifier_model: ModelConfig = ModelConfig(temperature=0.0, max_tokens=1)
    """The judge model's servers (empty urls: reuse `model`)."""
    agent: AgentConfig = AgentConfig()
    """One trajectory."""
    sandbox: SandboxConfig = SandboxConfig()
    """Docker sandboxes."""
    env: EnvConfig = EnvConfig()
    """Environment images and repositories."""
    verifier: VerifierConfig = VerifierConfig()
    """Execution-based and model-based verifiers."""
    selection: SelectionConfig = SelectionConfig()
    """Selection and abstention."""
    solve: SolveConfig = SolveConfig()
    """The solve pipeline: generations, budgets, early stopping."""


def parse_override(item: str) -> tuple[list[str], Any]:
    """`a.b.c=value` -> (["a", "b", "c"], value parsed as YAML, so 3, true, [x, y] get their types)."""
    if "=" not in item:
        raise ValueError(f"override {item!r} is not of the form key=value")
    key, raw = item.split("=", 1)
    path = [part for part in key.strip().split(".") if part]
    if not path:
        raise ValueError(f"override {item!r} has an empty key")
    return path, yaml.safe_load(raw) if raw.strip() else ""


def _merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for key, value in extra.items():
        out[key] = (
            _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
        )
    return out


def load_config(files: list[str | Path] = (), overrides: list[str] = ()) -> SwescaleConfig:
    """Defaults, then each YAML file in order, then each `key=value` override."""
    data: dict = {}
    for file in files:
        loaded = yaml.safe_load(Path(file).read_text()) or {}
        if not isinstance(loaded, dict):
            raise ValueError(f"config file {file} must hold a mapping at the top level")
        data = _merge(data, loaded)
    for item in overrides:
        path, value = parse_override(item)
        nested: Any = value
        for part in reversed(path):
            nested = {part: nested}
        data = _merge(data, nested)
    return SwescaleConfig.model_validate(data)
