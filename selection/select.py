"""Rank behavioural clusters, compute a confidence and choose one candidate or abstain.

Confidence (also in docs/selection.md). For the top cluster T and the runner-up R (best other
viable cluster):

    evidence signals, each in [0, 1], only those that exist:
      a = share of the viable candidates whose normalized patch equals T's representative's
          (independent systems writing the same patch)
      d = weighted fraction of distinguishing generated tests T passes (test weights of the table)
      r = 1 - regression loss of T (log of weighted broken tests, verifiers.hybrid)   (regression ran)
      j = mean judge P(YES) of T's members                                            (judged)
      p = share of the issue's expected values T gives that the original does not
          (verifiers.probes; only with selection.probe_weight > 0)              (an expected value read)
    E = geometric mean of max(signal, evidence_floor) over a, d, j, p (those that exist), times r
        (so the scale does not depend on whether regression tests ran)
    M = the smallest margin over T's competitors (1 without any):
        the runner-up cluster R: min(1, max(0, hybrid_T - hybrid_R) / margin_scale + max(0, share_T - share_R))
        (hybrid plus probe_weight x the probe score, as ranked)
        another normalized patch G in T's own cluster (same behaviour on every test, so only the tie-break
        separates them): max(0, agreement_T - agreement_G) / viable candidates
    confidence = E * (1 - margin_weight * (1 - M))

The geometric mean makes contradicting evidence count: passing every generated test does not
outweigh a judge that says no; broken regression tests scale everything down. Below `abstain_threshold`
(`abstain_threshold_unjudged` when no judge was asked; a judge that was asked and failed keeps
`abstain_threshold`, so a broken judge never lowers the bar) the decision abstains; the best candidate is
still recorded in `best`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, Field

from selection.cluster import Cluster, build_clusters
from selection.config import SelectionConfig
from selection.evidence import issue_names
from selection.normalize import OriginalFiles, PatchGroup, dedupe
from verifiers.table import Candidate, VerifierTable


class Decision(BaseModel):
    """The outcome of selection for one task."""

    instance_id: str = ""
    chosen: str | None = None
    """Chosen candidate id (None when abstaining)."""
    best: str | None = None
    """Best-ranked viable candidate, recorded even when abstaining."""
    abstained: bool = True
    reason: str = ""
    """Why this candidate, or why abstaining."""
    confidence: float = 0.0
    evidence: dict[str, float | None] = Field(default_factory=dict)
    """The confidence's inputs: a, d, r, j, E, M."""
    ranking: list[str] = Field(default_factory=list)
    """Candidate ids best first (cluster order, then within-cluster order); not viable ones last."""
    clusters: list[Cluster] = Field(default_factory=list)
    """Behavioural clusters in ranking order."""
    groups: list[dict[str, Any]] = Field(default_factory=list)
    """Normalized-patch groups: key, count, members, representative."""
    trajectory: dict[str, Any] | None = None
    """What the selection trajectory did, when one ran."""


def ranked_score(cluster: Cluster, config: SelectionConfig) -> float:
    """The hybrid score clusters are ranked by: plus `probe_weight` x the probe score (the issue's examples)."""
    return cluster.hybrid + config.probe_weight * (cluster.probe or 0.0)


def _sort_key(cluster: Cluster, config: SelectionConfig) -> tuple:
    tol = max(config.score_tolerance, 1e-9)
    parts: list[Any] = [not cluster.viable]
    if "hybrid" not in config.ranking:
        parts.append(cluster.suspect)
    for key in config.ranking:
        if key == "hybrid":  # then clean before suspect (test infrastructure touched) on the same evidence
            parts += [-round(ranked_score(cluster, config) / tol), cluster.suspect]
        elif key == "support":
            parts.append(-cluster.support)
        elif key == "length":
            parts.append(cluster.length)
        elif key == "judge":
            parts.append(-round((cluster.judge or 0.0) / tol))
        elif key == "generated":
            parts.append(-round(cluster.generated / tol))
        elif key == "regression":
            parts.append(-cluster.regression_rate)
        elif key == "agreement":
            parts.append(-cluster.agreement)
        elif key == "issue":
            parts.append(-cluster.issue)
        elif key == "probes":
            parts.append(-round((cluster.probe or 0.0) / tol))
    parts.append(cluster.members[0])
    return tuple(parts)


def rank_clusters(clusters: list[Cluster], config: SelectionConfig) -> list[Cluster]:
    """Viable clusters first, ordered by `config.ranking`; ties by first member id."""
    return sorted(clusters, key=lambda c: _sort_key(c, config))


def distinguishing_pass_rate(table: VerifierTable, candidate_id: str) -> float | None:
    """Weighted fraction of distinguishing generated tests the candidate passes (None: there are none)."""
    columns = [t for t in table.tests if t.distinguishing and t.kind == "generated"]
    if not columns:
        return None
    row = table.row(candidate_id)
    weights = [t.weight if t.weight > 0 else 1.0 for t in columns]
    passed = [bool(row.outcomes.get(t.test_id) and row.outcomes[t.test_id].passed) for t in columns]
    return sum(w for w, p in zip(weights, passed, strict=True) if p) / sum(weights)


def confidence(
    table: VerifierTable,
    top: Cluster,
    runner_up: Cluster | None,
    config: SelectionConfig,
    viable: int = 0,
    alternative: int | None = None,
) -> tuple[float, dict[str, float | None]]:
    """The confidence of choosing `top` over `runner_up` (formula in the module docstring); `viable`:
    the number of viable candidates (agreement share); `alternative`: votes of the largest other
    normalized-patch group inside `top` (the tie-break's runner-up), if any."""
    a = min(1.0, top.agreement / viable) if viable else None
    d = distinguishing_pass_rate(table, top.representative)
    r = 1.0 - top.regression_loss if top.regression_run or top.new_regressions else None
    j = top.judge
    p = top.probe_met / top.probe_checks if top.probe_checks else None
    # whether T fixes the issue (geometric mean of what speaks to it), times whether it breaks nothing
    used = (a, d, j, p) if config.probe_weight > 0 else (a, d, j)
    signals = [s for s in used if s is not None] or [0.5]
    e = math.exp(sum(math.log(max(s, config.evidence_floor)) for s in signals) / len(signals))
    e *= max(r, config.evidence_floor) if r is not None else 1.0
    m = 1.0
    if runner_up is not None:
        scale = max(config.margin_scale, 1e-9)
        gain = ranked_score(top, config) - ranked_score(runner_up, config)
        m = max(0.0, gain) / scale + max(0.0, top.share - runner_up.share)
        m = min(1.0, m)
    if alternative is not None and viable:  # the same behaviour, another patch: only agreement separates
        m = min(m, max(0.0, top.agreement - alternative) / viable)
    conf = e * (1 - config.margin_weight * (1 - m))
    values = {"a": a, "d": d, "r": r, "j": j, "p": p}
    rounded = {k: None if v is None else round(v, 4) for k, v in values.items()}
    return conf, {**rounded, "E": round(e, 4), "M": round(m, 4)}


def _explain(top: Cluster, evidence: dict[str, float | None], runner_up: Cluster | None) -> str:
    parts = [f"cluster {top.cluster_id} ({top.support} vote(s), hybrid {top.hybrid:.2f})"]
    if evidence["d"] is not None:
        parts.append(f"passes {evidence['d']:.0%} of distinguishing tests")
    if evidence.get("a") is not None:
        parts.append(f"{top.agreement} candidate(s) with this normalized patch")
    if top.regression_run or top.new_regressions:
        parts.append(
            f"{top.new_regressions} new regression failure(s) of {top.regression_run} "
            f"(weighted pass rate {top.regression_rate:.3f})"
        )
    if evidence["j"] is not None:
        parts.append(f"judge {evidence['j']:.2f}")
    if top.probe_checks:
        parts.append(f"gives {top.probe_met} of {top.probe_checks} value(s) the issue expects")
    elif top.probe is not None:
        parts.append(f"probe score {top.probe:.2f} (the issue's examples)")
    parts.append(
        "no competing behaviour"
        if runner_up is None
        else f"runner-up {runner_up.cluster_id} hybrid "
        f"{runner_up.hybrid:.2f} with {runner_up.support} vote(s)"
    )
    return "; ".join(parts)


def select(
    table: VerifierTable,
    config: SelectionConfig | None = None,
    candidates: Iterable[Candidate] | None = None,
    original_files: OriginalFiles | None = None,
    groups: list[PatchGroup] | None = None,
    issue: str = "",
) -> Decision:
    """Choose one candidate of the table or abstain.

    `candidates` give the patches (for deduplication and patch length); without them rows are
    grouped by `patch_hash` and lengths count as equal. `original_files` enables AST normalization.
    `issue`: the problem statement (the `issue` tie-break: patches touching code it names).
    """
    config = config or SelectionConfig()
    cands = list(candidates or [])
    patches = {c.candidate_id: c.patch for c in cands}
    known = set(table.by_candidate)
    if groups is None:
        if cands:
            groups = dedupe([c for c in cands if c.candidate_id in known], original_files)
        else:
            by_hash: dict[str, PatchGroup] = {}
            for row in table.rows:
                g = by_hash.setdefault(
                    row.patch_hash, PatchGroup(key=row.patch_hash, normalized=row.patch_hash)
                )
                g.members.append(row.candidate_id)
                g.representative = g.representative or row.candidate_id
            groups = list(by_hash.values())
    names = issue_names(issue) if issue else set()
    built = build_clusters(table, groups, patches, names, config.tie_breaks, config.probe_clusters)
    clusters = rank_clusters(built, config)
    ranking = []
    for cluster in clusters:
        rows = table.by_candidate
        ranking += sorted(
            cluster.members, key=lambda c: (c != cluster.representative, -rows[c].hybrid_score, c)
        )
    decision = Decision(
        instance_id=table.instance_id,
        ranking=ranking,
        clusters=clusters,
        groups=[
            {"key": g.key, "count": g.count, "members": g.members, "representative": g.representative}
            for g in groups
        ],
    )
    viable = [c for c in clusters if c.viable]
    if errored := {r.candidate_id: r.error for r in table.rows if r.error}:  # unknown, maybe the best
        decision.best = viable[0].representative if viable else None
        first = next(iter(errored.values()))
        decision.reason = (
            f"abstain: the verification of {len(errored)} candidate(s) failed ({', '.join(errored)}: "
            f"{first[:300]}); any of them could have been the best"
        )
        return decision
    if not viable:
        decision.reason = "no viable candidate (every patch is empty or does not apply)"
        return decision
    top, runner_up = viable[0], (viable[1] if len(viable) > 1 else None)
    votes = {g.key: g.count for g in groups}
    rep_key = next((g.key for g in groups if top.representative in g.members), None)
    others = [votes[k] for k in top.groups if k != rep_key and k in votes]
    alternative = max(others) if others else None
    conf, evidence = confidence(table, top, runner_up, config, sum(c.support for c in viable), alternative)
    decision.best = top.representative
    decision.confidence = round(conf, 4)
    decision.evidence = evidence
    why = _explain(top, evidence, runner_up)
    # a judge that was asked and gave no judgement keeps the judged bar: a broken judge never lowers it
    judged = evidence["j"] is not None or bool(table.meta.get("judge_method"))
    threshold = config.abstain_threshold if judged else config.abstain_threshold_unjudged
    if evidence["j"] is None and judged:
        why += "; no judgement (the judge was asked and failed): held to the judged threshold"
    if conf < threshold:
        decision.reason = f"abstain: confidence {conf:.2f} < {threshold:.2f}; best was {why}"
    else:
        decision.chosen = top.representative
        decision.abstained = False
        decision.reason = f"confidence {conf:.2f}: {why}"
    return decision
