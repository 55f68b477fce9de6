"""The responder model's figure: its calibration curve, drawn from the summary's numbers.

Computing lives in `il2.science.prediction`; this module only draws, in the report's style
(il2.science.plots), and writes the figure's text alternative.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from matplotlib.axes import Axes

from il2.science.plots import BLUE, INK, Frame, _drawn, inline_svg

_FRAME = Frame(
    title="Calibration: observed against predicted response",
    xlabel="Predicted probability of response (out of fold)",
    ylabel="Observed response rate",
    empty="No calibration: too few patients for a model",
    size=(4.8, 3.6),
    decorative=False,
)


def calibration_plot(bins: Sequence[Mapping[str, Any]]) -> str:
    """Each group's observed response rate against its mean predicted probability (point size
    grows with the group's patients), with the line of perfect calibration; an SVG element."""
    if not bins:
        return inline_svg(_drawn(_FRAME, None), prefix="calibration")
    predicted = [float(b["predicted"]) for b in bins]
    observed = [float(b["observed"]) for b in bins]
    sizes = [12 + 2 * int(b["patients"]) for b in bins]
    top = min(1.0, max(*predicted, *observed) * 1.15 + 0.05)

    def draw(axes: Axes) -> None:
        axes.plot([0, top], [0, top], color=INK, linestyle="--", linewidth=0.8)
        axes.plot(predicted, observed, color=BLUE, linewidth=1.0)
        axes.scatter(predicted, observed, s=sizes, color=BLUE, zorder=3)
        axes.set_xlim(0, top)
        axes.set_ylim(0, top)

    return inline_svg(_drawn(_FRAME, draw), prefix="calibration")


def calibration_text(bins: Sequence[Mapping[str, Any]]) -> str:
    """The figure in words, for a reader who cannot see it."""
    if not bins:
        return "No calibration curve: too few patients for a model."
    groups = "; ".join(
        f"predicted {100 * b['predicted']:.0f}%, observed {100 * b['observed']:.0f}% "
        f"({b['events']} of {b['patients']})"
        for b in bins
    )
    return f"Observed against predicted response in {len(bins)} equal-count groups: {groups}."
