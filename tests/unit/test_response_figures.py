"""A patient's waterfall and spider show progression where RECIST finds it: from the nadir.

The bars are a lesion's or the sum's best change from baseline, which RECIST does not categorise
one by one, so each bar takes the patient's best overall response; the spider marks the
assessments RECIST judged PD. Growth of 20% over the baseline is not, by itself, progression.
"""

from __future__ import annotations

from typing import Any

import pytest

from il2.rules.loader import RuleSet
from il2.science.plots import COLOURS, Thresholds
from il2.services.documents import recist_document
from il2.services.recist import assess_response
from il2.web.pages.response import figures
from il2.web.recist_form import shape

PD = COLOURS["PD"]


def _scan(day: str, **diameters: float) -> dict[str, Any]:
    lesions = [
        {"id": lesion, "organ": f"organ{i}", "nodal": False, "diameter_mm": mm}
        for i, (lesion, mm) in enumerate(diameters.items())
    ]
    return {"date": day, "target_lesions": lesions, "non_target": "absent", "new_lesions": False}


def _drawn(rules: RuleSet, *scans: dict[str, Any]) -> tuple[dict[str, Any], str, str]:
    measurements = {"confirmation_required": False, "min_sd_weeks": 6, "assessments": list(scans)}
    recist = recist_document(assess_response(rules, measurements))
    waterfall, spider = figures(recist, shape(recist), Thresholds.of(rules.recist))
    return recist, waterfall, spider


def test_the_thresholds_are_the_rule_tables(rules: RuleSet) -> None:
    criteria = rules.recist
    drawn = Thresholds.of(criteria)
    assert drawn.response_pct == float(criteria.pr_change_from_baseline_pct)
    assert drawn.progression_pct == float(criteria.pd_change_from_nadir_pct)


# (what the patient shows, scans, each time point's overall response, best overall response,
# whether the waterfall and the spider show progression)
CASES = [
    pytest.param(
        [_scan("2026-01-05", L1=50, L2=50), _scan("2026-01-26", L1=40, L2=40),
         _scan("2026-02-16", L1=49, L2=49)],
        [None, "SD", "PD"], "PD", (True, True),
        # 80 mm, then 98 mm: 22.5% and 18 mm over the nadir though 2% under the baseline; too
        # early for stable disease, so the best response is PD.
        id="growth-of-20-percent-over-the-nadir-is-progression",
    ),
    pytest.param(
        [_scan("2026-01-05", L1=50, L2=50), _scan("2026-03-02", L1=25, L2=25),
         _scan("2026-04-27", L1=31, L2=31)],
        [None, "PR", "PD"], "PR", (False, True),
        # The bars keep the best response; the spider marks the assessment judged PD.
        id="progression-after-a-response-is-marked-on-the-spider",
    ),
    pytest.param(
        [_scan("2026-01-05", L1=20), _scan("2026-03-02", L1=24)],
        [None, "SD"], "SD", (False, False),
        # 20% over the baseline (the nadir) but 4 mm: RECIST needs 5 mm as well.
        id="growth-of-20-percent-under-5-mm-is-not-progression",
    ),
    pytest.param(
        [_scan("2026-01-05", L1=60, L2=20), _scan("2026-03-02", L1=20, L2=30)],
        [None, "PR"], "PR", (False, False),
        # One lesion grows 50% while the sum falls 37.5%: the patient responds.
        id="a-growing-lesion-in-a-responding-patient-is-not-progression",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("scans", "overall", "best", "drawn_pd"), CASES)
def test_progression_is_drawn_where_recist_finds_it(
    rules: RuleSet,
    scans: list[dict[str, Any]],
    overall: list[str | None],
    best: str,
    drawn_pd: tuple[bool, bool],
) -> None:
    recist, waterfall, spider = _drawn(rules, *scans)
    assert [p["overall"] for p in recist["timepoints"]] == overall
    assert recist["best_overall_response"] == best
    assert COLOURS[best] in waterfall
    assert (PD in waterfall, PD in spider) == drawn_pd
