"""Charts drawn on the server as inline SVG: no chart library, no script, nothing fetched. Each
chart has a title and a description for screen readers, and the page lists its figures in a
table beside it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

HEIGHT = 160
BAR = 8  # width of one bar; a period's group is its bars side by side and a gap
GAP = 6
AXIS = 28  # room for the labels under the bars and the scale on the left


@dataclass(frozen=True)
class Series:
    name: str
    css: str  # the class that colours it (console.css)
    values: Sequence[int]


def grouped_bars(chart_id: str, title: str, periods: Sequence[str], series: Sequence[Series]) -> Markup:
    """One group of bars per period, one bar per series; the tallest bar fills the height."""
    top = max((v for s in series for v in s.values), default=0) or 1
    group = BAR * len(series) + GAP
    width = AXIS + group * max(len(periods), 1)
    parts = [
        f'<svg class="chart" id="{escape(chart_id)}" viewBox="0 0 {width} {HEIGHT + AXIS}" role="img" '
        f'aria-labelledby="{escape(chart_id)}-t {escape(chart_id)}-d" preserveAspectRatio="xMinYMin meet">',
        f'<title id="{escape(chart_id)}-t">{escape(title)}</title>',
        f'<desc id="{escape(chart_id)}-d">{escape(_description(periods, series))}</desc>',
        f'<text class="axis" x="0" y="10">{top}</text>',
        f'<line class="axis" x1="{AXIS - 2}" y1="0" x2="{AXIS - 2}" y2="{HEIGHT}"/>',
    ]
    for i, period in enumerate(periods):
        x0 = AXIS + i * group
        for j, s in enumerate(series):
            value = s.values[i]
            h = round(HEIGHT * value / top)
            parts.append(
                f'<rect class="{escape(s.css)}" x="{x0 + j * BAR}" y="{HEIGHT - h}" width="{BAR - 1}" '
                f'height="{h}"><title>{escape(period)} {escape(s.name)}: {value}</title></rect>'
            )
        if _labelled(i, len(periods)):
            parts.append(f'<text class="axis" x="{x0}" y="{HEIGHT + 14}">{escape(period[-5:])}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _labelled(i: int, n: int) -> bool:
    """A label under every period while they fit, else under every few."""
    step = max(1, n // 8)
    return i % step == 0


def _description(periods: Sequence[str], series: Sequence[Series]) -> str:
    if not periods:
        return "没有数据 No data"
    totals = ", ".join(f"{s.name} {sum(s.values)}" for s in series)
    return f"{periods[0]} — {periods[-1]}: {totals}"
