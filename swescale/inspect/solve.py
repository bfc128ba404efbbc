"""A solve run directory read into the inspector's data: decision, generations, candidates, verifier matrix,
clusters and every trajectory step by step.

Everything is read as it is on disk, defensively: a run still going (no run.json yet), an interrupted one,
or files carrying fields this version does not know (shown as flags) all load.
"""

from __future__ import annotations

import difflib
import json
import re
from pathlib import Path
from typing import Any

from selection.select import Decision
from swescale.inspect.explain import decision_summary

OBSERVATION_CUT = 1500
"""Characters of an observation kept (head and tail) for trajectories other than the chosen and runner-up
ones, unless --full."""
KNOWN_ROW_KEYS = {
    "candidate_id",
    "patch_hash",
    "applies",
    "outcomes",
    "regression",
    "judge",
    "generated_score",
    "hybrid_score",
}
KNOWN_COLUMN_KEYS = {"test_id", "kind", "weight", "reference", "distinguishing", "source", "reason"}
EDIT_TOOLS = {"str_replace_editor", "edit", "str_replace", "create", "write_file", "insert"}
_ATTEMPT = re.compile(r'<attempt id="([^"]+)" score="([^"]*)">')


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _jsonl(path: Path) -> list[dict]:
    out = []
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                continue  # a line a crash cut short
    return out


def cell_state(outcome: dict | None) -> str:
    """pass / fail / timeout / error / notrun of one matrix cell (an `error` or `status` field wins)."""
    if not outcome:
        return "notrun"
    status = outcome.get("status")
    if isinstance(status, str) and status:
        return status
    if outcome.get("error"):
        return "error"
    if outcome.get("timed_out"):
        return "timeout"
    if outcome.get("exit_code") is None:
        return "notrun"
    return "pass" if outcome["exit_code"] == 0 else "fail"


def _flags(item: dict, known: set[str]) -> dict[str, Any]:
    """Fields this version does not know, when set (e.g. an `error` or a `touches_tests` flag)."""
    return {
        k: v
        for k, v in item.items()
        if k not in known and v not in (None, False, "", [], {}) and isinstance(v, str | bool | int | float)
    }


def _latest_generation(run_dir: Path) -> tuple[Path | None, int]:
    gens = sorted((int(p.name[3:]), p) for p in run_dir.glob("gen*") if p.is_dir() and p.name[3:].isdigit())
    for number, gen in reversed(gens):
        for sub in gen.iterdir():
            if (sub / "verifier_table.json").exists() or (sub / "decision.json").exists():
                return sub, number
    return None, -1


def matrix(table: dict | None) -> dict:
    """The verifier table as a heat map: columns (tests) and rows (candidates), one state per cell."""
    if not table:
        return {"tests": [], "rows": [], "meta": {}}
    tests = [
        {
            "id": t.get("test_id", ""),
            "kind": t.get("kind", ""),
            "weight": t.get("weight", 0.0),
            "distinguishing": bool(t.get("distinguishing")),
            "reference": cell_state(t.get("reference")),
            "reason": t.get("reason", ""),
            "source": t.get("source", ""),
            "flags": _flags(t, KNOWN_COLUMN_KEYS),
        }
        for t in table.get("tests", [])
    ]
    rows = []
    for row in table.get("rows", []):
        outcomes = row.get("outcomes") or {}
        regression = row.get("regression") or {}
        rows.append(
            {
                "id": row.get("candidate_id", ""),
                "applies": row.get("applies", True),
                "cells": [cell_state(outcomes.get(t["id"])) for t in tests],
                "excerpts": {
                    k: (o or {}).get("output_excerpt", "")[-400:]
                    for k, o in outcomes.items()
                    if (o or {}).get("output_excerpt")
                },
                "judge": row.get("judge"),
                "generated": row.get("generated_score", 0.0),
                "hybrid": row.get("hybrid_score", 0.0),
                "new_failures": regression.get("new_failures", []),
                "flags": _flags(row, KNOWN_ROW_KEYS),
            }
        )
    meta = {k: v for k, v in (table.get("meta") or {}).items() if isinstance(v, str | int | float | bool)}
    return {"tests": tests, "rows": rows, "meta": meta}


def _cut(text: str, keep: int | None) -> dict:
    if keep is None or len(text) <= keep:
        return {"text": text, "length": len(text)}
    half = keep // 2
    cut = f"\n[... {len(text) - keep} characters left out; swescale inspect --full keeps them ...]\n"
    return {"text": text[:half] + cut + text[-half:], "length": len(text), "cut": True}


def _arguments(raw: Any) -> Any:
    if isinstance(raw, str):
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    return raw


def edit_diff(name: str, args: Any) -> str:
    """The change an editing call asks for, as a unified diff (from its arguments: str_replace, create,
    insert); "" for other calls."""
    if name not in EDIT_TOOLS or not isinstance(args, dict):
        return ""
    path = str(args.get("path", "file")).lstrip("/")
    command = args.get("command", name)
    if command == "str_replace" and "old_str" in args:
        old, new = str(args.get("old_str", "")), str(args.get("new_str", ""))
    elif command in ("create", "write_file") and ("file_text" in args or "content" in args):
        old, new = "", str(args.get("file_text", args.get("content", "")))
    elif command == "insert" and "new_str" in args:
        old, new = "", str(args["new_str"])
        path += f" (after line {args.get('insert_line', '?')})"
    else:
        return ""
    lines = difflib.unified_diff(
        old.splitlines(keepends=True), new.splitlines(keepends=True), f"a/{path}", f"b/{path}"
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def _content(message: dict) -> str:
    content = message.get("content")
    if isinstance(content, list):
        return "\n".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return str(content or "")


def trajectory(path: Path, keep: int | None) -> dict | None:
    """One trajectory JSON (agent.trajectory.TrajectoryRecord) as steps a person reads."""
    record = _json(path)
    if not isinstance(record, dict):
        return None
    messages = record.get("messages") or []
    steps = []
    for raw in record.get("steps") or []:
        response = (raw.get("response") or {}).get("choices") or [{}]
        content = str((response[0].get("message") or {}).get("content") or "")
        observations = raw.get("observations") or []
        recorded = "diff" in raw  # the agent records the working tree's diff; older trajectories do not
        calls = []
        for call in raw.get("tool_calls") or []:
            args = _arguments(call.get("arguments"))
            edit = "" if recorded else edit_diff(call.get("name", ""), args)
            calls.append({"name": call.get("name", ""), "args": args, "edit": edit})
        usage = raw.get("usage") or {}
        format_error = not calls and bool(observations) and not raw.get("error")
        steps.append(
            {
                "n": raw.get("step"),
                "reasoning": raw.get("reasoning", ""),
                "content": content,
                "calls": calls,
                "observations": [_cut(str(o), keep) for o in observations],
                "format_error": observations[0] if format_error else "",
                "diff": raw.get("diff"),  # None: the step left the working tree as it was
                "error": raw.get("error", ""),
                "finish_reason": raw.get("finish_reason", ""),
                "tokens": usage.get("prompt_tokens", 0) + usage.get("completion_tokens", 0),
                "model_seconds": round(raw.get("model_seconds", 0.0), 2),
                "tool_seconds": round(raw.get("tool_seconds", 0.0), 2),
            }
        )
    result = record.get("result") or {}
    usage = result.get("usage") or {}
    prompt = next((_content(m) for m in messages if m.get("role") == "user"), "")
    return {
        "id": record.get("trajectory_id", path.stem),
        "mode": record.get("mode", "fix"),
        "model": record.get("model", ""),
        "exit_status": result.get("exit_status", "running" if record.get("finished") is None else ""),
        "error": result.get("error", ""),
        "tokens": usage.get("prompt_tokens", 0) + usage.get("completion_tokens", 0),
        "seconds": round(usage.get("seconds", 0.0), 1),
        "patch": result.get("patch", ""),
        "parents": [{"id": i, "score": s} for i, s in _ATTEMPT.findall(prompt)],
        "system": _cut(_content(messages[0]), keep) if messages else None,
        "prompt": _cut(prompt, keep),
        "steps": steps,
        "extra": {k: v for k, v in (record.get("extra") or {}).items() if v},
    }


def _generation_of(trajectory_id: str) -> int | None:
    match = re.match(r"g(\d+)-", trajectory_id)
    return int(match.group(1)) if match else None


def solve_view(run_dir: Path, full: bool = False, detail: str = "chosen") -> dict:
    """Everything the inspector shows of one solve run. `full`: every observation whole; otherwise only the
    chosen and runner-up candidates' trajectories keep theirs (`detail="none"`: none do)."""
    run_dir = Path(run_dir)
    task = _json(run_dir / "task.json") or {}
    outcome = _json(run_dir / "run.json") or {}
    gen_dir, latest = _latest_generation(run_dir)
    table = _json(gen_dir / "verifier_table.json") if gen_dir else None
    raw_decision = (_json(gen_dir / "decision.json") if gen_dir else None) or outcome.get("decision")
    decision = Decision.model_validate(raw_decision) if isinstance(raw_decision, dict) else None
    candidates = {c.get("candidate_id"): c for c in _jsonl(run_dir / "candidates.jsonl")}
    results = {r.get("trajectory_id"): r for r in _jsonl(run_dir / "trajectories.jsonl")}

    group_of, cluster_of = {}, {}
    if decision is not None:
        for group in decision.groups:
            for member in group.get("members", []):
                group_of[member] = group.get("key", "")
        for cluster in decision.clusters:
            for member in cluster.members:
                cluster_of[member] = cluster.cluster_id
    winner = (decision.chosen or decision.best) if decision else None
    viable = [c for c in decision.clusters if c.viable] if decision else []
    runner_up = next((c.representative for c in viable if winner not in c.members), None)
    keep_whole = {winner, runner_up} - {None} if detail == "chosen" else set()

    trajectories = []
    for path in sorted((run_dir / "trajectories").glob("*.json")):
        keep = None if full or path.stem in keep_whole else OBSERVATION_CUT
        view = trajectory(path, keep)
        if view is not None:
            view["generation"] = _generation_of(view["id"])
            trajectories.append(view)
    heat = matrix(table)
    rows = {r["id"]: r for r in heat["rows"]}
    ranking = decision.ranking if decision else sorted(candidates)
    ordered = ranking + sorted(set(candidates) - set(ranking))
    cands = []
    for rank, cid in enumerate(ordered, 1):
        cand, row, result = candidates.get(cid, {}), rows.get(cid, {}), results.get(cid, {})
        meta = cand.get("meta") or {}
        flags = dict(row.get("flags", {}))
        if row and not row.get("applies", True):
            flags["does not apply"] = True
        if result.get("error"):
            flags["trajectory error"] = result["error"][:200]
        cands.append(
            {
                "id": cid,
                "rank": rank,
                "generation": cand.get("generation", _generation_of(cid or "")),
                "patch": cand.get("patch", ""),
                "exit_status": result.get("exit_status", meta.get("exit_status", "")),
                "steps": result.get("steps", meta.get("steps", "")),
                "tokens": meta.get("tokens", ""),
                "group": group_of.get(cid, ""),
                "cluster": cluster_of.get(cid, ""),
                "judge": row.get("judge"),
                "hybrid": row.get("hybrid"),
                "generated": row.get("generated"),
                "new_failures": row.get("new_failures", []),
                "chosen": cid == (decision.chosen if decision else None),
                "flags": flags,
            }
        )
    return {
        "kind": "solve",
        "instance_id": task.get("instance_id") or outcome.get("instance_id") or run_dir.name,
        "repo": task.get("repo", ""),
        "issue": task.get("problem_statement", ""),
        "finished": bool(outcome),
        "outcome": {
            "reason": outcome.get("reason", ""),
            "stop_reasons": outcome.get("stop_reasons", []),
            "interrupted": outcome.get("interrupted", False),
            "usage": outcome.get("usage", {}),
            "stages": outcome.get("stages", {}),
            "generations": outcome.get("generations", []),
        },
        "latest_generation": latest,
        "decision": decision_summary(decision) if decision else None,
        "runner_up": runner_up,
        "clusters": [c.model_dump(mode="json") for c in decision.clusters] if decision else [],
        "groups": decision.groups if decision else [],
        "candidates": cands,
        "matrix": heat,
        "trajectories": trajectories,
    }
