"""`swescale serve`: local model servers (vLLM, or llama.cpp for GGUF files on CPUs) started per model
family, checked, supervised and described in an endpoints file (`servers.yaml`) that every other command
reads with `--servers`.

    engines/      one module per engine (vllm.py, llamacpp.py): command line, model lookup, what it supports
    families.py   the per-family flag table (families.yaml, extended by a user file)
    plan.py       replicas from GPUs, tensor parallelism and replica count, each with its engine
    replica.py    one replica process (own process group, own log)
    ready.py      readiness: health, /v1/models, one smoke request with a tool call
    supervisor.py start, watch and restart, stop; the state file behind `serve status` / `serve stop`
    endpoints.py  servers.yaml, written once every replica is ready, read back into a config
    metrics.py    vLLM's Prometheus /metrics, sampled during a run and summarised for the report
"""
