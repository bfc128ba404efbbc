"""Docker sandboxes: isolated containers with a low-overhead exec server, a pool, base images and gc."""

from sandbox.cleanup import gc
from sandbox.config import SandboxConfig
from sandbox.docker_sandbox import DockerSandbox
from sandbox.patch import PatchError
from sandbox.pool import SandboxPool
from sandbox.result import ExecResult, SandboxError

__all__ = ["DockerSandbox", "ExecResult", "PatchError", "SandboxConfig", "SandboxError", "SandboxPool", "gc"]
