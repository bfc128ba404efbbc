"""Prompt templates (Jinja files under `agent/prompts/`, overridable by a folder) and what they may see."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined

from agent.config import AgentConfig
from envs.task import Task

PROMPTS = Path(__file__).parent / "prompts"
HIDDEN_FIELDS = frozenset({"patch", "test_patch", "FAIL_TO_PASS", "PASS_TO_PASS", "eval_script"})
"""Task fields a model must never see: the gold patch, the hidden tests and the script that runs them."""


def task_view(task: Task) -> dict[str, Any]:
    """The task as prompt templates see it (user-supplied ones included): its declared fields without the
    hidden ones. Unknown fields a dataset row carried (kept on the Task, e.g. a dataset's own copy of the
    solution) are left out too: only what is known to be safe is shown."""
    shown = set(Task.model_fields) - HIDDEN_FIELDS
    return {name: getattr(task, name) for name in sorted(shown)}


def render(template: str, config: AgentConfig, **values: Any) -> str:
    """Render a prompt template; `config.prompts` (a folder) overrides the built-in ones."""
    folders = [config.prompts] if config.prompts else []
    env = Environment(
        loader=ChoiceLoader([FileSystemLoader(folders), FileSystemLoader(str(PROMPTS))]),
        undefined=StrictUndefined,
        keep_trailing_newline=False,
        autoescape=False,
    )
    return env.get_template(template).render(**values).strip()
