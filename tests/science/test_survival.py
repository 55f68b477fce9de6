"""Kaplan-Meier estimates, checked against the Freireich 6-MP leukaemia remission data.

Freireich et al., Blood 1963; the 6-MP arm as tabulated by Kalbfleisch & Prentice and by
Kleinbaum & Klein (times in weeks, * censored): 6,6,6,6*,7,9*,10,10*,11*,13,16,17*,19*,20*,22,
23,25*,32*,32*,34*,35*. The placebo arm had no censoring.
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import date

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from il2.domain.errors import InvalidInputError
from il2.science.survival import (
    KaplanMeier,
    duration_of_response,
    first_doses,
    overall_survival,
    progression_free_survival,
)
from tests.science.builders import clinic, course, patient, program, response

SIX_MP = [6, 6, 6, -6, 7, -9, 10, -10, -11, 13, 16, -17, -19, -20, 22, 23, -25, -32, -32, -34, -35]
PLACEBO = [1, 1, 2, 2, 3, 4, 4, 5, 5, 8, 8, 8, 8, 11, 11, 12, 12, 15, 17, 22, 23]
PUBLISHED_6MP = {6: 0.857, 7: 0.807, 10: 0.753, 13: 0.690, 16: 0.627, 22: 0.538, 23: 0.448}


def _fit(signed: list[int]) -> KaplanMeier:
    times = [abs(t) for t in signed]
    return KaplanMeier().fit(times, [t > 0 for t in signed])


def _product_limit(signed: list[int]) -> dict[float, tuple[float, float, float]]:
    """S(t) with its log(-log) Greenwood 95% band at each event time, computed by hand."""
    times = sorted({abs(t) for t in signed if t > 0})
    survival, greenwood, out = 1.0, 0.0, {}
    for t in times:
        at_risk = sum(1 for s in signed if abs(s) >= t)
        deaths = sum(1 for s in signed if s == t)
        survival *= 1 - deaths / at_risk
        if at_risk > deaths:
            greenwood += deaths / (at_risk * (at_risk - deaths))
        spread = 1.959963984540054 * math.sqrt(greenwood) / abs(math.log(survival))
        out[t] = (survival, survival ** math.exp(spread), survival ** math.exp(-spread))
    return out


@pytest.mark.parametrize(("week", "published"), PUBLISHED_6MP.items())
def test_six_mp_survival_matches_the_published_product_limit_values(
    week: int, published: float
) -> None:
    assert _fit(SIX_MP).survival_at([week])[0] == pytest.approx(published, abs=5e-4)


def test_six_mp_survival_matches_a_hand_computed_product_limit_at_every_event() -> None:
    estimate = _fit(SIX_MP)
    for week, (survival, lower, upper) in _product_limit(SIX_MP).items():
        assert estimate.survival_at([week])[0] == pytest.approx(survival, rel=1e-12)
        band = estimate.ci_at([week])
        assert (band[0][0], band[1][0]) == pytest.approx((lower, upper), rel=1e-9)


def test_survival_is_a_right_continuous_step_between_events() -> None:
    estimate = _fit(SIX_MP)
    assert estimate.survival_at([0, 5.99, 6, 6.5, 9, 35, 100]).tolist() == pytest.approx(
        [1.0, 1.0, 0.857143, 0.857143, 0.806723, 0.448179, 0.448179], abs=1e-6
    )


def test_six_mp_median_remission_is_23_weeks_with_the_upper_bound_not_reached() -> None:
    estimate = _fit(SIX_MP)
    assert estimate.median_ == 23.0
    assert estimate.median_ci_ == (13.0, None)


def test_placebo_median_remission_is_8_weeks() -> None:
    estimate = _fit(PLACEBO)
    assert estimate.median_ == 8.0
    assert (estimate.n_, estimate.events_) == (21, 21)


def test_a_curve_that_never_falls_to_half_has_no_median() -> None:
    assert KaplanMeier().fit([5, 10, 15], [True, False, False]).median_ is None


def test_numbers_at_risk_count_everyone_still_followed() -> None:
    assert _fit(SIX_MP).at_risk_at([0, 6, 7, 10, 23, 36]).tolist() == [21, 21, 17, 15, 6, 0]


def test_an_empty_sample_fits_to_an_empty_curve() -> None:
    estimate = KaplanMeier().fit([], [])
    assert (estimate.n_, estimate.events_, estimate.median_) == (0, 0, None)
    assert estimate.timeline_.size == 0


def test_fit_returns_the_estimator_and_keeps_its_settings() -> None:
    estimator = KaplanMeier(alpha=0.1)
    assert estimator.fit([1, 2], [True, True]) is estimator
    assert estimator.alpha == 0.1


@pytest.mark.parametrize(
    ("durations", "events"), [([-1, 2], [True, True]), ([1, 2], [True]), ([np.nan], [True])]
)
def test_impossible_durations_are_refused(durations: list[float], events: list[bool]) -> None:
    with pytest.raises(InvalidInputError):
        KaplanMeier().fit(durations, events)


@settings(deadline=None)  # lifelines fits take a few ms; a busy machine must not fail the test
@given(st.lists(st.tuples(st.integers(0, 400), st.booleans()), min_size=1, max_size=60))
def test_survival_never_rises_and_its_band_holds_it(sample: list[tuple[int, bool]]) -> None:
    times, events = zip(*sample, strict=True)
    estimate = KaplanMeier().fit(times, events)
    assert np.all(np.diff(estimate.survival_) <= 1e-12)
    assert np.all((estimate.survival_ >= 0) & (estimate.survival_ <= 1))
    assert np.all(estimate.ci_lower_ <= estimate.survival_ + 1e-12)
    assert np.all(estimate.survival_ <= estimate.ci_upper_ + 1e-12)


def test_overall_survival_runs_from_first_dose_to_death_or_last_contact() -> None:
    durations = overall_survival(clinic())["melanoma"]
    first = date(2024, 2, 1)
    expected = [
        ((date(2025, 1, 1) - first).days, False),
        ((date(2024, 8, 1) - first).days, True),
        ((date(2024, 6, 1) - first).days, False),
        ((date(2025, 3, 1) - first).days, False),
    ]
    assert list(zip(durations.days.tolist(), durations.events.tolist(), strict=True)) == expected


def test_progression_free_survival_ends_at_progression_or_death() -> None:
    durations = progression_free_survival(clinic())["melanoma"]
    first = date(2024, 2, 1)
    assert durations.days.tolist() == [
        (date(2024, 10, 1) - first).days,
        (date(2024, 8, 1) - first).days,
        (date(2024, 4, 1) - first).days,
        (date(2025, 3, 1) - first).days,
    ]
    assert durations.events.tolist() == [True, True, True, False]


def test_duration_of_response_counts_only_responders_from_their_response() -> None:
    durations = duration_of_response(clinic())["melanoma"]
    assert durations.days.tolist() == [
        (date(2024, 10, 1) - date(2024, 4, 1)).days,
        (date(2024, 8, 1) - date(2024, 4, 1)).days,
    ]
    assert durations.events.tolist() == [True, True]


def test_endpoints_are_split_by_diagnosis() -> None:
    assert overall_survival(clinic())["renal_cell_carcinoma"].days.size == 0


def test_events_after_the_data_cut_off_are_censored_there() -> None:
    records = program(
        patients=[patient(1, death_on=date(2024, 12, 1), last_contact_on=date(2024, 11, 1))],
        courses=[course(10)],
        as_of=date(2024, 6, 1),
    )
    durations = overall_survival(records)["melanoma"]
    assert durations.days.tolist() == [(date(2024, 6, 1) - date(2024, 2, 1)).days]
    assert durations.events.tolist() == [False]


def test_the_first_dose_is_the_earliest_course_or_else_the_response_record() -> None:
    records = program(
        patients=[patient(1), patient(2)],
        courses=[
            course(10, number=2, first_dose_on=date(2024, 5, 1)),
            course(11, first_dose_on=date(2024, 2, 3)),
        ],
        responses=[response(patient_id=2, first_dose_on=date(2024, 3, 1), timepoints=())],
    )
    assert first_doses(records) == {1: date(2024, 2, 3), 2: date(2024, 3, 1)}


def _with_clinical_progression(patient_id: int, on: date) -> object:
    clinic_ = clinic()
    patients = tuple(
        replace(p, progression_on=on) if p.patient_id == patient_id else p for p in clinic_.patients
    )
    return replace(clinic_, patients=patients)


def test_progression_a_follow_up_recorded_ends_progression_free_survival() -> None:
    """Patient 4 (not evaluable by RECIST) was found progressing at a follow-up on 2024-09-01;
    patient 1's follow-up found progression before RECIST did."""
    first = date(2024, 2, 1)
    four = progression_free_survival(_with_clinical_progression(4, date(2024, 9, 1)))["melanoma"]
    assert (four.days[3], four.events[3]) == ((date(2024, 9, 1) - first).days, True)
    one = progression_free_survival(_with_clinical_progression(1, date(2024, 7, 1)))["melanoma"]
    assert (one.days[0], one.events[0]) == ((date(2024, 7, 1) - first).days, True)


def test_a_follow_up_progression_before_the_response_does_not_end_the_response() -> None:
    before = duration_of_response(_with_clinical_progression(2, date(2024, 3, 1)))["melanoma"]
    assert before.days.tolist() == duration_of_response(clinic())["melanoma"].days.tolist()
    after = duration_of_response(_with_clinical_progression(2, date(2024, 6, 1)))["melanoma"]
    assert (after.days[1], after.events[1]) == ((date(2024, 6, 1) - date(2024, 4, 1)).days, True)


def test_a_follow_up_progression_outside_follow_up_is_refused() -> None:
    with pytest.raises(InvalidInputError) as refused:
        patient(1, progression_on=date(2025, 2, 1))
    assert refused.value.field == "patient.progression_on"
