"""The usage ledger (agent.usage): nested ledgers add up, threads, and what the model client records."""

from __future__ import annotations

import threading

from agent.model import ModelClient, ModelView
from agent.usage import Ledger, Usage, record
from swescale.config import ModelConfig
from swescale.demo.scripted_server import ScriptedServer

MSGS = [{"role": "user", "content": "hi"}]
TOOLS = [
    {"type": "function", "function": {"name": "bash", "parameters": {"type": "object", "properties": {}}}}
]


def call(tokens: int = 10) -> Usage:
    return Usage(prompt_tokens=tokens, completion_tokens=1, calls=1, seconds=0.5)


def test_nested_ledgers_add_up_per_level_and_server():
    run = Ledger()
    fix, judge = run.child("fix"), run.child("judge")
    t0, t1 = fix.child("g0-t0"), fix.child("g0-t1")
    t0.record(call(10), "http://a")
    t0.record(call(20), "http://b")
    t1.record(call(30), "http://a")
    judge.record(call(5), "http://c")
    assert t0.total.prompt_tokens == 30 and t1.total.prompt_tokens == 30
    assert fix.total.prompt_tokens == 60 and fix.total.calls == 3
    assert run.total.prompt_tokens == 65 and run.total.total_tokens == 69 and run.total.seconds == 2.0
    assert {url: u.calls for url, u in run.by_server.items()} == {"http://a": 2, "http://b": 1, "http://c": 1}
    assert judge.by_server == {"http://c": call(5)}
    assert t0.root is run and fix.child("g0-t0") is not t0  # each child is new: trajectories never share


def test_record_into_overlapping_chains_counts_each_ledger_once():
    client, run = Ledger(), Ledger()
    trajectory = client.child("g0-t0")  # an agent on the raw client: its ledger is below the client's
    record(call(), "http://a", client, trajectory)
    record(call(), "http://a", client, run.child("fix"))
    assert client.total.calls == 2 and trajectory.total.calls == 1 and run.total.calls == 1
    record(call(), "", None)  # no ledger: nothing to do
    assert client.by_server["http://a"].calls == 2


def test_concurrent_records_from_many_threads_add_up_exactly():
    run = Ledger()
    leaves = [run.child("fix").child(f"t{i}") for i in range(8)]
    other_tree = Ledger()
    start = threading.Barrier(len(leaves))

    def work(leaf: Ledger) -> None:
        start.wait()
        for _ in range(2000):
            record(
                Usage(prompt_tokens=1, completion_tokens=2, calls=1, retries=1), "http://a", other_tree, leaf
            )

    threads = [threading.Thread(target=work, args=(leaf,)) for leaf in leaves]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for ledger in (run, other_tree):
        total = ledger.total
        assert (total.calls, total.retries, total.total_tokens) == (16000, 16000, 48000)
    assert all(leaf.total.calls == 2000 for leaf in leaves)
    assert run.by_server["http://a"].calls == 16000


def test_client_records_retries_errors_and_cached_tokens_per_server_and_for_the_caller():
    answers = iter(
        [
            {"status": 502},
            {"status": 503},
            {"content": "ok", "usage": {"prompt_tokens": 40, "cached_tokens": 32}},
        ]
    )
    with ScriptedServer(lambda r: next(answers)) as server:
        client = ModelClient(ModelConfig(urls=[server.url], name="m", retries=3, backoff=0.01))
        caller = Ledger()
        result = client.chat(MSGS, ledger=caller.child("judge"))
        assert (
            result.usage.retries == 1 and result.usage.cached_tokens == 32
        )  # this answer repeated a request
        for usage in (client.usage, caller.total, client.usage_by_server[server.url]):
            assert (usage.calls, usage.errors, usage.retries) == (1, 2, 2)
            assert usage.prompt_tokens == 40 and usage.cached_tokens == 32


def test_view_records_into_its_ledger_and_charges_the_probe_to_the_run():
    def policy(request: dict) -> dict:
        return {"tool_calls": [{"name": request["tools"][0]["function"]["name"], "arguments": {}}]}

    with ScriptedServer(policy) as server:
        client = ModelClient(ModelConfig(urls=[server.url], name="m", tool_format="auto"))
        run = Ledger()
        fix = run.child("fix")
        view = ModelView(client, fix)
        assert view.tool_format == "native"  # the start-up probe: the run's cost, not the stage's
        assert run.total.calls == 1 and fix.total.calls == 0
        view.chat(MSGS, tools=TOOLS)
        trajectory = fix.child("g0-t0")
        view.chat(MSGS, tools=TOOLS, ledger=trajectory)  # a more specific ledger below the view's
        assert (trajectory.total.calls, fix.total.calls, run.total.calls, client.usage.calls) == (1, 2, 3, 3)
        assert view.usage == fix.total and view.model_name == "m"
