"""The family table, replica planning, the endpoints file and /metrics parsing (no processes)."""

from __future__ import annotations

import json

import pytest

from swescale.serve.config import ServeConfig
from swescale.serve.endpoints import endpoints_of, read_endpoints, servers_overrides, write_endpoints
from swescale.serve.families import family_for, load_families
from swescale.serve.metrics import parse_metrics, summarize
from swescale.serve.plan import PlanError, parse_gpus, plan_replicas

HERMES = ["--enable-auto-tool-choice", "--tool-call-parser", "hermes"]
MISTRAL = ["--tokenizer-mode", "mistral", "--config-format", "mistral", "--load-format", "mistral"]


def argv_of(model: str, **config) -> list[str]:
    cfg = ServeConfig(**config)
    return plan_replicas([model], None, None, None, cfg, load_families())[0].argv(cfg)


@pytest.mark.parametrize(
    "model",
    ["Qwen/Qwen2.5-Coder-32B-Instruct", "Qwen/Qwen2.5-72B-Instruct", "Qwen/QwQ-32B", "/models/qwq-32b"],
)
def test_qwen25_and_qwq_get_the_hermes_parser(model):
    argv = argv_of(model)
    assert " ".join(HERMES) in " ".join(argv)
    assert family_for(model, load_families()).tool_format == "native"


def test_qwen3_coder_gets_its_own_parser():
    argv = argv_of("Qwen/Qwen3-Coder-30B-A3B-Instruct")
    assert argv[argv.index("--tool-call-parser") + 1] == "qwen3_coder"
    assert "--enable-auto-tool-choice" in argv


@pytest.mark.parametrize(
    "model", ["mistralai/Devstral-Small-2505", "mistralai/Mistral-Small-3.1-24B-Instruct-2503"]
)
def test_devstral_and_mistral_get_mistral_formats_and_parser(model):
    argv = " ".join(argv_of(model))
    assert " ".join(MISTRAL) in argv
    assert "--tool-call-parser mistral" in argv and "--enable-auto-tool-choice" in argv


@pytest.mark.parametrize(
    "model", ["R2E-Gym/R2EGym-32B-Agent", "SWE-bench/SWE-agent-LM-32B", "agentica-org/DeepSWE-Preview"]
)
def test_function_block_models_get_no_parser_and_the_text_format(model):
    argv = argv_of(model)
    assert "--tool-call-parser" not in argv and "--enable-auto-tool-choice" not in argv
    assert family_for(model, load_families()).tool_format == "text"


def test_every_replica_has_prefix_caching_and_the_configured_limits():
    argv = argv_of("Qwen/Qwen2.5-Coder-7B-Instruct", max_model_len=32768, gpu_memory_utilization=0.85)
    assert "--enable-prefix-caching" in argv
    assert argv[argv.index("--max-model-len") + 1] == "32768"
    assert argv[argv.index("--gpu-memory-utilization") + 1] == "0.85"
    assert "--no-enable-prefix-caching" in argv_of("Qwen/QwQ-32B", prefix_caching=False)
    assert "--max-model-len" not in argv_of("Qwen/QwQ-32B")  # 0: the model's own


@pytest.mark.parametrize(
    ("method", "tokens", "expected"),
    [
        ("ngram", 0, {"method": "ngram", "num_speculative_tokens": 5, "prompt_lookup_max": 4}),
        ("suffix", 0, {"method": "suffix", "num_speculative_tokens": 32}),
        ("suffix", 16, {"method": "suffix", "num_speculative_tokens": 16}),
    ],
)
def test_speculative_config_is_json(method, tokens, expected):
    argv = argv_of("Qwen/QwQ-32B", speculative=method, speculative_tokens=tokens)
    assert json.loads(argv[argv.index("--speculative-config") + 1]) == expected
    assert "--speculative-config" not in argv_of("Qwen/QwQ-32B")


def test_user_file_overrides_a_family_and_adds_one_before_the_builtins(tmp_path):
    user = tmp_path / "families.yaml"
    user.write_text(
        "families:\n"
        "  - {name: qwen-hermes, match: [qwen2.5], tool_format: native,"
        " args: [--enable-auto-tool-choice, --tool-call-parser, qwen25_custom]}\n"
        "  - {name: my-agent, match: [qwen2.5-coder-7b-myft], tool_format: text, args: [--trust-remote-code]}\n"
    )
    table = load_families(user)
    assert family_for("org/Qwen2.5-Coder-7B-myft", table).name == "my-agent"  # new entries come first
    cfg = ServeConfig(families_file=str(user))
    argv = plan_replicas(["Qwen/Qwen2.5-72B-Instruct"], None, None, None, cfg, table)[0].argv(cfg)
    assert argv[argv.index("--tool-call-parser") + 1] == "qwen25_custom"
    assert family_for("Qwen/QwQ-32B", table).name == "unknown"  # the replaced entry no longer matches qwq
    assert family_for("mistralai/Devstral-Small-2505", table).name == "mistral"  # others untouched
    assert family_for("meta-llama/Llama-3.1-8B", table).tool_format == "auto"


def test_bad_family_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("families:\n  - {name: x, tool_format: xml}\n")
    with pytest.raises(ValueError, match="bad.yaml"):
        load_families(bad)


def test_one_replica_per_gpu_group_each_pinned_and_on_its_port():
    cfg = ServeConfig(port_base=9000, tensor_parallel=2)
    specs = plan_replicas(["Qwen/QwQ-32B"], None, [0, 1, 2, 3], None, cfg, load_families())
    assert [(s.name, s.gpus, s.port) for s in specs] == [("agent-0", (0, 1), 9000), ("agent-1", (2, 3), 9001)]
    assert specs[1].env({"X": "1"}) == {"X": "1", "CUDA_VISIBLE_DEVICES": "2,3"}
    assert specs[0].argv(cfg)[specs[0].argv(cfg).index("--tensor-parallel-size") + 1] == "2"


def test_judge_takes_one_group_and_data_parallel_makes_one_process():
    table = load_families()
    specs = plan_replicas(["Qwen/QwQ-32B"], "Qwen/Qwen2.5-7B-Instruct", [0, 1, 2], None, ServeConfig(), table)
    assert [(s.name, s.gpus) for s in specs] == [("agent-0", (0,)), ("agent-1", (1,)), ("judge-0", (2,))]
    cfg = ServeConfig(data_parallel=True)
    specs = plan_replicas(["Qwen/QwQ-32B"], None, [0, 1, 2, 3], None, cfg, table)
    assert len(specs) == 1 and specs[0].gpus == (0, 1, 2, 3)
    argv = specs[0].argv(cfg)
    assert argv[argv.index("--data-parallel-size") + 1] == "4"


def test_a_model_mix_splits_the_gpus_and_needs_one_tool_format():
    table = load_families()
    specs = plan_replicas(
        ["Qwen/QwQ-32B", "Qwen/Qwen2.5-Coder-32B-Instruct"], None, [0, 1, 2, 3], None, ServeConfig(), table
    )
    assert [(s.model, s.gpus) for s in specs] == [
        ("Qwen/QwQ-32B", (0,)),
        ("Qwen/QwQ-32B", (1,)),
        ("Qwen/Qwen2.5-Coder-32B-Instruct", (2,)),
        ("Qwen/Qwen2.5-Coder-32B-Instruct", (3,)),
    ]
    ends = endpoints_of(specs, {})
    assert ends.agent.name == "" and len(ends.agent.urls) == 4  # a mix: each server's own name
    with pytest.raises(PlanError, match="one tool format"):
        plan_replicas(["Qwen/QwQ-32B", "R2E-Gym/R2EGym-32B-Agent"], None, None, None, ServeConfig(), table)


@pytest.mark.parametrize(
    ("gpus", "tp", "replicas", "judge", "message"),
    [
        ("0,1,2", 2, None, None, "groups of --tensor-parallel 2"),
        ("0,1", 1, 3, None, "need 3 GPU group"),
        ("0", 1, None, "Qwen/Qwen2.5-7B-Instruct", "a judge need 2"),
    ],
)
def test_plans_that_do_not_fit_are_clear_errors(gpus, tp, replicas, judge, message):
    with pytest.raises(PlanError, match=message):
        plan_replicas(
            ["Qwen/QwQ-32B"],
            judge,
            parse_gpus(gpus),
            replicas,
            ServeConfig(tensor_parallel=tp),
            load_families(),
        )
    with pytest.raises(PlanError, match="comma-separated"):
        parse_gpus("0;1")


def test_endpoints_file_round_trip_into_config_overrides(tmp_path):
    from swescale.config import load_config

    table = load_families()
    specs = plan_replicas(
        ["Qwen/Qwen2.5-Coder-32B-Instruct"], "Qwen/QwQ-32B", None, 2, ServeConfig(port_base=8100), table
    )
    path = tmp_path / "servers.yaml"
    write_endpoints(endpoints_of(specs, {"agent-0": "native", "agent-1": "native"}), path)
    assert read_endpoints(path).agent.urls == ["http://127.0.0.1:8100/v1", "http://127.0.0.1:8101/v1"]
    config = load_config(overrides=servers_overrides(path))
    assert config.model.urls == ["http://127.0.0.1:8100/v1", "http://127.0.0.1:8101/v1"]
    assert config.model.name == "Qwen/Qwen2.5-Coder-32B-Instruct" and config.model.tool_format == "native"
    assert config.verifier_model.urls == ["http://127.0.0.1:8102/v1"]
    assert config.verifier_model.name == "Qwen/QwQ-32B"
    bad = tmp_path / "bad.yaml"
    bad.write_text("agent: {urls: 3}\n")
    with pytest.raises(ValueError, match="bad.yaml"):
        servers_overrides(bad)
    with pytest.raises(ValueError, match="missing.yaml"):
        servers_overrides(tmp_path / "missing.yaml")


VLLM_METRICS = """# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="m"} 3.0
vllm:num_requests_running{engine="1",model_name="m"} 1.0
# HELP vllm:num_requests_waiting Number of requests waiting to be processed.
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{engine="0",model_name="m"} 2.0
# HELP vllm:prefix_cache_queries Prefix cache queries, in terms of number of queried tokens.
# TYPE vllm:prefix_cache_queries counter
vllm:prefix_cache_queries_total{engine="0",model_name="m"} 1000.0
vllm:prefix_cache_queries_created{engine="0",model_name="m"} 1.7e9
# HELP vllm:prefix_cache_hits Prefix cache hits, in terms of number of cached tokens.
# TYPE vllm:prefix_cache_hits counter
vllm:prefix_cache_hits_total{engine="0",model_name="m"} 600.0
# HELP vllm:generation_tokens Number of generation tokens processed.
# TYPE vllm:generation_tokens counter
vllm:generation_tokens_total{engine="0",model_name="m"} 50.0
"""


def test_vllm_metrics_are_parsed_and_summed_over_engines():
    reading = parse_metrics(VLLM_METRICS)
    assert reading == {
        "prefix_cache_queries": 1000.0,
        "prefix_cache_hits": 600.0,
        "generation_tokens": 50.0,
        "running": 4.0,
        "waiting": 2.0,
    }
    legacy = "# TYPE vllm:gpu_prefix_cache_hits counter\nvllm:gpu_prefix_cache_hits_total 7.0\n"
    assert parse_metrics(legacy) == {"prefix_cache_hits": 7.0}


def test_summary_rates_survive_a_replica_restart():
    samples = [
        (0.0, {"prefix_cache_queries": 100, "prefix_cache_hits": 50, "generation_tokens": 10, "running": 1}),
        (
            10.0,
            {"prefix_cache_queries": 300, "prefix_cache_hits": 200, "generation_tokens": 110, "running": 3},
        ),
        (20.0, {"prefix_cache_queries": 100, "prefix_cache_hits": 0, "generation_tokens": 40, "running": 2}),
    ]  # the counters dropped: the server restarted between the last two samples
    summary = summarize("http://x/v1", samples)
    assert summary.prefix_cache_hit_rate == pytest.approx(150 / 300)
    assert summary.generation_tokens == 140 and summary.generation_tokens_per_s == pytest.approx(7.0)
    assert (summary.running_mean, summary.running_max) == (2.0, 3)
    assert summarize("http://x/v1", samples[:1]).prefix_cache_hit_rate is None
