"""Figures of benchmarks/selection_quality.py from its per-instance results (results.jsonl).

Per instance: random = expected accuracy of a uniform pick; majority = label of the largest non-empty
normalized-patch group (ties averaged); swescale = label of the decision's best candidate (forced choice),
and with abstention honoured: coverage (answered share) and precision (accuracy on answered); oracle = any
candidate resolved. gap closed = (x - random) / (oracle - random). Seconds = verification wall time.
"""

from __future__ import annotations

from collections import defaultdict


def _avg(values: list[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


def _gap(x: float, rnd: float, orc: float) -> str:
    return f"{(x - rnd) / (orc - rnd):.1%}" if orc > rnd else "n/a"


def _column(results: list[dict], mode: str, threshold: float | None) -> dict[str, str]:
    results = [r for r in results if mode in r["modes"]]
    rnd, orc = _avg([r["random"] for r in results]), _avg([r["oracle"] for r in results])
    maj = _avg([r["majority"] for r in results])
    runs = [r["modes"][mode] for r in results if mode in r["modes"]]
    forced = _avg([m["correct"] for m in runs])
    answered = [m for m in runs if _answers(m, threshold)]
    precision = _avg([m["correct"] for m in answered])
    return {
        "instances": str(len(results)),
        "random (expected)": f"{rnd:.3f}",
        "majority (normalized)": f"{maj:.3f}",
        "swescale (forced choice)": f"{forced:.3f}",
        "oracle": f"{orc:.3f}",
        "gap closed: majority": _gap(maj, rnd, orc),
        "gap closed: swescale": _gap(forced, rnd, orc),
        "abstention: coverage": f"{len(answered) / len(runs):.3f}" if runs else "n/a",
        "abstention: precision": f"{precision:.3f}" if answered else "n/a",
        "verification s/instance": f"{_avg([m['seconds'] for m in runs]):.1f}",
    }


def _answers(run: dict, threshold: float | None) -> bool:
    return run["answered"] if threshold is None else run["confidence"] >= threshold


def table(results: list[dict], mode: str, threshold: float | None = None) -> str:
    """Per repository and overall, one column each."""
    by_repo: dict[str, list[dict]] = defaultdict(list)
    results = [r for r in results if mode in r["modes"]]
    for r in results:
        by_repo[r["repo"].split("/")[-1]].append(r)
    columns = {"all": _column(results, mode, threshold)}
    columns.update({repo: _column(rs, mode, threshold) for repo, rs in sorted(by_repo.items())})
    width = max(len(k) for k in next(iter(columns.values())))
    lines = [" " * width + "".join(f"{name:>10}" for name in columns)]
    for key in next(iter(columns.values())):
        lines.append(f"{key:<{width}}" + "".join(f"{col[key]:>10}" for col in columns.values()))
    return "\n".join(lines)


def risk_coverage(results: list[dict], mode: str) -> list[tuple[float, int, float, float]]:
    """(threshold, answered, coverage, precision) for every distinct confidence, highest first; decisions
    the agreement rule settles (`agreed`: selection.answer_share) answer at every threshold."""
    runs = sorted((r["modes"][mode] for r in results if mode in r["modes"]), key=lambda m: -m["confidence"])
    out = []
    for threshold in sorted({m["confidence"] for m in runs}, reverse=True):
        answered = [m for m in runs if m.get("agreed") or m["confidence"] >= threshold]
        out.append(
            (threshold, len(answered), len(answered) / len(runs), _avg([m["correct"] for m in answered]))
        )
    return out


def choose_threshold(
    curve: list[tuple[float, int, float, float]], precision: float, minimum: int = 5
) -> float | None:
    """The lowest threshold (largest coverage) whose answered instances reach `precision` (at least
    `minimum` answered, so a lucky few do not decide)."""
    ok = [t for t, n, _, p in curve if n >= minimum and p >= precision]
    return min(ok) if ok else None


def curve_text(curve: list[tuple[float, int, float, float]], points: int = 12) -> str:
    step = max(1, len(curve) // points)
    shown = curve[::step] + ([curve[-1]] if curve and curve[-1] not in curve[::step] else [])
    lines = ["threshold  answered  coverage  precision"]
    lines += [f"{t:9.3f}  {n:8d}  {c:8.3f}  {p:9.3f}" for t, n, c, p in shown]
    return "\n".join(lines)


def summarize(results: list[dict], modes: list[str], target_precision: float) -> str:
    lines = []
    for mode in modes:
        lines += [
            f"== swescale, verification mode `{mode}` (abstention at the configured threshold) ==",
            table(results, mode),
        ]
        curve = risk_coverage(results, mode)
        lines += [
            f"-- risk-coverage ({mode}): precision of the answered instances by confidence threshold",
            curve_text(curve),
        ]
        chosen = choose_threshold(curve, target_precision)
        if chosen is not None:
            answered = next(n for t, n, _, _ in curve if t == chosen)
            precision = next(p for t, _, _, p in curve if t == chosen)
            lines.append(
                f"threshold for precision >= {target_precision:.2f} (in sample): {chosen:.3f} "
                f"(answers {answered}/{len(curve and results)}, precision {precision:.3f})"
            )
        else:
            lines.append(f"no threshold reaches precision {target_precision:.2f} on >= 5 answered instances")
    if len(modes) > 1:
        base, new = modes[-1], modes[0]
        both = [r for r in results if base in r["modes"] and new in r["modes"]]
        t_new = _avg([r["modes"][new]["seconds"] for r in both])
        t_base = _avg([r["modes"][base]["seconds"] for r in both])
        same = sum(r["modes"][new]["best"] == r["modes"][base]["best"] for r in both)
        acc_new = _avg([r["modes"][new]["correct"] for r in both])
        acc_base = _avg([r["modes"][base]["correct"] for r in both])
        lines += [
            f"== verification time, same run, {len(both)} instances: `{new}` {t_new:.1f} s/instance, "
            f"`{base}` {t_base:.1f} s/instance: {t_base / t_new if t_new else float('nan'):.2f}x less",
            f"   forced-choice accuracy `{new}` {acc_new:.3f} vs `{base}` {acc_base:.3f}; "
            f"same best candidate on {same}/{len(both)}",
        ]
    return "\n".join(lines)
