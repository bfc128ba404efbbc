"""The `serve` config section: how `swescale serve` starts and watches its servers (vLLM or llama.cpp)."""

from __future__ import annotations

from typing import Literal

from sandbox.configbase import Section


class ServeConfig(Section):
    engine: Literal["vllm", "llama.cpp"] = "vllm"
    """The inference engine: vLLM (GPUs) or llama.cpp (llama-cpp-python's server; GGUF files, CPUs)."""
    vllm: str = "vllm"
    """The vLLM executable (looked up on PATH); it is run as `<vllm> serve MODEL ...`."""
    host: str = "127.0.0.1"
    """Address the servers listen on."""
    port_base: int = 8000
    """Port of the first replica; the others take the next ports."""
    tensor_parallel: int = 1
    """GPUs per replica (`--tensor-parallel-size`)."""
    data_parallel: bool = False
    """One `vllm serve --data-parallel-size N` process per model (vLLM balances) instead of one process per replica."""
    max_model_len: int = 0
    """Context length: vLLM's `--max-model-len`, llama.cpp's `--n_ctx` (0: the model's own)."""
    gpu_memory_utilization: float = 0.9
    """`--gpu-memory-utilization`: fraction of each GPU's memory vLLM may take."""
    prefix_caching: bool = True
    """`--enable-prefix-caching`: agent prompts share long prefixes, so this is on unless turned off here."""
    speculative: Literal["", "ngram", "suffix"] = ""
    """Speculative decoding without a draft model (`--speculative-config`): ngram, suffix (needs arctic-inference) or off."""
    speculative_tokens: int = 0
    """Speculated tokens per step (`num_speculative_tokens`; 0: 5 for ngram, 32 for suffix)."""
    python: str = ""
    """llama.cpp: the Python that runs `-m llama_cpp.server` (empty: the one running swescale)."""
    threads: int = 0
    """llama.cpp: CPU threads generating per replica (`--n_threads`; 0: the server's default, half the cores)."""
    chat_format: str = ""
    """llama.cpp: `--chat_format`, e.g. functionary-v2 (empty: the GGUF's own chat template)."""
    families_file: str = ""
    """YAML file of model families that extends or overrides the built-in table (swescale/serve/families.yaml)."""
    extra_args: list[str] = []
    """Flags added to every server command line (after the family's flags for vLLM)."""
    ready_timeout: float = 1800.0
    """Seconds a replica may take to become ready (weights download and load) before serve gives up."""
    restart_backoff: float = 5.0
    """Seconds before restarting a replica that died; doubles on each consecutive failure (capped at 5 min)."""
    max_restarts: int = 0
    """Consecutive failed restarts after which a replica stays down (0: keep trying)."""
    stop_timeout: float = 30.0
    """Seconds a replica gets to exit after SIGTERM before its process group is killed."""
    state_dir: str = ".swescale/serve"
    """Folder of the state file (`state.json`, read by `serve status` / `serve stop`) and the replica logs."""
    metrics_interval: float = 15.0
    """Seconds between two samples of the servers' /metrics during a run (0: no sampling)."""
