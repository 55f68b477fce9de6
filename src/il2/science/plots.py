"""The report's figures, drawn with matplotlib (Agg canvas, no pyplot) and returned as SVG text.

Each function takes the `Program`, asks `series` or `survival` for what to show, and only draws.
Output is deterministic: fixed SVG ids (a fixed hash salt), no creation date, text kept as text.
"""

from __future__ import annotations

import io

import matplotlib as mpl
import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator
from numpy.typing import NDArray

from il2.science.dataset import BEST_RESPONSES, DIAGNOSES, Program
from il2.science.series import spider, swimmer, waterfall
from il2.science.survival import (
    DAYS_PER_MONTH,
    KaplanMeier,
    fit,
    overall_survival,
    progression_free_survival,
)

COLOURS = {
    "CR": "#1f4e79",
    "PR": "#4c9be8",
    "SD": "#9e9e9e",
    "PD": "#d1495b",
    "NE": "#edae49",
    None: "#d9d9d9",
}
DIAGNOSIS_COLOURS = {"renal_cell_carcinoma": "#1f77b4", "melanoma": "#d62728"}
DIAGNOSIS_NAMES = {"renal_cell_carcinoma": "Renal cell carcinoma", "melanoma": "Melanoma"}
RESPONSE_LINE_PCT = -30.0
PROGRESSION_LINE_PCT = 20.0


def _figure(width_in: float, height_in: float) -> Figure:
    figure = Figure(figsize=(width_in, height_in), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _svg(figure: Figure) -> str:
    buffer = io.StringIO()
    with mpl.rc_context({"svg.hashsalt": "il2", "svg.fonttype": "none"}):
        figure.savefig(
            buffer,
            format="svg",
            metadata={"Date": None, "Creator": None, "Format": None, "Type": None},
        )
    return buffer.getvalue()


def _empty(axes: Axes, message: str) -> None:
    axes.text(0.5, 0.5, message, ha="center", va="center", transform=axes.transAxes)
    axes.set_xticks([])
    axes.set_yticks([])


def _shown(shown: int, total: int) -> str:
    return f"{total} patients" if shown == total else f"{shown} of {total} patients, evenly spaced"


def _response_legend(axes: Axes, present: set[str | None]) -> None:
    handles = [Patch(color=COLOURS[b], label=b) for b in BEST_RESPONSES if b in present]
    if handles:
        axes.legend(handles=handles, title="Best response", fontsize="small", loc="best")


def waterfall_plot(program: Program, *, limit: int = 400) -> str:
    """Best % change in target lesions per patient, sorted, coloured by best response."""
    data = waterfall(program, limit=limit)
    figure = _figure(8.0, 4.0)
    axes = figure.add_subplot()
    if data.total == 0:
        _empty(axes, "No measured responses")
    else:
        x = np.arange(data.change_pct.size)
        colours = [COLOURS[b] for b in data.best]
        axes.bar(x, data.change_pct, width=1.0, color=colours, linewidth=0)
        axes.axhline(PROGRESSION_LINE_PCT, color="#555555", linestyle="--", linewidth=0.8)
        axes.axhline(RESPONSE_LINE_PCT, color="#555555", linestyle="--", linewidth=0.8)
        axes.axhline(0.0, color="#000000", linewidth=0.6)
        axes.set_xlim(-0.5, data.change_pct.size - 0.5)
        axes.set_xticks([])
        axes.set_xlabel(f"Patients ({_shown(data.change_pct.size, data.total)})")
        axes.set_ylabel("Best change from baseline (%)")
        _response_legend(axes, set(data.best))
    axes.set_title("Waterfall: best change in the sum of target lesions")
    return _svg(figure)


def swimmer_plot(program: Program, *, limit: int = 60) -> str:
    """Time on study per treated patient, with response, progression and death marked."""
    data = swimmer(program, limit=limit)
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
            ([lane.response_months for lane in data.lanes], "^", "#000000", "Response"),
            ([lane.progression_months for lane in data.lanes], "x", "#b00020", "Progression"),
            ([lane.months if lane.died else None for lane in data.lanes], "s", "#000000", "Death"),
            ([None if lane.died else lane.months for lane in data.lanes], ">", "#555555", "Alive"),
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
        markers, _ = axes.get_legend_handles_labels()
        present = {lane.best for lane in data.lanes}
        bars = [Patch(color=COLOURS[b], label=b) for b in BEST_RESPONSES if b in present]
        if None in present:
            bars.append(Patch(color=COLOURS[None], label="Not assessed"))
        axes.legend(handles=[*bars, *markers], fontsize="small", loc="lower right", ncols=2)
    axes.set_title("Swimmer: time on study, coloured by best response")
    return _svg(figure)


def spider_plot(program: Program, *, limit: int = 150) -> str:
    """% change from baseline over time per patient, coloured by best response."""
    data = spider(program, limit=limit)
    figure = _figure(8.0, 4.5)
    axes = figure.add_subplot()
    if not data.trajectories:
        _empty(axes, "No response assessments")
    else:
        for best in BEST_RESPONSES:
            paths = [
                np.column_stack((t.weeks, t.change_pct))
                for t in data.trajectories
                if t.best == best
            ]
            if paths:
                axes.add_collection(
                    LineCollection(paths, colors=COLOURS[best], linewidths=0.8, label=best)
                )
        axes.autoscale_view()
        axes.axhline(PROGRESSION_LINE_PCT, color="#555555", linestyle="--", linewidth=0.8)
        axes.axhline(RESPONSE_LINE_PCT, color="#555555", linestyle="--", linewidth=0.8)
        axes.set_xlabel(f"Weeks from first dose ({_shown(len(data.trajectories), data.total)})")
        axes.set_ylabel("Change from baseline (%)")
        axes.legend(title="Best response", fontsize="small", loc="upper right")
    axes.set_title("Spider: change in target lesions over time")
    return _svg(figure)


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
    return _svg(figure)
