"""Replica planning: which server processes to start, on which GPUs and ports, with which flags.

```python
specs = plan_replicas(["Qwen/Qwen2.5-Coder-32B-Instruct"], judge=None, gpus=[0, 1], replicas=None,
                      config=ServeConfig(), table=load_families())
specs[1].argv(config)   # [vllm, serve, MODEL, --host, ..., --port, 8001, ..., --tool-call-parser, hermes]
specs[1].env(os.environ)["CUDA_VISIBLE_DEVICES"]  # "1"
```
One replica per group of `tensor_parallel` GPUs (`replicas=None`: as many as the GPUs allow, a judge
taking one group); with `config.data_parallel` one process per model gets all its groups and vLLM's
`--data-parallel-size`. Without `gpus` nothing is pinned (CUDA_VISIBLE_DEVICES is left as it is).
`config.engine` names the engine (`swescale.serve.engines`) that finds the model and builds the command
line; an engine without GPU placement (llama.cpp) refuses `gpus`, tensor and data parallelism.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from swescale.serve.config import ServeConfig
from swescale.serve.engines import Engine, EngineError, engine_named
from swescale.serve.families import Family, FamilyTable, family_for


class PlanError(ValueError):
    """The requested replicas do not fit the GPUs (the message says why)."""


@dataclass(frozen=True)
class ReplicaSpec:
    role: str
    """`agent` or `judge`."""
    index: int
    """Position within its role."""
    model: str
    """The model as given to serve."""
    location: str
    """What the engine loads (a model name, a folder, a GGUF file)."""
    served_name: str
    family: Family
    engine: Engine
    host: str
    port: int
    gpus: tuple[int, ...] | None
    tensor_parallel: int = 1
    data_parallel: int = 1

    @property
    def name(self) -> str:
        return f"{self.role}-{self.index}"

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """The OpenAI-compatible base URL (what ModelConfig.urls holds)."""
        return f"{self.base_url}/v1"

    @property
    def tool_format(self) -> str:
        """The tool format this replica is checked in (its engine's reading of the family's)."""
        return self.engine.tool_format(self.family)

    def argv(self, config: ServeConfig) -> list[str]:
        """The replica's server command line (built by its engine)."""
        return self.engine.argv(self, config)

    def env(self, base: Mapping[str, str]) -> dict[str, str]:
        """The replica's environment: `base` with CUDA_VISIBLE_DEVICES set to its GPUs."""
        env = dict(base)
        if self.gpus is not None:
            env["CUDA_VISIBLE_DEVICES"] = ",".join(str(g) for g in self.gpus)
        return env


def parse_gpus(text: str | None) -> list[int] | None:
    """`"0,1,2"` -> [0, 1, 2]; None or "" -> None (no pinning)."""
    if not text:
        return None
    try:
        gpus = [int(part) for part in text.split(",") if part.strip()]
    except ValueError as exc:
        raise PlanError(f"--gpus must be comma-separated GPU indices like 0,1, not {text!r}") from exc
    if len(set(gpus)) != len(gpus) or any(g < 0 for g in gpus):
        raise PlanError(f"--gpus lists a GPU twice or a negative index: {text!r}")
    return gpus


def _counts(models: list[str], judge: str | None, groups: int | None, replicas: int | None) -> list[int]:
    """Replicas per model (agents first, then the judge)."""
    if groups is None:
        return [replicas or 1] * len(models) + ([1] if judge else [])
    free = groups - (1 if judge else 0)
    per_model = replicas or free // len(models)
    if per_model < 1 or per_model * len(models) > free:
        need = (replicas or 1) * len(models) + (1 if judge else 0)
        raise PlanError(
            f"{len(models)} model(s) x {replicas or 1} replica(s){' + a judge' if judge else ''} need {need} "
            f"GPU group(s) of --tensor-parallel GPUs; --gpus gives {groups}"
        )
    return [per_model] * len(models) + ([1] if judge else [])


def plan_replicas(
    models: list[str],
    judge: str | None,
    gpus: list[int] | None,
    replicas: int | None,
    config: ServeConfig,
    table: FamilyTable,
) -> list[ReplicaSpec]:
    """Every replica to start, in port order. `replicas=None` means as many as the GPUs allow."""
    if not models:
        raise PlanError("give at least one --model")
    tp = config.tensor_parallel
    if tp < 1 or (replicas is not None and replicas < 1):
        raise PlanError("--tensor-parallel and --replicas must be at least 1")
    try:
        engine = engine_named(config.engine)
        located = {m: engine.locate(m) for m in [*models, *([judge] if judge else [])]}
    except EngineError as exc:
        raise PlanError(str(exc)) from exc
    if not engine.gpus and (gpus is not None or tp > 1 or config.data_parallel):
        raise PlanError(
            f"{engine.name} does not place replicas on GPUs: drop --gpus, --tensor-parallel, --data-parallel"
        )
    families = {m: family_for(_identity(m, where), table) for m, where in located.items()}
    groups = None
    if gpus is not None:
        if len(gpus) % tp:
            raise PlanError(f"{len(gpus)} GPU(s) do not split into groups of --tensor-parallel {tp}")
        groups = [tuple(gpus[i : i + tp]) for i in range(0, len(gpus), tp)]
    formats = {engine.tool_format(families[m]) for m in models} - {"auto"}
    if len(formats) > 1:
        raise PlanError(f"a model mix needs one tool format; these models use {sorted(formats)}")
    counts = _counts(models, judge, None if groups is None else len(groups), replicas)
    roles = [("agent", m) for m in models] + ([("judge", judge)] if judge else [])
    specs: list[ReplicaSpec] = []
    next_group = 0
    role_index = {"agent": 0, "judge": 0}
    for (role, model), count in zip(roles, counts, strict=True):
        mine = groups[next_group : next_group + count] if groups is not None else [None] * count
        next_group += count
        processes = [tuple(g for group in mine for g in group)] if groups is not None else [None]
        if not config.data_parallel:
            processes = list(mine)
        for gpu_set in processes:
            specs.append(
                ReplicaSpec(
                    role=role,
                    index=role_index[role],
                    model=model,
                    location=located[model],
                    engine=engine,
                    served_name=engine.served_name(model, located[model]),
                    family=families[model],
                    host=config.host,
                    port=config.port_base + len(specs),
                    gpus=gpu_set,
                    tensor_parallel=tp,
                    data_parallel=count if config.data_parallel else 1,
                )
            )
            role_index[role] += 1
    return specs


def _identity(model: str, location: str) -> str:
    """What a family's `match` texts are looked for in: the model as given and what it resolved to."""
    return model if location == model else f"{model} {location}"
