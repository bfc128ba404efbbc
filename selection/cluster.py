"""Behavioural clusters: candidates with identical outcomes on every test of the verifier table."""

from __future__ import annotations

from statistics import mean

from pydantic import BaseModel, Field

from sandbox.patch import PatchError, changed_line_count, changed_lines, file_patches, split_tests
from selection.evidence import issue_overlap
from selection.normalize import PatchGroup
from verifiers.hybrid import regression_loss, regression_rate
from verifiers.probes.signals import evidence, runs_on_original
from verifiers.table import CandidateRow, VerifierTable


class Cluster(BaseModel):
    """Candidates that behave identically (same exit code and output digest on every test)."""

    cluster_id: str
    members: list[str]
    """Candidate ids (each counts once: a normalized-patch group of n candidates gives n votes)."""
    groups: list[str] = Field(default_factory=list)
    """Keys of the normalized-patch groups inside the cluster."""
    viable: bool = True
    """False for patches that do not apply or are empty after normalization: never chosen."""
    support: int = 0
    """Votes: number of member candidates."""
    share: float = 0.0
    """Support as a fraction of all viable candidates."""
    hybrid: float = 0.0
    """Mean hybrid verifier score of the members."""
    score: float = 0.0
    """Evidence score of the `evidence` ranking key: hybrid plus weighted agreement (selection.select)."""
    generated: float = 0.0
    """Weighted fraction of distinguishing generated tests passed (identical for all members)."""
    judge: float | None = None
    """Mean judge P(YES) of the judged members."""
    new_regressions: int = 0
    """Regression tests passing on the original and failing on the members."""
    regression_run: int = 0
    """Regression tests run on the members."""
    regression_rate: float = 1.0
    """Weighted fraction of the regression tests that still pass (verifiers.hybrid.regression_rate)."""
    regression_loss: float = 0.0
    """log(1 + weighted broken tests) / log(1 + weighted tests) (verifiers.hybrid.regression_loss)."""
    length: int = 0
    """Changed lines of the representative patch (its test files left out)."""
    agreement: int = 0
    """Candidates whose normalized patch equals the representative's (agreement across systems)."""
    issue: int = 0
    """Functions, classes and modules of the representative's patch that the issue names."""
    similarity: float | None = None
    """The representative's mean similarity of changed lines to the other members (`similarity`); None when
    the `similarity` tie-break is off."""
    probe: float | None = None
    """Mean probe score of the members (verifiers.probes.signals; None: no probe compared)."""
    probe_checks: int = 0
    """Expected values of the issue the original does not give (the representative's count)."""
    probe_met: int = 0
    """Of those, the ones the representative gives."""
    suspect: bool = False
    """Every member touches test infrastructure (reverted when judged: envs.freeze): ranked below clean
    clusters with the same evidence (selection.select._sort_key)."""
    representative: str = ""
    """Member to submit: a clean one (not touching test infrastructure), highest hybrid score, then
    `selection.tie_breaks` (default: the changed lines closest to the other members', then the smallest
    change, then most code the issue names), then id."""


def signature(row: CandidateRow, test_ids: list[str], probe_ids: list[str] = ()) -> tuple:
    """Outcome of every test (exit code, output digest, timeout) and probe (digest), or a marker for
    unappliable patches."""
    if not row.applies:
        return ("does-not-apply",)
    cells: list[tuple] = []
    for test_id in test_ids:
        o = row.outcomes.get(test_id)
        cells.append((None, "", False) if o is None else (o.exit_code, o.output_digest, o.timed_out))
    cells += [("probe", p.digest if (p := row.probes.get(i)) else "") for i in probe_ids]
    return tuple(cells)


def similarity(sources: dict[str, str]) -> dict[str, float]:
    """Per member: the mean Jaccard similarity of its changed lines (sandbox.patch.changed_lines) to each
    other member's; 1.0 for a lone member. The `similarity` tie-break picks the member closest to the
    others (minimum Bayes risk): exact agreement is its special case, and a member that changes what most
    others change outranks one that changes less."""
    lines = {c: changed_lines(text) for c, text in sources.items()}

    def jaccard(a: set, b: set) -> float:
        return len(a & b) / len(a | b) if a or b else 1.0

    return {
        c: mean(jaccard(lines[c], lines[o]) for o in lines if o != c) if len(lines) > 1 else 1.0
        for c in lines
    }


def source_part(patch: str) -> str:
    """The patch without its test files: tests a candidate brings never make its change look larger."""
    try:
        return "".join(f.text for f in split_tests(file_patches(patch))[0])
    except PatchError:
        return patch


def _tie_key(key: str, votes: int, issue: int, length: int, near: float) -> float:
    return {"agreement": -votes, "issue": -issue, "length": length, "similarity": -round(near, 6)}[key]


def build_clusters(
    table: VerifierTable,
    groups: list[PatchGroup],
    patches: dict[str, str] | None = None,
    names: set[str] | None = None,
    tie_breaks: list[str] | tuple[str, ...] = (),
    probe_clusters: bool = False,
) -> list[Cluster]:
    """Cluster the table's rows by behaviour.

    Without any test in the table behaviour is unknown, so each normalized-patch group is its own
    cluster (plain majority voting). Candidates in the same normalized group always share a cluster
    unless their outcomes differ (flaky tests), in which case behaviour wins. `names`: identifiers the
    issue names (selection.evidence.issue_names), for the `issue` tie-break. `probe_clusters`: the
    probes' outcomes (the issue's examples) are part of the behaviour too.
    """
    patches = patches or {}
    names = names or set()
    test_ids = [t.test_id for t in table.tests]
    probes = table.probes if probe_clusters else []
    probe_ids = [c.probe.probe_id for c in probes if runs_on_original(c.probe, c.reference)]
    group_of = {cid: g for g in groups for cid in g.members}
    rows = table.by_candidate
    by_key: dict[tuple, list[str]] = {}
    for cid, row in rows.items():
        group = group_of.get(cid)
        empty = group is not None and group.normalized == ""
        if not row.applies or empty:
            key: tuple = ("not-viable", "does-not-apply" if not row.applies else "empty")
        elif test_ids or probe_ids:
            key = signature(row, test_ids, probe_ids)
        else:
            key = ("group", group.key if group else row.patch_hash)
        by_key.setdefault(key, []).append(cid)

    viable_total = sum(len(m) for k, m in by_key.items() if k[0] != "not-viable")
    clusters = []
    for index, (key, members) in enumerate(by_key.items()):
        member_rows = [rows[cid] for cid in members]
        judged = [r.judge for r in member_rows if r.judge is not None]
        sources = {cid: source_part(patches.get(cid, "")) for cid in members}
        lengths = {cid: changed_line_count(sources[cid]) for cid in members}
        votes = {c: group_of[c].count if c in group_of else 1 for c in members}
        issue = {c: issue_overlap(sources[c], names) for c in members}
        near = similarity(sources) if "similarity" in tie_breaks else {}

        rep = min(
            members,
            key=lambda c, v=votes, i=issue, n=lengths, s=near: (
                bool(rows[c].test_infrastructure),  # same behaviour: a clean member represents the cluster
                -rows[c].hybrid_score,
                *[_tie_key(k, v[c], i[c], n[c], s.get(c, 1.0)) for k in tie_breaks],
                len(sources[c]),
                c,
            ),
        )
        first = member_rows[0]
        viable = key[0] != "not-viable"
        probes = {c: evidence(table.probes, rows[c].probes) for c in members}
        scores = [s for p in probes.values() if (s := p.score) is not None]
        clusters.append(
            Cluster(
                cluster_id=f"c{index}",
                members=members,
                groups=sorted({group_of[c].key for c in members if c in group_of}),
                viable=viable,
                support=len(members),
                share=len(members) / viable_total if viable and viable_total else 0.0,
                hybrid=mean(r.hybrid_score for r in member_rows),
                generated=first.generated_score,
                judge=mean(judged) if judged else None,
                new_regressions=len(first.regression.new_failures),
                regression_run=first.regression.passed + first.regression.failed,
                regression_rate=round(regression_rate(first), 6),
                regression_loss=round(regression_loss(first), 6),
                length=lengths[rep],
                agreement=votes[rep],
                issue=issue[rep],
                similarity=round(near[rep], 4) if near else None,
                probe=mean(scores) if scores else None,
                probe_checks=probes[rep].checks,
                probe_met=probes[rep].met,
                suspect=all(r.test_infrastructure for r in member_rows),
                representative=rep,
            )
        )
    return clusters
