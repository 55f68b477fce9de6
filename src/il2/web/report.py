"""The outcome report rendered: the context its templates need, and the standalone page.

`services.outcomes.report` computes the summary and draws the figures; this module only says how
each number is written (the `format_*` functions) and hands both to `_report.html`, which the
app's /outcomes page places in its layout and `report.html` in a self-contained file.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jinja2 import Environment

from il2.science.dataset import BEST_RESPONSES, DIAGNOSES
from il2.science.plots import DIAGNOSIS_NAMES, ReportFigures
from il2.science.prediction_plots import calibration_plot, calibration_text

TOXICITY_ROWS = 25
ENDPOINT_NAMES = {
    "overall_survival": "Overall survival",
    "progression_free_survival": "Progression-free survival",
    "duration_of_response": "Duration of response",
}
LANDMARK_MONTHS = ("12", "24", "60")
USE_TABLES = ("cycles_per_year", "inpatient_days_per_year", "doses_per_year", "vials_per_year")
DASH = "\N{EN DASH}"


def format_percent(value: float | None) -> str:
    """A proportion (0 to 1) as a percentage with one decimal; a dash when there is none."""
    return DASH if value is None else f"{100 * value:.1f}%"


def format_rate(block: Mapping[str, Any] | None) -> str:
    """A rate with its 95% interval and its counts: `50.0% (6.8-93.2) 2/4` (an en dash)."""
    if not block:
        return DASH
    lower, upper = block["ci95"]
    counts = f"{block['count']}/{block['total']}"
    return f"{format_percent(block['value'])} ({100 * lower:.1f}{DASH}{100 * upper:.1f}) {counts}"


def format_count(value: int) -> str:
    """A count with thousands separated."""
    return f"{value:,}"


def format_money(value: float) -> str:
    """An amount of money, thousands separated, two decimals."""
    return f"{value:,.2f}"


def format_cell(value: object) -> str:
    """A table cell: text as it is, a count or an amount separated, a dash for nothing."""
    if value is None:
        return DASH
    if isinstance(value, float):
        return format_money(value)
    if isinstance(value, int):
        return format_count(value)
    return str(value)


def format_median(block: Mapping[str, Any]) -> str:
    """A median in months with its 95% interval; "not reached" and NR where it is not."""
    lower, upper = block["median_ci95_months"]
    if block["median_months"] is None:
        return "not reached"
    shown = [f"{x:.1f}" if x is not None else "NR" for x in (lower, upper)]
    return f"{block['median_months']:.1f} ({shown[0]}{DASH}{shown[1]})"


def format_landmark(block: Mapping[str, Any], months: str) -> str:
    """The survival estimate at a landmark with its 95% interval, or a dash past follow-up."""
    point = block["at_months"].get(months)
    if point is None:
        return DASH
    lower, upper = point["ci95"]
    return f"{format_percent(point['survival'])} ({100 * lower:.0f}{DASH}{100 * upper:.0f})"


def format_doses(block: Mapping[str, Any]) -> str:
    """Doses received: the median and the range, `8 (0-12)`; a dash for a group of nobody."""
    if block["median"] is None:
        return DASH
    return f"{block['median']:g} ({block['min']}{DASH}{block['max']})"


def format_signed(value: float) -> str:
    """A threshold as a caption writes it: `-30`, `+20`."""
    return f"{value:+g}"


def format_concordance(block: Mapping[str, Any] | None) -> str:
    """An AUC or C-index with its 95% interval: `0.71 (0.64-0.78)` (an en dash)."""
    if not block or block.get("value") is None:
        return DASH
    lower, upper = block["ci95"]
    return f"{block['value']:.2f} ({lower:.2f}{DASH}{upper:.2f})"


def format_ratio(row: Mapping[str, Any]) -> str:
    """An odds or hazard ratio with its bootstrap interval: `3.10 (1.80-5.20)`."""
    lower, upper = row["ci95"]
    if lower is None or upper is None:
        return f"{row['ratio']:.2f}"
    return f"{row['ratio']:.2f} ({lower:.2f}{DASH}{upper:.2f})"


def _prediction_figure(summary: Mapping[str, Any]) -> tuple[str, str]:
    """The calibration curve of the responder model and its text alternative."""
    response = (summary.get("prediction") or {}).get("response") or {}
    bins = (response.get("calibration") or {}).get("bins") or []
    if not bins:
        return "", ""  # no model fitted: nothing to draw (and no time spent drawing it)
    return calibration_plot(bins), calibration_text(bins)


def context(summary: Mapping[str, Any], figures: ReportFigures) -> dict[str, Any]:
    """What `_report.html` needs: the summary, the figures and how to write each number."""
    prediction_figure, prediction_text = _prediction_figure(summary)
    return {
        "prediction_figure": prediction_figure,
        "prediction_text": prediction_text,
        "concordance": format_concordance,
        "ratio": format_ratio,
        "summary": summary,
        "figures": figures,
        "report_diagnoses": DIAGNOSES,
        "diagnosis_names": DIAGNOSIS_NAMES,
        "categories": BEST_RESPONSES,
        "endpoint_names": ENDPOINT_NAMES,
        "landmarks": LANDMARK_MONTHS,
        "use_tables": USE_TABLES,
        "toxicity_rows": TOXICITY_ROWS,
        "dash": DASH,
        "percent": format_percent,
        "rate": format_rate,
        "count": format_count,
        "money": format_money,
        "cell": format_cell,
        "median": format_median,
        "landmark": format_landmark,
        "signed": format_signed,
        "doses": format_doses,
    }


def render_report(
    templates: Environment, summary: Mapping[str, Any], figures: ReportFigures
) -> str:
    """The whole report as one self-contained HTML page (inline style and figures)."""
    return templates.get_template("report.html").render(context(summary, figures))
