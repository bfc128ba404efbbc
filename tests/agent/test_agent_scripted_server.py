"""ScriptedServer against the real openai SDK over loopback HTTP."""

from __future__ import annotations

import json
import threading

import openai
import pytest

from swescale.demo.scripted_server import ConversationPolicy, Reply, Router, ScriptedServer, system_contains


def _client(server: ScriptedServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url, api_key="x", max_retries=0, timeout=10)


def test_models_and_plain_content():
    with ScriptedServer(lambda req: {"content": "hello"}, model="m1") as server:
        client = _client(server)
        assert [m.id for m in client.models.list().data] == ["m1"]
        out = client.chat.completions.create(model="m1", messages=[{"role": "user", "content": "hi"}])
        assert out.choices[0].message.content == "hello"
        assert out.choices[0].finish_reason == "stop"
        assert out.usage.prompt_tokens > 0 and out.usage.completion_tokens > 0
        assert server.requests[0]["messages"] == [{"role": "user", "content": "hi"}]
        assert server.url.startswith("http://127.0.0.1:")


def test_tool_calls_n_and_logprobs():
    counter = iter(range(100))

    def policy(req):
        i = next(counter)
        return {
            "tool_calls": [{"name": "bash", "arguments": {"command": f"echo {i}"}}],
            "logprobs": [
                {
                    "token": "a",
                    "logprob": -0.5,
                    "top_logprobs": [{"token": "a", "logprob": -0.5}, {"token": "b", "logprob": -1.0}],
                }
            ],
        }

    tools = [
        {"type": "function", "function": {"name": "bash", "parameters": {"type": "object", "properties": {}}}}
    ]
    with ScriptedServer(policy) as server:
        out = _client(server).chat.completions.create(
            model="scripted",
            messages=[{"role": "user", "content": "x"}],
            tools=tools,
            n=3,
            logprobs=True,
            top_logprobs=1,
        )
        assert len(out.choices) == 3
        calls = [c.message.tool_calls[0] for c in out.choices]
        assert [json.loads(c.function.arguments)["command"] for c in calls] == ["echo 0", "echo 1", "echo 2"]
        assert len({c.id for c in calls}) == 3
        assert out.choices[0].finish_reason == "tool_calls"
        lp = out.choices[0].logprobs.content[0]
        assert lp.token == "a" and lp.logprob == -0.5 and lp.bytes == [97]
        assert [t.token for t in lp.top_logprobs] == ["a"]  # cut to top_logprobs


def test_synthesised_logprobs_and_raw_arguments():
    with ScriptedServer(
        lambda req: {"content": "yes it is", "tool_calls": [{"name": "bash", "arguments": "{not json"}]}
    ) as server:
        out = _client(server).chat.completions.create(
            model="s", messages=[{"role": "user", "content": "x"}], logprobs=True
        )
        assert "".join(t.token for t in out.choices[0].logprobs.content) == "yes it is"
        assert out.choices[0].message.tool_calls[0].function.arguments == "{not json"


def test_status_error_and_recovery():
    replies = iter([{"status": 500}, {"content": "ok"}])
    with ScriptedServer(lambda req: next(replies)) as server:
        client = _client(server)
        with pytest.raises(openai.InternalServerError):
            client.chat.completions.create(model="s", messages=[{"role": "user", "content": "x"}])
        out = client.chat.completions.create(model="s", messages=[{"role": "user", "content": "x"}])
        assert out.choices[0].message.content == "ok"
        assert len(server.requests) == 2


def test_delay_causes_client_timeout():
    with ScriptedServer(lambda req: Reply(content="late", delay=1.0)) as server:
        client = openai.OpenAI(base_url=server.url, api_key="x", max_retries=0, timeout=0.2)
        with pytest.raises(openai.APITimeoutError):
            client.chat.completions.create(model="s", messages=[{"role": "user", "content": "x"}])


def test_policy_exception_is_500_and_recorded():
    def policy(req):
        raise RuntimeError("boom")

    with ScriptedServer(policy) as server:
        with pytest.raises(openai.InternalServerError):
            _client(server).chat.completions.create(model="s", messages=[{"role": "user", "content": "x"}])
        assert "boom" in server.errors[0]


def _converse(client: openai.OpenAI, tools: list[dict], turns: int) -> list:
    messages = [{"role": "system", "content": "agent"}, {"role": "user", "content": "fix it"}]
    names = []
    for _ in range(turns):
        msg = client.chat.completions.create(model="s", messages=messages, tools=tools).choices[0].message
        call = msg.tool_calls[0]
        names.append((call.function.name, json.loads(call.function.arguments)))
        messages.append(
            {
                "role": "assistant",
                "content": msg.content,
                "tool_calls": [
                    {
                        "id": call.id,
                        "type": "function",
                        "function": {"name": call.function.name, "arguments": call.function.arguments},
                    }
                ],
            }
        )
        messages.append({"role": "tool", "tool_call_id": call.id, "content": "output"})
    return names


def test_conversation_policy_parallel_and_submit_at_end():
    def script(i):
        return [
            {"tool_calls": [{"name": "bash", "arguments": {"command": f"first {i}"}}]},
            {"tool_calls": [{"name": "bash", "arguments": {"command": f"second {i}"}}]},
        ]

    tools = [
        {"type": "function", "function": {"name": n, "parameters": {"type": "object", "properties": {}}}}
        for n in ("bash", "submit")
    ]
    policy = ConversationPolicy([script(i) for i in range(4)])
    results: dict[int, list] = {}
    with ScriptedServer(policy) as server:

        def run(k):
            results[k] = _converse(_client(server), tools, 3)

        threads = [threading.Thread(target=run, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert policy.started == 4
    for names in results.values():
        i = names[0][1]["command"].split()[1]
        assert names == [
            ("bash", {"command": f"first {i}"}),
            ("bash", {"command": f"second {i}"}),
            ("submit", {}),
        ]
    assert sorted(n[0][1]["command"] for n in results.values()) == [f"first {i}" for i in range(4)]


def test_conversation_policy_rejects_equal_first_replies():
    with pytest.raises(ValueError):
        ConversationPolicy([["same"], ["same"]])


def test_router_sends_judge_requests_elsewhere():
    policy = Router([(system_contains("judge"), lambda req: {"content": "YES"})], default=lambda req: "agent")
    with ScriptedServer(policy) as server:
        client = _client(server)
        judge = client.chat.completions.create(
            model="s",
            messages=[{"role": "system", "content": "You are a judge"}, {"role": "user", "content": "?"}],
        )
        agent = client.chat.completions.create(
            model="s",
            messages=[{"role": "system", "content": "You are an agent"}, {"role": "user", "content": "?"}],
        )
        assert judge.choices[0].message.content == "YES"
        assert agent.choices[0].message.content == "agent"


def test_text_format_submit_when_no_tools():
    policy = ConversationPolicy([["<function=bash>\n<parameter=command>ls</parameter>\n</function>"]])
    with ScriptedServer(policy) as server:
        client = _client(server)
        msgs = [{"role": "system", "content": "use <function=finish>"}, {"role": "user", "content": "go"}]
        first = client.chat.completions.create(model="s", messages=msgs).choices[0].message.content
        msgs += [{"role": "assistant", "content": first}, {"role": "user", "content": "out"}]
        second = client.chat.completions.create(model="s", messages=msgs).choices[0].message.content
        assert "<function=bash>" in first and second.startswith("<function=finish>")
