"""`--executor ray`: each instance is a Ray task on a node with Docker; the driver owns the state.

The driver sends the task, the config and the instance's run folder so far (a tar blob, so a retry on
another node resumes from the finished trajectories); the node solves it with the same job as the local
executor (`swescale.bench.instance.run_instance`) in a temporary folder and returns the result with the
folder as a tar blob, which the driver unpacks into the bench run directory. When a worker process or its
node dies, Ray runs the task again elsewhere (`bench.ray_max_retries`); when it gives up, the instance is a
`worker-lost` error (which `bench.max_attempts` does not retry again). Needs `pip install 'swescale[dist]'`.

Limits: sandboxes and model requests in flight are bounded per Ray worker process (one instance at a time
each); instances per node by `bench.ray_cpus`. Repositories must be reachable from every node (GitHub, a
shared `env.repos_dir`, or a `repo_url` path that exists on the nodes); images are built on each node.
"""

from __future__ import annotations

import io
import logging
import shutil
import socket
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from swescale.bench.errors import WORKER_LOST
from swescale.bench.jobs import Job
from swescale.bench.state import InstanceResult, instance_dir
from swescale.config import SwescaleConfig

log = logging.getLogger(__name__)
_shared: dict[str, Any] = {}
"""Per Ray worker process: the Shared resources of the last config seen (reused by its next tasks)."""


def pack(folder: Path) -> bytes:
    """The folder's content as a gzipped tar (empty bytes when there is no folder)."""
    folder = Path(folder)
    if not folder.is_dir():
        return b""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        tar.add(folder, arcname=".")
    return buf.getvalue()


def unpack(blob: bytes, folder: Path) -> None:
    """Replace `folder` with the blob's content (the old one stays until the new one is complete)."""
    folder = Path(folder)
    if not blob:
        return
    folder.parent.mkdir(parents=True, exist_ok=True)
    fresh = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.new-"))
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as tar:
        tar.extractall(fresh, filter="data")
    old = folder.with_name(f".{folder.name}.old")
    if folder.exists():
        shutil.rmtree(old, ignore_errors=True)
        folder.rename(old)
    fresh.rename(folder)
    shutil.rmtree(old, ignore_errors=True)


def _shared_for(config: SwescaleConfig) -> Any:
    from swescale.bench.instance import Shared

    key = config.model_dump_json()
    if key not in _shared:
        _shared.clear()
        _shared[key] = Shared(config)
    return _shared[key]


def _node_id() -> str:
    import ray

    return ray.get_runtime_context().get_node_id()[:12]


def remote_job(job_json: str, config_json: str, blob: bytes) -> tuple[str, bytes]:
    """What runs on a node: one job in a temporary copy of the instance folder, returned with its result."""
    from swescale.bench.instance import run_instance

    config = SwescaleConfig.model_validate_json(config_json)
    job = Job.model_validate_json(job_json)
    work = Path(tempfile.mkdtemp(prefix="swescale-ray-"))
    try:
        folder = work / "instance"
        unpack(blob, folder)
        result = run_instance(
            job.task,
            config,
            folder,
            _shared_for(config),
            solve=job.solve,
            patch=job.patch,
            evaluate=config.bench.evaluate,
        )
        result.node = f"{socket.gethostname()}/{_node_id()}"
        return result.model_dump_json(), pack(folder)
    finally:
        shutil.rmtree(work, ignore_errors=True)


class RayExecutor:
    """Jobs as Ray tasks (`bench.ray_*` options); at most `bench.workers` in flight."""

    def __init__(self, config: SwescaleConfig, run_dir: Path) -> None:
        try:
            import ray
        except ImportError as exc:  # pragma: no cover - the dist extra is missing
            raise RuntimeError("--executor ray needs Ray: pip install 'swescale[dist]'") from exc
        self._ray = ray
        self.config, self.run_dir = config, Path(run_dir)
        self.capacity = config.bench.workers
        self._started_here = not ray.is_initialized()
        if self._started_here:
            local = {} if config.bench.ray_address else {"include_dashboard": False}
            ray.init(
                address=config.bench.ray_address or None,
                logging_level=logging.WARNING,
                log_to_driver=False,
                **local,
            )
        self._remote = ray.remote(remote_job).options(
            num_cpus=config.bench.ray_cpus,
            resources=dict(config.bench.ray_resources) or None,
            max_retries=config.bench.ray_max_retries,
            retry_exceptions=False,
        )
        self._config_json = config.model_dump_json()
        self._jobs: dict[Any, Job] = {}

    def submit(self, job: Job) -> Any:
        blob = pack(instance_dir(self.run_dir, job.task.instance_id))
        ref = self._remote.remote(job.model_dump_json(), self._config_json, blob)
        self._jobs[ref] = job
        return ref

    def wait(self, handles: list[Any], timeout: float) -> list[tuple[Any, InstanceResult]]:
        ready, _ = self._ray.wait(handles, num_returns=len(handles), timeout=timeout)
        return [(ref, self._collect(ref)) for ref in ready]

    def _collect(self, ref: Any) -> InstanceResult:
        job = self._jobs.pop(ref)
        iid = job.task.instance_id
        try:
            result_json, blob = self._ray.get(ref)
        except self._ray.exceptions.TaskCancelledError:
            return InstanceResult(instance_id=iid, status="pending", error="cancelled")
        except self._ray.exceptions.RayError as exc:  # node or worker died (after Ray's retries), ...
            return InstanceResult(
                instance_id=iid,
                status="error",
                error_class=WORKER_LOST,
                error=f"Ray: {type(exc).__name__}: {str(exc)[:1500]}",
                node=socket.gethostname(),
            )
        unpack(blob, instance_dir(self.run_dir, iid))
        return InstanceResult.model_validate_json(result_json)

    def stop(self) -> None:
        """Ctrl-C: running tasks get a KeyboardInterrupt, so they stop at their next step and return."""
        for ref in list(self._jobs):
            self._ray.cancel(ref)

    def close(self) -> None:
        if self._started_here:
            self._ray.shutdown()
