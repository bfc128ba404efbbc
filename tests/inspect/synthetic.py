"""Synthetic run directories written with swescale's own models and writers (RunDir, save_trajectory,
VerifierTable.save, selection.select, write_decision, BenchState): the shape of a real run at any size,
without Docker or a model. Used by the inspector's unit tests and benchmarks/inspect_scale.py."""

from __future__ import annotations

import random
from pathlib import Path

from agent.result import ExitStatus, TrajectoryResult
from agent.trajectory import Step, TrajectoryRecord, save_trajectory
from agent.usage import Usage
from envs.task import Task
from selection.groups import write_decision
from selection.select import select
from swescale.bench.state import BenchState, InstanceResult, instance_dir
from swescale.outcome import GenerationStats, SolveOutcome, StageCost
from swescale.rundir import RunDir
from verifiers.table import Candidate, CandidateRow, Outcome, RegressionResult, TestColumn, VerifierTable

REPOS = ("astropy/astropy", "django/django", "sympy/sympy", "pytest-dev/pytest")


def _patch(variant: int) -> str:
    return (
        "diff --git a/pkg/mod.py b/pkg/mod.py\n--- a/pkg/mod.py\n+++ b/pkg/mod.py\n@@ -1,3 +1,3 @@\n"
        f" def f(x):\n-    return x\n+    return x + {variant}\n \n"
    )


def _record(
    task: Task, tid: str, steps: int, rng: random.Random, obs_chars: int, status: ExitStatus
) -> tuple[TrajectoryRecord, TrajectoryResult]:
    record = TrajectoryRecord(
        trajectory_id=tid, instance_id=task.instance_id, model="synthetic", tool_format="native"
    )
    record.messages += [
        {"role": "system", "content": "You are a careful software engineer."},
        {"role": "user", "content": f"<issue>\n{task.problem_statement}\n</issue>"},
    ]
    for n in range(1, steps + 1):
        step = Step(step=n, n_messages=len(record.messages))
        if n % 7 == 3:  # a format error now and then
            content = "I think the fix is in mod.py"
            step.observations = [
                "Your answer did not contain a tool call. Every answer must call exactly one tool."
            ]
            record.messages += [
                {"role": "assistant", "content": content},
                {"role": "user", "content": step.observations[0]},
            ]
        else:
            if n % 4 == 2:
                args = '{"command": "str_replace", "path": "/testbed/pkg/mod.py", "old_str": "return x", "new_str": "return x + 1"}'
                name = "str_replace_editor"
                step.diff = _patch(1) if n == 2 else None  # the working tree changes once
            else:
                args = f'{{"command": "grep -rn f pkg | head -{n}"}}'
                name = "bash"
            call = {"id": f"call_{n}", "name": name, "arguments": args}
            content = f"Step {n}: looking at the code."
            line = f"pkg/mod.py:{n}: def f(x): return x  # {rng.random():.6f}\n"
            obs = (line * (obs_chars // len(line) + 1))[: rng.randint(obs_chars // 4, obs_chars)]
            step.tool_calls, step.observations = [call], [obs]
            step.reasoning = "The issue says f is off by one; check the callers first." if n % 3 == 0 else ""
            record.messages += [
                {
                    "role": "assistant",
                    "content": content,
                    "tool_calls": [
                        {"id": call["id"], "type": "function", "function": {"name": name, "arguments": args}}
                    ],
                },
                {"role": "tool", "tool_call_id": call["id"], "content": obs},
            ]
        step.response = {
            "choices": [{"message": {"role": "assistant", "content": content}, "finish_reason": "tool_calls"}]
        }
        step.usage = Usage(prompt_tokens=1500 + 200 * n, completion_tokens=80, calls=1)
        step.model_seconds, step.tool_seconds = 1.5, 0.4
        record.steps.append(step)
    usage = Usage(
        prompt_tokens=sum(s.usage.prompt_tokens for s in record.steps),
        completion_tokens=80 * steps,
        calls=steps,
        seconds=steps * 2.0,
    )
    result = TrajectoryResult(
        trajectory_id=tid,
        exit_status=status,
        patch=_patch(int(tid[-1]) % 3),
        steps=steps,
        usage=usage,
        repro_test="import sys\nsys.exit(0)\n",
    )
    record.result, record.finished = result, record.started + usage.seconds
    return record, result


def solve_run(
    run_dir: Path,
    instance_id: str = "demo__pkg-1",
    trajectories: int = 4,
    steps: int = 12,
    obs_chars: int = 3000,
    seed: int = 0,
    repo: str = REPOS[0],
) -> Path:
    """A finished solve run of `trajectories` fix trajectories over two generations, a verifier table with
    generated and regression tests (one cell of each state), a decision and run.json."""
    rng = random.Random(seed)
    task = Task(
        instance_id=instance_id,
        repo=repo,
        base_commit="0" * 40,
        problem_statement="f(x) must return x + 1, not x.",
    )
    files = RunDir(run_dir)
    files.path.mkdir(parents=True, exist_ok=True)
    (files.path / "task.json").write_text(task.model_dump_json(indent=2))
    candidates = []
    for i in range(trajectories):
        tid = f"g{i * 2 // trajectories}-t{i}"
        status = ExitStatus.submitted if i != trajectories - 1 else ExitStatus.step_limit
        record, result = _record(task, tid, steps, rng, obs_chars, status)
        if tid.startswith("g1"):  # the second generation saw the first's best attempts
            record.messages[1]["content"] += (
                '\n<attempt id="g0-t0" score="0.50">\n<diff>...</diff>\n</attempt>\n'
            )
        save_trajectory(record, files.trajectories_dir / f"{tid}.json")
        files.append_trajectory(result)
        cand = Candidate(
            candidate_id=tid,
            patch=result.patch,
            source="trajectory",
            trajectory_id=tid,
            generation=int(tid[1]),
            meta={"steps": steps, "tokens": result.usage.total_tokens},
        )
        files.append_candidate(instance_id, cand)
        candidates.append(cand)
    tests = [
        TestColumn(
            test_id="repro:g0-t0",
            kind="generated",
            weight=1.0,
            distinguishing=True,
            reference=Outcome(exit_code=1),
        ),
        TestColumn(
            test_id="testgen:testgen-0",
            kind="generated",
            weight=0.5,
            distinguishing=True,
            reference=Outcome(exit_code=1),
        ),
        TestColumn(
            test_id="tests/test_mod.py::test_f", kind="regression", weight=1.0, reference=Outcome(exit_code=0)
        ),
    ]
    states = [
        Outcome(exit_code=0),
        Outcome(exit_code=1),
        Outcome(exit_code=None, timed_out=True),
        Outcome(exit_code=None),
    ]
    rows = []
    for i, cand in enumerate(candidates):
        outcomes = {
            t.test_id: states[(i + j) % len(states)] if i else Outcome(exit_code=0)
            for j, t in enumerate(tests)
        }
        rows.append(
            CandidateRow(
                candidate_id=cand.candidate_id,
                patch_hash=cand.patch_hash,
                outcomes=outcomes,
                regression=RegressionResult(passed=1),
                judge=round(0.9 - 0.2 * i, 2),
                generated_score=1.0 if i == 0 else 0.5,
                hybrid_score=1.2 - 0.3 * i,
            )
        )
    table = VerifierTable(instance_id=instance_id, tests=tests, rows=rows, meta={"hybrid": "weighted"})
    out = files.generation_dir(1) / instance_id
    table.save(out / "verifier_table.json")
    decision = select(table, candidates=candidates, issue=task.problem_statement)
    write_decision(out / "decision.json", decision, candidates)
    outcome = SolveOutcome(
        instance_id=instance_id,
        decision=decision,
        patch=candidates[0].patch if not decision.abstained else "",
        abstained=decision.abstained,
        reason=decision.reason,
        stop_reasons=["generations: 2 of 2 ran"],
        generations=[
            GenerationStats(
                generation=g,
                trajectories=trajectories // 2,
                candidates=trajectories // 2,
                best_score=1.0,
                tokens=1000 * (g + 1),
            )
            for g in (0, 1)
        ],
        stages={"fix": StageCost(seconds=30.0, tokens=40000), "verification": StageCost(seconds=12.0)},
    )
    files.save_outcome(outcome)
    return files.path


def bench_run(
    run_dir: Path, instances: int = 6, trajectories: int = 4, steps: int = 12, obs_chars: int = 3000
) -> Path:
    """A bench run: the state database (done, abstained, graded, errors) and one solve run per finished instance."""
    run_dir = Path(run_dir)
    tasks = [
        Task(instance_id=f"{REPOS[i % len(REPOS)].split('/')[1]}__{i}", repo=REPOS[i % len(REPOS)])
        for i in range(instances)
    ]
    with BenchState(run_dir) as state:
        state.sync(tasks)
        for i, task in enumerate(tasks):
            state.claim(task.instance_id)
            if i % 5 == 4:
                state.record(
                    InstanceResult(
                        instance_id=task.instance_id,
                        status="error",
                        error_class="docker-infrastructure",
                        error="the engine went away",
                    )
                )
                continue
            solve_run(
                instance_dir(run_dir, task.instance_id),
                task.instance_id,
                trajectories,
                steps,
                obs_chars,
                seed=i,
                repo=task.repo,
            )
            abstained = i % 5 == 3
            state.record(
                InstanceResult(
                    instance_id=task.instance_id,
                    status="done",
                    patch="" if abstained else _patch(1),
                    abstained=abstained,
                    seconds=100.0 + i,
                    tokens=50000 + 1000 * i,
                    stages={
                        "fix": StageCost(seconds=60.0, tokens=40000 + 1000 * i),
                        "verification": StageCost(seconds=30.0),
                    },
                    trajectories=trajectories,
                    steps=trajectories * steps,
                    candidates=trajectories,
                    verdict=None if abstained else ("resolved" if i % 2 == 0 else "unresolved"),
                )
            )
    return run_dir
