"""The report's "Overrides and what followed" section, rendered from an analysis of holds."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable

import pytest
from tests.science.builders import clinic
from tests.science.test_overrides import hold, override

from il2.rules.loader import RuleSet
from il2.science.overrides import analyse
from il2.science.plots import Thresholds, report_figures
from il2.science.report import summarize
from il2.web.core import templates
from il2.web.report import render_report


@pytest.fixture(scope="module")
def render(rules: RuleSet) -> Callable[[dict[str, object] | None], str]:
    """The report page of one small program (its figures drawn once), with this analysis."""
    records = clinic()
    figures = report_figures(records, Thresholds.of(rules.recist))

    def page(overrides: dict[str, object] | None) -> str:
        summary = summarize(records)
        if overrides is not None:
            summary["overrides"] = overrides
        return render_report(templates(rules), summary, figures)

    return page


def test_the_section_shows_each_comparison_the_difference_and_the_method(
    render: Callable[[dict[str, object] | None], str],
) -> None:
    page = render(analyse([override(severe_toxicity_48h=True), hold(), hold()]))
    assert "Overrides and what followed" in page
    assert "1 of 3 doses held for overridable reasons" in page
    assert "label-sbp-low" in page
    assert "(small)" in page
    assert "+100.0 points" in page  # 1 of 1 overridden against 0 of 2 held
    assert "Clopper-Pearson" in page


def test_a_program_without_holds_says_so(render: Callable[[dict[str, object] | None], str]) -> None:
    assert "No dose held by the before-dose engine" in render(analyse([]))


def test_a_summary_without_the_analysis_has_no_section(
    render: Callable[[dict[str, object] | None], str],
) -> None:
    assert "Overrides and what followed" not in render(None)


def test_the_section_adds_no_id_twice_and_escapes_what_it_shows(
    render: Callable[[dict[str, object] | None], str],
) -> None:
    page = render(analyse([override(rules=("<b>rule</b>",)), hold(rules=("<b>rule</b>",))]))
    ids = Counter(re.findall(r'\sid="([^"]+)"', page))
    assert [i for i, n in ids.items() if n > 1] == []
    assert "<b>rule</b>" not in page
