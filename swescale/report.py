"""`report.html` of a solve run: candidates, clusters, scores, the chosen diff and a per-generation plot."""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape

from agent.result import TrajectoryResult
from swescale.lostwork import lost_work
from swescale.outcome import GenerationStats, SolveOutcome
from verifiers.table import Candidate, VerifierTable

_env = Environment(
    loader=PackageLoader("swescale", "templates"), autoescape=select_autoescape(["html", "j2"])
)


def _polyline(values: list[float], low: float, high: float, width: int, height: int, pad: int) -> str:
    """SVG polyline points of `values`, scaled so that `low` sits on the axis and `high` at the top."""
    span = (high - low) or 1.0
    step = (width - 2 * pad) / max(1, len(values) - 1)
    return " ".join(
        f"{pad + i * step:.1f},{height - pad - ((v - low) / span) * (height - 2 * pad):.1f}"
        for i, v in enumerate(values)
    )


def generation_plot(generations: list[GenerationStats], width: int = 520, height: int = 200) -> dict:
    """Two lines over generations: best hybrid score and cumulative tokens, each on its own scale."""
    pad = 28
    scores = [g.best_score for g in generations] or [0.0]
    tokens = [float(g.tokens) for g in generations] or [0.0]
    low, high = min(0.0, *scores), max(1.0, *scores)  # hybrid scores may leave 0..1
    step = (width - 2 * pad) / max(1, len(generations) - 1)
    return {
        "width": width,
        "height": height,
        "pad": pad,
        "scores": _polyline(scores, low, high, width, height, pad),
        "score_range": f"{low:g}..{high:.2f}",
        "tokens": _polyline(tokens, 0.0, max(tokens), width, height, pad),
        "max_tokens": int(max(tokens)),
        "ticks": [(pad + i * step, g.generation) for i, g in enumerate(generations)],
    }


def server_rows(outcome: SolveOutcome) -> list[dict]:
    """Per model server: the calls it served and, when sampled, its /metrics summary."""
    metrics = {m.url: m for m in outcome.server_metrics}
    urls = list(dict.fromkeys([*outcome.usage_by_server, *metrics]))
    return [{"url": u, "usage": outcome.usage_by_server.get(u), "m": metrics.get(u)} for u in urls]


def write_report(
    run_dir: Path,
    outcome: SolveOutcome,
    table: VerifierTable | None,
    candidates: dict[str, Candidate],
    results: list[TrajectoryResult],
    issue: str,
) -> Path:
    decision = outcome.decision
    cluster_of = {}
    for cluster in decision.clusters if decision else []:
        for member in cluster.members:
            cluster_of[member] = cluster.cluster_id
    by_id = {r.trajectory_id: r for r in results}
    rows = []
    for cid in decision.ranking if decision else sorted(candidates):
        row = table.by_candidate.get(cid) if table else None
        result = by_id.get(cid)
        rows.append(
            {
                "id": cid,
                "generation": candidates[cid].generation if cid in candidates else "",
                "status": str(result.exit_status) if result else "",
                "steps": result.steps if result else "",
                "tokens": result.usage.total_tokens if result else "",
                "lines": candidates[cid].patch.count("\n") if cid in candidates else "",
                "applies": row.applies if row else None,
                "generated": row.generated_score if row else None,
                "new_failures": len(row.regression.new_failures) if row else None,
                "judge": row.judge if row else None,
                "hybrid": row.hybrid_score if row else None,
                "cluster": cluster_of.get(cid, ""),
                "infrastructure": ", ".join(row.test_infrastructure) if row else "",
            }
        )
    chosen = (decision.chosen or decision.best) if decision else None
    html = _env.get_template("report.html.j2").render(
        outcome=outcome,
        decision=decision,
        rows=rows,
        table=table,
        issue=issue,
        chosen=chosen,
        chosen_patch=candidates[chosen].patch if chosen in candidates else "",
        plot=generation_plot(outcome.generations),
        servers=server_rows(outcome),
        lost=lost_work(run_dir),
    )
    path = run_dir / "report.html"
    path.write_text(html)
    return path
