"""Every figure il2 draws, with matplotlib (Agg canvas, no pyplot state), returned as SVG text.

One style, one palette and one SVG writer serve both audiences: the program report (waterfall,
swimmer, spider and Kaplan-Meier of a `Program`) and a patient's pages (the response page's
waterfall and spider, the flowsheet's trend). `waterfall` and `spider` take plain inputs (bars,
lines, the RECIST thresholds) so that one patient and a whole program are drawn by the same
function; the `*_plot` functions only turn a `Program` into those inputs.

Output is deterministic: fixed SVG ids (a fixed hash salt), no creation date (a de-identified
page must not carry the day it was drawn, which can be a day of care), text kept as text.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import matplotlib as mpl
import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator
from matplotlib.typing import RcKeyType
from numpy.typing import NDArray

from il2.domain.recist import RecistCriteria
from il2.science.dataset import BEST_RESPONSES, DIAGNOSES, Program
from il2.science.series import spider as spider_series
from il2.science.series import swimmer
from il2.science.series import waterfall as waterfall_series
from il2.science.survival import (
    DAYS_PER_MONTH,
    KaplanMeier,
    fit,
    overall_survival,
    progression_free_survival,
)

_STYLE: dict[RcKeyType, Any] = {
    "svg.fonttype": "none",  # text stays text: smaller, and sharp at any zoom
    "svg.hashsalt": "il2",  # the same data draws the same SVG
    "font.size": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": False,
}
COLOURS: dict[str | None, str] = {
    "CR": "#1f4e79",
    "PR": "#4c9be8",
    "SD": "#9e9e9e",
    "PD": "#d1495b",
    "NE": "#edae49",
    "non-CR/non-PD": "#bdbdbd",  # a patient with non-target disease only
    None: "#d9d9d9",
}
_KEY_ORDER = (*BEST_RESPONSES, "non-CR/non-PD")
DIAGNOSIS_COLOURS = {"renal_cell_carcinoma": "#1f77b4", "melanoma": "#d62728"}
DIAGNOSIS_NAMES = {"renal_cell_carcinoma": "Renal cell carcinoma", "melanoma": "Melanoma"}
INK = "#1a1a1a"
BLUE = "#0b5cad"
GRID = "#d9d9d9"
THRESHOLD = "#555555"
PROGRESSION_MARK = "PD at this assessment"
_CACHED = 256


@dataclass(frozen=True, slots=True)
class Thresholds:
    """The RECIST lines drawn on a waterfall or spider, in % change from baseline."""

    response_pct: float
    progression_pct: float

    @classmethod
    def of(cls, criteria: RecistCriteria) -> Thresholds:
        """The lines of the loaded RECIST criteria: PR at its decrease from baseline, PD at its
        increase (which RECIST measures from the nadir; on a best-change waterfall the nadir
        is the baseline whenever a bar reaches the line)."""
        return cls(
            response_pct=float(criteria.pr_change_from_baseline_pct),
            progression_pct=float(criteria.pd_change_from_nadir_pct),
        )


@dataclass(frozen=True, slots=True)
class Bar:
    """One waterfall bar: its label (empty: no tick), % change, and the RECIST category that
    colours it (a patient's best overall response; None when not assessed)."""

    label: str
    change_pct: float
    category: str | None


@dataclass(frozen=True, slots=True)
class Line:
    """One spider line: % change from baseline against weeks (None where not measured).

    A line with a `category` is coloured by it and keyed by category (a program's patients); one
    without is keyed by its own label (a patient's lesions). `progressed` marks the points RECIST
    judged progression at (from the nadir), drawn with their own key.
    """

    label: str
    weeks: tuple[float, ...]
    change_pct: tuple[float | None, ...]
    category: str | None = None
    bold: bool = False
    progressed: tuple[bool, ...] = ()


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


@dataclass(frozen=True, slots=True)
class Frame:
    """What surrounds a figure's data: its title, axis labels, what to say when there is nothing
    to draw, its size in inches, and whether it is decorative (beside a table of the same
    numbers, so hidden from screen readers: a patient's pages) or not (the report)."""

    title: str
    xlabel: str = ""
    ylabel: str = "Change from baseline (%)"
    empty: str = ""
    size: tuple[float, float] = (6.0, 3.2)
    decorative: bool = True


def _figure(width_in: float, height_in: float, *, left_in: float | None = None) -> Figure:
    """A figure laid out by matplotlib, or with a fixed left margin (`left_in`) for labels
    written outside the axes, which the layout engine would not make room for."""
    if left_in is None:
        figure = Figure(figsize=(width_in, height_in), layout="constrained")
    else:
        figure = Figure(figsize=(width_in, height_in))
        figure.subplots_adjust(
            left=left_in / width_in,
            right=1 - 0.2 / width_in,
            top=1 - 0.4 / height_in,
            bottom=0.55 / height_in,
        )
    FigureCanvasAgg(figure)
    return figure


def _svg(figure: Figure, *, decorative: bool) -> str:
    """The figure as an `<svg>` element (no XML prolog). A decorative figure, one that sits
    beside a table of the same numbers, is hidden from screen readers."""
    buffer = io.StringIO()
    with mpl.rc_context(_STYLE):
        figure.savefig(
            buffer,
            format="svg",
            metadata={"Date": None, "Creator": None, "Format": None, "Type": None},
        )
    text = buffer.getvalue()
    element = text[text.index("<svg") :]
    if decorative:
        return element.replace("<svg ", '<svg aria-hidden="true" focusable="false" ', 1)
    return element


_NAMESPACES = re.compile(r'\s+xmlns(?::\w+)?="[^"]*"')
_IDS = re.compile(r'(\bid="|href="#|url\(#)([^")]+)')


def inline_svg(svg: str, *, prefix: str) -> str:
    """An SVG document as an element for an HTML page: no prolog, no namespaces, ids prefixed
    (so that several figures on one page never share an id)."""
    element = _NAMESPACES.sub("", svg[svg.index("<svg") :])
    return _IDS.sub(lambda m: f"{m.group(1)}{prefix}-{m.group(2)}", element)


def literal(text: str) -> str:
    """`text` as matplotlib shows it literally: `$` would start mathtext, which a label
    typed by a user (a lesion id such as `$x^{$`) can break, failing the whole page."""
    return text.replace("$", r"\$")


def _empty(axes: Axes, message: str) -> None:
    axes.text(0.5, 0.5, message, ha="center", va="center", transform=axes.transAxes)
    axes.set_xticks([])
    axes.set_yticks([])


def _shown(shown: int, total: int) -> str:
    return f"{total} patients" if shown == total else f"{shown} of {total} patients, evenly spaced"


def _thresholds(axes: Axes, thresholds: Thresholds) -> None:
    axes.axhline(thresholds.progression_pct, color=THRESHOLD, linestyle="--", linewidth=0.8)
    axes.axhline(thresholds.response_pct, color=THRESHOLD, linestyle="--", linewidth=0.8)
    axes.axhline(0.0, color=INK, linewidth=0.6)
    axes.yaxis.set_major_locator(MaxNLocator(6))


def _category_key(present: Iterable[str | None]) -> list[Patch]:
    """Legend patches for the categories present, in RECIST order (not assessed last)."""
    shown = set(present)
    key = [Patch(color=COLOURS[c], label=c) for c in _KEY_ORDER if c in shown]
    if None in shown:
        key.append(Patch(color=COLOURS[None], label="Not assessed"))
    return key


def _points(xs: Sequence[float], values: Sequence[float | None]) -> tuple[list[float], list[float]]:
    pairs = [(x, v) for x, v in zip(xs, values, strict=True) if v is not None]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def _drawn(frame: Frame, draw: Callable[[Axes], None] | None) -> str:
    """One set of axes framed by `frame`, drawn by `draw` (or saying `frame.empty`), as SVG."""
    with mpl.rc_context(_STYLE):
        figure = _figure(*frame.size)
        axes = figure.add_subplot()
        if draw is None:
            _empty(axes, frame.empty)
        else:
            draw(axes)
            axes.set_xlabel(frame.xlabel)
            axes.set_ylabel(frame.ylabel)
        axes.set_title(literal(frame.title))
        return _svg(figure, decorative=frame.decorative)


@lru_cache(maxsize=_CACHED)
def waterfall(bars: tuple[Bar, ...], thresholds: Thresholds, frame: Frame) -> str:
    """Bars of best % change from baseline, largest increase first, coloured by RECIST
    category (with its key), the PR and PD lines dashed. Bars are labelled only if every one
    has a label (a patient's lesions; a program's patients go unnamed)."""
    order = sorted(bars, key=lambda bar: -bar.change_pct)

    def draw(axes: Axes) -> None:
        x = np.arange(len(order))
        named = all(bar.label for bar in order)
        axes.bar(
            x,
            [bar.change_pct for bar in order],
            width=0.8 if named else 1.0,
            color=[COLOURS[bar.category] for bar in order],
            linewidth=0,
        )
        _thresholds(axes, thresholds)
        axes.set_xlim(-0.5, len(order) - 0.5)
        if named:
            axes.set_xticks(x, [literal(bar.label) for bar in order], fontsize=8)
        else:
            axes.set_xticks([])
        key = _category_key(bar.category for bar in order)
        axes.legend(handles=key, title="Best response", fontsize="small", loc="best")

    return _drawn(frame, draw if order else None)


def _progression_marks(axes: Axes, lines: Sequence[Line]) -> None:
    at = [
        (week, value)
        for line in lines
        for week, value, progressed in zip(
            line.weeks, line.change_pct, line.progressed, strict=False
        )
        if progressed and value is not None
    ]
    if at:
        xs, ys = zip(*at, strict=True)
        axes.scatter(
            xs, ys, marker="x", s=40, color=COLOURS["PD"], zorder=4, label=PROGRESSION_MARK
        )


@lru_cache(maxsize=_CACHED)
def spider(lines: tuple[Line, ...], thresholds: Thresholds, frame: Frame) -> str:
    """% change from baseline over time, one line per patient (coloured by best response) or
    per lesion (a bold line for the sum), the PR and PD lines dashed, and a mark wherever
    RECIST judged progression."""

    def draw(axes: Axes) -> None:
        for best in _KEY_ORDER:
            paths = [
                np.column_stack(_points(line.weeks, line.change_pct))
                for line in lines
                if line.category == best
            ]
            if paths:
                axes.add_collection(
                    LineCollection(paths, colors=COLOURS[best], linewidths=0.8, label=best)
                )
        for line in lines:
            if line.category is None:
                axes.plot(
                    *_points(line.weeks, line.change_pct),
                    marker="o",
                    ms=4,
                    lw=2.4 if line.bold else 1,
                    color=INK if line.bold else None,
                    label=literal(line.label),
                    zorder=3 if line.bold else 2,
                )
        _progression_marks(axes, lines)
        axes.autoscale_view()
        _thresholds(axes, thresholds)
        axes.xaxis.set_major_locator(MaxNLocator(6))
        keyed = any(line.category for line in lines)
        axes.legend(title="Best response" if keyed else None, fontsize="small", loc="best")

    return _drawn(frame, draw if lines else None)


def _format_number(value: float) -> str:
    """A value as a strip's label shows it: thousands separated, at most one decimal."""
    return f"{value:,.1f}".rstrip("0").rstrip(".") if value % 1 else f"{value:,.0f}"


@lru_cache(maxsize=_CACHED)
def trend(labels: tuple[str, ...], series: tuple[Series, ...]) -> str:
    """One strip per quantity, doses along the bottom, each strip scaled to its own range.

    A strip is labelled with its lowest and highest value: the trend is what the plot shows,
    the exact values are in the table beside it (so the figure is decorative). One set of axes
    and fixed margins keep it fast to draw.
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
            extent = (
                _format_number(low)
                if low == high
                else f"{_format_number(low)} to {_format_number(high)}"
            )
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
        return _svg(figure, decorative=True)


def waterfall_plot(program: Program, thresholds: Thresholds, *, limit: int = 400) -> str:
    """Best % change in target lesions per patient, sorted, coloured by best response."""
    data = waterfall_series(program, limit=limit)
    bars = tuple(
        Bar("", float(change), best)
        for change, best in zip(data.change_pct, data.best, strict=True)
    )
    frame = Frame(
        title="Waterfall: best change in the sum of target lesions",
        xlabel=f"Patients ({_shown(data.change_pct.size, data.total)})",
        ylabel="Best change from baseline (%)",
        empty="No measured responses",
        size=(8.0, 4.0),
        decorative=False,
    )
    return waterfall(bars, thresholds, frame)


def spider_plot(program: Program, thresholds: Thresholds, *, limit: int = 150) -> str:
    """% change from baseline over time per patient, coloured by best response."""
    data = spider_series(program, limit=limit)
    lines = tuple(
        Line("", tuple(t.weeks.tolist()), tuple(t.change_pct.tolist()), category=t.best)
        for t in data.trajectories
    )
    frame = Frame(
        title="Spider: change in target lesions over time",
        xlabel=f"Weeks from first dose ({_shown(len(data.trajectories), data.total)})",
        empty="No response assessments",
        size=(8.0, 4.5),
        decorative=False,
    )
    return spider(lines, thresholds, frame)


def swimmer_plot(program: Program, *, limit: int = 60) -> str:
    """Time on study per treated patient, with response, progression and death marked."""
    data = swimmer(program, limit=limit)
    with mpl.rc_context(_STYLE):
        figure = _figure(8.0, max(3.0, 0.12 * len(data.lanes) + 1.5))
        axes = figure.add_subplot()
        if not data.lanes:
            _empty(axes, "No treated patients")
        else:
            y = np.arange(len(data.lanes))[::-1]
            axes.barh(
                y,
                [lane.months for lane in data.lanes],
                height=0.7,
                color=[COLOURS[lane.best] for lane in data.lanes],
            )
            marks = (
                ([lane.response_months for lane in data.lanes], "^", INK, "Response"),
                ([lane.progression_months for lane in data.lanes], "x", "#b00020", "Progression"),
                ([lane.months if lane.died else None for lane in data.lanes], "s", INK, "Death"),
                (
                    [None if lane.died else lane.months for lane in data.lanes],
                    ">",
                    THRESHOLD,
                    "Alive",
                ),
            )
            for months, marker, colour, label in marks:
                at = [(m, row) for m, row in zip(months, y, strict=True) if m is not None]
                if at:
                    xs, ys = zip(*at, strict=True)
                    axes.scatter(xs, ys, marker=marker, color=colour, s=14, label=label, zorder=3)
            axes.set_yticks([])
            axes.set_ylabel(_shown(len(data.lanes), data.total))
            axes.set_xlabel("Months from first dose")
            axes.set_xlim(left=0)
            markers: list[Any] = axes.get_legend_handles_labels()[0]
            bars = _category_key(lane.best for lane in data.lanes)
            axes.legend(handles=[*bars, *markers], fontsize="small", loc="lower right", ncols=2)
        axes.set_title("Swimmer: time on study, coloured by best response")
        return _svg(figure, decorative=False)


def _at_risk(axes: Axes, estimates: dict[str, KaplanMeier], ticks: NDArray[np.float64]) -> None:
    axes.annotate(
        "At risk",
        xy=(0, 0),
        xycoords="axes fraction",
        xytext=(-4, -34),
        textcoords="offset points",
        ha="right",
        fontsize="x-small",
    )
    for row, (diagnosis, estimate) in enumerate(estimates.items()):
        counts = estimate.at_risk_at(ticks * DAYS_PER_MONTH)
        for month, count in zip(ticks, counts, strict=True):
            axes.annotate(
                str(count),
                xy=(month, 0),
                xycoords=("data", "axes fraction"),
                xytext=(0, -46 - 10 * row),
                textcoords="offset points",
                ha="center",
                fontsize="x-small",
                color=DIAGNOSIS_COLOURS[diagnosis],
            )


def _survival_panel(axes: Axes, estimates: dict[str, KaplanMeier], *, at_risk: bool) -> None:
    longest = 0.0
    for diagnosis, estimate in estimates.items():
        if estimate.n_ == 0:
            continue
        months = estimate.timeline_ / DAYS_PER_MONTH
        longest = max(longest, float(months[-1]))
        colour = DIAGNOSIS_COLOURS[diagnosis]
        axes.step(
            months,
            estimate.survival_,
            where="post",
            color=colour,
            linewidth=1.2,
            label=f"{DIAGNOSIS_NAMES[diagnosis]} (n={estimate.n_}, {estimate.events_} events)",
        )
        axes.fill_between(
            months, estimate.ci_lower_, estimate.ci_upper_, step="post", color=colour, alpha=0.15
        )
    if longest == 0.0:
        treated = any(estimate.n_ for estimate in estimates.values())
        _empty(axes, "No follow-up time yet" if treated else "No treated patients")
        return
    located = np.asarray(MaxNLocator(nbins=6, integer=True).tick_values(0, longest), np.float64)
    ticks = located[(located >= 0) & (located <= longest)]
    axes.set_xticks(ticks)
    axes.set_xlim(0, longest)
    axes.set_ylim(0, 1.02)
    axes.set_xlabel("Months from first dose")
    axes.set_ylabel("Probability")
    axes.legend(fontsize="x-small", loc="upper right")
    if at_risk:
        _at_risk(axes, {d: e for d, e in estimates.items() if e.n_}, ticks)


def kaplan_meier_plot(program: Program, *, at_risk: bool = True) -> str:
    """Overall and progression-free survival by diagnosis, with 95% bands (and numbers at risk)."""
    with mpl.rc_context(_STYLE):
        figure = _figure(10.0, 4.6 if at_risk else 4.0)
        panels = figure.subplots(1, 2, sharey=True)
        endpoints = (
            ("Overall survival", overall_survival(program)),
            ("Progression-free survival", progression_free_survival(program)),
        )
        for axes, (title, durations) in zip(panels, endpoints, strict=True):
            estimates: dict[str, KaplanMeier] = {d: fit(durations[d]) for d in DIAGNOSES}
            _survival_panel(axes, estimates, at_risk=at_risk)
            axes.set_title(f"{title} (Kaplan-Meier, 95% CI)")
        return _svg(figure, decorative=False)


@dataclass(frozen=True, slots=True)
class ReportFigures:
    """The report's four figures as SVG elements ready to inline (each one's ids prefixed by its
    name, so that no two share an id on a page), and the RECIST lines they were drawn with."""

    waterfall: str
    swimmer: str
    spider: str
    kaplan_meier: str
    thresholds: Thresholds


@lru_cache(maxsize=4)
def report_figures(program: Program, thresholds: Thresholds) -> ReportFigures:
    """The report's four figures, drawn once per program (a program is a frozen value: the same
    records give the same figures; drawing them is most of the outcomes page's time)."""
    return ReportFigures(
        waterfall=inline_svg(waterfall_plot(program, thresholds), prefix="waterfall"),
        swimmer=inline_svg(swimmer_plot(program), prefix="swimmer"),
        spider=inline_svg(spider_plot(program, thresholds), prefix="spider"),
        kaplan_meier=inline_svg(kaplan_meier_plot(program), prefix="kaplan-meier"),
        thresholds=thresholds,
    )
