"""Configuration of Docker sandboxes."""

from sandbox.configbase import Section


class SandboxConfig(Section):
    base_image: str = ""
    """Image to use when no environment image is given; empty means `swescale/base:python<python>`."""
    python: str = "3.11"
    """Python version of the base image (selects the Debian release for offline builds)."""
    network: bool = False
    """Give sandboxes network access. Off by default: untrusted code runs without network."""
    memory: str = "4g"
    """Memory limit per sandbox (Docker syntax, e.g. 512m, 4g)."""
    cpus: float = 1.0
    """CPU limit per sandbox, in cores."""
    disk_limit: str = "10g"
    """Disk limit per sandbox: what its commands may write to the container's own layer (Docker syntax,
    e.g. 512m, 10g; empty: none). The storage driver enforces it where it can (overlay2 on xfs with pquota:
    `--storage-opt size`, detected once per process); elsewhere a watchdog polls the layer's size while a
    command runs and stops the command when the limit is reached, saying so in its output."""
    pids_limit: int = 512
    """Maximum number of processes per sandbox (stops fork bombs)."""
    command_timeout: float = 300.0
    """Default timeout of one command, in seconds."""
    output_limit: int = 100_000
    """Maximum bytes of output kept per command; head and tail are kept and the cut is marked."""
    max_concurrent: int = 8
    """Maximum number of sandboxes the pool runs at once."""
    cap_add: list[str] = ["CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "SETUID", "SETGID", "KILL"]
    """Capabilities kept after dropping all (enough for git, pip and chown; never privileged). With SYS_PTRACE
    commands could read the exec server, so every command goes through `docker exec` instead (slower)."""
    start_timeout: float = 60.0
    """Seconds to wait for a new sandbox's exec server to answer before giving up."""
