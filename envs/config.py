"""Configuration of environments: where repositories come from and how images are built."""

from typing import Protocol

from pydantic import Field

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
    max_parallel_builds: int = Field(default=2, ge=1)
    """Image builds at once in one process (bench instances and `env build --workers` share them)."""
    max_images: int = Field(default=0, ge=0)
    """Keep at most this many environment images under `image_prefix`; the least recently used beyond it
    are removed after each build (never one in use). 0: no limit."""
    max_disk_gb: float = Field(default=0.0, ge=0)
    """Keep the environment images under `image_prefix` within this many GB (their own layers, as
    `docker system df` counts them), least recently used removed first, never one in use. 0: no limit."""
    min_free_gb: float = Field(default=5.0, ge=0)
    """Free disk on Docker's data root needed before a build: below it, unused images are pruned least
    recently used first, and the build fails if that does not free enough. 0: no check."""
    usage_file: str = ""
    """SQLite file recording each environment image's last use and the leases of running instances
    (shared by the host's swescale processes); empty: ~/.cache/swescale/images.sqlite."""


class EnvSettings(Protocol):
    """What environment builds and evaluation read of the root config (`swescale.config.SwescaleConfig`)."""

    env: EnvConfig
    sandbox: SandboxConfig
