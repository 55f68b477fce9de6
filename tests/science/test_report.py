"""The summary document: what `il2 report --json` prints."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest

from il2.domain.errors import InvalidInputError
from il2.science.report import summarize
from tests.science.builders import clinic, course, cycle, patient, program


@pytest.fixture(scope="module")
def summary() -> dict[str, Any]:
    return summarize(clinic())


def test_the_summary_is_plain_json(summary: dict[str, Any]) -> None:
    assert json.loads(json.dumps(summary)) == summary


def test_each_diagnosis_has_patients_rates_with_intervals_and_doses(
    summary: dict[str, Any],
) -> None:
    melanoma = summary["by_diagnosis"]["melanoma"]
    assert melanoma["patients"] == 5
    assert melanoma["orr"]["value"] == 0.5
    assert melanoma["orr"]["ci95"] == [0.0676, 0.9324]
    assert melanoma["cr_rate"]["value"] == 0.25
    assert melanoma["median_doses_per_cycle"] == 11.0


def test_a_diagnosis_nobody_has_reports_no_rate(summary: dict[str, Any]) -> None:
    renal = summary["by_diagnosis"]["renal_cell_carcinoma"]
    assert (renal["patients"], renal["orr"], renal["median_doses_per_cycle"]) == (0, None, None)
    assert renal["overall_survival"]["median_months"] is None


def test_survival_blocks_report_patients_events_and_the_median(summary: dict[str, Any]) -> None:
    os = summary["by_diagnosis"]["melanoma"]["overall_survival"]
    assert (os["patients"], os["events"]) == (4, 1)
    pfs = summary["by_diagnosis"]["melanoma"]["progression_free_survival"]
    assert (pfs["patients"], pfs["events"]) == (4, 3)
    # events at 60, 182 and 243 days of four followed: S(182) = 0.5, the first time S <= 0.5
    assert pfs["median_months"] == round(182 / 30.4375, 2)
    assert pfs["at_months"]["60"] is None


def test_the_label_is_shown_beside_the_program_with_the_same_interval_method(
    summary: dict[str, Any],
) -> None:
    melanoma = summary["label"]["melanoma"]
    assert (melanoma["orr"]["count"], melanoma["orr"]["total"]) == (43, 270)
    assert [round(100 * x) for x in melanoma["orr"]["ci95"]] == [12, 21]
    assert melanoma["published_orr_ci95_pct"] == [12, 21]
    assert melanoma["program"]["orr"] == summary["by_diagnosis"]["melanoma"]["orr"]
    assert "Atkins" in melanoma["source"]
    assert summary["label"]["renal_cell_carcinoma"]["cr_rate"]["count"] == 17


def test_methods_name_the_interval_methods(summary: dict[str, Any]) -> None:
    methods = " ".join(summary["methods"].values())
    assert "Clopper-Pearson" in methods
    assert "exponential Greenwood" in methods


def test_toxicity_reports_each_term_by_grade_among_treated_patients(
    summary: dict[str, Any],
) -> None:
    toxicity = summary["toxicity"]
    assert toxicity["treated_patients"] == 4
    hypotension = toxicity["terms"]["hypotension"]["grade_at_least"]
    assert (hypotension["1"]["patients"], hypotension["1"]["value"]) == (2, 0.5)
    assert hypotension["3"]["patients"] == 1
    assert next(iter(toxicity["terms"])) == "any"


def _one_cycle_a_year() -> dict[str, Any]:
    records = program(
        patients=[patient(1, referred_on=date(2022, 1, 1), last_contact_on=date(2024, 3, 1))],
        courses=[
            course(10, first_dose_on=date(2022, 2, 1)),
            course(11, number=2, first_dose_on=date(2024, 2, 1)),
        ],
        cycles=[
            cycle(10, admitted_on=date(2022, 2, 1), discharged_on=date(2022, 2, 6), doses_given=10),
            cycle(11, admitted_on=date(2024, 2, 1), discharged_on=date(2024, 2, 5), doses_given=7),
        ],
    )
    return summarize(records, price_per_vial=1000.5)


def test_use_per_year_is_keyed_by_year_with_every_year_between() -> None:
    summary = _one_cycle_a_year()
    assert summary["cycles_per_year"] == {"2022": 1, "2023": 0, "2024": 1}
    assert summary["inpatient_days_per_year"] == {"2022": 5, "2023": 0, "2024": 4}
    assert summary["vials_per_year"] == {"2022": 30, "2023": 0, "2024": 21}


def test_cost_per_year_is_vials_times_the_sites_price() -> None:
    summary = _one_cycle_a_year()
    assert summary["price_per_vial"] == 1000.5
    assert summary["cost_per_year"] == {"2022": 30015.0, "2023": 0.0, "2024": 21010.5}


def test_without_a_price_the_cost_is_left_out(summary: dict[str, Any]) -> None:
    assert "cost_per_year" not in summary
    assert "price_per_vial" not in summary


@pytest.mark.parametrize("price", [-1, float("nan"), float("inf")])
def test_an_impossible_price_is_refused(price: float) -> None:
    with pytest.raises(InvalidInputError, match="price_per_vial"):
        summarize(clinic(), price_per_vial=price)


def test_an_empty_program_still_summarizes() -> None:
    summary = summarize(program())
    assert summary["patients"]["referred"] == 0
    assert summary["cycles_per_year"] == {}
    assert summary["toxicity"] == {"treated_patients": 0, "terms": {}}
