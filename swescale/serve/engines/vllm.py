"""vLLM (`vllm serve`): GPUs, tensor and data parallelism, prefix caching, speculative decoding, the
model family's tool-call parser flags, Prometheus /metrics."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from swescale.serve.engines.base import Engine, Replica

if TYPE_CHECKING:
    from swescale.serve.config import ServeConfig

SPECULATIVE_TOKENS = {"ngram": 5, "suffix": 32}
"""vLLM's suggested `num_speculative_tokens` per method (docs: n-gram example 5, suffix default 32)."""


class VllmEngine(Engine):
    def argv(self, spec: Replica, config: ServeConfig) -> list[str]:
        """`vllm serve MODEL ...` with the family's flags, then `serve.extra_args`."""
        argv = [config.vllm, "serve", spec.location, "--host", spec.host, "--port", str(spec.port)]
        argv += ["--served-model-name", spec.served_name, "--tensor-parallel-size", str(spec.tensor_parallel)]
        if spec.data_parallel > 1:
            argv += ["--data-parallel-size", str(spec.data_parallel)]
        argv.append("--enable-prefix-caching" if config.prefix_caching else "--no-enable-prefix-caching")
        if config.max_model_len:
            argv += ["--max-model-len", str(config.max_model_len)]
        argv += ["--gpu-memory-utilization", str(config.gpu_memory_utilization)]
        if config.speculative:
            speculative = {
                "method": config.speculative,
                "num_speculative_tokens": config.speculative_tokens or SPECULATIVE_TOKENS[config.speculative],
            }
            if config.speculative == "ngram":
                speculative["prompt_lookup_max"] = 4
            argv += ["--speculative-config", json.dumps(speculative)]
        return argv + list(spec.family.args) + list(config.extra_args)


VLLM = VllmEngine(
    name="vllm",
    gpus=True,
    prefix_caching=True,
    metrics=True,
    health_path="/health",
    install_hint="install vLLM (pip install vllm) or point serve.vllm at its executable",
)
