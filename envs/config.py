"""Configuration of environments: where repositories come from and how images are built."""

from typing import Protocol

from sandbox.config import SandboxConfig
from sandbox.configbase import Section


class EnvConfig(Section):
    repos_dir: str = ""
    """Folder of local mirrors named `owner__name`, searched before GitHub."""
    image_prefix: str = "swescale/env"
    """Name prefix of environment images built by swescale."""
    pull: bool = True
    """Try to pull a task's own image (e.g. SWE-bench's) from a registry before building."""
    build_timeout: float = 1800.0
    """Timeout of one image build step, in seconds."""
    eval_timeout: float = 1800.0
    """Timeout of one evaluation test run, in seconds."""


class EnvSettings(Protocol):
    """What environment builds and evaluation read of the root config (`swescale.config.SwescaleConfig`)."""

    env: EnvConfig
    sandbox: SandboxConfig
