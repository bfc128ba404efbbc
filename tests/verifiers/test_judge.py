"""The judge scores every candidate by one method, decided before judging: completion order changes nothing.

Real HTTP on loopback (the scripted server) with per-candidate delays, several judge requests in flight.
"""

from __future__ import annotations

import math
import threading

import pytest

from agent.model import ModelClient
from swescale.config import ModelConfig
from swescale.demo.scripted_server import ScriptedServer
from verifiers.config import VerifierConfig
from verifiers.judge import PROBE_QUESTION, Judge
from verifiers.table import Candidate

P_YES = {"c1": 0.8, "c2": 0.3, "c4": 0.6, "c5": 0.9}
"""Candidates whose answer token has YES/NO among its top logprobs; c0 and c3 answer "The ..." instead."""
IDS = ["c0", "c1", "c2", "c3", "c4", "c5"]
SAMPLED_YES = {"c0": 1.0, "c1": 0.0, "c2": 1.0, "c3": 0.0, "c4": 1.0, "c5": 0.0}
"""What sampled verdicts would say: different from the logprob scores, so a switch of method shows."""


def _which(request: dict) -> str | None:
    text = request["messages"][-1]["content"]
    return next((cid for cid in IDS if f"marker_{cid}" in text), None)


def mixed_policy(delays: dict[str, float]):
    def policy(request: dict) -> dict:
        which = _which(request)
        if which is None:  # the probe
            assert PROBE_QUESTION in request["messages"][-1]["content"]
            tops = [{"token": "YES", "logprob": math.log(0.99)}, {"token": "NO", "logprob": math.log(0.01)}]
            return {"content": "YES", "logprobs": [{"token": "YES", "logprob": -0.01, "top_logprobs": tops}]}
        delay = delays.get(which, 0.0)
        if not request.get("logprobs"):
            return {"content": "YES" if SAMPLED_YES[which] else "NO", "delay": delay}
        if which not in P_YES:
            tops = [{"token": "The", "logprob": -0.2}, {"token": "This", "logprob": -1.9}]
            return {
                "content": "The",
                "delay": delay,
                "logprobs": [{"token": "The", "logprob": -0.2, "top_logprobs": tops}],
            }
        p = P_YES[which]
        tops = [{"token": "YES", "logprob": math.log(p)}, {"token": "NO", "logprob": math.log(1 - p)}]
        return {
            "content": "YES",
            "delay": delay,
            "logprobs": [{"token": "YES", "logprob": math.log(p), "top_logprobs": tops}],
        }

    return policy


def candidates() -> list[Candidate]:
    return [Candidate(candidate_id=cid, patch=f"+marker_{cid}\n") for cid in IDS]


ORDERS = {
    "unscorable answers first": {"c0": 0.0, "c3": 0.0, "c1": 0.3, "c2": 0.3, "c4": 0.3, "c5": 0.3},
    "unscorable answers last": {"c0": 0.6, "c3": 0.6, "c1": 0.0, "c2": 0.0, "c4": 0.0, "c5": 0.0},
    "interleaved": {"c0": 0.2, "c1": 0.0, "c2": 0.4, "c3": 0.1, "c4": 0.0, "c5": 0.3},
}


def _judge(server: ScriptedServer, **config) -> Judge:
    model = ModelClient(ModelConfig(urls=[server.url], name="scripted", retries=0, max_tokens=1))
    return Judge(model, "issue", VerifierConfig(judge_samples=3, judge_concurrency=2, **config))


def test_mixed_answers_give_the_same_scores_in_any_completion_order():
    results = {}
    for name, delays in ORDERS.items():
        with ScriptedServer(mixed_policy(delays)) as server:
            judge = _judge(server)
            results[name] = judge.score_all(candidates())
            assert judge.method == "logprobs", judge.method_reason
            probes = [r for r in server.requests if _which(r) is None]
            assert len(probes) == 1 and server.requests[0] is probes[0]  # probed once, before any candidate
            assert not [r for r in server.requests if not r.get("logprobs")]  # nothing was sampled
    expected = {cid: (pytest.approx(P_YES[cid]) if cid in P_YES else None) for cid in IDS}
    for name, scores in results.items():
        assert scores == expected, name


def test_configured_method_needs_no_probe():
    with ScriptedServer(mixed_policy({})) as server:
        judge = _judge(server, judge_method="samples")
        assert judge.score_all(candidates()) == SAMPLED_YES
        assert judge.method == "samples" and all(_which(r) for r in server.requests)


def test_probe_failure_leaves_every_candidate_unjudged():
    calls = {"n": 0}
    lock = threading.Lock()

    def policy(request: dict) -> dict:
        with lock:
            calls["n"] += 1
        return {"status": 503}

    with ScriptedServer(policy) as server:
        judge = _judge(server)
        assert judge.score_all(candidates()) == dict.fromkeys(IDS)
        assert judge.method == "unavailable" and calls["n"] == 1  # no candidate request after a dead probe
