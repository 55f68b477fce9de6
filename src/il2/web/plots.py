"""Plots drawn on the server as inline SVG (matplotlib, no display, no pyplot state).

Each plot sits beside a table of the same numbers, so the SVG is decoration for sighted users
and hidden from screen readers. Drawing is kept lean for speed (fixed margins instead of a
layout engine, few ticks, titles as plain text), and the same data always draws the same SVG,
so a page shown again reuses the drawing.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import matplotlib as mpl

mpl.use("Agg")

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from matplotlib.typing import RcKeyType

_STYLE: dict[RcKeyType, Any] = {
    "svg.fonttype": "none",  # text stays text: smaller, and sharp at any zoom
    "svg.hashsalt": "il2",  # the same data draws the same SVG
    "font.size": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": False,
}
INK = "#1a1a1a"
BLUE = "#0b5cad"
RED = "#b3261e"
GREEN = "#1b7a3d"
AMBER = "#8a5300"
GRID = "#d9d9d9"
_CACHED = 256


@dataclass(frozen=True, slots=True)
class Series:
    """One measured quantity over the doses: values may be missing (None)."""

    title: str
    unit: str
    values: tuple[float | None, ...]

    @property
    def measured(self) -> list[float]:
        """The values that were measured."""
        return [v for v in self.values if v is not None]


def _svg(figure: Figure) -> str:
    buffer = io.StringIO()
    with mpl.rc_context(_STYLE):
        # No render date in the file: on a researcher's page today's date can be the day of
        # the patient's care (and the page would differ from one render to the next).
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    start = text.index("<svg")
    return text[start:].replace("<svg ", '<svg aria-hidden="true" focusable="false" ', 1)


def _figure(width_in: float, height_in: float, *, left_in: float = 0.75) -> Figure:
    figure = Figure(figsize=(width_in, height_in))
    figure.subplots_adjust(
        left=left_in / width_in,
        right=1 - 0.2 / width_in,
        top=1 - 0.4 / height_in,
        bottom=0.55 / height_in,
    )
    return figure


def literal(text: str) -> str:
    """`text` as matplotlib shows it literally: `$` would start mathtext, which a label
    typed by a user (a lesion id such as `$x^{$`) can break, failing the whole page."""
    return text.replace("$", r"\$")


def _title(ax: Axes, text: str) -> None:
    ax.text(0, 1.06, literal(text), transform=ax.transAxes, fontsize=10, color=INK)


def _thresholds(ax: Axes) -> None:
    ax.axhline(20, color=RED, ls="--", lw=1)
    ax.axhline(-30, color=GREEN, ls="--", lw=1)
    ax.axhline(0, color=INK, lw=0.8)
    ax.grid(axis="y", color=GRID, lw=0.6)
    ax.yaxis.set_major_locator(MaxNLocator(5))


def _points(xs: Sequence[float], values: Sequence[float | None]) -> tuple[list[float], list[float]]:
    pairs = [(x, v) for x, v in zip(xs, values, strict=True) if v is not None]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def _number(value: float) -> str:
    return f"{value:,.1f}".rstrip("0").rstrip(".") if value % 1 else f"{value:,.0f}"


@lru_cache(maxsize=_CACHED)
def trend(labels: tuple[str, ...], series: tuple[Series, ...]) -> str:
    """One strip per quantity, doses along the bottom, each strip scaled to its own range.

    A strip is labelled with its lowest and highest value: the trend is what the plot shows,
    the exact values are in the table beside it. One set of axes keeps it fast to draw.
    """
    shown = [s for s in series if s.measured]
    if not shown or not labels:
        return ""
    x = list(range(len(labels)))
    rows = len(shown)
    step = max(1, len(labels) // 16)
    with mpl.rc_context(_STYLE):
        figure = _figure(9, 0.62 * rows + 0.75, left_in=2.3)
        ax = figure.subplots()
        for row, item in enumerate(shown):
            base = rows - 1 - row
            low, high = min(item.measured), max(item.measured)
            xs, ys = _points(x, item.values)
            if high == low:
                scaled = [base + 0.5 for _y in ys]
            else:
                scaled = [base + 0.15 + 0.7 * (y - low) / (high - low) for y in ys]
            ax.plot(xs, scaled, marker="o", ms=4, color=BLUE, lw=1.6)
            ax.axhline(base, color=GRID, lw=0.8)
            extent = _number(low) if low == high else f"{_number(low)} to {_number(high)}"
            ax.text(
                -0.04,
                base + 0.5,
                literal(f"{item.title}\n{extent} {item.unit}"),
                ha="right",
                va="center",
                fontsize=9,
                color=INK,
                transform=ax.get_yaxis_transform(),
            )
        ax.set_ylim(0, rows)
        ax.set_yticks([])
        ax.spines["left"].set_visible(False)
        ax.set_xlim(-0.5, len(labels) - 0.5)
        ax.set_xticks(x[::step], [literal(label) for label in labels[::step]], fontsize=8)
        ax.set_xlabel("dose (cycle.number)")
        return _svg(figure)


@lru_cache(maxsize=_CACHED)
def waterfall(labels: tuple[str, ...], changes_pct: tuple[float, ...]) -> str:
    """Bars of percent change from baseline, largest increase first; PR and PD lines marked."""
    if not changes_pct:
        return ""
    order = sorted(range(len(changes_pct)), key=lambda i: changes_pct[i], reverse=True)
    values = [changes_pct[i] for i in order]
    colors = [RED if v >= 20 else GREEN if v <= -30 else AMBER for v in values]
    with mpl.rc_context(_STYLE):
        figure = _figure(6, 3.2)
        ax = figure.subplots()
        ax.bar(range(len(values)), values, color=colors)
        _thresholds(ax)
        ax.set_xticks(range(len(values)), [literal(labels[i]) for i in order], fontsize=8)
        ax.set_ylabel("change from baseline (%)")
        _title(ax, "Waterfall: best change from baseline")
        return _svg(figure)


@lru_cache(maxsize=_CACHED)
def spider(
    weeks: tuple[float, ...], lines: tuple[tuple[str, tuple[float | None, ...]], ...]
) -> str:
    """Percent change from baseline over time, one line per lesion and the sum in bold."""
    if len(weeks) < 2:
        return ""
    with mpl.rc_context(_STYLE):
        figure = _figure(6, 3.2)
        ax = figure.subplots()
        for name, values in lines:
            bold = name == "sum"
            ax.plot(
                *_points(weeks, values),
                marker="o",
                ms=4,
                lw=2.4 if bold else 1,
                color=INK if bold else None,
                label=literal(name),
                zorder=3 if bold else 2,
            )
        _thresholds(ax)
        ax.xaxis.set_major_locator(MaxNLocator(6))
        ax.set_xlabel("weeks from baseline")
        ax.set_ylabel("change from baseline (%)")
        _title(ax, "Spider: change over time")
        ax.legend(fontsize=8, frameon=False, loc="lower left")
        return _svg(figure)
