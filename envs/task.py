"""The Task: one issue in one repository at one commit, in the SWE-bench schema."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator


class Task(BaseModel):
    """A SWE-bench instance (classic 4.x or 5.x fields), or a local repository plus issue text."""

    # Unknown fields (e.g. `fix_commit`, `image_assets`) are kept, so nothing of a dataset row is lost.
    model_config = ConfigDict(extra="allow", use_attribute_docstrings=True)

    instance_id: str
    """Unique id, e.g. `astropy__astropy-12907`."""
    repo: str = ""
    """`owner/name` on GitHub (may be empty for a local repository)."""
    base_commit: str = ""
    """Commit the issue is solved against."""
    problem_statement: str = ""
    """The issue text."""
    hints_text: str = ""
    """Comments made before the fix (SWE-bench); not shown to the agent by default."""
    patch: str = ""
    """Gold patch (never shown to the agent or used by verifiers)."""
    test_patch: str = ""
    """Hidden tests (never shown to the agent or used by verifiers)."""
    FAIL_TO_PASS: list[str] = Field(default_factory=list)
    """Hidden tests that must go from failing to passing."""
    PASS_TO_PASS: list[str] = Field(default_factory=list)
    """Hidden tests that must keep passing."""
    version: str = ""
    """Repository version (keys the SWE-bench harness specs)."""
    environment_setup_commit: str = ""
    """Commit whose dependencies the environment installs."""
    created_at: str = ""
    """Creation time of the instance."""
    image: str = ""
    """Ready environment image (swebench 5.x `image`, or SWE-bench's instance image)."""
    eval_script: str = ""
    """swebench 5.x evaluation script, when the dataset carries it."""
    log_parser: str = ""
    """swebench 5.x log parser name, when the dataset carries it."""
    eval_type: str = ""
    """swebench 5.x evaluation type, when the dataset carries it."""
    repo_url: str = ""
    """Where to clone the repository from: any git URL or local path (wins over `repo`)."""

    @field_validator("FAIL_TO_PASS", "PASS_TO_PASS", mode="before")
    @classmethod
    def _decode_json_list(cls, value: Any) -> Any:
        # The official datasets store these lists JSON-encoded.
        if isinstance(value, str):
            return json.loads(value) if value.strip() else []
        return value if value is not None else []

    @field_validator(
        "repo",
        "base_commit",
        "problem_statement",
        "hints_text",
        "patch",
        "test_patch",
        "environment_setup_commit",
        "created_at",
        "image",
        "eval_script",
        "log_parser",
        "eval_type",
        "repo_url",
        mode="before",
    )
    @classmethod
    def _none_as_empty(cls, value: Any) -> Any:
        return "" if value is None else str(value) if not isinstance(value, str) else value

    @property
    def swebench_image(self) -> str:
        """SWE-bench's published instance image name for this task."""
        return f"swebench/sweb.eval.x86_64.{self.instance_id.lower()}:latest".replace("__", "_1776_")

    @field_validator("version", mode="before")
    @classmethod
    def _version_as_str(cls, value: Any) -> Any:
        return "" if value is None else str(value)
