"""ModelClient over replicas: a trajectory stays on one replica, per-replica limits hold, and on a dead
or failing replica the conversation moves to another and goes on."""

from __future__ import annotations

import json
import os
import signal
import threading
import time

import pytest

from agent.model import ModelClient
from swescale.config import ModelConfig, load_config
from swescale.demo.policies import ConversationPolicy
from swescale.demo.scripted_server import ScriptedServer
from swescale.serve.config import ServeConfig
from swescale.serve.endpoints import servers_overrides
from swescale.serve.families import load_families
from swescale.serve.plan import plan_replicas
from swescale.serve.supervisor import Supervisor

pytestmark = pytest.mark.timeout(120)
SYSTEM = [{"role": "system", "content": "You are an agent."}, {"role": "user", "content": "Fix it."}]


def script(tag: str, steps: int = 6) -> list[dict]:
    return [{"content": f"{tag} step {i}"} for i in range(steps)]


def converse(client: ModelClient, session: str, steps: int, messages: list[dict] | None = None):
    """Drive a conversation: each answer is appended, so the scripted policy knows where it is."""
    messages = messages if messages is not None else list(SYSTEM)
    urls = []
    for _ in range(steps):
        result = client.chat(messages, session=session)
        urls.append(result.url)
        messages.append({"role": "assistant", "content": result.choices[0].content})
        messages.append({"role": "user", "content": "go on"})
    return urls, messages


def test_each_trajectory_sticks_to_one_replica_chosen_by_a_stable_hash():
    with ScriptedServer(lambda r: "a") as a, ScriptedServer(lambda r: "b") as b:
        config = ModelConfig(urls=[a.url, b.url], name="m", tool_format="native")
        first, second = ModelClient(config), ModelClient(config)
        placement = {}
        for k in range(16):
            urls = [first.chat(SYSTEM, session=f"task/g0-t{k}").url for _ in range(3)]
            assert len(set(urls)) == 1  # every call of the trajectory on the same replica
            placement[k] = urls[0]
        assert set(placement.values()) == {a.url, b.url}  # the trajectories are spread
        for k, url in placement.items():  # another client (another process) places them the same way
            assert second.chat(SYSTEM, session=f"task/g0-t{k}").url == url
        by_server = first.usage_by_server
        assert sum(u.calls for u in by_server.values()) == first.usage.calls == 48
        assert by_server[a.url].calls == 3 * sum(1 for u in placement.values() if u == a.url)


def test_per_replica_in_flight_limit_holds_and_a_trajectory_waits_for_its_replica():
    active, peak, lock = {}, {}, threading.Lock()

    def policy_for(key):
        def policy(request):
            with lock:
                active[key] = active.get(key, 0) + 1
                peak[key] = max(peak.get(key, 0), active[key])
            time.sleep(0.2)
            with lock:
                active[key] -= 1
            return key

        return policy

    with ScriptedServer(policy_for("a")) as a, ScriptedServer(policy_for("b")) as b:
        client = ModelClient(ModelConfig(urls=[a.url, b.url], name="m", max_in_flight=2))
        threads = [
            threading.Thread(target=client.chat, args=(SYSTEM,), kwargs={"session": "one"}) for _ in range(6)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        served = client.usage_by_server
        assert len(served) == 1 and next(iter(served.values())).calls == 6  # it never hopped
        assert max(peak.values()) == 2


def test_a_dead_replica_moves_the_trajectory_which_goes_on_and_stays_moved():
    policy = ConversationPolicy([script("t0")])  # one conversation state, as two replicas of one model
    failing = {"on": False}

    def flaky(request):
        return {"status": 500} if failing["on"] else policy(request)

    with ScriptedServer(flaky) as a, ScriptedServer(policy) as b:
        client = ModelClient(ModelConfig(urls=[a.url, b.url], name="m", retries=3, backoff=0.05))
        session = next(s for s in (f"t{k}" for k in range(50)) if client._pick(s).url == a.url)
        urls, messages = converse(client, session, 2)
        assert urls == [a.url, a.url]
        failing["on"] = True  # 5xx: fail over at once, no backoff wait
        started = time.monotonic()
        urls, messages = converse(client, session, 2, messages)
        assert urls == [b.url, b.url] and time.monotonic() - started < 1.0
        failing["on"] = False
        urls, messages = converse(client, session, 1, messages)
        assert urls == [b.url]  # its prefix cache is on b now
        a.stop()  # and a connection error for a new trajectory placed on a
        other = next(s for s in (f"u{k}" for k in range(50)) if s != session and client._pick(s).url == a.url)
        assert client.chat(SYSTEM, session=other).url == b.url
    replies = [m["content"] for m in messages if m["role"] == "assistant"]
    assert replies == [f"t0 step {i}" for i in range(5)]  # one conversation, never restarted


def test_a_mix_of_models_each_server_asked_for_its_own():
    with ScriptedServer(lambda r: "x", model="m1") as a, ScriptedServer(lambda r: "y", model="m2") as b:
        client = ModelClient(ModelConfig(urls=[a.url, b.url], name=""))
        for k in range(10):
            client.chat(SYSTEM, session=f"s{k}")
        assert a.requests and b.requests
        assert {r["model"] for r in a.requests} == {"m1"} and {r["model"] for r in b.requests} == {"m2"}


def test_kill_9_of_the_replica_serving_a_trajectory_mid_run(fake_vllm, tmp_path, port_base, monkeypatch):
    """Real replica processes (the stand-in) under the supervisor, the client configured from servers.yaml."""
    scripts = tmp_path / "scripts.json"
    steps = script("t0", 8)
    steps[3]["delay"] = 1.0  # the replica is killed while it works on this one
    scripts.write_text(json.dumps({"scripts": [steps]}))
    monkeypatch.setenv("FAKE_VLLM_SCRIPTS", str(scripts))
    cfg = ServeConfig(port_base=port_base, state_dir=str(tmp_path / "state"), restart_backoff=0.2)
    specs = plan_replicas(["Qwen/Qwen2.5-Coder-32B-Instruct"], None, [0, 1], 2, cfg, load_families())
    sup = Supervisor(specs, cfg, tmp_path / "servers.yaml")
    watcher = threading.Thread(target=sup.watch)
    try:
        sup.start()
        watcher.start()
        config = load_config(overrides=[*servers_overrides(tmp_path / "servers.yaml"), "model.backoff=0.1"])
        client = ModelClient(config.model)
        urls, messages = converse(client, "task/g0-t0", 3)
        assert len(set(urls)) == 1
        victim = next(r for r in sup.replicas if r.spec.url == urls[0])
        threading.Timer(0.4, os.kill, (victim.pid, signal.SIGKILL)).start()
        more, messages = converse(client, "task/g0-t0", 5, messages)
        assert urls[0] not in more and len(set(more)) == 1  # moved once, then stayed
        deadline = time.monotonic() + 30
        back = lambda: sup.restarts[victim.spec.name] == 1 and sup.status[victim.spec.name] == "up"  # noqa: E731
        while not back() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert back()
        assert client.chat(messages, session="task/g0-t0").url == more[-1]  # it stays where it moved
    finally:
        sup.stop()
        watcher.join(timeout=30)
    replies = [m["content"] for m in messages if m["role"] == "assistant"]
    assert replies == [f"t0 step {i}" for i in range(8)]  # the trajectory went on where it was
    assert not fake_vllm.processes()
