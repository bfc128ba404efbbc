"""The agent's own config sections: its model servers and one trajectory."""

from __future__ import annotations

from typing import Protocol

from sandbox.config import SandboxConfig
from sandbox.configbase import Section


class ModelConfig(Section):
    urls: list[str] = []
    """Base URLs of OpenAI-compatible servers (e.g. http://localhost:8000/v1); requests are spread over them."""
    name: str = ""
    """Model name; empty means each server's own (the first it lists under /v1/models), e.g. for a mix."""
    api_key: str = "EMPTY"
    """API key sent to the servers (vLLM accepts any unless started with --api-key)."""
    temperature: float = 0.8
    """Sampling temperature of agent trajectories."""
    max_tokens: int = 4096
    """Maximum completion tokens per model call; with a known context window, never more than the room the
    prompt leaves, and at most a quarter of the window unless a caller asks for more."""
    context_window: int = 0
    """The model's context window in tokens; 0: learned from the server (vLLM's /v1/models, a context-length
    error, an answer the server shortened, as llama.cpp does)."""
    timeout: float = 300.0
    """Timeout of one model call, in seconds."""
    retries: int = 4
    """Retries on connection errors, 5xx answers and timeouts, with exponential backoff."""
    backoff: float = 1.0
    """First retry delay in seconds; doubles on each retry (capped at 30 s)."""
    max_in_flight: int = 8
    """Maximum concurrent requests per server."""
    affinity: bool = True
    """Keep each trajectory on one server (its prefix cache); false sends every call to the least busy one."""
    tool_format: str = "auto"
    """`native` (OpenAI tool calls), `text` (<function=...> blocks) or `auto` (probe the server at start-up)."""


class AgentConfig(Section):
    tools: str = "default"
    """Tool profile: `default` (bash, str_replace_editor, submit), `openhands` or `r2egym`."""
    max_steps: int = 40
    """Step limit of one trajectory; at the limit the current diff is submitted."""
    max_tokens: int = 200_000
    """Token limit of one trajectory in what its calls cost a server: new prompt tokens (past the prefix
    cache: a step re-sends the history, which is not counted again) plus completion tokens
    (`Usage.spent_tokens`). A 40-step trajectory reading ~6,000-character observations spends ~80k."""
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


class AgentSettings(Protocol):
    """What a trajectory reads of the root config (`swescale.config.SwescaleConfig`)."""

    agent: AgentConfig
    sandbox: SandboxConfig
