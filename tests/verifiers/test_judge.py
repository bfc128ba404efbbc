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


def _tokens(*pairs: tuple[str, float]) -> list[dict]:
    """Answer tokens, each its own only top logprob but the last, whose tops are YES and NO."""
    return [{"token": t, "logprob": lp, "top_logprobs": [{"token": t, "logprob": lp}]} for t, lp in pairs]


def _verdict(p: float) -> dict:
    tops = [{"token": "YES", "logprob": math.log(p)}, {"token": "NO", "logprob": math.log(1 - p)}]
    return {"token": "YES", "logprob": math.log(p), "top_logprobs": tops}


def reasoning_model(request: dict) -> dict:
    """A Qwen3-like model: it opens <think> unless the template is told not to; given room, it reasons,
    closes the block and answers (P(YES) 0.7 for candidates, 0.99 for the probe)."""
    p = 0.7 if _which(request) else 0.99
    if (request.get("chat_template_kwargs") or {}).get("enable_thinking") is False:
        return {"content": "YES", "logprobs": [_verdict(p)]}
    if request["max_tokens"] < 10:
        return {"content": "<think>", "logprobs": _tokens(("<think>", -0.01)), "finish_reason": "length"}
    thought = _tokens(("<think>", -0.01), ("\nThe patch", -0.5), ("</think>", -0.01), ("\n\n", -0.01))
    return {"content": "<think>\nThe patch</think>\n\nYES", "logprobs": [*thought, _verdict(p)]}


def test_reasoning_model_is_judged_with_thinking_disabled():
    with ScriptedServer(reasoning_model) as server:
        judge = _judge(server)
        scores = judge.score_all(candidates())
        assert judge.method == "logprobs", judge.method_reason
    assert scores == dict.fromkeys(IDS, pytest.approx(0.7))
    assert all(r["max_tokens"] == 1 for r in server.requests)  # no room needed: the verdict comes first


def test_reasoning_model_verdict_is_read_after_the_reasoning():
    """A server or template that ignores enable_thinking: the verdict token after </think> is read."""
    with ScriptedServer(reasoning_model) as server:
        judge = _judge(server, judge_chat_template_kwargs={})
        scores = judge.score_all(candidates())
        assert judge.method == "logprobs", judge.method_reason
    assert scores == dict.fromkeys(IDS, pytest.approx(0.7))
    assert judge.summary()["failed"] == 0


def test_sampling_fallback_on_a_server_that_ignores_n():
    """llama.cpp answers one choice whatever `n` asks: the judge sends the other samples one by one."""
    answers = iter(["YES", "NO", "YES"] * 10)
    lock = threading.Lock()

    def policy(request: dict) -> dict:
        with lock:
            return {"content": next(answers)}

    with ScriptedServer(policy, honour_n=False) as server:
        judge = _judge(server, judge_method="samples")
        scores = judge.score_all(candidates()[:1])
    assert scores == {"c0": pytest.approx(2 / 3)} and len(server.requests) == 3


def test_judge_failures_are_counted():
    with ScriptedServer(mixed_policy({})) as server:
        judge = _judge(server)
        judge.score_all(candidates())
    summary = judge.summary()
    assert summary["failed"] == 2 and set(summary["failures"]) == {"c0", "c3"}
