"""The simulator's figures for the research page, each an inline SVG with its text alternative.

Drawn in the style of `il2.science.plots` (its palette, SVG writer, waterfall and spider), so a
virtual arm's waterfall and trajectories read like a program's. Every figure comes as `Drawn`:
the SVG element (ids prefixed, ready to inline beside other figures) and a text alternative that
states what the figure shows in words and numbers (the page's figure caption).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib as mpl
import numpy as np
from matplotlib.axes import Axes
from numpy.typing import ArrayLike, NDArray

from il2.domain.errors import InvalidInputError
from il2.science.label import LabelEfficacy
from il2.science.mechanism.pk import SIGNALS
from il2.science.plots import (
    _STYLE,
    BLUE,
    COLOURS,
    INK,
    Bar,
    Frame,
    Line,
    Thresholds,
    _empty,
    _figure,
    _svg,
    inline_svg,
    literal,
    spider,
    waterfall,
)
from il2.science.stats import Proportion, proportion

CATEGORIES = ("CR", "PR", "SD", "PD")
SIGNAL_NAMES = {
    "cd8": "CD8 T cells (IL-2R\u03b2\u03b3)",
    "nk": "NK cells (IL-2R\u03b2\u03b3)",
    "treg": "Regulatory T cells (IL-2R\u03b1\u03b2\u03b3)",
    "endothelium": "Endothelium",
}
SIGNAL_COLOURS = {"cd8": "#1f4e79", "nk": "#4c9be8", "treg": "#d1495b", "endothelium": "#edae49"}
# CD8 and NK cells share the intermediate-affinity receptor, so their curves coincide: NK dashed.
SIGNAL_DASHES = {"cd8": "solid", "nk": (0, (4, 2)), "treg": "solid", "endothelium": "solid"}
PUBLISHED = "#555555"
TRAJECTORY_LIMIT = 30
WATERFALL_LIMIT = 400


@dataclass(frozen=True, slots=True)
class Drawn:
    """A figure as an inline `<svg>` element and its text alternative (the caption)."""

    svg: str
    text: str


@dataclass(frozen=True, slots=True)
class ArmRates:
    """One arm's rates for the rates figure: its name, ORR and CR with exact 95% intervals."""

    name: str
    orr: Proportion
    cr: Proportion


def _pct(value: float) -> str:
    return f"{100.0 * value:.1f}%"


def _signed(value: float) -> str:
    return f"{value:+.0f}%"


def _tally(best: Sequence[str]) -> str:
    counts = Counter(best)
    return ", ".join(f"{c} {counts.get(c, 0)}" for c in CATEGORIES)


def _evenly(count: int, limit: int) -> NDArray[np.int64]:
    """Indices of at most `limit` of `count` items, evenly spaced (all when they fit)."""
    if count <= limit:
        return np.arange(count, dtype=np.int64)
    return np.unique(np.linspace(0, count - 1, limit).round().astype(np.int64))


def _lines_text(thresholds: Thresholds) -> str:
    return (
        f"dashed lines at {_signed(thresholds.response_pct)} (partial response) and "
        f"{_signed(thresholds.progression_pct)} (progression)"
    )


def _checked_best(best: Sequence[str], size: int) -> None:
    if len(best) != size or any(b not in CATEGORIES for b in best):
        raise InvalidInputError(
            field="best",
            value=list(best)[:5],
            allowed=f"{size} best responses, each one of {', '.join(CATEGORIES)}",
        )


def trajectories_plot(
    weeks: ArrayLike,
    change_pct: ArrayLike,
    best: Sequence[str],
    thresholds: Thresholds,
    *,
    arm: str,
    limit: int = TRAJECTORY_LIMIT,
    prefix: str = "trajectories",
) -> Drawn:
    """Tumour sum of diameters, % change from baseline, against weeks from baseline, one line
    per virtual patient (at most `limit`, evenly spaced), coloured by best overall response,
    with the RECIST partial-response and progression lines dashed. `prefix` prefixes the SVG
    ids (one per figure on a page).

    `change_pct` is (patients, len(weeks)); `best` the patients' best responses."""
    t = np.asarray(weeks, dtype=np.float64)
    y = np.asarray(change_pct, dtype=np.float64).reshape(-1, t.size)
    _checked_best(best, y.shape[0])
    chosen = _evenly(y.shape[0], limit)
    lines = tuple(
        Line("", tuple(t.tolist()), tuple(y[i].tolist()), category=best[i]) for i in chosen
    )
    shown = f"{chosen.size} of {y.shape[0]}" if chosen.size < y.shape[0] else f"{chosen.size}"
    frame = Frame(
        title=f"Tumour size over time: {arm}",
        xlabel=f"Weeks from baseline ({shown} virtual patients)",
        ylabel="Sum of diameters, change from baseline (%)",
        empty="No virtual patients to show",
        size=(8.0, 4.2),
        decorative=False,
    )
    svg = spider(lines, thresholds, frame)
    if not lines:
        text = f"Tumour size over time for {arm}: no virtual patients to show."
    else:
        text = (
            f"Tumour size over time for {shown} virtual patients of {arm}: sum of diameters as "
            f"% change from baseline, weeks 0 to {t.max():.0f}, one line per patient coloured by "
            f"best overall response ({_tally([best[i] for i in chosen])}); "
            f"{_lines_text(thresholds)}."
        )
    return Drawn(inline_svg(svg, prefix=prefix), text)


def waterfall_plot(
    change_pct: ArrayLike,
    best: Sequence[str],
    thresholds: Thresholds,
    *,
    arm: str,
    limit: int = WATERFALL_LIMIT,
    prefix: str = "waterfall",
) -> Drawn:
    """Each virtual patient's best % change of the sum of diameters from baseline, sorted,
    coloured by best overall response (at most `limit` patients, evenly spaced)."""
    change = np.asarray(change_pct, dtype=np.float64).ravel()
    _checked_best(best, change.size)
    chosen = _evenly(change.size, limit)
    bars = tuple(Bar("", float(change[i]), best[i]) for i in chosen)
    shown = f"{chosen.size} of {change.size}" if chosen.size < change.size else f"{chosen.size}"
    frame = Frame(
        title=f"Waterfall: best change in tumour size, {arm}",
        xlabel=f"Virtual patients ({shown}, evenly spaced)"
        if chosen.size < change.size
        else f"Virtual patients ({shown})",
        ylabel="Best change from baseline (%)",
        empty="No virtual patients to show",
        size=(8.0, 4.0),
        decorative=False,
    )
    svg = waterfall(bars, thresholds, frame)
    if not bars:
        text = f"Waterfall for {arm}: no virtual patients to show."
    else:
        values = change[chosen]
        text = (
            f"Waterfall of the best change in the sum of diameters for {shown} virtual patients "
            f"of {arm}: median {np.median(values):+.1f}%, from {values.min():+.1f}% to "
            f"{values.max():+.1f}%; best overall responses {_tally([best[i] for i in chosen])}; "
            f"{_lines_text(thresholds)}."
        )
    return Drawn(inline_svg(svg, prefix=prefix), text)


def occupancy_plot(
    hours: ArrayLike,
    concentration_iu_ml: ArrayLike,
    occupancy: ArrayLike,
    *,
    title: str,
) -> Drawn:
    """Serum concentration (IU/mL, log scale) and equilibrium receptor occupancy per cell type
    (the SIGNALS order, 0 to 1) against hours from the first dose."""
    h = np.asarray(hours, dtype=np.float64)
    c = np.asarray(concentration_iu_ml, dtype=np.float64)
    s = np.asarray(occupancy, dtype=np.float64)
    if c.shape != h.shape or s.shape != (h.size, len(SIGNALS)):
        raise InvalidInputError(
            field="occupancy",
            value=list(s.shape),
            allowed=f"concentration ({h.size},) and occupancy ({h.size}, {len(SIGNALS)})",
        )
    with mpl.rc_context(_STYLE):
        figure = _figure(9.0, 5.2)
        top, bottom = figure.subplots(2, 1, sharex=True)
        if h.size == 0:
            _empty(top, "No course to show")
            _empty(bottom, "")
        else:
            _concentration_panel(top, h, c)
            _occupancy_panel(bottom, h, s)
        top.set_title(literal(title))
        svg = _svg(figure, decorative=False)
    if h.size == 0:
        return Drawn(inline_svg(svg, prefix="occupancy"), f"{title}: no course to show.")
    peaks = "; ".join(
        f"{SIGNAL_NAMES[name]} peak {s[:, k].max():.2f}, mean {s[:, k].mean():.2f}"
        for k, name in enumerate(SIGNALS)
    )
    text = (
        f"{title}: serum concentration over hours {h.min():.0f} to {h.max():.0f} from the first "
        f"dose, peak {c.max():,.0f} IU/mL; receptor occupancy (fraction of receptors bound, 0 to "
        f"1) by cell type: {peaks}."
    )
    return Drawn(inline_svg(svg, prefix="occupancy"), text)


def _concentration_panel(axes: Axes, h: NDArray[np.float64], c: NDArray[np.float64]) -> None:
    axes.plot(h, np.where(c > 0, c, np.nan), color=BLUE, linewidth=1.2)
    if np.any(c > 0):
        axes.set_yscale("log")
    axes.set_ylabel("Serum IL-2 (IU/mL)")


def _occupancy_panel(axes: Axes, h: NDArray[np.float64], s: NDArray[np.float64]) -> None:
    for k, name in enumerate(SIGNALS):
        axes.plot(
            h, s[:, k], color=SIGNAL_COLOURS[name], linewidth=1.2, label=SIGNAL_NAMES[name],
            linestyle=SIGNAL_DASHES[name],
        )  # fmt: skip
    axes.set_ylim(0.0, 1.02)
    axes.set_xlim(h.min(), h.max())
    axes.set_ylabel("Receptor occupancy")
    axes.set_xlabel("Hours from the first dose")
    axes.legend(fontsize="x-small", loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)


def label_rates(label: LabelEfficacy) -> ArmRates:
    """The label pool's ORR and CR, with exact 95% intervals recomputed from its counts."""
    orr = proportion(label.objective, label.patients)
    cr = proportion(label.complete, label.patients)
    if orr is None or cr is None:  # pragma: no cover - the label file requires patients >= 1
        raise InvalidInputError(field="patients", value=label.patients, allowed="1 or more")
    return ArmRates(f"Label pool ({label.patients} patients)", orr, cr)


def rates_plot(arms: Sequence[ArmRates], published: ArmRates | None) -> Drawn:
    """ORR and CR of each virtual arm with exact 95% intervals, the published figures beside
    (a grey row), one panel per rate."""
    rows = [*arms, *([published] if published is not None else [])]
    with mpl.rc_context(_STYLE):
        figure = _figure(8.0, max(2.6, 0.45 * len(rows) + 1.6))
        panels = figure.subplots(1, 2, sharey=True)
        for axes, (name, what) in zip(
            panels, (("Objective response (CR + PR)", "orr"), ("Complete response", "cr")),
            strict=True,
        ):  # fmt: skip
            if not rows:
                _empty(axes, "No arms")
            else:
                _rates_panel(axes, rows, what, has_published=published is not None)
            axes.set_title(name, fontsize=10)
        svg = _svg(figure, decorative=False)
    if not rows:
        return Drawn(inline_svg(svg, prefix="rates"), "Response rates: no arms to show.")
    parts = [
        f"{row.name}: ORR {_pct(row.orr.value)} (95% CI {_pct(row.orr.ci95[0])} to "
        f"{_pct(row.orr.ci95[1])}), CR {_pct(row.cr.value)} (95% CI {_pct(row.cr.ci95[0])} to "
        f"{_pct(row.cr.ci95[1])})"
        for row in rows
    ]
    text = "Response rates with exact (Clopper-Pearson) 95% intervals. " + "; ".join(parts) + "."
    return Drawn(inline_svg(svg, prefix="rates"), text)


def _rates_panel(axes: Axes, rows: Sequence[ArmRates], what: str, *, has_published: bool) -> None:
    y = np.arange(len(rows))[::-1]
    for row, at in zip(rows, y, strict=True):
        rate: Proportion = getattr(row, what)
        last = has_published and row is rows[-1]
        colour = PUBLISHED if last else COLOURS["CR" if what == "cr" else "PR"]
        low, high = 100.0 * rate.ci95[0], 100.0 * rate.ci95[1]
        axes.plot([low, high], [at, at], color=colour, linewidth=2.0, solid_capstyle="butt")
        axes.plot(
            [100.0 * rate.value], [at], marker="D" if last else "o", color=colour, markersize=6
        )
    axes.set_yticks(y, [literal(row.name) for row in rows], fontsize=8)
    axes.set_xlim(left=0.0)
    axes.set_xlabel("% of patients (95% CI)")
    axes.tick_params(axis="y", colors=INK)
