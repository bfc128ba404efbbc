"""Small dependency-free SVG charts for `report.html`: a line over binned points and horizontal bars."""

from __future__ import annotations

from html import escape

WIDTH, HEIGHT, PAD = 520, 220, 40


def binned_rate(pairs: list[tuple[float, bool]], bins: int = 5) -> list[tuple[float, float, int]]:
    """(mean x, share of True, count) in ascending x: one point per distinct x when there are at most
    `bins` of them, else `bins` groups of equal size."""
    ordered = sorted(pairs)
    if not ordered:
        return []
    distinct = sorted({x for x, _ in ordered})
    if len(distinct) <= bins:
        chunks = [[p for p in ordered if p[0] == x] for x in distinct]
    else:
        chunks = [ordered[b * len(ordered) // bins : (b + 1) * len(ordered) // bins] for b in range(bins)]
    out = []
    for chunk in chunks:
        if chunk:
            out.append(
                (
                    sum(x for x, _ in chunk) / len(chunk),
                    sum(1 for _, y in chunk if y) / len(chunk),
                    len(chunk),
                )
            )
    return out


def _fmt(value: float) -> str:
    if value >= 1e6:
        return f"{value / 1e6:.1f}M"
    if value >= 1e4:
        return f"{value / 1e3:.0f}k"
    return f"{value:g}" if value == int(value) else f"{value:.1f}"


def rate_chart(points: list[tuple[float, float, int]], x_label: str, y_label: str = "resolve rate") -> str:
    """A line of (x, rate in 0..1, n) points; each point labelled with its rate and count."""
    if not points:
        return '<p class="empty">no graded data</p>'
    low, high = min(p[0] for p in points), max(p[0] for p in points)
    span = (high - low) or 1.0
    inner_w, inner_h = WIDTH - 2 * PAD, HEIGHT - 2 * PAD

    def xy(x: float, y: float) -> tuple[float, float]:
        margin = 24  # keeps the end points' labels off the axis
        px = PAD + (inner_w / 2 if high == low else margin + (x - low) / span * (inner_w - 2 * margin))
        return px, HEIGHT - PAD - y * inner_h

    coords = [xy(x, y) for x, y, _ in points]
    parts = [
        f'<svg class="chart" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}">',
        f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}" stroke="#888"/>',
        f'<line x1="{PAD}" y1="{PAD}" x2="{PAD}" y2="{HEIGHT - PAD}" stroke="#888"/>',
        f'<text x="{PAD - 6}" y="{PAD + 4}" text-anchor="end" font-size="10">100%</text>',
        f'<text x="{PAD - 6}" y="{HEIGHT - PAD}" text-anchor="end" font-size="10">0%</text>',
        '<polyline fill="none" stroke="#2a6fdb" stroke-width="2" points="'
        + " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
        + '"/>',
    ]
    for (px, py), (x, rate, n) in zip(coords, points, strict=True):
        parts.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="4" fill="#2a6fdb"/>')
        parts.append(
            f'<text x="{px:.1f}" y="{py - 8:.1f}" text-anchor="middle" font-size="10">'
            f"{rate:.0%} (n={n})</text>"
        )
        parts.append(
            f'<text x="{px:.1f}" y="{HEIGHT - PAD + 14}" text-anchor="middle" font-size="10">{_fmt(x)}</text>'
        )
    parts.append(
        f'<text x="{WIDTH / 2}" y="{HEIGHT - 6}" text-anchor="middle" font-size="11">{escape(x_label)}</text>'
    )
    parts.append(
        f'<text x="12" y="{HEIGHT / 2}" transform="rotate(-90 12 {HEIGHT / 2})" text-anchor="middle" '
        f'font-size="11">{escape(y_label)}</text></svg>'
    )
    return "".join(parts)


def bar_chart(items: list[tuple[str, float]], unit: str) -> str:
    """Horizontal bars, one per (label, value), scaled to the largest value."""
    if not items:
        return '<p class="empty">no data</p>'
    top = max(v for _, v in items) or 1.0
    row, label_w = 24, 130
    height = row * len(items) + 10
    parts = [f'<svg class="chart" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}">']
    for i, (label, value) in enumerate(items):
        y = 5 + i * row
        width = (WIDTH - label_w - 90) * value / top
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end" font-size="11">{escape(label)}</text>'
        )
        parts.append(f'<rect x="{label_w}" y="{y + 3}" width="{width:.1f}" height="16" fill="#e08a2c"/>')
        parts.append(
            f'<text x="{label_w + width + 6:.1f}" y="{y + 15}" font-size="11">{_fmt(value)} {escape(unit)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
