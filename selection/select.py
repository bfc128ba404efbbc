"""Rank behavioural clusters, compute a confidence and choose one candidate or abstain.

Ranking (`selection.ranking`, a list of keys or a name of `RANKINGS`): the default `agreement` ranks by the
evidence score, where the share of the candidates behind a cluster weighs against its execution evidence:

    score = hybrid + support_weight * share + patch_weight * agreement / viable + probe_weight * probe

Confidence (also in docs/selection.md). For the top cluster T and the runner-up R (best other
viable cluster):

    b = share of the viable candidates in T (they behave alike on every test)
    a = share of the viable candidates whose normalized patch equals T's representative's
    s = (a + b) / 2: how many candidates stand behind the answer, in behaviour and in code
    d = weighted fraction of distinguishing generated tests T passes, counted as max(d, s): a test T fails
        does not lower the confidence below what agreement supports (the ranking weighed it already)
    p = share of the issue's expected values T gives that the original does not (verifiers.probes;
        only with selection.probe_weight > 0; an expected value read)
    r = 1 - regression loss of T (log of weighted broken tests, verifiers.hybrid)    (regression ran)
    j = mean judge P(YES) of T's members                                             (judged)
    E = geometric mean of max(signal, evidence_floor) over s, d, j, p (those that exist), times r
    M = min(1, max(0, h_T - h_R) / margin_scale + max(0, b_T - b_R))   (1 without R): how far a test (h:
        the hybrid score plus probe_weight x the probe score, as ranked) or the vote separates T from R
    confidence = E * (1 - margin_weight * (1 - M))

The geometric mean makes contradicting evidence count: passing every generated test does not outweigh a
judge that says no; broken regression tests scale everything down. Below `abstain_threshold`
(`abstain_threshold_unjudged` when no judge was asked; a judge that was asked and failed keeps
`abstain_threshold`, so a broken judge never lowers the bar) the decision abstains, unless T holds at least
`answer_share` of the viable candidates and at least `answer_min_support` of them (agreement that no test
ranked below another cluster), unless a judge says no; the best candidate is still recorded in `best`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, Field

from selection.cluster import Cluster, build_clusters
from selection.config import RANKINGS, SelectionConfig
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
    """The confidence's inputs: b, a, d, r, j, E, M."""
    threshold_key: str = ""
    """The threshold the confidence was held to: `abstain_threshold` (a judge was asked) or
    `abstain_threshold_unjudged`."""
    agreed: bool = False
    """The top cluster holds at least `selection.answer_share` of the viable candidates: answers whatever
    the confidence."""
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
    if "hybrid" not in config.ranking and "evidence" not in config.ranking:
        parts.append(cluster.suspect)
    for key in config.ranking:
        if key == "evidence":  # clean before suspect on the same evidence, as for `hybrid`
            parts += [-round(cluster.score / tol), cluster.suspect]
        elif key == "hybrid":  # then clean before suspect (test infrastructure touched) on the same evidence
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


def evidence_score(cluster: Cluster, viable: int, config: SelectionConfig) -> float:
    """The `evidence` ranking key: hybrid verifier score plus weighted agreement and probe score."""
    patch_share = cluster.agreement / viable if viable else 0.0
    return round(
        cluster.hybrid
        + config.support_weight * cluster.share
        + config.patch_weight * patch_share
        + config.probe_weight * (cluster.probe or 0.0),
        6,
    )


def ranking_name(config: SelectionConfig) -> str:
    """The name of the configured ranking in RANKINGS, or its keys."""
    return next((n for n, keys in RANKINGS.items() if keys == config.ranking), f"keys {config.ranking}")


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
    table: VerifierTable, top: Cluster, runner_up: Cluster | None, config: SelectionConfig, viable: int
) -> tuple[float, dict[str, float | None]]:
    """The confidence of choosing `top` over `runner_up` (formula in the module docstring); `viable`:
    the number of viable candidates."""
    b = top.share
    a = min(1.0, top.agreement / viable) if viable else 0.0
    support = (a + b) / 2
    d = distinguishing_pass_rate(table, top.representative)
    r = 1.0 - top.regression_loss if top.regression_run or top.new_regressions else None
    j = top.judge
    p = top.probe_met / top.probe_checks if top.probe_checks else None
    # whether T fixes the issue (geometric mean of what speaks to it), times whether it breaks nothing
    used = (None if d is None else max(d, support), j, p if config.probe_weight > 0 else None)
    signals = [support] + [s for s in used if s is not None]
    e = math.exp(sum(math.log(max(s, config.evidence_floor)) for s in signals) / len(signals))
    e *= max(r, config.evidence_floor) if r is not None else 1.0
    m = 1.0
    if runner_up is not None:
        scale = max(config.margin_scale, 1e-9)
        gain = ranked_score(top, config) - ranked_score(runner_up, config)
        m = max(0.0, gain) / scale + max(0.0, top.share - runner_up.share)
        m = min(1.0, m)
    conf = e * (1 - config.margin_weight * (1 - m))
    signals_by_key = {"b": b, "a": a, "d": d, "r": r, "j": j, "p": p}
    rounded = {k: None if v is None else round(v, 4) for k, v in signals_by_key.items()}
    return conf, {**rounded, "E": round(e, 4), "M": round(m, 4)}


def _separated(table: VerifierTable, top: Cluster, runner_up: Cluster) -> bool:
    """Whether a weighted test (a distinguishing generated test, or a regression test one of them breaks)
    has different outcomes on the two representatives."""
    rows = table.by_candidate
    t_row, r_row = rows[top.representative], rows[runner_up.representative]
    for column in table.tests:
        if column.weight <= 0 or (column.kind == "generated" and not column.distinguishing):
            continue
        t_out, r_out = t_row.outcomes.get(column.test_id), r_row.outcomes.get(column.test_id)
        if bool(t_out and t_out.passed) != bool(r_out and r_out.passed):
            return True
    return False


def _explain(
    table: VerifierTable,
    top: Cluster,
    evidence: dict[str, float | None],
    runner_up: Cluster | None,
    config: SelectionConfig,
    viable: int,
) -> str:
    score = f", evidence score {top.score:.2f}" if "evidence" in config.ranking else ""
    parts = [
        f"ranked by {ranking_name(config)}: cluster {top.cluster_id} ({top.support} of {viable} viable "
        f"candidate(s) behave alike, hybrid {top.hybrid:.2f}{score})"
    ]
    if evidence["d"] is not None:
        parts.append(f"passes {evidence['d']:.0%} of distinguishing tests")
    parts.append(f"{top.agreement} candidate(s) with this normalized patch")
    if top.similarity is not None and len(top.groups) > 1:
        parts.append(
            f"of its {len(top.groups)} different patches, the one closest to the others "
            f"(mean similarity of changed lines {top.similarity:.2f})"
        )
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
    if runner_up is None:
        parts.append("no competing behaviour")
    else:
        test = "a test separates them" if _separated(table, top, runner_up) else "no test separates them"
        parts.append(
            f"runner-up {runner_up.cluster_id}: {runner_up.support} vote(s), hybrid {runner_up.hybrid:.2f}"
            + (f", evidence score {runner_up.score:.2f}" if score else "")
            + f"; {test}"
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
    viable_votes = sum(c.support for c in built if c.viable)
    for cluster in built:
        cluster.score = evidence_score(cluster, viable_votes, config) if cluster.viable else cluster.hybrid
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
    conf, evidence = confidence(table, top, runner_up, config, viable_votes)
    decision.best = top.representative
    decision.confidence = round(conf, 4)
    decision.evidence = evidence
    judge_says_no = evidence["j"] is not None and evidence["j"] < 0.5
    decision.agreed = (
        top.share >= config.answer_share and top.support >= config.answer_min_support and not judge_says_no
    )
    why = _explain(table, top, evidence, runner_up, config, viable_votes)
    # a judge that was asked and gave no judgement keeps the judged bar: a broken judge never lowers it
    judged = evidence["j"] is not None or bool(table.meta.get("judge_method"))
    decision.threshold_key = "abstain_threshold" if judged else "abstain_threshold_unjudged"
    threshold = getattr(config, decision.threshold_key)
    if evidence["j"] is None and judged:
        why += "; no judgement (the judge was asked and failed): held to the judged threshold"
    if decision.agreed:
        decision.chosen = top.representative
        decision.abstained = False
        decision.reason = (
            f"confidence {conf:.2f}, answered whatever the threshold ({threshold:.2f}): {top.support} of "
            f"{viable_votes} viable candidates agree in behaviour (>= {config.answer_share:.0%}); {why}"
        )
    elif conf < threshold:
        decision.reason = f"abstain: confidence {conf:.2f} < {threshold:.2f}; best was {why}"
    else:
        decision.chosen = top.representative
        decision.abstained = False
        decision.reason = f"confidence {conf:.2f}: {why}"
    return decision
