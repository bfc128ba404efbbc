"""Held-out halves: choose the selection settings on one half of the instances, report on the other.

Halves: an instance is in half A when sha256(instance_id), read as a number, is even, else in half B. The
rule is fixed (it depends on nothing but the id), so a partial run's halves grow into the full run's and
`--limit`/`--repos` only take instances away from both.

Fitting on one half, in this order, seeing only that half's instances and labels:
1. settings: the point of `search_space()` with the highest forced-choice accuracy (ties: the earlier point,
   and the space lists the incumbent first, then lighter agreement weights before heavier ones);
2. thresholds: for decisions without a judge (`selection.abstain_threshold_unjudged`) and, when the half
   has any, with one (`selection.abstain_threshold`, a curve of its own), the lowest confidence at which
   the half's answered instances reach the target precision with at least MIN_ANSWERED answered. A
   decision whose top cluster holds `selection.answer_share` of the candidates answers whatever the
   threshold; when no threshold reaches the target, only those answer (threshold inf).
Then the other half is reported with what was chosen, and the reverse; both directions and their spread.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field

from selection_report import choose_threshold, curve_text, risk_coverage, table

MIN_ANSWERED = 5
"""A threshold must answer at least this many instances of the fitting half (a lucky few do not decide)."""
TIE_ORDERS = (
    ("similarity", "length", "issue"),
    ("agreement", "length", "issue"),
    ("length", "agreement", "issue"),
)
"""Inside a cluster: the default (selection.config) first, then the two orders before `similarity`."""
SUPPORT_WEIGHTS = (0.25, 0.5, 1.0, 2.0)
TEST_WEIGHTS = (1.0, 0.25)
PATCH_WEIGHTS = (0.0, 0.5)
THRESHOLD_KEYS = {False: "abstain_threshold_unjudged", True: "abstain_threshold"}
FIT = "fitted"
"""The mode name of records decided with fitted settings."""

Runs = dict[str, dict[str, dict]]
"""Per setting name, per instance id: a decision (best, confidence, agreed, judged, seconds: verification
wall time)."""


def half(instance_id: str) -> str:
    """`A` when sha256(instance_id) is even, else `B`."""
    return "AB"[int(hashlib.sha256(instance_id.encode()).hexdigest(), 16) % 2]


@dataclass(frozen=True)
class Setting:
    name: str
    ranking: str
    """The named ranking (selection.config.RANKINGS) the point belongs to."""
    overrides: tuple[str, ...]
    """`key=value` config overrides (selection settings and the hybrid score's weights)."""


def search_space(probe_weights: tuple[float, ...] = (0.0,)) -> list[Setting]:
    """The settings the fit chooses from: the `verifier` ranking and the `agreement` ranking with its
    weights, each with both tie-break orders and two weights of the generated tests in the hybrid score
    (without a model they are the candidates' own tests). Probes: the `verifier` ranking sorts by them
    right after the hybrid score, with probe clusters (the default, first); `agreement` tries each of
    `probe_weights` (above 0 with probe clusters); last, `verifier` without probes at all (the ranking
    before probes counted) and with each probe weight above 0 added to the hybrid score (on a tie the
    earlier point wins)."""
    weights = [w for w in probe_weights if w]
    without = ("selection.ranking=[hybrid,support,length]", *_probes(0.0, clusters=False))
    return [
        *_verifier_points("", ("selection.ranking=verifier", *_probes(0.0, clusters=True))),
        *_agreement_points(probe_weights),
        *_verifier_points(" probes=off", without),
        *(
            p
            for w in weights
            for p in _verifier_points(
                f" probe={w:g}", ("selection.ranking=verifier", *_probes(w, clusters=True))
            )
        ),
    ]


def _verifier_points(suffix: str, probes: tuple[str, ...]) -> list[Setting]:
    space = []
    for test in TEST_WEIGHTS:
        for ties in TIE_ORDERS:
            common = (f"verifier.test_weight={test:g}", f"selection.tie_breaks=[{','.join(ties)}]")
            space.append(
                Setting(f"verifier test={test:g}{suffix} ties={ties[0]}", "verifier", (*probes, *common))
            )
    return space


def _probes(weight: float, clusters: bool) -> tuple[str, ...]:
    """Explicit, so a point means the same whatever the defaults are."""
    return (
        f"selection.probe_weight={weight:g}",
        f"selection.probe_clusters={'true' if clusters else 'false'}",
    )


def _agreement_points(probe_weights: tuple[float, ...]) -> list[Setting]:
    space = []
    for support in SUPPORT_WEIGHTS:
        for test in TEST_WEIGHTS:
            for patch in PATCH_WEIGHTS:
                for probe in probe_weights:
                    for ties in TIE_ORDERS:
                        name = f"agreement support={support:g} test={test:g} patch={patch:g}"
                        name += f" probe={probe:g}" if len(probe_weights) > 1 else ""
                        overrides = (
                            "selection.ranking=agreement",
                            f"selection.support_weight={support:g}",
                            f"verifier.test_weight={test:g}",
                            f"selection.patch_weight={patch:g}",
                            f"selection.tie_breaks=[{','.join(ties)}]",
                            *_probes(probe, clusters=probe > 0),  # a weight comes with probe clusters
                        )
                        space.append(Setting(f"{name} ties={ties[0]}", "agreement", overrides))
    return space


def _correct(record: dict, run: dict) -> float:
    return float(record["labels"].get(run["best"] or "", False))


def _accuracy(records: list[dict], runs: dict[str, dict]) -> float:
    return sum(_correct(r, runs[r["instance_id"]]) for r in records) / len(records) if records else 0.0


@dataclass
class Fit:
    setting: Setting
    thresholds: dict[bool, float]
    """Per `judged`: the chosen threshold (inf: only decisions the agreement rule settles answer)."""
    accuracy: dict[str, float] = field(default_factory=dict)
    """Forced-choice accuracy of every setting on the fitting half."""


def fit(records: list[dict], runs: Runs, space: list[Setting], precision: float) -> Fit:
    """Choose settings, then thresholds, on `records` alone (the fitting half)."""
    accuracy = {s.name: _accuracy(records, runs[s.name]) for s in space}
    best = max(space, key=lambda s: accuracy[s.name])  # max keeps the first of equals
    decided = _decided(records, runs[best.name], {})
    thresholds = {}
    for judged in (False, True):
        part = [r for r in decided if r["modes"][FIT]["judged"] == judged]
        if part:
            threshold = choose_threshold(risk_coverage(part, FIT), precision, MIN_ANSWERED)
            thresholds[judged] = math.inf if threshold is None else threshold
    return Fit(best, thresholds, accuracy)


def _decided(records: list[dict], runs: dict[str, dict], thresholds: dict[bool, float]) -> list[dict]:
    """The records with one mode, FIT: the run's decision, its label and whether it answers."""
    out = []
    for record in records:
        run = runs[record["instance_id"]]
        threshold = thresholds.get(run["judged"], math.inf)
        answered = run["agreed"] or run["confidence"] >= threshold
        decided = {**run, "correct": _correct(record, run), "answered": answered}
        out.append({**record, "modes": {FIT: decided}})
    return out


def apply(records: list[dict], runs: Runs, chosen: Fit) -> list[dict]:
    """The records as if run with the fitted settings and thresholds (mode FIT, for selection_report)."""
    return _decided(records, runs[chosen.setting.name], chosen.thresholds)


def _halves(records: list[dict]) -> dict[str, list[dict]]:
    return {h: [r for r in records if half(r["instance_id"]) == h] for h in "AB"}


def _threshold_text(chosen: Fit) -> str:
    parts = [f"{THRESHOLD_KEYS[j]}={t:.3f}" for j, t in sorted(chosen.thresholds.items())]
    return ", ".join(parts) or "no decisions"


def _figures(held_out: list[dict]) -> dict[str, float]:
    runs = [r["modes"][FIT] for r in held_out]
    rnd = sum(r["random"] for r in held_out) / len(held_out)
    orc = sum(r["oracle"] for r in held_out) / len(held_out)
    forced = sum(m["correct"] for m in runs) / len(runs)
    answered = [m for m in runs if m["answered"]]
    return {
        "forced choice": forced,
        "gap closed": (forced - rnd) / (orc - rnd) if orc > rnd else math.nan,
        "coverage": len(answered) / len(runs),
        "precision": sum(m["correct"] for m in answered) / len(answered) if answered else math.nan,
    }


def precision_ceiling(decided: list[dict]) -> tuple[float, int, int]:
    """The highest precision any choice could reach while the 3/4 rule answers: (ceiling, W, O).

    W: agreed decisions on instances where no candidate resolves (wrong whatever is chosen); O: instances
    where one resolves. Even answering every one of the O right and abstaining on everything else gives
    O / (O + W)."""
    wrong = sum(1 for r in decided if r["modes"][FIT]["agreed"] and not r["oracle"])
    solvable = sum(1 for r in decided if r["oracle"])
    return (solvable / (solvable + wrong) if solvable + wrong else math.nan), wrong, solvable


def _by_rule(decided: list[dict]) -> str:
    """What the 3/4 rule answers and what the threshold answers, each with its precision, and the
    precision no choice can pass while the rule answers."""
    runs = [r["modes"][FIT] for r in decided]
    parts = []
    for name, part in (
        ("the 3/4 rule (agreed)", [m for m in runs if m["agreed"]]),
        ("the threshold", [m for m in runs if m["answered"] and not m["agreed"]]),
    ):
        right = sum(m["correct"] for m in part)
        precision = f"precision {right / len(part):.3f}" if part else "precision n/a"
        parts.append(f"{name} answers {len(part)} of {len(runs)}, {precision}")
    ceiling, wrong, solvable = precision_ceiling(decided)
    parts.append(
        f"ceiling {ceiling:.3f}: the rule answers {wrong} where no candidate resolves, {solvable} have one"
    )
    return "; ".join(parts)


def two_fold(
    records: list[dict], runs: Runs, space: list[Setting], precision: float
) -> list[tuple[str, Fit, list[dict]]]:
    """(direction, fit on one half, the other half's records) for A->B and B->A."""
    halves = _halves(records)
    return [
        (f"{a}->{b}", fit(halves[a], runs, space, precision), halves[b])
        for a, b in (("A", "B"), ("B", "A"))
        if halves[a] and halves[b]
    ]


def report(records: list[dict], runs: Runs, space: list[Setting], precision: float, mode: str) -> str:
    """Both directions (settings chosen, held-out table per repository, risk-coverage curve), their
    spread, and which named ranking wins held out."""
    halves = _halves(records)
    lines = [
        f"== held-out halves (mode `{mode}`): A = sha256(instance_id) even ({len(halves['A'])} instances), "
        f"B = odd ({len(halves['B'])}); target precision {precision:.2f} ==",
        f"search space ({len(space)} settings, ties -> the earlier one):",
        *[f"  {s.name}: {' '.join(s.overrides)}" for s in space],
    ]
    folds = two_fold(records, runs, space, precision)
    if not folds:
        return "\n".join([*lines, "both halves need instances: nothing to report yet"])
    figures = {}
    for direction, chosen, held_out in folds:
        top = sorted(chosen.accuracy.items(), key=lambda kv: -kv[1])[:3]
        decided = apply(held_out, runs, chosen)
        figures[direction] = _figures(decided)
        lines += [
            f"-- {direction}: fitted on {len(records) - len(held_out)} instances: {chosen.setting.name} "
            f"(forced {chosen.accuracy[chosen.setting.name]:.3f} there; best three: "
            + ", ".join(f"{n} {a:.3f}" for n, a in top)
            + f"), {_threshold_text(chosen)}",
            f"   reported on the other {len(held_out)}:",
            table(decided, FIT),
            "   " + _by_rule(decided),
            "   risk-coverage on the held-out half (`agreed` decisions always answer):",
            curve_text(risk_coverage(decided, FIT)),
        ]
    if len(figures) == 2:
        (d1, f1), (d2, f2) = figures.items()
        lines.append(f"-- spread: {'':14}{d1:>8}{d2:>8}{'|diff|':>8}")
        for key in f1:
            lines.append(f"   {key:<20}{f1[key]:8.3f}{f2[key]:8.3f}{abs(f1[key] - f2[key]):8.3f}")
    lines.append("-- named rankings held out (fitted within each, forced choice on the held-out half):")
    for name in dict.fromkeys(s.ranking for s in space):
        sub = [s for s in space if s.ranking == name]
        held = [
            (direction, fitted, apply(other, runs, fitted))
            for direction, fitted, other in two_fold(records, runs, sub, precision)
        ]
        right = sum(r["modes"][FIT]["correct"] for *_, rs in held for r in rs)
        total = sum(len(rs) for *_, rs in held)
        lines.append(
            f"   {name:<10} "
            + ", ".join(f"{d} {_figures(rs)['forced choice']:.3f} ({f.setting.name})" for d, f, rs in held)
            + f"; both {right:.0f}/{total}"
        )
    return "\n".join(lines)
