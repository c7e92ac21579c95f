"""Server-drawn SVG charts for the admin: geometry here, markup in templates.

No script and no ``style`` attribute anywhere: colours come from classes in a
static stylesheet, so the page works without JavaScript and under a strict
Content-Security-Policy. Every chart also ships its numbers as a table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

from django.utils.formats import date_format

__all__ = ["Bar", "ColumnChart", "Series", "column_chart", "nice_ceiling", "share"]

WIDTH, HEIGHT = 720, 200
# Margins leave room for the axis labels (the last day's sits at the edge).
LEFT, RIGHT, BOTTOM, TOP = 40, 24, 22, 10


@dataclass(frozen=True)
class Series:
    """One stacked layer of a column chart: a count per day."""

    label: str
    css: str
    values: dict[date, int]


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    css: str
    title: str


@dataclass(frozen=True)
class Tick:
    position: float
    text: str


@dataclass(frozen=True)
class ColumnChart:
    width: int
    height: int
    left: int
    right: int
    bars: list[Bar]
    y_ticks: list[Tick]
    x_ticks: list[Tick]
    total: int


def nice_ceiling(value: int) -> int:
    """The smallest of 1, 2, 5 × 10ⁿ at or above ``value`` (at least 1)."""
    if value <= 1:
        return 1
    scale: int = 10 ** int(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * scale:
            return step * scale
    raise AssertionError("unreachable")  # pragma: no cover


def column_chart(days: list[date], series: list[Series]) -> ColumnChart:
    """Columns per day, the series stacked bottom up in the order given."""
    totals = [sum(s.values.get(day, 0) for s in series) for day in days]
    top = nice_ceiling(max(totals, default=0))
    plot_width = WIDTH - LEFT - RIGHT
    plot_height = HEIGHT - BOTTOM - TOP
    slot = plot_width / max(len(days), 1)
    bars = []
    for index, day in enumerate(days):
        base: float = HEIGHT - BOTTOM
        for layer in series:
            count = layer.values.get(day, 0)
            if not count:
                continue
            height = count / top * plot_height
            base -= height
            bars.append(
                Bar(
                    x=round(LEFT + index * slot + slot * 0.15, 2),
                    y=round(base, 2),
                    width=round(slot * 0.7, 2),
                    height=round(height, 2),
                    css=layer.css,
                    title=f"{date_format(day, 'j M')}: {layer.label} {count}",
                )
            )
    y_ticks = [
        Tick(round(HEIGHT - BOTTOM - plot_height * value / top, 2), str(value))
        for value in sorted({0, top // 2, top})
    ]
    # A label every week, counted back from the last day so today has one.
    x_ticks = [
        Tick(round(LEFT + index * slot + slot / 2, 2), date_format(day, "j M"))
        for index, day in enumerate(days)
        if (len(days) - 1 - index) % 7 == 0
    ]
    return ColumnChart(
        width=WIDTH,
        height=HEIGHT,
        left=LEFT,
        right=WIDTH - RIGHT,
        bars=bars,
        y_ticks=y_ticks,
        x_ticks=x_ticks,
        total=sum(totals),
    )


def share(part: int, whole: int) -> int:
    """``part`` as a whole percentage of ``whole`` (0 when there is none)."""
    return round(part * 100 / whole) if whole else 0
