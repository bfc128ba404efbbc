"""The one typed swescale config: each package's own section composed, YAML files plus `key=value` overrides."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import Field

from agent.config import AgentConfig, ModelConfig
from envs.config import EnvConfig
from sandbox.config import SandboxConfig
from sandbox.configbase import Section
from selection.config import SelectionConfig
from swescale.bench.config import BenchConfig
from swescale.bot.config import BotConfig
from swescale.mine.config import MineConfig
from swescale.serve.config import ServeConfig
from verifiers.config import VerifierConfig


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
    sandbox_reruns: int = Field(default=2, ge=0)
    """A trajectory (fix or test-writing) whose sandbox failed (`sandbox_error`: its container or exec
    server died) runs again from the start in a fresh sandbox, at most this many more times within the run."""
    sandbox_backoff: float = Field(default=2.0, ge=0)
    """Seconds before the first such rerun, doubling for each next one (at most 60)."""


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
    bot: BotConfig = BotConfig()
    """The CI bot: `swescale bot github` (GitHub Actions) and `swescale bot serve` (webhooks)."""
    serve: ServeConfig = ServeConfig()
    """`swescale serve`: local vLLM servers, and the sampling of their metrics during a run."""
    bench: BenchConfig = BenchConfig()
    """`swescale bench run`: executors, concurrency, grading, retries."""
    mine: MineConfig = MineConfig()
    """Task mining (`swescale env mine`): candidates, validation repeats, problem statements."""


def judge_config(config: SwescaleConfig) -> ModelConfig:
    """The judge's servers: `verifier_model`, falling back to the agent's servers and model name."""
    judge = config.verifier_model
    if judge.urls:
        return judge
    return judge.model_copy(
        update={
            "urls": config.model.urls,
            "name": judge.name or config.model.name,
            "api_key": config.model.api_key,
        }
    )


SECRET_FIELDS = {"model": {"api_key"}, "verifier_model": {"api_key"}}
"""Fields never written to a run directory or printed (the config is still whole in memory)."""


def public_dump(config: SwescaleConfig) -> dict:
    """The config as JSON-able data for run directories and `config show`: secrets left out."""
    return config.model_dump(mode="json", exclude=SECRET_FIELDS)


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
