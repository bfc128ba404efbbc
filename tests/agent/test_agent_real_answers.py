"""What real open models send, through the scripted server into real sandboxes: every answer gets a defined
behaviour (parsed, one format-error turn, or a clean stop with its own exit status), the diff is kept."""

from __future__ import annotations

import json

import pytest

from agent.agent import run_trajectory
from agent.model import ModelClient
from agent.result import ExitStatus
from agent.trajectory import load_trajectory
from swescale.config import AgentConfig, ModelConfig, SwescaleConfig
from swescale.demo.scripted_server import ConversationPolicy, ScriptedServer
from tests.agent.test_agent_loop import assert_fixes, call, run, text_call

pytestmark = pytest.mark.docker

FIX = "sed -i '6s/a - b/a + b/' calc/ops.py"
LOOK = call("bash", command="cat calc/ops.py")


def hermes(name: str, arguments) -> str:
    return f"<tool_call>\n{json.dumps({'name': name, 'arguments': arguments})}\n</tool_call>"


def observations(result) -> list[str]:
    return [o for s in load_trajectory(result.trajectory_file).steps for o in s.observations]


def assistant_messages(server) -> list[dict]:
    last = server.requests[-1]["messages"]
    return [m for m in last if m["role"] == "assistant"]


def test_tool_calls_written_into_the_content_are_parsed(repo_sandbox, task, tmp_path):
    """The server's tool parser missed them: Hermes JSON (arguments as an object or a JSON string) and
    Qwen3-Coder's <function=...> inside <tool_call>; they run as native calls and leave the content."""
    coder = "<tool_call>\n<function=bash>\n<parameter=command>\necho coder-format\n</parameter>\n</function>\n</tool_call>"
    script = [
        LOOK,
        {"content": "I will fix it.\n" + hermes("bash", {"command": FIX})},
        {
            "content": hermes(
                "bash", json.dumps({"command": "python3 -c 'import calc.ops as o; print(o.add(2, 3))'"})
            )
        },
        {"content": coder},
        {"content": hermes("submit", {})},
    ]
    result, server = run(repo_sandbox, task, tmp_path, [script])
    assert result.exit_status == ExitStatus.submitted, result.error
    obs = observations(result)
    assert obs[2].strip() == "5" and obs[3].strip() == "coder-format"
    fixed = assistant_messages(server)[1]
    assert fixed["content"] == "I will fix it."  # the block became a native call, not text twice
    assert json.loads(fixed["tool_calls"][0]["function"]["arguments"]) == {"command": FIX}
    assert_fixes(repo_sandbox, result.patch)


def test_malformed_json_gets_one_error_turn_and_the_history_stays_valid(repo_sandbox, task, tmp_path):
    """The server (json_history, as vLLM) refuses a history whose call arguments are not JSON: a call whose
    arguments do not parse is kept as text and answered with a format error; parsed ones are sent back as
    canonical JSON."""
    script = [
        {"tool_calls": [{"name": "bash", "arguments": '{ "command" :  "cat calc/ops.py" }'}]},
        {"tool_calls": [{"name": "bash", "arguments": '{"command": "ls"'}]},  # native, cut JSON
        {"content": hermes("bash", '{"command": "ls"')},  # arguments a JSON string that is cut
        {"content": '<tool_call>\n{"name": "bash", "arguments": {"command": "ls"}\n</tool_call>'},
        call("bash", command=FIX),
        call("submit"),
    ]
    result, server = run(repo_sandbox, task, tmp_path, [script], max_format_errors=4)
    assert result.exit_status == ExitStatus.submitted, result.error
    obs = observations(result)
    assert obs[1].startswith("Your tool call could not be read: `bash`: the arguments are not valid JSON")
    assert obs[2].startswith("Your tool call could not be read: `bash`: the arguments are not valid JSON")
    assert obs[3].startswith("Your tool call could not be read: the <tool_call> block is not valid JSON")
    sent = assistant_messages(server)
    assert sent[0]["tool_calls"][0]["function"]["arguments"] == '{"command": "cat calc/ops.py"}'
    assert "tool_calls" not in sent[1] and '{"command": "ls"' in sent[1]["content"]
    assert "tool_calls" not in sent[2] and '{"command": "ls"' in sent[2]["content"]
    assert_fixes(repo_sandbox, result.patch)


def test_unknown_tools_are_format_errors(repo_sandbox, task, tmp_path):
    """A model that copies the prompt's format example or invents a tool ends at max_format_errors, not
    by burning every step."""
    script = [
        LOOK,
        call("example_function_name", example_parameter_1="value_1"),
        call("create_module", path="calc/new.py"),
        call("example_function_name", example_parameter_1="value_1"),
    ] + [LOOK] * 10
    result, _ = run(repo_sandbox, task, tmp_path, [script], max_steps=10)
    assert result.exit_status == ExitStatus.format_errors and result.steps == 4
    assert observations(result)[1].startswith("There is no tool `example_function_name`")

    example = {"content": "<function=example_function_name>\n<parameter=x>1</parameter>\n</function>"}
    script = [example, example, text_call("bash", command=FIX), example, example, example]
    result, _ = run(repo_sandbox, task, tmp_path / "text", [script], tool_format="text", max_steps=10)
    assert result.exit_status == ExitStatus.format_errors and result.steps == 6  # a call that ran resets


def test_several_calls_in_one_answer(repo_sandbox, task, tmp_path):
    """Native: all run in order, each answered under its id. Text: the first runs, the model is told."""
    both = {
        "tool_calls": [
            {"name": "bash", "arguments": {"command": FIX}, "id": "c1"},
            {"name": "bash", "arguments": {"command": "grep -c 'a + b' calc/ops.py"}, "id": "c2"},
        ]
    }
    result, server = run(repo_sandbox, task, tmp_path, [[LOOK, both, call("submit")]])
    assert result.exit_status == ExitStatus.submitted
    tool_messages = [m for m in server.requests[-1]["messages"] if m["role"] == "tool"]
    assert [m["tool_call_id"] for m in tool_messages][-2:] == ["c1", "c2"]
    assert tool_messages[-1]["content"].strip() == "1"
    assert_fixes(repo_sandbox, result.patch)

    two = (
        text_call("bash", "Fix, then check.", command=FIX)["content"]
        + "\n"
        + text_call("bash", command="touch /testbed/SECOND_RAN")["content"]
    )
    script = [
        text_call("bash", command="cat calc/ops.py"),
        {"content": two},
        {"content": "<function=submit>\n</function>"},
    ]
    result, _ = run(repo_sandbox, task, tmp_path / "text", [script], tool_format="text")
    assert result.exit_status == ExitStatus.submitted
    assert "[Only the first of your 2 tool calls ran: call one tool per answer.]" in observations(result)[1]
    assert repo_sandbox.exec("test -e /testbed/SECOND_RAN").exit_code != 0
    assert_fixes(repo_sandbox, result.patch)


def test_empty_answer_gets_one_format_error_turn(repo_sandbox, task, tmp_path):
    script = [LOOK, {"content": ""}, {"content": "   \n"}, call("bash", command=FIX), call("submit")]
    result, server = run(repo_sandbox, task, tmp_path, [script])
    assert result.exit_status == ExitStatus.submitted, result.error
    obs = observations(result)
    assert obs[1].startswith("Your answer was empty.") and obs[2].startswith("Your answer was empty.")
    assert_fixes(repo_sandbox, result.patch)


AT_LIMIT = {"completion_tokens": 4096}
"""A cut at `max_tokens` spends all of it (fewer tokens would mean the context ran out)."""


def test_answer_cut_at_max_tokens_runs_nothing(repo_sandbox, task, tmp_path):
    """A cut call may be incomplete (here the cut command would create a file): it is not run."""
    cut_text = "<function=bash>\n<parameter=command>\ntouch /testbed/CUT_RAN && sed -i 's/a/"
    cut_native = {"tool_calls": [{"name": "bash", "arguments": {"command": "touch /testbed/CUT_RAN"}}]}
    script = [
        text_call("bash", command="cat calc/ops.py"),
        {"content": cut_text, "finish_reason": "length", "usage": AT_LIMIT},
        {**text_call("bash", command=FIX)},
        {"content": "<function=submit>\n</function>"},
    ]
    result, _ = run(repo_sandbox, task, tmp_path, [script], tool_format="text")
    assert result.exit_status == ExitStatus.submitted, result.error
    assert observations(result)[1].startswith("Your answer was cut off at the completion token limit")
    assert repo_sandbox.exec("test -e /testbed/CUT_RAN").exit_code != 0
    assert_fixes(repo_sandbox, result.patch)

    result, server = run(
        repo_sandbox,
        task,
        tmp_path / "native",
        [[LOOK, {**cut_native, "finish_reason": "length", "usage": AT_LIMIT}, call("submit")]],
    )
    assert result.exit_status == ExitStatus.submitted
    assert "tool_calls" not in assistant_messages(server)[1]  # no call without its tool answer
    assert repo_sandbox.exec("test -e /testbed/CUT_RAN").exit_code != 0


VLLM_FULL = (
    "This model's maximum context length is 4096 tokens. However, you requested 5200 tokens "
    "(4700 in the messages, 500 in the completion). Please reduce the length of the messages or completion."
)
VLLM_ROOM = (
    "'max_tokens' or 'max_completion_tokens' is too large: 4096. This model's maximum context length is "
    "8192 tokens and your request has 6000 input tokens (4096 > 8192 - 6000). (parameter=max_tokens, value=4096)"
)


def test_context_length_error_stops_cleanly_with_the_diff(repo_sandbox, task, tmp_path):
    inner_script = [call("bash", command=FIX), LOOK, call("submit")]

    def full(request):
        if len(request["messages"]) > 3:
            return {"status": 400, "content": VLLM_FULL}
        return inner(request)

    inner = ConversationPolicy([inner_script])
    result, server = run(repo_sandbox, task, tmp_path, policy=full)
    assert result.exit_status == ExitStatus.context_exceeded and "maximum context length" in result.error
    assert len(server.requests) == 2 and result.steps == 2  # no retries of a full context
    assert_fixes(repo_sandbox, result.patch)


def test_completion_that_does_not_fit_is_retried_with_the_room_left(repo_sandbox, task, tmp_path):

    inner = ConversationPolicy([[call("bash", command=FIX), call("submit")]])

    def room(request):
        if request["max_tokens"] > 8192 - 6000:
            return {"status": 400, "content": VLLM_ROOM}
        return inner(request)

    result, server = run(repo_sandbox, task, tmp_path, policy=room)
    assert result.exit_status == ExitStatus.submitted, result.error
    # the error told the context (8192): the default leaves three quarters of it to the conversation
    assert [r["max_tokens"] for r in server.requests] == [4096, 2048, 2048]
    assert_fixes(repo_sandbox, result.patch)


def test_answer_cut_by_a_full_context_is_told_as_such(repo_sandbox, task, tmp_path):
    """llama.cpp shortens an answer that does not fit silently: the model is told the context ran out (not
    the completion limit), the cut answer is not kept whole, and later requests ask only for the room left."""
    ramble = {"content": "Let me think about this. " * 3000, "usage": {"completion_tokens": 9000}}
    policy = ConversationPolicy([[LOOK, ramble, call("bash", command=FIX), call("submit")]])
    with ScriptedServer(policy, json_history=True, context_window=5000) as server:
        config = SwescaleConfig(
            model=ModelConfig(urls=[server.url], tool_format="native", retries=0, timeout=30),
            agent=AgentConfig(context_tokens=0),
        )
        result = run_trajectory(task, repo_sandbox, ModelClient(config.model), config, tmp_path, "ctx-1")
    assert result.exit_status == ExitStatus.submitted, result.error
    assert observations(result)[1].startswith("Your answer was cut off because the conversation filled")
    kept = assistant_messages(server)[1]["content"]
    assert len(kept) < 2100 and kept.endswith("[... the rest of this cut answer is not kept ...]")
    sent = [r["max_tokens"] for r in server.requests]
    assert sent[:2] == [4096, 4096] and all(m <= 5000 // 4 for m in sent[2:])
    assert_fixes(repo_sandbox, result.patch)


def test_reasoning_before_the_call_is_split_off(repo_sandbox, task, tmp_path):
    """A call the model only considered while thinking never runs; reasoning is recorded, not sent back."""
    decoy = "<function=bash>\n<parameter=command>\ntouch /testbed/THOUGHT_RAN\n</parameter>\n</function>"
    think = f"<think>\nI could run\n{decoy}\nbut sed is better.\n</think>\n\n"
    script = [
        text_call("bash", command="cat calc/ops.py"),
        {"content": think + text_call("bash", command=FIX)["content"]},
        {"content": "<function=submit>\n</function>"},
    ]
    result, server = run(repo_sandbox, task, tmp_path, [script], tool_format="text")
    assert result.exit_status == ExitStatus.submitted, result.error
    assert repo_sandbox.exec("test -e /testbed/THOUGHT_RAN").exit_code != 0
    steps = load_trajectory(result.trajectory_file).steps
    assert "sed is better" in steps[1].reasoning
    assert all("<think>" not in m["content"] for m in assistant_messages(server))
    assert_fixes(repo_sandbox, result.patch)

    native = {"reasoning": "The bug is on line 6.", **call("bash", command=FIX)}
    result, server = run(repo_sandbox, task, tmp_path / "native", [[LOOK, native, call("submit")]])
    assert result.exit_status == ExitStatus.submitted
    assert load_trajectory(result.trajectory_file).steps[1].reasoning == "The bug is on line 6."
    assert all("reasoning_content" not in m for m in server.requests[-1]["messages"])
    assert_fixes(repo_sandbox, result.patch)
