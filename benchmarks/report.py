"""Benchmark: the science of the report alone, on 100,000 synthetic patients built in memory.

Times `summarize` and `render_report` with no database: the statistics and the page, apart
from reading the records. benchmarks/demo.py times the whole report (`outcomes.report`: read,
summarize, render; target under 10 s) on a 100,000-patient demo database.

The program is built in memory from a fixed seed: about 54% of referrals are treated, 1.2
courses each of two cycles, ~15% objective responses and the label's commonest adverse
reactions (see `il2.science.synthetic`). Prints figures; asserts nothing.
Run with `.venv/bin/python benchmarks/report.py [patients]`.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

from il2.rules.loader import load_rules
from il2.science.dataset import Program
from il2.science.plots import Thresholds, report_figures
from il2.science.report import summarize
from il2.science.synthetic import synthetic_program
from il2.web.core import templates
from il2.web.report import render_report as render

SEED = 20_250_630
PATIENTS = 100_000
PRICE_PER_VIAL = 1_500.0
TARGET_S = 10.0
T = TypeVar("T")
RULES = load_rules()


def render_report(program: Program, summary: dict[str, Any]) -> str:
    """The page as `il2 report` writes it: the figures drawn, then the templates rendered."""
    figures = report_figures(program, Thresholds.of(RULES.recist))
    return render(templates(RULES), summary, figures)


def _timed(label: str, run: Callable[[], T]) -> tuple[T, float]:
    start = time.perf_counter()
    result = run()
    seconds = time.perf_counter() - start
    print(f"{label:<38} {seconds:>8.2f} s")
    return result, seconds


def main(patients: int = PATIENTS) -> None:
    """Build the program, then time the summary and the HTML page."""
    rng = np.random.default_rng(SEED)
    program, _ = _timed(
        f"build synthetic program ({patients:,})",
        lambda: synthetic_program(patients=patients, rng=rng),
    )
    print(
        f"{'records':<38} {len(program.patients):,} patients, {len(program.courses):,} courses, "
        f"{len(program.cycles):,} cycles, {len(program.toxicities):,} toxicities, "
        f"{len(program.responses):,} responses"
    )
    summary, summarize_s = _timed(
        "summarize", lambda: summarize(program, price_per_vial=PRICE_PER_VIAL)
    )
    page, render_s = _timed(
        "render_report (tables + 4 SVG figures)", lambda: render_report(program, summary)
    )
    total = summarize_s + render_s
    verdict = "within" if total < TARGET_S else "OVER"
    print(f"{'summarize + render (target < 10 s)':<38} {total:>8.2f} s   {verdict} target")
    json_kb, html_mb = len(json.dumps(summary)) / 1e3, len(page) / 1e6
    print(f"{'sizes':<38} JSON {json_kb:,.0f} kB, HTML {html_mb:,.2f} MB")
    for diagnosis, block in summary["by_diagnosis"].items():
        orr = block["orr"]
        print(
            f"  {diagnosis:<36} ORR {orr['value']:.3f} "
            f"[{orr['ci95'][0]:.3f}, {orr['ci95'][1]:.3f}] of {orr['total']:,}; "
            f"median OS {block['overall_survival']['median_months']} months"
        )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else PATIENTS)
