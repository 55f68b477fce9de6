"""When a course may start: the admission checks on a patient's records (domain/admission.py)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from il2.domain.admission import (
    AdmissionPolicy,
    PatientRecords,
    admission_refusals,
    check_first_dose,
    course_last_due,
)
from il2.domain.errors import InvalidInputError
from il2.domain.records import CourseRecord, DoseOutcome, LedgerLine, ScreeningRecord
from il2.domain.retreatment import Retreatment, RetreatmentDecision, RetreatmentReason
from il2.rules.loader import load_rules

RULES = load_rules()
NOW = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
POLICY = AdmissionPolicy(
    screening_valid_days=28, first_dose_past_tolerance_hours=1, first_dose_max_days_ahead=84
)


def screening(days_ago: float, verdict: str = "eligible", sid: int = 1) -> ScreeningRecord:
    return ScreeningRecord(
        sid, 1, {}, verdict, {}, "v", "physician", NOW - timedelta(days=days_ago)
    )


def course(number: int, first: datetime, *, regimen: str = "hd-label") -> CourseRecord:
    """A two-cycle course of 14 slots a cycle every 8 h, cycle 2 on day 15."""
    cycles = [
        {
            "cycle": c,
            "doses": [
                {
                    "dose": d + 1,
                    "due_at": (first + timedelta(days=14 * (c - 1), hours=8 * d)).isoformat(),
                }
                for d in range(14)
            ],
        }
        for c in (1, 2)
    ]
    return CourseRecord(number, 1, number, regimen, "70", first, {"cycles": cycles}, "p", first)


def line(cycle: int, dose: int, at: datetime | None, action: str = "give") -> LedgerLine:
    outcome = DoseOutcome.GIVEN if action == "give" else DoseOutcome.STOPPED
    return LedgerLine(cycle, dose, outcome, action, at if action == "give" else None)


def records(
    screenings: Sequence[ScreeningRecord] = (),
    courses: Sequence[CourseRecord] = (),
    ledgers: dict[int, list[LedgerLine]] | None = None,
) -> PatientRecords:
    return PatientRecords(
        screenings=list(screenings),
        courses=list(courses),
        ledgers=ledgers or {},
        regimens=RULES.regimens,
        rest_sources={"hd-label": "Label-legacy: at least 7 weeks between courses"},
    )


def codes(patient: PatientRecords, first: datetime, **kwargs: Any) -> list[str]:
    return [
        r.code
        for r in admission_refusals(
            patient, first_dose=first, now=NOW, policy=POLICY, retreatment=kwargs.get("retreatment")
        )
    ]


def test_a_freshly_screened_eligible_patient_with_no_course_may_start() -> None:
    assert codes(records([screening(1)]), NOW + timedelta(days=1)) == []


def test_a_patient_never_screened_is_refused_and_not_overridably() -> None:
    refusals = admission_refusals(
        records(), first_dose=NOW, now=NOW, policy=POLICY, retreatment=None
    )
    assert [(r.code, r.overridable) for r in refusals] == [("screening-missing", False)]


@pytest.mark.parametrize("verdict", ["not_eligible", "incomplete"])
def test_the_latest_screening_must_be_eligible(verdict: str) -> None:
    patient = records([screening(10, "eligible", 1), screening(1, verdict, 2)])
    assert codes(patient, NOW) == ["screening-not-eligible"]


@pytest.mark.parametrize(
    ("days_ago", "refused"), [(27, False), (28, False), (28.01, True), (29, True)]
)
def test_a_screening_is_current_for_the_policy_days(days_ago: float, *, refused: bool) -> None:
    assert ("screening-outdated" in codes(records([screening(days_ago)]), NOW)) is refused


@pytest.mark.parametrize(
    ("offset", "accepted"),
    [
        (timedelta(hours=-1), True),
        (timedelta(hours=-1, minutes=-1), False),
        (timedelta(days=84), True),
        (timedelta(days=84, minutes=1), False),
        (timedelta(days=-365 * 6), False),
    ],
)
def test_the_first_dose_lies_in_the_policy_window(offset: timedelta, *, accepted: bool) -> None:
    if accepted:
        check_first_dose(NOW + offset, now=NOW, policy=POLICY)
        return
    with pytest.raises(InvalidInputError) as refused:
        check_first_dose(NOW + offset, now=NOW, policy=POLICY)
    assert refused.value.field == "first_dose"
    assert "at most 1 h ago" in refused.value.allowed
    assert "84 days ahead" in refused.value.allowed


def test_a_running_course_refuses_an_overlapping_one_without_override() -> None:
    first = course(1, NOW - timedelta(days=2))
    patient = records([screening(3)], [first], {1: [line(1, 1, NOW - timedelta(days=2))]})
    refusals = admission_refusals(
        patient, first_dose=NOW + timedelta(days=1), now=NOW, policy=POLICY, retreatment=None
    )
    assert [(r.code, r.overridable) for r in refusals] == [("course-overlap", False)]


def test_a_course_stopped_in_its_last_cycle_no_longer_runs_but_the_rest_still_applies() -> None:
    given = NOW - timedelta(days=16)
    first = course(1, NOW - timedelta(days=17))
    ledger = [
        line(1, 1, NOW - timedelta(days=17)),
        line(2, 1, given),
        line(2, 2, None, "stop_cycle"),
    ]
    patient = records([screening(1)], [first], {1: ledger})
    refusals = admission_refusals(
        patient, first_dose=NOW + timedelta(days=1), now=NOW, policy=POLICY, retreatment=None
    )
    assert [(r.code, r.overridable) for r in refusals] == [("rest-too-short", True)]
    assert "7 weeks" in refusals[0].message
    assert "Label-legacy" in refusals[0].message


def test_the_rest_counts_seven_weeks_from_the_last_dose_given() -> None:
    last_given = NOW - timedelta(days=30)
    first = course(1, NOW - timedelta(days=50))
    patient = records([screening(1)], [first], {1: [line(2, 14, last_given)]})
    boundary = last_given + timedelta(weeks=7)
    assert codes(patient, boundary) == []
    assert codes(patient, boundary - timedelta(minutes=1)) == ["rest-too-short"]


def test_a_discontinue_bars_every_later_course() -> None:
    first = course(1, NOW - timedelta(days=100))
    ledger = [line(1, 1, NOW - timedelta(days=100)), line(1, 2, None, "discontinue")]
    patient = records([screening(1)], [first], {1: ledger})
    refusals = admission_refusals(
        patient, first_dose=NOW + timedelta(days=1), now=NOW, policy=POLICY, retreatment=None
    )
    assert [(r.code, r.overridable) for r in refusals] == [("earlier-discontinue", False)]


def test_a_course_planned_ahead_counts_its_planned_cycles_against_the_regimens_limit() -> None:
    sbrt = RULES.regimens["sbrt-hd"]
    given = [course(n, NOW - timedelta(days=100 * n), regimen="sbrt-hd") for n in (1, 2)]
    ledgers = {c.id: [line(1, 1, c.first_dose_at), line(2, 1, c.first_dose_at + timedelta(days=14))]
               for c in given}  # fmt: skip
    ahead = course(3, NOW + timedelta(days=2), regimen="sbrt-hd")
    patient = records([screening(1)], [*given, ahead], ledgers)
    later = NOW + timedelta(days=40)
    refusals = admission_refusals(
        patient, first_dose=later, now=NOW, policy=POLICY, retreatment=None, regimen=sbrt
    )
    assert [(r.code, r.overridable) for r in refusals] == [("regimen-cycle-limit", True)]
    assert "6 cycles of aldesleukin given or planned" in refusals[0].message
    without = admission_refusals(
        records([screening(1)], given, ledgers),
        first_dose=later, now=NOW, policy=POLICY, retreatment=None, regimen=sbrt,
    )  # fmt: skip
    assert without == []


def test_the_spacing_counts_from_a_course_planned_ahead_before_any_dose_is_given() -> None:
    ahead = course(1, NOW + timedelta(days=1), regimen="hd-cwg-q12w")
    patient = records([screening(1)], [ahead])
    just_short = NOW + timedelta(days=1, weeks=12) - timedelta(days=1)
    refusals = admission_refusals(
        patient, first_dose=just_short, now=NOW, policy=POLICY, retreatment=None
    )
    assert [(r.code, r.overridable) for r in refusals] == [("course-spacing-too-short", True)]
    assert "earliest first dose 2027-03-02" in refusals[0].message
    assert codes(patient, just_short + timedelta(days=1)) == []


def _decision(verdict: Retreatment) -> RetreatmentDecision:
    reasons = (
        (RetreatmentReason("cardiac", "myocardial_infarction", "one of ...", "label"),)
        if verdict is Retreatment.FORBIDDEN
        else ()
    )
    unknown = ("intubated_hours_max",) if verdict is Retreatment.INCOMPLETE else ()
    return RetreatmentDecision(verdict, reasons, unknown, "v")


@pytest.mark.parametrize(
    ("verdict", "expected"),
    [
        (Retreatment.FORBIDDEN, [("retreatment-forbidden", False)]),
        (Retreatment.INCOMPLETE, [("retreatment-incomplete", True)]),
        (Retreatment.NOT_FORBIDDEN, []),
    ],
)
def test_retreatment_after_a_treated_course(verdict: Retreatment, expected: list[Any]) -> None:
    first = course(1, NOW - timedelta(days=100))
    patient = records([screening(1)], [first], {1: [line(1, 1, NOW - timedelta(days=100))]})
    refusals = admission_refusals(
        patient, first_dose=NOW, now=NOW, policy=POLICY, retreatment=_decision(verdict)
    )
    assert [(r.code, r.overridable) for r in refusals] == expected


def test_retreatment_does_not_apply_before_any_dose_was_given() -> None:
    patient = records([screening(1)])
    assert codes(patient, NOW, retreatment=_decision(Retreatment.FORBIDDEN)) == []


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(min_value=-2, max_value=24 * 120), st.booleans()),
        min_size=1,
        max_size=8,
    )
)
def test_no_sequence_of_accepted_plans_yields_overlapping_courses(
    attempts: list[tuple[int, bool]],
) -> None:
    """Each attempt plans a course `hours` after a moving clock, sometimes with an override of
    every overridable reason; whatever is accepted never overlaps an earlier course."""
    now = NOW
    courses: list[CourseRecord] = []
    for hours, overriding in attempts:
        first = now + timedelta(hours=hours)
        patient = PatientRecords([screening(0)], courses, {}, RULES.regimens)
        try:
            check_first_dose(first, now=now, policy=POLICY)
        except InvalidInputError:
            continue
        refusals = admission_refusals(
            patient, first_dose=first, now=now, policy=POLICY, retreatment=None
        )
        if refusals and not (overriding and all(r.overridable for r in refusals)):
            continue
        courses.append(course(len(courses) + 1, first))
        now = first
    ordered = sorted(courses, key=lambda c: c.first_dose_at)
    for before, after in itertools.pairwise(ordered):
        assert after.first_dose_at > course_last_due(before)
