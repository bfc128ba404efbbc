"""Engines as adapters (swescale/serve/engines): vLLM's and llama.cpp's command lines, how llama.cpp finds a
GGUF (a path or a package that ships one), and what each supports; the smollm family's smoke request.
Real files; the one server is the `vllm` stand-in."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

from swescale.serve.config import ServeConfig
from swescale.serve.engines import ENGINES, EngineError, engine_named
from swescale.serve.engines.llamacpp import LLAMACPP
from swescale.serve.families import family_for, load_families
from swescale.serve.plan import PlanError, plan_replicas
from swescale.serve.supervisor import Supervisor


def plan(models: list[str], judge: str | None = None, gpus=None, **config):
    cfg = ServeConfig(**config)
    return plan_replicas(models, judge, gpus, None, cfg, load_families()), cfg


@pytest.fixture
def gguf_package(tmp_path, monkeypatch) -> Path:
    """An installed package `tiny_gguf_pkg` shipping one GGUF file (a package folder on sys.path)."""
    folder = tmp_path / "site" / "tiny_gguf_pkg"
    folder.mkdir(parents=True)
    (folder / "__init__.py").write_text("raise ImportError('finding the GGUF must not import the package')\n")
    (folder / "Qwen2.5-Coder-0.5B-Instruct.Q4_K_M.gguf").write_bytes(b"GGUF")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    return folder


def test_engines_are_chosen_by_name_and_say_what_they_support():
    assert set(ENGINES) == {"vllm", "llama.cpp"}
    vllm, llamacpp = engine_named("vllm"), engine_named("llama.cpp")
    assert vllm.gpus and vllm.metrics and vllm.prefix_caching and vllm.health_path == "/health"
    assert not llamacpp.gpus and not llamacpp.metrics and llamacpp.health_path == "/v1/models"
    with pytest.raises(EngineError, match="known: vllm, llama.cpp"):
        engine_named("ollama")


def test_vllm_stays_the_default_engine():
    specs, cfg = plan(["Qwen/Qwen2.5-Coder-7B-Instruct"])
    assert specs[0].engine.name == "vllm" and specs[0].location == "Qwen/Qwen2.5-Coder-7B-Instruct"
    assert specs[0].argv(cfg)[:3] == ["vllm", "serve", "Qwen/Qwen2.5-Coder-7B-Instruct"]
    assert specs[0].tool_format == "native"


def test_a_package_that_ships_a_gguf_is_found_without_importing_it(gguf_package):
    gguf = gguf_package / "Qwen2.5-Coder-0.5B-Instruct.Q4_K_M.gguf"
    assert LLAMACPP.locate("pkg:tiny_gguf_pkg") == str(gguf)
    assert LLAMACPP.locate("pkg:tiny_gguf_pkg/Qwen2.5-Coder-0.5B-Instruct.Q4_K_M.gguf") == str(gguf)
    (gguf_package / "other.gguf").write_bytes(b"GGUF")
    with pytest.raises(
        EngineError, match="has Qwen2.5-Coder-0.5B-Instruct.Q4_K_M.gguf, other.gguf; name one"
    ):
        LLAMACPP.locate("pkg:tiny_gguf_pkg")
    with pytest.raises(EngineError, match="no installed package 'no_such_pkg_xyz'"):
        LLAMACPP.locate("pkg:no_such_pkg_xyz")


def test_llamacpp_takes_a_gguf_file_and_nothing_else(tmp_path):
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    assert LLAMACPP.locate(str(gguf)) == str(gguf.resolve())
    for model in ("Qwen/Qwen2.5-Coder-7B-Instruct", str(tmp_path / "absent.gguf"), str(tmp_path)):
        with pytest.raises(EngineError, match="a GGUF file or pkg:PACKAGE"):
            LLAMACPP.locate(model)


def test_llamacpp_command_line(gguf_package):
    specs, cfg = plan(
        ["pkg:tiny_gguf_pkg"],
        engine="llama.cpp",
        max_model_len=8192,
        threads=1,
        chat_format="chatml-function-calling",
        port_base=8300,
        extra_args=["--n_gpu_layers", "-1"],
    )
    spec = specs[0]
    gguf = str(gguf_package / "Qwen2.5-Coder-0.5B-Instruct.Q4_K_M.gguf")
    assert spec.model == "pkg:tiny_gguf_pkg" and spec.location == gguf
    assert spec.served_name == "Qwen2.5-Coder-0.5B-Instruct.Q4_K_M"
    assert spec.argv(cfg) == [
        sys.executable, "-m", "llama_cpp.server", "--model", gguf,
        "--model_alias", "Qwen2.5-Coder-0.5B-Instruct.Q4_K_M", "--host", "127.0.0.1", "--port", "8300",
        "--n_ctx", "8192", "--n_threads", "1",
        "--chat_format", "chatml-function-calling", "--n_gpu_layers", "-1",
    ]  # fmt: skip
    # the family is matched on the GGUF's name; its vLLM flags are not used, and the server parses no
    # tool calls of its own, so "native" becomes "auto" (the smoke request decides)
    assert spec.family.name == "qwen-hermes" and spec.tool_format == "auto"
    defaults = plan(["pkg:tiny_gguf_pkg"], engine="llama.cpp")
    argv = defaults[0][0].argv(defaults[1])
    assert argv[argv.index("--n_ctx") + 1] == "0"  # the model's own context length
    assert "--n_threads" not in argv and "--chat_format" not in argv


def test_llamacpp_keeps_a_text_format_family_in_text(tmp_path):
    gguf = tmp_path / "R2EGym-7B-Agent.Q8_0.gguf"
    gguf.write_bytes(b"GGUF")
    specs, _ = plan([str(gguf)], engine="llama.cpp")
    assert specs[0].family.name == "r2egym" and specs[0].tool_format == "text"


def test_llamacpp_refuses_gpu_placement_and_plans_cpu_replicas(gguf_package):
    for gpus, config in (([0, 1], {}), (None, {"tensor_parallel": 2}), (None, {"data_parallel": True})):
        with pytest.raises(PlanError, match="llama.cpp does not place replicas on GPUs"):
            plan(["pkg:tiny_gguf_pkg"], gpus=gpus, engine="llama.cpp", **config)
    cfg = ServeConfig(engine="llama.cpp", port_base=9000)
    specs = plan_replicas(["pkg:tiny_gguf_pkg"], "pkg:tiny_gguf_pkg", None, 2, cfg, load_families())
    assert [(s.name, s.port, s.gpus) for s in specs] == [
        ("agent-0", 9000, None),
        ("agent-1", 9001, None),
        ("judge-0", 9002, None),
    ]
    with pytest.raises(PlanError, match="no installed package"):
        plan(["pkg:no_such_pkg_xyz"], engine="llama.cpp")


def test_llamacpp_says_what_is_missing_before_starting(tmp_path):
    bare = ServeConfig(engine="llama.cpp", python="/usr/bin/python3")  # the system's: no llama_cpp
    if Path(bare.python).exists():
        assert "lacks llama_cpp" in LLAMACPP.missing(bare) and "swescale[llamacpp]" in LLAMACPP.missing(bare)
    absent = ServeConfig(engine="llama.cpp", python=str(tmp_path / "no-python"))
    assert "cannot run serve.python" in LLAMACPP.missing(absent)
    assert engine_named("vllm").missing(ServeConfig()) is None  # vLLM: a missing executable fails at start


def test_smollm_is_served_in_text_and_its_smoke_needs_only_an_answer(
    fake_vllm, tmp_path, port_base, monkeypatch
):
    """SmolLM2 cannot write a tool call on request: its replica is ready once it answers at all (a server
    that answers tool requests with plain text, as the model does), while other families still need a call."""
    monkeypatch.setenv("FAKE_VLLM_NO_TOOLS", "1")
    family = family_for("HuggingFaceTB/SmolLM2-1.7B-Instruct", load_families())
    assert (family.name, family.tool_format, family.smoke) == ("smollm", "text", "answer")
    assert family_for("Qwen/Qwen2.5-Coder-7B-Instruct", load_families()).smoke == "tool_call"
    cfg = ServeConfig(port_base=port_base, state_dir=str(tmp_path / "state"))
    specs = plan_replicas(["HuggingFaceTB/SmolLM2-1.7B-Instruct"], None, None, 1, cfg, load_families())
    events: list[str] = []
    sup = Supervisor(specs, cfg, tmp_path / "servers.yaml", on_event=events.append)
    try:
        sup.start()
    finally:
        sup.stop()
    assert yaml.safe_load((tmp_path / "servers.yaml").read_text())["agent"]["tool_format"] == "text"
    assert any("ready on" in e and "(an answer, text format checked)" in e for e in events), events
