"""Arms and regimens compared: intention to treat, exact intervals, the report's own estimators."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest

from il2.science.comparison import Group, compare, first_regimens, group_outcome
from il2.science.stats import clopper_pearson
from il2.science.survival import DAYS_PER_MONTH, from_assignment, overall_survival
from tests.science.builders import FIRST_DOSE, clinic, course, patient, program


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


ASSIGNED = date(2024, 1, 20)


def test_by_arm_a_patient_assigned_and_never_dosed_counts_in_the_arms_survival() -> None:
    dates = {1: ASSIGNED, 2: ASSIGNED, 5: ASSIGNED}
    arm = group_outcome(clinic(), Group("a", "Arm A", {1, 2, 5}, assigned_on=dates))
    assert arm["overall_survival"]["time_origin"] == "assignment"
    assert (arm["overall_survival"]["patients"], arm["overall_survival"]["events"]) == (3, 1)
    assert arm["progression_free_survival"]["patients"] == 3
    by_regimen = group_outcome(clinic(), Group("hd-label", "hd-label", {1, 2, 5}))
    assert by_regimen["overall_survival"]["time_origin"] == "first_dose"
    assert by_regimen["overall_survival"]["patients"] == 2


def test_survival_from_the_assignment_moves_the_median_by_the_wait_for_the_first_dose() -> None:
    deaths = {1: 100, 2: 200, 3: 300}
    data = program(
        patients=[
            patient(i, death_on=FIRST_DOSE + timedelta(days=d),
                    last_contact_on=FIRST_DOSE + timedelta(days=d))
            for i, d in deaths.items()
        ],
        courses=[course(10 + i, patient_id=i) for i in deaths],
    )  # fmt: skip
    wait = timedelta(days=61)
    dates = dict.fromkeys(deaths, FIRST_DOSE - wait)
    from_dose = group_outcome(data, Group("x", "X", set(deaths)))["overall_survival"]
    from_arm = group_outcome(data, Group("x", "X", set(deaths), assigned_on=dates))
    median = from_arm["overall_survival"]["median_months"]
    assert from_dose["median_months"] == round(200 / DAYS_PER_MONTH, 2)
    assert median == round(261 / DAYS_PER_MONTH, 2)


def test_an_assignment_after_the_data_cut_off_is_not_followed_yet() -> None:
    late = {5: date(2025, 7, 1)}
    durations = overall_survival(clinic(), origin=from_assignment(late))
    assert sum(d.days.size for d in durations.values()) == 0
