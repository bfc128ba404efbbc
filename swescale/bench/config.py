"""Configuration of `swescale bench run`: executors, concurrency, grading, retries."""

from typing import Literal

from pydantic import Field

from sandbox.configbase import Section


class BenchConfig(Section):
    workers: int = Field(default=1, ge=1)
    """Instances solved at once. Their sandboxes share `sandbox.max_concurrent`, their model requests
    `model.max_in_flight` per server, and their image builds `env.max_parallel_builds`."""
    executor: Literal["local", "ray"] = "local"
    """`local`: instances in threads of this process; `ray`: one Ray task per instance on a Ray cluster."""
    ray_address: str = ""
    """Ray cluster to join: `auto`, `HOST:PORT`, or empty for a Ray instance started by this process."""
    ray_max_retries: int = Field(default=3, ge=0)
    """Times Ray reruns an instance's task elsewhere when its worker process or node dies."""
    ray_cpus: float = Field(default=1.0, gt=0)
    """CPUs one instance's Ray task reserves on its node (bounds instances per node)."""
    ray_resources: dict[str, float] = {}
    """Further Ray resources an instance's task needs, e.g. `{docker: 1}` for nodes started with
    `ray start --resources '{"docker": N}'`, so instances run only on nodes with Docker."""
    evaluate: bool = False
    """Grade each prediction as it lands (the `bench eval` grading); verdicts go into the state."""
    max_attempts: int = Field(default=3, ge=1)
    """Attempts per instance within one `bench run` before its error stands. Only infrastructure errors
    (`docker-infrastructure`, `model-server`: what the sandbox reruns and the model client's retries gave up
    on) are retried; an environment-build, agent, timeout or worker-lost error is not."""
    retry_backoff: float = Field(default=10.0, ge=0)
    """Seconds before an instance's second attempt, doubling for each further one (at most 5 min), so a
    restarting Docker engine or model server is back; meanwhile the instance is pending in the state."""
    instance_timeout: float = Field(default=0.0, ge=0)
    """Wall-time limit of one instance in seconds (0: none). It caps `solve.max_seconds`; an instance that
    reaches it without a patch is a `timeout` error."""
    model_name: str = "swescale"
    """`model_name_or_path` of the predictions written."""
    status_interval: float = Field(default=30.0, gt=0)
    """Seconds between status lines when the output is not a terminal."""
