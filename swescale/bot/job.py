"""What one bot job is given (`JobContext`) and what it ends with (`JobResult`): the types the solve and
review jobs (`swescale.bot.solve`, `swescale.bot.review`) and their caller (`swescale.bot.flow`) share."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from swescale.bot.client import GitHubClient
from swescale.config import SwescaleConfig


class JobResult(BaseModel):
    """What a job ended with."""

    state: Literal["pr", "abstained", "reviewed", "failed", "refused"]
    url: str = ""
    """The draft PR or the comment that answered."""
    tokens: int = 0
    message: str = ""


@dataclass
class JobContext:
    """Everything one job needs besides its trigger."""

    config: SwescaleConfig
    client: GitHubClient
    workspace: Path
    """A git checkout of the repository whose `origin` is the repository on GitHub."""
    run_dir: Path
    run_name: str
    """Names the run in comments (the Actions run, or the server's job)."""
    run_url: str = ""
    """Where the run can be watched (the Actions run page), if anywhere."""

    @property
    def token(self) -> str:
        return self.client.token


def capped(config: SwescaleConfig, token_cap: int) -> SwescaleConfig:
    """The config of one job: its token budget lowered to `token_cap` (0 = no cap)."""
    if token_cap <= 0:
        return config
    current = config.solve.max_total_tokens
    limit = min(current, token_cap) if current else token_cap
    return config.model_copy(update={"solve": config.solve.model_copy(update={"max_total_tokens": limit})})
