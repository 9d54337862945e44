"""A dependency-free SVG line plot: score against context length (log scale), one line per
series, like Figure 1 of the RLM paper. matplotlib is not needed (and not a dependency)."""

from __future__ import annotations

import math
from html import escape

PALETTE = [
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#ff7f0e",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
]


def _fmt_tokens(n: float) -> str:
    if n >= 1024 * 1024:
        return f"{n / 1024 / 1024:g}M"
    if n >= 1024:
        return f"{n / 1024:g}K"
    return f"{n:g}"


def line_plot_svg(
    series: dict[str, list[tuple[float, float]]],
    title: str,
    x_label: str = "context length (tokens, log scale)",
    y_label: str = "score",
    width: int = 720,
    height: int = 420,
    dashed: set[str] | None = None,
) -> str:
    """`series`: name -> [(x, y)] with x > 0 and 0 <= y <= 1."""
    left, right, top, bottom = 60, 190, 40, 50
    pw, ph = width - left - right, height - top - bottom
    xs = [x for pts in series.values() for x, _ in pts if x > 0]
    if not xs:
        xs = [1.0, 2.0]
    lo, hi = math.log2(min(xs)), math.log2(max(xs))
    if hi - lo < 1e-9:
        lo, hi = lo - 1, hi + 1

    def px(x: float) -> float:
        return left + (math.log2(x) - lo) / (hi - lo) * pw

    def py(y: float) -> float:
        return top + (1 - max(0.0, min(1.0, y))) * ph

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{left + pw / 2}" y="22" text-anchor="middle" font-size="15">'
        f"{escape(title)}</text>",
    ]
    for i in range(6):  # y grid
        y = i / 5
        out.append(
            f'<line x1="{left}" y1="{py(y):.1f}" x2="{left + pw}" y2="{py(y):.1f}" '
            f'stroke="#ddd"/><text x="{left - 8}" y="{py(y) + 4:.1f}" text-anchor="end">'
            f"{y:.1f}</text>"
        )
    ticks: list[float] = []
    for x in sorted(set(xs)):  # x ticks at the measured sizes, skipping ones that would overlap
        if not ticks or px(x) - px(ticks[-1]) >= 36:
            ticks.append(x)
    for x in ticks:
        out.append(
            f'<line x1="{px(x):.1f}" y1="{top}" x2="{px(x):.1f}" y2="{top + ph}" stroke="#eee"/>'
            f'<text x="{px(x):.1f}" y="{top + ph + 18}" text-anchor="middle">'
            f"{_fmt_tokens(x)}</text>"
        )
    out.append(
        f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#333"/>'
        f'<text x="{left + pw / 2}" y="{height - 10}" text-anchor="middle">'
        f"{escape(x_label)}</text>"
        f'<text x="16" y="{top + ph / 2}" text-anchor="middle" '
        f'transform="rotate(-90 16 {top + ph / 2})">{escape(y_label)}</text>'
    )
    for i, (name, pts) in enumerate(sorted(series.items())):
        color = PALETTE[i % len(PALETTE)]
        pts = sorted(p for p in pts if p[0] > 0)
        dash = ' stroke-dasharray="6 4"' if dashed and name in dashed else ""
        if len(pts) > 1:
            path = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in pts)
            out.append(
                f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"{dash}/>'
            )
        for x, y in pts:
            out.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3.5" fill="{color}"/>')
        ly = top + 14 + i * 18
        out.append(
            f'<line x1="{left + pw + 12}" y1="{ly - 4}" x2="{left + pw + 32}" y2="{ly - 4}" '
            f'stroke="{color}" stroke-width="2"{dash}/>'
            f'<text x="{left + pw + 38}" y="{ly}">{escape(name)}</text>'
        )
    out.append("</svg>")
    return "\n".join(out) + "\n"
