"""The outcome report as one self-contained HTML page: inline CSS, inline SVG, nothing fetched.

Every piece of text is escaped; the SVG figures come from `plots` and are inlined with their
ids prefixed, so four figures on one page never share an id.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from html import escape
from typing import Any

from il2.science.dataset import DIAGNOSES, Program
from il2.science.plots import (
    DIAGNOSIS_NAMES,
    kaplan_meier_plot,
    spider_plot,
    swimmer_plot,
    waterfall_plot,
)

TOXICITY_ROWS = 25
ENDPOINT_NAMES = {
    "overall_survival": "Overall survival",
    "progression_free_survival": "Progression-free survival",
    "duration_of_response": "Duration of response",
}
DASH = "\N{EN DASH}"
_CSS = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 72rem; color: #1a1a1a;
       padding: 0 1rem; line-height: 1.4; }
h1 { font-size: 1.6rem; margin-bottom: 0.2rem; }
h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; font-size: 0.9rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.5rem; text-align: right; }
th:first-child, td:first-child, td.text { text-align: left; }
thead th { background: #f0f0f0; }
figure { margin: 1rem 0; }
figure svg { max-width: 100%; height: auto; }
figcaption { font-size: 0.85rem; color: #555; }
dt { font-weight: 600; margin-top: 0.5rem; }
.muted { color: #666; font-size: 0.9rem; }
"""


def _pct(value: float | None) -> str:
    return DASH if value is None else f"{100 * value:.1f}%"


def _rate(block: Mapping[str, Any] | None) -> str:
    if not block:
        return DASH
    lower, upper = block["ci95"]
    counts = f"{block['count']}/{block['total']}"
    return f"{_pct(block['value'])} ({100 * lower:.1f}{DASH}{100 * upper:.1f}) {counts}"


def _number(value: object) -> str:
    if value is None:
        return DASH
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _table(head: Sequence[str], rows: Iterable[Sequence[object]], *, text_columns: int = 1) -> str:
    header = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = []
    for row in rows:
        cells = []
        for index, cell in enumerate(row):
            shown = escape(cell if isinstance(cell, str) else _number(cell))
            css = ' class="text"' if index < text_columns else ""
            cells.append(f"<td{css}>{shown}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    return f"<table><thead><tr>{header}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _responses(summary: Mapping[str, Any]) -> str:
    head = ["Diagnosis", "Referred", "Eligible", "Treated", "Assessed", "CR", "PR", "SD", "PD"]
    head += ["NE", "ORR (95% CI)", "CR rate (95% CI)", "Median doses per cycle"]
    rows = []
    for diagnosis in DIAGNOSES:
        block = summary["by_diagnosis"][diagnosis]
        best = block["best_overall_response"]
        rows.append(
            [
                DIAGNOSIS_NAMES[diagnosis],
                block["patients"],
                block["eligible"],
                block["treated"],
                block["assessed"],
                *(best[c] for c in ("CR", "PR", "SD", "PD", "NE")),
                _rate(block["orr"]),
                _rate(block["cr_rate"]),
                block["median_doses_per_cycle"],
            ]
        )
    return _table(head, rows)


def _label(summary: Mapping[str, Any]) -> str:
    head = ["Diagnosis", "Program ORR, of assessed", "Program ORR, of all treated (ITT)"]
    head += ["Label ORR, of all treated", "Program CR rate, of all treated (ITT)"]
    head += ["Label CR rate", "Label source"]
    rows = []
    for diagnosis in DIAGNOSES:
        label = summary["label"][diagnosis]
        published = label["published_orr_ci95_pct"]
        cited = f"; published {label['published_orr_pct']}%" + (
            f" (95% CI {published[0]}{DASH}{published[1]}%)" if published else ""
        )
        rows.append(
            [
                DIAGNOSIS_NAMES[diagnosis],
                _rate(label["program"]["orr"]),
                _rate(label["program_itt"]["orr"]),
                _rate(label["orr"]) + cited,
                _rate(label["program_itt"]["cr_rate"]),
                _rate(label["cr_rate"]) + f"; published {label['published_cr_pct']}%",
                f"{label['population']}: {label['source']}",
            ]
        )
    note = (
        "<p>The label pools count every treated patient; the program's intention-to-treat "
        "rates use the same denominator (a treated patient with no response recorded counts as "
        "not responding). Exact Clopper-Pearson 95% intervals.</p>"
    )
    return _table(head, rows, text_columns=7) + note


def _median(block: Mapping[str, Any]) -> str:
    lower, upper = block["median_ci95_months"]
    if block["median_months"] is None:
        return "not reached"
    shown = [f"{x:.1f}" if x is not None else "NR" for x in (lower, upper)]
    return f"{block['median_months']:.1f} ({shown[0]}{DASH}{shown[1]})"


def _landmark(block: Mapping[str, Any], months: str) -> str:
    point = block["at_months"].get(months)
    if point is None:
        return DASH
    lower, upper = point["ci95"]
    return f"{_pct(point['survival'])} ({100 * lower:.0f}{DASH}{100 * upper:.0f})"


def _survival(summary: Mapping[str, Any]) -> str:
    head = ["Diagnosis", "Endpoint", "Patients", "Events", "Median, months (95% CI)"]
    head += ["12 months", "24 months", "60 months"]
    rows = []
    for diagnosis in DIAGNOSES:
        for endpoint, name in ENDPOINT_NAMES.items():
            block = summary["by_diagnosis"][diagnosis][endpoint]
            rows.append(
                [
                    DIAGNOSIS_NAMES[diagnosis],
                    name,
                    block["patients"],
                    block["events"],
                    _median(block),
                    *(_landmark(block, m) for m in ("12", "24", "60")),
                ]
            )
    return _table(head, rows, text_columns=2)


def _toxicity(summary: Mapping[str, Any]) -> str:
    toxicity = summary["toxicity"]
    head = ["Term", "Any grade", "Grade 3 or worse", "Grade 4 or worse", "Grade 5"]
    rows = []
    for term, block in list(toxicity["terms"].items())[:TOXICITY_ROWS]:
        grades = block["grade_at_least"]
        cells = [f"{_pct(grades[g]['value'])} ({grades[g]['patients']:,})" for g in "1345"]
        rows.append([term.replace("_", " "), *cells])
    note = f"Of {toxicity['treated_patients']:,} treated patients"
    if len(toxicity["terms"]) > TOXICITY_ROWS:
        note += f"; the {TOXICITY_ROWS} commonest of {len(toxicity['terms'])} terms shown"
    return f'<p class="muted">{escape(note)}.</p>' + _table(head, rows)


def _use(summary: Mapping[str, Any]) -> str:
    costed = "cost_per_year" in summary
    head = ["Year", "Cycles", "Inpatient days", "Doses given", "Vials"]
    head += ["Cost"] if costed else []
    rows = [
        [
            year,
            summary["cycles_per_year"][year],
            summary["inpatient_days_per_year"][year],
            summary["doses_per_year"][year],
            summary["vials_per_year"][year],
            *([summary["cost_per_year"][year]] if costed else []),
        ]
        for year in summary["cycles_per_year"]
    ]
    price = (
        f"Price per vial: {summary['price_per_vial']:,.2f}."
        if costed
        else "No price per vial given: cost omitted."
    )
    return _table(head, rows) + f'<p class="muted">{escape(price)}</p>'


def _data_quality(summary: Mapping[str, Any]) -> str:
    quality = summary.get("data_quality")
    if not quality:
        return ""
    problems = quality["problems"]
    if not problems:
        return "<p>Every record fits the analysis: no patient is left out of any figure.</p>"
    count = quality["patients_with_problems"]
    lead = (
        f"<p>{count:,} patient{'s' if count != 1 else ''} "
        f"{'have' if count != 1 else 'has'} records that do not fit together; each is left "
        "out of the figures named beside the problem and counted in every other.</p>"
    )
    rows = (
        (p["study_id"], p["record"], p["problem"], "; ".join(p["excluded_from"])) for p in problems
    )
    table = _table(("Study number", "Record", "What is wrong", "Left out of"), rows, text_columns=4)
    return lead + table + f'<p class="muted">{escape(quality["method"])}</p>'


def _methods(summary: Mapping[str, Any]) -> str:
    items = "".join(
        f"<dt>{escape(name.replace('_', ' ').capitalize())}</dt><dd>{escape(text)}</dd>"
        for name, text in summary["methods"].items()
    )
    return f"<dl>{items}</dl>"


_PROLOG = re.compile(r"\A.*?(?=<svg)", re.DOTALL)
_NAMESPACES = re.compile(r'\s+xmlns(?::\w+)?="[^"]*"')
_IDS = re.compile(r'(\bid="|href="#|url\(#)([^")]+)')


def inline_svg(svg: str, *, prefix: str) -> str:
    """An SVG document as an element for an HTML page: no prolog, no namespaces, ids prefixed."""
    element = _NAMESPACES.sub("", _PROLOG.sub("", svg, count=1))
    return _IDS.sub(lambda m: f"{m.group(1)}{prefix}-{m.group(2)}", element)


def _figure(svg: str, *, prefix: str, caption: str) -> str:
    return (
        f'<figure id="figure-{prefix}">{inline_svg(svg, prefix=prefix)}'
        f"<figcaption>{escape(caption)}</figcaption></figure>"
    )


@lru_cache(maxsize=4)
def _figures(program: Program) -> str:
    """The four figures of a program, drawn once per program (a program is a frozen value: the
    same records give the same figures; drawing them is most of the outcomes page's time)."""
    return "".join(
        (
            _figure(
                waterfall_plot(program),
                prefix="waterfall",
                caption="Best change from baseline per patient; dashed lines at -30% (partial "
                "response) and +20% (progression).",
            ),
            _figure(
                swimmer_plot(program),
                prefix="swimmer",
                caption="Time on study from first dose, with first response, progression, "
                "death, and patients alive at last contact.",
            ),
            _figure(
                spider_plot(program),
                prefix="spider",
                caption="Change from baseline at each assessment, per patient.",
            ),
            _figure(
                kaplan_meier_plot(program),
                prefix="kaplan-meier",
                caption="Kaplan-Meier overall and progression-free survival by diagnosis, "
                "with pointwise 95% bands (exponential Greenwood) and numbers at risk.",
            ),
        )
    )


def report_body(program: Program, summary: Mapping[str, Any], *, heading: int = 2) -> str:
    """The report's overview and sections, as HTML to place inside a page (no document, no
    style): the web app shows it in its own layout, `render_report` in a standalone page."""
    patients = summary["patients"]
    overview = (
        f"Data as of {summary['as_of']}: {patients['referred']:,} patients referred, "
        f"{patients['eligible']:,} eligible, {patients['treated']:,} treated "
        f"({patients['courses']:,} courses, {patients['cycles']:,} cycles)."
    )
    quality = _data_quality(summary)
    sections = (
        *((("Data quality", quality),) if quality else ()),
        ("Responses by diagnosis", _responses(summary)),
        ("Beside the label", _label(summary)),
        ("Survival and duration of response", _survival(summary)),
        ("Toxicity: patients with an event, by worst grade", _toxicity(summary)),
        ("Beds, cycles and vials per year", _use(summary)),
        ("Figures", _figures(program)),
        ("Methods", _methods(summary)),
    )
    tag = f"h{heading}"
    body = "".join(
        f'<section class="card report-section"><{tag}>{escape(title)}</{tag}>{html}</section>'
        for title, html in sections
    )
    return f'<p class="overview">{escape(overview)}</p>{body}'


def render_report(program: Program, summary: Mapping[str, Any]) -> str:
    """The whole report page for `program`, from its `summarize` document."""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>il2 outcome report, {escape(summary['as_of'])}</title>"
        f"<style>{_CSS}</style></head><body>"
        f"<h1>il2 outcome report</h1>{report_body(program, summary)}</body></html>\n"
    )
