"""The recording proxy and the vLLM history check of the realmodel tests, without the model: the proxy
forwards to a scripted server and keeps what it forwarded; the check flags what vLLM would reject."""

from __future__ import annotations

import json
import urllib.request

from recording_proxy import RecordingProxy, vllm_history_problems

from swescale.demo.scripted_server import Reply, ScriptedServer


def call(name: str, arguments: str, call_id: str = "c1") -> dict:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def test_the_proxy_forwards_and_records_chat_requests():
    body = {"model": "scripted", "messages": [{"role": "user", "content": "hi"}]}
    with (
        ScriptedServer(lambda request: Reply(content="hello")) as server,
        RecordingProxy(server.url) as proxy,
    ):
        request = urllib.request.Request(
            proxy.url + "/chat/completions",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            reply = json.loads(answer.read())
        assert reply["choices"][0]["message"]["content"] == "hello"
        assert proxy.chat_requests == [body] and server.requests == [body]


def test_the_check_flags_arguments_vllm_cannot_parse_and_stray_tool_messages():
    good = {
        "messages": [
            {"role": "system", "content": "s"},
            {"role": "assistant", "content": None, "tool_calls": [call("bash", '{"command": "ls"}')]},
            {"role": "tool", "tool_call_id": "c1", "content": "ok"},
        ]
    }
    assert vllm_history_problems(good) == []
    bad = {
        "messages": [
            {"role": "assistant", "content": "", "tool_calls": [call("bash", '{"command": "ls')]},
            {"role": "assistant", "content": "", "tool_calls": [call("bash", '["ls"]', "c2")]},
            {"role": "tool", "tool_call_id": "c9", "content": "?"},
            {"role": "critic", "content": "x"},
        ]
    }
    problems = vllm_history_problems(bad)
    assert len(problems) == 4, problems
    assert "message 0" in problems[0] and "not a JSON object" in problems[0]
    assert "answers no earlier call" in problems[2] and "'critic'" in problems[3]
