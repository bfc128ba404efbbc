"""DockerSandbox: one isolated container, driven through the in-container exec server."""

from __future__ import annotations

import base64
import functools
import io
import logging
import shlex
import tarfile
import threading
import time
import uuid
from pathlib import Path, PurePosixPath
from typing import Any

import docker
import requests
from tenacity import Retrying, retry_if_exception, stop_after_delay, wait_exponential

from sandbox import cleanup, disklimit
from sandbox.config import SandboxConfig
from sandbox.exec_server import Capture
from sandbox.gitbase import PIN_SCRIPT, PinnedBase, diff_script, parse_pin
from sandbox.result import ExecResult, SandboxError
from sandbox.transport import ServerChannel

log = logging.getLogger(__name__)

SERVER_SOURCE = Path(__file__).with_name("exec_server.py")
SERVER_PATH = "/opt/swescale/exec_server.py"
# Main process: an idle wait; it holds the container's stdio, which nothing reads (commands can reach it).
IDLE = "command -v tail >/dev/null && exec tail -f /dev/null; exec sleep infinity"
# The exec server, started by its own `docker exec` (its pipes are the channel): the first python3 >= 3.6,
# the system's before any on PATH (an activated environment's may be older), else a "not ready" line.
LAUNCH = (
    'for py in /usr/bin/python3 /usr/local/bin/python3 "$(command -v python3)"; do '
    '[ -x "$py" ] && "$py" -I -S -c "import sys; sys.exit(sys.version_info < (3, 6))" 2>/dev/null && '
    f'exec "$py" -I -u {SERVER_PATH}; done; echo \'{{"id": 0, "ready": false}}\''
)
DEFAULT_ENV = {"PAGER": "cat", "GIT_PAGER": "cat", "PIP_PROGRESS_BAR": "off", "TQDM_DISABLE": "1"}
# Without the exec server: every process but init, its children (the idle main process) and this shell.
STOP_ALL = (
    "for d in /proc/[0-9]*; do p=${d##*/}; { [ $p = 1 ] || [ $p = $$ ]; } && continue; "
    "set -- $(sed 's/.*) //' $d/stat 2>/dev/null); [ \"$2\" = 1 ] || kill -9 $p 2>/dev/null; done"
)
ANSWER_GRACE = 30.0  # seconds the client waits beyond a command's timeout before declaring the server dead
REMOVE_WAIT = 60.0  # seconds close() keeps trying to remove the container while the engine does not answer

_client: docker.DockerClient | None = None
_client_lock = threading.Lock()


def shared_client() -> docker.DockerClient:
    """One docker-py client per process (its connection pool is shared by all sandboxes)."""
    global _client
    with _client_lock:
        if _client is None:
            _client = docker.from_env(timeout=120)
        return _client


def _engine_down(exc: BaseException) -> bool:
    """Did a Docker call fail because the engine is down or restarting (not because of the request)?"""
    if isinstance(exc, requests.ConnectionError):
        return True
    return isinstance(exc, docker.errors.APIError) and exc.is_server_error()


def _tar(files: dict[str, bytes], mode: int = 0o644) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name.lstrip("/"))
            info.size, info.mode, info.mtime = len(data), mode, int(time.time())
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


class DockerSandbox:
    """A started container (use as a context manager). Commands run as fresh `bash -c` processes."""

    def __init__(
        self,
        image: str,
        workdir: str = "/testbed",
        config: SandboxConfig | None = None,
        network: bool | str | None = None,
        env: dict[str, str] | None = None,
        ro_mounts: dict[str, str] | None = None,
        labels: dict[str, str] | None = None,
        client: docker.DockerClient | None = None,
        mounts: list[docker.types.Mount] | None = None,
        default_env: bool = True,
    ) -> None:
        """`network`: None = config, True = default bridge, False = none, a string = that Docker network.
        `mounts`: further docker Mount objects (e.g. a tmpfs with read-only binds below it). Unlike
        ro_mounts they declare no volumes in the container's config, so they suit sandboxes to `commit()`.
        `default_env=False` leaves out DEFAULT_ENV (pager and progress-bar settings for agents): for
        harness-faithful evaluation runs and image builds whose environment must not leak into the image."""
        self.image = image
        self.workdir = workdir
        self.config = config or SandboxConfig()
        self.network = self.config.network if network is None else network
        self.env = {**(DEFAULT_ENV if default_env else {}), **(env or {})}
        self.ro_mounts = dict(ro_mounts or {})
        self.mounts = list(mounts or [])
        self.labels = dict(labels or {})
        self.client = client or shared_client()
        self.container: Any = None
        self._channel: ServerChannel | None = None
        self._fallback = False  # no python3 >= 3.6, or the server could not seal itself: `docker exec`
        self._timeout_tool = False
        self._base: PinnedBase | None = None
        self._disk_watch = 0  # bytes: the disk limit the watchdog enforces (0: none, or the driver's quota)
        self._close_lock = threading.Lock()
        self._closed = False

    # -- life cycle -------------------------------------------------------------------------------
    def __enter__(self) -> DockerSandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def id(self) -> str:
        return self.container.id if self.container is not None else ""

    def _network_mode(self) -> str:
        if self.network is True:
            return "bridge"
        return self.network or "none"

    def start(self) -> DockerSandbox:
        if self.container is not None:
            return self
        cleanup.gc_once(self.client)
        with cleanup.creating():
            self._create()
        try:
            self.container.put_archive("/", _tar({SERVER_PATH: SERVER_SOURCE.read_bytes()}))
            self.container.start()
            self._start_server()
            self._base = self._pin()
        except BaseException:
            self.close()
            raise
        return self

    def _create(self) -> None:
        """Create the container and register the sandbox (inside cleanup.creating())."""
        cfg = self.config
        self.container, quota = disklimit.create_limited(
            self.client.containers.create,
            cfg.disk_limit,
            image=self.image,
            entrypoint=["/bin/sh", "-c", IDLE],
            command=[],
            working_dir=self.workdir,
            environment=self.env,
            labels={**self.labels, **cleanup.owner_labels()},
            stdin_open=True,
            tty=False,
            network_mode=self._network_mode(),
            cap_drop=["ALL"],
            cap_add=list(cfg.cap_add),
            security_opt=["no-new-privileges"],
            privileged=False,
            pids_limit=cfg.pids_limit,
            mem_limit=cfg.memory,
            memswap_limit=cfg.memory,
            nano_cpus=int(cfg.cpus * 1e9),
            init=True,
            volumes={host: {"bind": inside, "mode": "ro"} for host, inside in self.ro_mounts.items()},
            mounts=self.mounts,
        )
        self._disk_watch = 0 if quota else disklimit.limit_bytes(cfg.disk_limit)
        cleanup.register(self)

    def _start_server(self) -> None:
        """Start the exec server in its own `docker exec` session; unsealed or absent: docker exec per command."""
        api = self.client.api
        exec_id = api.exec_create(self.container.id, ["/bin/sh", "-c", LAUNCH], stdin=True, workdir="/")
        self._channel = ServerChannel(api.exec_start(exec_id["Id"], socket=True))
        hello = self._channel.wait_ready(self.config.start_timeout)
        if hello.get("ready") and not hello.get("sealed"):
            log.warning(
                "%s: exec server not sealed (%s); using docker exec", self.image, hello.get("seal_error")
            )
        if not (hello.get("ready") and hello.get("sealed")):
            self._start_fallback()

    def _start_fallback(self) -> None:
        self._fallback = True
        if self._channel is not None:
            self._channel.close()
            self._channel = None
        probe = self.container.exec_run(["sh", "-c", "command -v timeout"])
        self._timeout_tool = probe.exit_code == 0

    def close(self) -> None:
        """Remove the container (idempotent, safe from signal handlers and other threads)."""
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        if self._channel is not None:
            self._channel.close()
        if self.container is not None:
            self._remove_container()
        cleanup.unregister(self)

    def _remove_container(self) -> None:
        """Remove the container; while the engine does not answer (restarting), again with backoff for up
        to REMOVE_WAIT seconds (once only when the process is shutting down, so Ctrl-C stays bounded)."""
        retrying = Retrying(
            retry=retry_if_exception(_engine_down),
            stop=stop_after_delay(0 if cleanup.shutting_down() else REMOVE_WAIT),
            wait=wait_exponential(multiplier=0.5, max=5),
            reraise=True,
        )
        for attempt in retrying:
            with attempt:
                try:
                    self.container.remove(force=True)
                except docker.errors.NotFound:
                    pass

    def commit(
        self,
        repository: str | None = None,
        tag: str | None = None,
        labels: dict[str, str] | None = None,
        conf: dict[str, Any] | None = None,
        changes: str | list[str] | None = None,
    ) -> Any:
        """Save the container's file system as image `repository:tag` (docker commit; untagged without a
        repository, `latest` without a tag); returns the Image.

        The image gets the configuration of the sandbox's image (command, entrypoint, environment), not
        the sandbox's own boot command; `conf` (Docker config keys: Env, WorkingDir, Cmd, ...) and
        `changes` (Dockerfile instructions) override it, `labels` are added. Docker merges in the
        sandbox's environment variables and labels: the owner labels are blanked (gc never judges
        containers of the new image), and `env=` variables stay unless the sandbox used default_env=False
        and passed them per exec. Files in tmpfs mounts are not part of the image (their mount points are)."""
        if self.container is None or self._closed:
            raise SandboxError("sandbox is not running")
        if self.ro_mounts:  # Docker would keep their targets as VOLUMEs of the image
            raise SandboxError("cannot commit a sandbox with ro_mounts: use mounts= (docker Mount objects)")
        source = self.client.images.get(self.image).attrs.get("Config") or {}
        config: dict[str, Any] = {
            "Cmd": source.get("Cmd"),
            "Entrypoint": source.get("Entrypoint"),
            **(conf or {}),
        }
        config["Entrypoint"] = config.get("Entrypoint") or []  # None would make Docker keep the boot command
        if not config.get("Cmd") and not config["Entrypoint"]:
            config["Cmd"] = ["sleep", "infinity"]
        blank = {key: "" for key in cleanup.owner_labels() if key != cleanup.LABEL}
        config["Labels"] = {**(config.get("Labels") or {}), **(labels or {}), **blank}
        return self.container.commit(repository=repository, tag=tag, conf=config, changes=changes)

    # -- commands ---------------------------------------------------------------------------------
    def exec(
        self,
        cmd: str,
        timeout: float | None = None,
        cwd: str | None = None,
        env: dict[str, str] | None = None,
    ) -> ExecResult:
        """Run `cmd` in a fresh shell in its own process group; on timeout the whole group is killed."""
        if self.container is None or self._closed:
            raise SandboxError("sandbox is not running")
        timeout = self.config.command_timeout if timeout is None else timeout
        cwd = cwd or self.workdir
        start = time.monotonic()
        measure = functools.partial(disklimit.layer_size, self.client, self.container.id)
        with disklimit.DiskWatch(self._disk_watch, measure, self._stop_commands) as watch:
            result = self._exec(cmd, timeout, cwd, env, start)
        return watch.annotate(result)

    def _exec(
        self, cmd: str, timeout: float, cwd: str, env: dict[str, str] | None, start: float
    ) -> ExecResult:
        if self._fallback:
            return self._exec_fallback(cmd, timeout, cwd, env, start)
        assert self._channel is not None
        request = {"op": "exec", "cmd": cmd, "timeout": timeout or None, "cwd": cwd, "env": env or {}}
        answer = self._channel.request(
            {**request, "limit": self.config.output_limit}, timeout + ANSWER_GRACE if timeout else None
        )
        if "error" in answer:
            return ExecResult(126, answer["error"], duration=time.monotonic() - start)
        return ExecResult(
            exit_code=answer["exit_code"],
            output=answer["output"],
            timed_out=answer["timed_out"],
            duration=time.monotonic() - start,
            truncated=answer["truncated"],
        )

    def _stop_commands(self) -> None:
        """Kill every command running in the sandbox (its container and exec server stay)."""
        if self._channel is not None:
            self._channel.request({"op": "stop"}, ANSWER_GRACE)
        else:
            self.container.exec_run(["sh", "-c", STOP_ALL])

    def _exec_fallback(
        self, cmd: str, timeout: float, cwd: str, env: dict[str, str] | None, start: float
    ) -> ExecResult:
        argv = ["sh", "-c", cmd]
        if timeout and self._timeout_tool:
            argv = ["timeout", "-s", "KILL", str(timeout), *argv]
        res = self.container.exec_run(argv, workdir=cwd, environment=env or None)
        capture = Capture(self.config.output_limit)
        capture.add(res.output or b"")
        output, truncated = capture.result()
        duration = time.monotonic() - start
        timed_out = bool(timeout) and res.exit_code == 137 and duration >= timeout
        return ExecResult(res.exit_code, output, timed_out, duration, truncated)

    def _path(self, path: str) -> str:
        return str(PurePosixPath(self.workdir) / path)  # absolute paths stay as they are

    def _request(self, payload: dict) -> dict:
        assert self._channel is not None
        answer = self._channel.request(payload, self.config.command_timeout + ANSWER_GRACE)
        error = answer.get("error")
        if error:
            if error.startswith("FileNotFoundError"):
                raise FileNotFoundError(error)
            raise SandboxError(error)
        return answer

    # -- files ------------------------------------------------------------------------------------
    def write_file(self, path: str, content: str | bytes, mode: int | None = None) -> None:
        """Write a file (parent folders created); relative paths are relative to the workdir."""
        data = content.encode() if isinstance(content, str) else content
        path = self._path(path)
        if self._fallback:
            parent = str(PurePosixPath(path).parent)
            self.exec(f"mkdir -p {shlex.quote(parent)}")
            self.container.put_archive(parent, _tar({PurePosixPath(path).name: data}, mode or 0o644))
            return
        self._request({"op": "write", "path": path, "data": base64.b64encode(data).decode(), "mode": mode})

    def read_bytes(self, path: str) -> bytes:
        path = self._path(path)
        if self._fallback:
            try:
                stream, _ = self.container.get_archive(path)
            except docker.errors.NotFound as exc:
                raise FileNotFoundError(path) from exc
            with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
                member = tar.extractfile(tar.getmembers()[0])
                if member is None:
                    raise SandboxError(f"{path} is not a regular file")
                return member.read()
        return base64.b64decode(self._request({"op": "read", "path": path})["data"])

    def read_file(self, path: str) -> str:
        return self.read_bytes(path).decode("utf-8", errors="replace")

    def copy_to(self, host_path: str | Path, container_dir: str) -> None:
        """Copy a host file or folder into `container_dir` (created if missing), keeping its name."""
        host_path = Path(host_path)
        if not host_path.exists():
            raise FileNotFoundError(host_path)
        container_dir = self._path(container_dir)
        self.exec(f"mkdir -p {shlex.quote(container_dir)}")
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            tar.add(host_path, arcname=host_path.name)
        if not self.container.put_archive(container_dir, buf.getvalue()):
            raise SandboxError(f"could not copy {host_path} to {container_dir}")

    # -- git --------------------------------------------------------------------------------------
    def _pin(self) -> PinnedBase | None:
        """Snapshot the working tree (None: the workdir is no git work tree); SandboxError if that fails."""
        res = self.exec(PIN_SCRIPT)
        try:
            if res.exit_code == 0:
                return parse_pin(res.output)
        except ValueError:
            pass
        raise SandboxError(f"pinning the base of {self.workdir} failed: {res.output[-2000:]}")

    def pin_base(self) -> str:
        """Pin the working tree as it is now as the base of `diff()` (done at start when the workdir is a git
        work tree; call it for a repository made later). Returns HEAD's commit."""
        base = self._pin()
        if base is None:
            raise SandboxError(f"cannot pin a base: {self.workdir} is not a git work tree")
        self._base = base
        return base.head

    @property
    def base(self) -> PinnedBase:
        """The pinned base (sandbox/gitbase.py); SandboxError if there is none."""
        if self._base is None:
            raise SandboxError(
                f"no pinned base: {self.workdir} was no git work tree when the sandbox started (pin_base())"
            )
        return self._base

    @property
    def base_commit(self) -> str:
        """HEAD's commit when the base was pinned."""
        return self.base.head

    def diff(self) -> str:
        """`git diff --binary` from the pinned base to the working tree, untracked (not ignored) files
        included, whatever the agent did with git since (sandbox/gitbase.py). The agent's index is untouched."""
        out = f"/tmp/.swescale_diff_{uuid.uuid4().hex}"
        res = self.exec(diff_script(self.base, out))
        try:
            if res.exit_code != 0:
                raise SandboxError(f"diff failed: {res.output}")
            return self.read_bytes(out).decode("utf-8", errors="replace")
        finally:
            self.exec(f"rm -f {out}")
