"""The HTML report is one self-contained page: tables, four inline SVG figures, nothing fetched."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from tests.science.builders import clinic, program, toxicity

from il2.rules.loader import RuleSet
from il2.science.dataset import Program
from il2.science.plots import Thresholds, inline_svg, report_figures
from il2.science.report import summarize
from il2.web.core import templates
from il2.web.report import render_report


def _page(rules: RuleSet, records: Program, price_per_vial: float | None = None) -> str:
    figures = report_figures(records, Thresholds.of(rules.recist))
    summary = summarize(records, price_per_vial=price_per_vial)
    return render_report(templates(rules), summary, figures)


@pytest.fixture(scope="module")
def page(rules: RuleSet) -> str:
    return _page(rules, clinic(), price_per_vial=1200)


def test_the_page_holds_the_four_figures_inline(page: str) -> None:
    assert page.count("<svg") == 4
    for name in ("waterfall", "swimmer", "spider", "kaplan-meier"):
        assert f'id="figure-{name}"' in page


def test_the_page_fetches_nothing(page: str) -> None:
    assert "http" not in page
    assert not re.search(r"""(src|href)\s*=\s*["'](?!#)""", page)
    assert "@import" not in page
    assert not re.search(r"url\((?!#)", page)


def test_no_two_elements_share_an_id(page: str) -> None:
    repeated = [i for i, n in Counter(re.findall(r'\bid="([^"]+)"', page)).items() if n > 1]
    assert repeated == []


def test_every_internal_reference_points_at_an_id_on_the_page(page: str) -> None:
    ids = set(re.findall(r'\bid="([^"]+)"', page))
    references = set(re.findall(r'href="#([^"]+)"', page)) | set(
        re.findall(r"url\(#([^)]+)\)", page)
    )
    assert references <= ids


def test_the_tables_show_rates_the_label_use_and_methods(page: str) -> None:
    assert "50.0% (6.8\N{EN DASH}93.2) 2/4" in page
    assert "Atkins" in page
    assert "Clopper-Pearson" in page
    assert "Price per vial: 1,200.00." in page


def test_text_from_the_records_is_escaped(rules: RuleSet) -> None:
    records = clinic()
    hostile = program(
        patients=records.patients,
        courses=records.courses,
        cycles=records.cycles,
        toxicities=[toxicity('<script>alert("x")</script>', 2, course_id=11)],
        responses=records.responses,
    )
    page = _page(rules, hostile)
    assert "<script>" not in page
    assert "&lt;script&gt;" in page


def test_an_empty_program_renders_a_page_with_its_four_figures(rules: RuleSet) -> None:
    page = _page(rules, program())
    assert page.count("<svg") == 4
    assert "No treated patients" in page


def test_inlining_drops_the_prolog_and_namespaces_and_prefixes_ids() -> None:
    svg = (
        '<?xml version="1.0"?>\n<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://x">\n'
        '<svg xmlns:xlink="http://www.w3.org/1999/xlink" xmlns="http://www.w3.org/2000/svg">'
        '<g id="a" clip-path="url(#c)"><use xlink:href="#m"/></g></svg>'
    )
    assert inline_svg(svg, prefix="p") == (
        '<svg><g id="p-a" clip-path="url(#p-c)"><use xlink:href="#p-m"/></g></svg>'
    )
