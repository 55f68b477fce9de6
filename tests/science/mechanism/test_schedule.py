"""Regimens of the rule set as simulated dosing: dose times, doses, interval edges, SBRT."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest

from il2.domain.errors import InvalidInputError
from il2.rules.loader import RuleSet, load_rules
from il2.science.mechanism.schedule import MIN_PER_DAY, SbrtPlan, course_of


@cache
def rules() -> RuleSet:
    return load_rules()


def test_label_regimen_gives_14_q8h_doses_on_days_1_and_15() -> None:
    regimen = rules().regimens["hd-label"]
    course = course_of(regimen)
    assert course.doses == 28
    assert course.route == "iv"
    assert course.infusion_min == 15.0
    np.testing.assert_array_equal(course.dose_iu_per_kg, np.full(28, 600_000.0))
    first = np.arange(14) * 8 * 60.0
    np.testing.assert_array_equal(course.dose_min[:14], first)
    np.testing.assert_array_equal(course.dose_min[14:], first + 14 * MIN_PER_DAY)


def test_edges_give_one_interval_per_dose_then_rests() -> None:
    course = course_of(rules().regimens["hd-label"], tail_days=1.0)
    owners = course.interval_dose
    assert owners.size == course.edges_days.size - 1
    assert np.all(np.diff(course.edges_days) > 0)
    # every dose opens exactly one interval, in order, starting at its own time
    doses = np.flatnonzero(owners >= 0)
    np.testing.assert_array_equal(owners[doses], np.arange(course.doses))
    np.testing.assert_allclose(course.edges_days[doses], course.dose_min / MIN_PER_DAY)
    # a rest between the cycles (from 8 h after dose 14 to day 15) and one tail of 1 day
    assert owners.tolist().count(-1) == 2
    rest = int(np.flatnonzero(owners == -1)[0])
    assert course.edges_days[rest] == pytest.approx(13 * 8 / 24 + 8 / 24)
    assert course.edges_days[rest + 1] == pytest.approx(14.0)
    assert course.edges_days[-1] - course.edges_days[-2] == pytest.approx(1.0)


def test_the_nci_high_dose_and_low_dose_count_15_doses_a_cycle() -> None:
    assert course_of(rules().regimens["hd-nci-720"]).doses == 30
    low = course_of(rules().regimens["ld-iv-nci"])
    assert low.doses == 15
    assert set(low.dose_iu_per_kg.tolist()) == {72_000.0}


def test_subcutaneous_low_dose_steps_are_daily_on_weekdays() -> None:
    course = course_of(rules().regimens["ld-sc-nci"])
    assert course.route == "sc"
    days = course.dose_min / MIN_PER_DAY
    assert days.tolist()[:7] == [0, 1, 2, 3, 4, 7, 8]
    assert course.dose_iu_per_kg[:5].tolist() == [250_000.0] * 5
    assert set(course.dose_iu_per_kg[5:].tolist()) == {125_000.0}
    assert course.doses == 30


def test_sbrt_precedes_the_first_dose_by_the_regimens_anchor() -> None:
    regimen = rules().regimens["sbrt-hd"]
    assert regimen.anchor is not None
    course = course_of(regimen, sbrt=SbrtPlan(20.0, 2, 1.0, 5.0))
    anchor_days = regimen.anchor.min_h / 24
    assert course.sbrt_days.tolist() == [0.0, 1.0]
    assert course.dose_min[0] / MIN_PER_DAY == pytest.approx(1.0 + anchor_days)  # not 5 days
    # cycle 2 on the regimen's day 17
    assert (course.dose_min[14] - course.dose_min[0]) / MIN_PER_DAY == pytest.approx(16.0)
    days, gy = course.sbrt_for(np.array([1, 2, 0]))
    assert np.isnan(days[0, 0])
    assert days[0, 1] == 1.0
    assert days[1].tolist() == [0.0, 1.0]
    assert gy[1].tolist() == [20.0, 20.0]
    assert np.isnan(days[2]).all()
    assert gy[2].tolist() == [0.0, 0.0]


@pytest.mark.parametrize(
    ("regimen_id", "why"),
    [
        ("civ-eu", "per kg"),
        ("ld-sc-ifn", "interferon_alfa"),
        ("biochemo-cvd", "cisplatin"),
        ("intralesional", "intralesional"),
        ("post-til", "til_infusion_end"),
        ("tmz-hd", "temozolomide"),
    ],
)
def test_unmodelled_regimens_are_refused_naming_why(regimen_id: str, why: str) -> None:
    with pytest.raises(InvalidInputError) as error:
        course_of(rules().regimens[regimen_id])
    assert error.value.field == "regimen"
    assert regimen_id in str(error.value)
    assert why in str(error.value)


def test_sbrt_before_a_regimen_without_an_anchor_keeps_the_plans_gap() -> None:
    course = course_of(rules().regimens["hd-label"], sbrt=SbrtPlan(20.0, 1, 1.0, 3.0))
    assert course.sbrt_days.tolist() == [0.0]
    assert course.dose_min[0] / MIN_PER_DAY == pytest.approx(3.0)
