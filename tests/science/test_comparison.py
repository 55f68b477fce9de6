"""Arms and regimens compared: intention to treat, exact intervals, the report's own estimators."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from il2.science.comparison import Group, compare, first_regimens, group_outcome
from il2.science.stats import clopper_pearson
from tests.science.builders import clinic, course


def test_a_patient_assigned_and_never_treated_stays_in_the_arms_denominator() -> None:
    arm = group_outcome(clinic(), Group("a", "Arm A", {1, 2, 5}))
    assert (arm["patients"], arm["treated"]) == (3, 2)
    assert arm["orr"]["count"] == 2
    assert arm["orr"]["total"] == 3
    assert arm["cr_rate"]["count"] == 1
    assert arm["cr_rate"]["total"] == 3
    lower, upper = clopper_pearson(2, 3)
    assert arm["orr"]["ci95"] == [round(lower, 4), round(upper, 4)]


def test_a_treated_patient_never_assessed_counts_as_a_non_responder() -> None:
    arm = group_outcome(clinic(), Group("b", "Arm B", {3, 4}))
    assert arm["best_overall_response"] == {"CR": 0, "PR": 0, "SD": 0, "PD": 1, "NE": 1}
    assert arm["orr"]["count"] == 0
    assert arm["orr"]["total"] == 2
    assert arm["orr"]["ci95"][0] == 0.0


def test_severe_toxicity_counts_treated_patients_with_grade_3_or_worse_of_any_term() -> None:
    a, b = compare(clinic(), [Group("a", "A", {1, 2, 5}), Group("b", "B", {3, 4})])
    assert (a["grade_3_or_worse_toxicity"]["count"], a["grade_3_or_worse_toxicity"]["total"]) == (
        1,
        2,
    )
    assert b["grade_3_or_worse_toxicity"]["count"] == 1  # a grade 4 diarrhoea


def test_doses_received_count_zero_for_a_patient_never_treated() -> None:
    arm = group_outcome(clinic(), Group("a", "A", {1, 2, 5}))
    assert arm["doses_received"] == {"median": 8.0, "min": 0, "max": 10}


def test_survival_is_kaplan_meier_from_the_first_dose_over_the_treated_patients() -> None:
    arm = group_outcome(clinic(), Group("a", "A", {1, 2, 5}))
    assert arm["overall_survival"]["patients"] == 2
    assert arm["overall_survival"]["events"] == 1
    assert arm["progression_free_survival"]["events"] == 2


def test_a_patient_left_out_of_the_analysis_is_counted_apart() -> None:
    arm = group_outcome(clinic(), Group("a", "A", {1, 99}))
    assert (arm["patients"], arm["not_analysed"]) == (1, 1)


def test_an_empty_arm_has_no_rates_rather_than_a_division_by_zero() -> None:
    arm = group_outcome(clinic(), Group("c", "C", set()))
    assert arm["patients"] == 0
    assert arm["orr"] is None
    assert arm["doses_received"]["median"] is None
    assert arm["overall_survival"]["median_months"] is None


def test_a_patient_belongs_to_the_regimen_of_their_first_course() -> None:
    data = clinic()
    later = replace(course(99, patient_id=1, number=2, first_dose_on=date(2024, 9, 1)),
                    regimen_id="other")  # fmt: skip
    earlier = replace(course(11, patient_id=1), regimen_id="first")
    data = replace(data, courses=(earlier, *data.courses[1:], later))
    groups = first_regimens(data)
    assert groups == {"first": {1}, "hd-label": {2, 3, 4}}


@pytest.mark.parametrize("ids", [{1, 2}, {3, 4, 5}])
def test_groups_of_a_comparison_are_each_computed_on_their_own_patients(ids: set[int]) -> None:
    [alone] = compare(clinic(), [Group("x", "X", ids)])
    together = compare(clinic(), [Group("y", "Y", {1, 2, 3, 4, 5} - ids), Group("x", "X", ids)])
    assert together[1] == alone
