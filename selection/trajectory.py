"""Selection trajectory (CodeMonkeys): an agent compares the top clusters and names the winner.

The agent sees the issue and the representative diff of each of the top `trajectory_top_k` clusters,
inside a sandbox of the original code. Tools: `bash`, `run_test {script}` (runs a new test script on
the original and on every shown candidate) and `select_winner {candidate_id}`. A winner must be a
member id of a shown cluster (or the cluster id); anything else, no answer, a model error or the step
limit leaves the ranking as it was. The confidence is not changed by the trajectory.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import jinja2

from envs.task import Task
from selection.config import SelectionSettings
from selection.select import Decision
from verifiers.table import Candidate

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).parent / "templates"
_env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), keep_trailing_newline=True)
TEST_PATH = "/tmp/swescale_selection_test.py"
OUTPUT_TAIL = 1500


def _tool(name: str, description: str, props: dict[str, str]) -> dict:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {
                "type": "object",
                "properties": {k: {"type": "string", "description": v} for k, v in props.items()},
                "required": list(props),
            },
        },
    }


TOOLS = [
    _tool(
        "bash",
        "Run a bash command in /testbed (original code). Each call is a fresh shell.",
        {"command": "The command."},
    ),
    _tool(
        "run_test",
        "Run a standalone Python test script on the original code and on every candidate.",
        {"script": "Python source; exit code 0 should mean the issue is fixed."},
    ),
    _tool(
        "select_winner",
        "Name the candidate that fixes the issue. Ends the review.",
        {"candidate_id": "Id of the chosen candidate."},
    ),
]


def _tail(text: str) -> str:
    return text if len(text) <= OUTPUT_TAIL else "[...]\n" + text[-OUTPUT_TAIL:]


class _Review:
    """Tool execution against one sandbox of the original code."""

    def __init__(self, sb: Any, python: str, shown: list[tuple[str, str]], timeout: float):
        self.sb, self.python, self.shown, self.timeout = sb, python, shown, timeout

    def bash(self, command: str) -> str:
        r = self.sb.exec(command, timeout=self.timeout, cwd="/testbed")
        return f"exit code {r.exit_code}{' (timed out)' if r.timed_out else ''}\n{_tail(r.output)}"

    def _run(self) -> str:
        r = self.sb.exec(f"{self.python} {TEST_PATH}", timeout=self.timeout, cwd="/testbed")
        return f"exit code {r.exit_code}{' (timed out)' if r.timed_out else ''}\n{_tail(r.output)}"

    def run_test(self, script: str) -> str:
        from envs.freeze import freeze
        from sandbox.patch import PatchError, apply_patch

        self.sb.write_file(TEST_PATH, script)
        reports = [f"== original code: {self._run()}"]
        for cid, patch in self.shown:
            try:
                judged = freeze(patch).judged  # the candidate's test infrastructure stays out
                if judged.strip():
                    apply_patch(self.sb, judged)
                reports.append(f"== candidate {cid}: {self._run()}")
            except PatchError as exc:
                reports.append(f"== candidate {cid}: patch does not apply ({exc})")
            finally:
                self.sb.exec("git reset --hard -q && git clean -fdq", timeout=60, cwd="/testbed")
        return "\n".join(reports)


def _resolve(name: str, decision: Decision, top_ids: list[str]) -> str | None:
    """Map a named winner to a candidate id of a shown cluster (its representative for a cluster id)."""
    name = (name or "").strip().strip("`'\"")
    for cluster in decision.clusters:
        if cluster.representative not in top_ids:
            continue
        if name == cluster.cluster_id:
            return cluster.representative
        if name in cluster.members:
            return name
    return None


def run_selection_trajectory(
    task: Task,
    env: Any,
    decision: Decision,
    candidates: list[Candidate],
    config: SelectionSettings,
    model: Any,
    pool: Any,
    out_dir: Path,
) -> Decision:
    """Let an agent pick among the top clusters; returns the (possibly) updated decision."""
    from agent.parsing import TEXT_FORMAT_EXAMPLE, describe_tools

    sel = config.selection
    top = [c for c in decision.clusters if c.viable][: sel.trajectory_top_k]
    info: dict[str, Any] = {"shown": [c.representative for c in top], "steps": 0, "winner": None}
    decision = decision.model_copy(update={"trajectory": info})
    if len(top) < 2:
        info["outcome"] = "skipped: fewer than two viable clusters"
        return decision
    patches = {c.candidate_id: c.patch for c in candidates}
    shown = [(c.representative, patches.get(c.representative, "")) for c in top]
    text_tools = model.tool_format == "text"
    system = _env.get_template("select_system.j2").render(
        tool_text=describe_tools(TOOLS) if text_tools else "", example=TEXT_FORMAT_EXAMPLE
    )
    user = _env.get_template("select_user.j2").render(
        problem_statement=task.problem_statement,
        candidates=[
            {"id": cid, "votes": c.support, "score": c.hybrid, "diff": patch}
            for (cid, patch), c in zip(shown, top, strict=True)
        ],
    )
    messages: list[dict] = [{"role": "system", "content": system}, {"role": "user", "content": user}]
    named: str | None = None
    try:
        with pool.sandbox(env.image, workdir="/testbed") as sb:
            review = _Review(sb, getattr(env, "python", "python"), shown, sel.trajectory_test_timeout)
            for step in range(sel.trajectory_max_steps):
                info["steps"] = step + 1
                session = f"{task.instance_id}/select"  # one replica for the whole conversation
                choice = model.chat(messages, tools=TOOLS, temperature=0.0, session=session).choices[0]
                calls = choice.calls()
                if text_tools or not calls:
                    messages.append({"role": "assistant", "content": choice.content or ""})
                else:
                    messages.append(
                        {
                            "role": "assistant",
                            "content": choice.content or "",
                            "tool_calls": [c.to_message() for c in calls],
                        }
                    )
                if not calls:
                    messages.append(
                        {"role": "user", "content": "Call one of the tools (`select_winner` to finish)."}
                    )
                    continue
                observations = []
                for call in calls:
                    if call.name == "select_winner":
                        named = str(call.args.get("candidate_id", ""))
                        break
                    if call.error:
                        obs = f"ERROR: could not parse the arguments: {call.error}"
                    elif call.name == "bash":
                        obs = review.bash(str(call.args.get("command", "")))
                    elif call.name == "run_test":
                        obs = review.run_test(str(call.args.get("script", "")))
                    else:
                        obs = f"ERROR: unknown tool `{call.name}`"
                    observations.append((call, obs))
                if named is not None:
                    break
                for call, obs in observations:
                    if text_tools:
                        messages.append({"role": "user", "content": f"Observation of {call.name}:\n{obs}"})
                    else:
                        messages.append({"role": "tool", "tool_call_id": call.id, "content": obs})
    except Exception as exc:  # noqa: BLE001 - the ranking stands whatever goes wrong here
        log.warning("%s: selection trajectory failed: %s", task.instance_id, exc)
        info["error"] = f"{type(exc).__name__}: {exc}"
    (out_dir / "selection_trajectory.json").write_text(json.dumps(messages, indent=2))
    info["named"] = named
    winner = _resolve(named, decision, info["shown"]) if named is not None else None
    if winner is None:
        info["outcome"] = (
            f"named {named!r}, not a shown candidate: ranking stands"
            if named is not None
            else "no winner named: ranking stands"
        )
        return decision
    info["winner"] = winner
    info["outcome"] = "agreed with the ranking" if winner == decision.best else f"overrode {decision.best}"
    update: dict[str, Any] = {"best": winner}
    if not decision.abstained:
        update["chosen"] = winner
    update["reason"] = decision.reason + f"; selection trajectory named {winner}"
    return decision.model_copy(update=update)
