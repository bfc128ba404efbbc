"""ModelClient against ScriptedServers over loopback HTTP."""

from __future__ import annotations

import threading
import time

import pytest

from agent.model import ModelClient, ModelError
from swescale.config import ModelConfig
from swescale.demo.scripted_server import ScriptedServer

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "bash",
            "parameters": {
                "type": "object",
                "properties": {"command": {"type": "string"}, "n": {"type": "integer"}},
            },
        },
    }
]
MSGS = [{"role": "user", "content": "hi"}]


def cfg(*urls, **kw) -> ModelConfig:
    kw.setdefault("backoff", 0.01)
    kw.setdefault("tool_format", "native")
    return ModelConfig(urls=list(urls), **kw)


def test_discovery_n_logprobs_usage():
    with ScriptedServer(
        lambda r: {"content": "a b", "tool_calls": [{"name": "bash", "arguments": {"command": "ls"}}]},
        model="qwen-x",
    ) as server:
        client = ModelClient(cfg(server.url))
        assert client.model_name == "qwen-x"
        result = client.chat(MSGS, tools=TOOLS, n=3, logprobs=True, top_logprobs=1)
        assert len(result.choices) == 3 and result.model == "qwen-x"
        call = result.choices[0].calls()[0]
        assert call.name == "bash" and call.args == {"command": "ls"} and call.id
        assert [t.token for t in result.choices[0].logprobs] == ["a", " ", "b"]
        assert result.choices[0].logprobs[0].top_logprobs == [("a", 0.0)]
        client.chat(MSGS)
        usage = client.usage
        assert usage.calls == 2 and usage.prompt_tokens > 0 and usage.completion_tokens > 0
        body = server.requests[-2]
        assert (
            body["model"] == "qwen-x"
            and body["n"] == 3
            and body["tools"] == TOOLS
            and body["top_logprobs"] == 1
        )


def test_retries_on_5xx_and_timeouts_then_gives_up():
    answers = iter([{"status": 502}, {"content": "slow", "delay": 1.5}, {"content": "ok"}])
    with ScriptedServer(lambda r: next(answers)) as server:
        client = ModelClient(cfg(server.url, name="m", retries=2, timeout=0.5))
        assert client.chat(MSGS).choices[0].content == "ok"
        assert len(server.requests) == 3 and client.usage.calls == 1
    with ScriptedServer(lambda r: {"status": 500}) as server:
        with pytest.raises(ModelError, match="3 attempts"):
            ModelClient(cfg(server.url, name="m", retries=2)).chat(MSGS)
    with ScriptedServer(lambda r: {"status": 400}) as server:  # client errors are not retried
        with pytest.raises(ModelError, match="status 400"):
            ModelClient(cfg(server.url, name="m", retries=2)).chat(MSGS)
        assert len(server.requests) == 1


def test_connection_error_fails_over_to_the_other_endpoint():
    with ScriptedServer(lambda r: {"content": "up"}) as server:
        client = ModelClient(cfg("http://127.0.0.1:9/v1", server.url, name="m", retries=3))
        for _ in range(3):
            assert client.chat(MSGS).choices[0].content == "up"


def test_requests_spread_and_bounded_per_server():
    active, peak, lock = {"a": 0, "b": 0}, {"a": 0, "b": 0}, threading.Lock()

    def policy_for(key):
        def policy(request):
            with lock:
                active[key] += 1
                peak[key] = max(peak[key], active[key])
            time.sleep(0.2)
            with lock:
                active[key] -= 1
            return {"content": key}

        return policy

    with ScriptedServer(policy_for("a")) as a, ScriptedServer(policy_for("b")) as b:
        client = ModelClient(cfg(a.url, b.url, name="m", max_in_flight=2))
        threads = [threading.Thread(target=client.chat, args=(MSGS,)) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(a.requests) == 4 and len(b.requests) == 4
        assert peak == {"a": 2, "b": 2}


def test_auto_probe_and_text_fallback():
    with ScriptedServer(lambda r: {"tool_calls": [{"name": "swescale_probe", "arguments": {}}]}) as server:
        assert ModelClient(cfg(server.url, tool_format="auto")).tool_format == "native"

    text = "Let me look.\n<function=bash>\n<parameter=command>\nls -la\n</parameter>\n<parameter=n>3</parameter>\n</function>"

    def rejects_tools(request):
        return {"status": 400} if request.get("tools") else {"content": text}

    with ScriptedServer(rejects_tools) as server:
        client = ModelClient(cfg(server.url, tool_format="auto"))
        assert client.tool_format == "text"
        result = client.chat(MSGS, tools=TOOLS)
        assert "tools" not in server.requests[-1]
        call = result.choices[0].calls()[0]
        assert (call.name, call.args) == ("bash", {"command": "ls -la", "n": 3})
        assert result.tool_format == "text"

    with ScriptedServer(lambda r: {"content": "I cannot call tools."}) as server:
        assert ModelClient(cfg(server.url, tool_format="auto")).tool_format == "text"


def test_probe_counts_a_call_written_into_the_content():
    """A server whose tool parser misses the model's calls still gets the tools (the calls are read)."""
    written = '<tool_call>{"name": "swescale_probe", "arguments": {}}</tool_call>'
    with ScriptedServer(lambda r: {"content": written}) as server:
        assert ModelClient(cfg(server.url, tool_format="auto")).tool_format == "native"


def test_context_window_from_llama_cpp_props_caps_the_default_max_tokens():
    props = {"default_generation_settings": {"n_ctx": 4096}}
    with ScriptedServer(lambda r: {"content": "ok"}, props=props) as server:
        client = ModelClient(cfg(server.url, tool_format="native"))
        client.chat(MSGS, session="s")
        client.chat(MSGS, max_tokens=3000, session="s")  # asked for: capped only to the room left
    assert [r["max_tokens"] for r in server.requests] == [1024, 3000]


def test_an_answer_the_server_shortened_is_cut_by_the_context_and_teaches_the_window():
    """llama-cpp-python has no /props and cuts silently: fewer completion tokens than max_tokens."""
    long = {"content": "word " * 4000, "usage": {"completion_tokens": 5000}}
    with ScriptedServer(lambda r: long, context_window=3000) as server:
        client = ModelClient(cfg(server.url, tool_format="native"))
        first = client.chat([{"role": "user", "content": "x" * 4000}], session="s")
        second = client.chat([{"role": "user", "content": "x" * 4000}], session="s")
    assert first.choices[0].finish_reason == "length" and first.choices[0].cut_by_context
    assert first.usage.prompt_tokens + first.usage.completion_tokens == 3000
    assert server.requests[0]["max_tokens"] == 4096 and server.requests[1]["max_tokens"] <= 3000 // 4
    assert not second.choices[0].cut_by_context  # cut at the quarter of the window it asked for
