"""Real model output, replayed: SmolLM2-135M-Instruct on llama-cpp-python's server, recorded by
`benchmarks/record_real_model.py` (solve on the demo task, max_steps 4, native and text tool formats).

The parser reads every recorded answer as the client does (no server); the agent loop replays each
recorded conversation through a scripted server that refuses what vLLM refuses. A 135M model writes no
runnable call: every trajectory must end in format errors within `max_format_errors` steps, never by
burning the step limit, and every request must stay valid.
"""

from __future__ import annotations

from pathlib import Path

import openai.types.chat
import pytest

from agent.agent import run_trajectory
from agent.model import ModelClient, _read_answer
from agent.result import ExitStatus
from agent.tools import make_toolset
from agent.trajectory import load_trajectory
from swescale.config import AgentConfig, ModelConfig, SwescaleConfig
from swescale.demo.recorder import load_recording, recorded_scripts
from swescale.demo.scripted_server import ConversationPolicy, ScriptedServer

DATA = Path(__file__).parents[1] / "data" / "real_model"
RECORDINGS = {"native": DATA / "smollm2_native.json", "text": DATA / "smollm2_text.json"}


def parsed_answers(fmt: str):
    """Each recorded answer through the client's reading of it: (request, choice)."""
    client = ModelClient(ModelConfig(urls=["http://127.0.0.1:9/v1"], tool_format=fmt))
    schemas = make_toolset("default", None).schemas()
    for exchange in load_recording(RECORDINGS[fmt])["exchanges"]:
        response = openai.types.chat.ChatCompletion.model_validate(exchange["response"])
        result = client._result(response, "recorded", 0.0)
        for choice in result.choices:
            _read_answer(choice, schemas, fmt)
        yield exchange["request"], result.choices[0]


def test_recorded_native_answers_hold_no_call_and_are_read_as_text():
    answers = list(parsed_answers("native"))
    assert len(answers) == 9
    for request, choice in answers:
        assert request["tools"] and not request["messages"][0]["content"].startswith("<function")
        assert choice.tool_calls == [] and choice.parse_errors == [] and choice.content.strip()
        assert choice.finish_reason == "stop" and not choice.cut_by_context


def test_recorded_text_answers_copy_the_format_example():
    answers = list(parsed_answers("text"))
    names = [c["name"] for _, choice in answers for c in choice.tool_calls]
    assert names and set(names) == {"example_function_name"}  # the model copied the prompt's example
    assert all("tools" not in request for request, _ in answers)


@pytest.mark.docker
@pytest.mark.parametrize("fmt", ["native", "text"])
def test_recorded_conversations_end_in_format_errors_with_valid_histories(repo_sandbox, task, tmp_path, fmt):
    scripts = recorded_scripts(load_recording(RECORDINGS[fmt]))
    assert len(scripts) == 3  # two fix trajectories and one test-writing trajectory
    with ScriptedServer(ConversationPolicy(scripts), json_history=True) as server:
        config = SwescaleConfig(
            model=ModelConfig(urls=[server.url], tool_format=fmt, retries=0, timeout=30),
            agent=AgentConfig(context_tokens=0, max_steps=10),
        )
        model = ModelClient(config.model)
        results = [
            run_trajectory(task, repo_sandbox, model, config, tmp_path, f"replay-{i}") for i in range(3)
        ]
    assert not server.errors
    for result in results:
        assert result.exit_status == ExitStatus.format_errors and result.steps == 3, result.error
        steps = load_trajectory(result.trajectory_file).steps
        assert all(
            s.observations and "Every answer must call exactly one tool" in s.observations[0] for s in steps
        )
