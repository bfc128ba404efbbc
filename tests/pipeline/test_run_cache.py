"""The verifier cache spans the run: a later generation starts sandboxes only for new distinct candidates."""

from __future__ import annotations

import json

import pytest
from pipeline_scripts import ISSUE, LOWER_MIDDLE, OLD, RIGHT_FIX, bash, edit, solve_config, submit

from envs.datasets import local_task
from swescale.api import solve_task
from swescale.demo.replay import JudgeReplay
from swescale.demo.scripted_server import ConversationPolicy, Router, ScriptedServer, system_contains

pytestmark = [pytest.mark.docker, pytest.mark.timeout(600)]

OTHER_FIX = [  # a third distinct patch, without a reproduction script (so no new test)
    bash("cat minimath/stats.py", "Read the code."),
    edit(
        "Two cases.",
        command="str_replace",
        path="/testbed/minimath/stats.py",
        old_str=OLD,
        new_str="    ordered = sorted(values)\n    n = len(ordered)\n    if n % 2:\n        return ordered[n // 2]\n"
        "    return (ordered[n // 2 - 1] + ordered[n // 2]) / 2",
    ),
    submit("Done."),
]
SAME_AS_RIGHT_FIX = [bash("ls", "Look around first."), *RIGHT_FIX]  # RIGHT_FIX's patch and script again


def test_generation_two_starts_sandboxes_only_for_new_distinct_candidates(
    demo_env, demo_repo, tmp_path, make_pool
):
    judge = JudgeReplay([{"match": "", "reply": {"content": "YES"}}])
    policy = Router(
        [(system_contains("You are a patch verifier"), judge)],
        default=ConversationPolicy([RIGHT_FIX, LOWER_MIDDLE, OTHER_FIX, SAME_AS_RIGHT_FIX]),
    )
    pool = make_pool(max_concurrent=4)
    with ScriptedServer(policy) as server:
        config = solve_config(
            server.url, "solve.trajectories=2", "solve.generations=2", "solve.early_stop_judge=1.1"
        )
        outcome = solve_task(local_task(demo_repo, ISSUE), config, tmp_path / "run", env=demo_env, pool=pool)
    assert len(outcome.generations) == 2, outcome.stop_reasons

    def started(generation: int) -> int:
        path = tmp_path / "run" / f"gen{generation}" / outcome.instance_id / "verifier_table.json"
        return json.loads(path.read_text())["meta"]["sandboxes_started"]

    # generation 0: the original code and two distinct patches; generation 1: only OTHER_FIX's patch
    # (SAME_AS_RIGHT_FIX repeats a patch and a test, every other cell comes from the run's cache)
    assert (started(0), started(1)) == (3, 1)
    assert pool.started == 2 + 3 + 2 + 1  # trajectories and verification sandboxes of both generations
    assert (tmp_path / "run" / "verifier_cache.sqlite").exists()
