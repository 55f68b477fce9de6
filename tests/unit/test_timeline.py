"""The patient's dose timeline: when a scheduled dose is due, and when it may be given."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from il2.domain.records import DoseOutcome
from il2.domain.timeline import (
    Slot,
    SlotStatus,
    TimelineLine,
    TimelinePolicy,
    given_refusals,
    hours_since_last_given,
    slot_state,
)

POLICY = TimelinePolicy(
    window_early=timedelta(minutes=60),
    window_late=timedelta(minutes=60),
    clock_tolerance=timedelta(minutes=5),
)
DAY1 = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
H = timedelta(hours=1)
M = timedelta(minutes=1)


def _slot(number: int = 2, *, cycle: int = 1, course: int = 1) -> Slot:
    first = DAY1 if cycle == 1 else DAY1 + timedelta(days=14)
    return Slot(course, cycle, number, first + (number - 1) * 8 * H, first, 8)


def _line(
    *,
    number: int = 1,
    cycle: int = 1,
    course: int = 1,
    outcome: DoseOutcome = DoseOutcome.GIVEN,
    action: str = "give",
    at: datetime | None = DAY1,
) -> TimelineLine:
    given_at = at if outcome is DoseOutcome.GIVEN else None
    return TimelineLine(course, cycle, number, outcome, action, given_at, 8)


def _codes(
    slot: Slot, lines: list[TimelineLine], at: datetime, now: datetime | None = None
) -> set[str]:
    refusals = given_refusals(
        slot, lines, given_at=at, assessed_at=at - 10 * M, now=now or at, policy=POLICY
    )
    assert all(not r.overridable for r in refusals)
    return {r.code for r in refusals}


def test_a_dose_inside_its_window_and_after_the_interval_is_due() -> None:
    state = slot_state(_slot(), [_line()], policy=POLICY, now=DAY1 + 8 * H)
    assert state.status is SlotStatus.DUE


def test_before_the_window_opens_the_dose_is_not_due_and_says_when() -> None:
    state = slot_state(_slot(), [_line()], policy=POLICY, now=DAY1 + 6 * H)
    assert state.status is SlotStatus.NOT_DUE
    assert state.due_from == DAY1 + 8 * H
    assert "16:00" in state.message


def test_the_interval_from_a_late_dose_delays_when_the_next_is_due() -> None:
    state = slot_state(_slot(), [_line(at=DAY1 + 50 * M)], policy=POLICY, now=DAY1 + 8 * H)
    assert state.status is SlotStatus.NOT_DUE
    assert state.due_from == DAY1 + 8 * H + 50 * M


def test_after_the_window_closes_it_has_passed() -> None:
    state = slot_state(_slot(), [_line()], policy=POLICY, now=DAY1 + 9 * H + M)
    assert state.status is SlotStatus.WINDOW_PASSED


def test_any_discontinue_of_the_patient_ends_every_course() -> None:
    stop = _line(course=1, outcome=DoseOutcome.STOPPED, action="discontinue")
    state = slot_state(_slot(1, course=2), [stop], policy=POLICY, now=DAY1)
    assert state.status is SlotStatus.DISCONTINUED
    assert _codes(_slot(1, course=2), [stop], DAY1) >= {"discontinued"}


def test_a_stopped_cycle_takes_no_more_doses_but_the_next_cycle_does() -> None:
    stop = _line(outcome=DoseOutcome.STOPPED, action="stop_cycle")
    assert (
        slot_state(_slot(3), [stop], policy=POLICY, now=DAY1 + 16 * H).status
        is SlotStatus.CYCLE_STOPPED
    )
    later = _slot(1, cycle=2)
    assert slot_state(later, [stop], policy=POLICY, now=later.due_at).status is SlotStatus.DUE


def test_ward_walkthrough_d1_a_cycle_2_dose_right_after_cycle_1_is_refused() -> None:
    """Ward walkthrough D1: cycle 2 dose 1 given a minute after dose 1.1."""
    codes = _codes(_slot(1, cycle=2), [_line(at=DAY1 + 79 * M)], DAY1 + 80 * M)
    assert {"before-cycle-start", "interval-too-soon"} <= codes


def test_ward_walkthrough_d2_a_given_at_in_the_future_is_refused() -> None:
    """Ward walkthrough D2: a time typed hours ahead of the clock."""
    assert "given-at-future" in _codes(_slot(), [_line()], DAY1 + 8 * H, now=DAY1 + 1 * H)


def test_the_interval_runs_across_courses() -> None:
    other = _line(course=7, at=DAY1 + 4 * H)
    assert "interval-too-soon" in _codes(_slot(), [other], DAY1 + 8 * H)


def test_the_interval_holds_towards_a_dose_recorded_later_in_time() -> None:
    later = _line(number=3, at=DAY1 + 12 * H)
    assert "interval-too-soon" in _codes(_slot(2), [later], DAY1 + 8 * H, now=DAY1 + 13 * H)


def test_given_before_its_assessment_is_refused() -> None:
    refusals = given_refusals(_slot(), [_line()], given_at=DAY1 + 8 * H,
                              assessed_at=DAY1 + 8 * H + 6 * M, now=DAY1 + 9 * H, policy=POLICY)  # fmt: skip
    assert [r.code for r in refusals] == ["given-before-assessment"]


def test_hours_since_the_last_given_dose_count_every_course() -> None:
    lines = [_line(course=1, at=DAY1), _line(course=2, at=DAY1 + 2 * H)]
    assert hours_since_last_given(lines, DAY1 + 10 * H) == 8.0
    assert hours_since_last_given([], DAY1) is None


@given(
    offsets=st.lists(st.integers(min_value=-24 * 60, max_value=24 * 60), max_size=4),
    given_min=st.integers(min_value=-3 * 60, max_value=3 * 60),
    now_min=st.integers(min_value=-3 * 60, max_value=3 * 60),
)
def test_whatever_given_at_is_accepted_keeps_the_interval_and_the_window(
    offsets: list[int], given_min: int, now_min: int
) -> None:
    slot = _slot(3)
    lines = [_line(number=1 + i, at=slot.due_at + m * M) for i, m in enumerate(offsets)]
    at, now = slot.due_at + given_min * M, slot.due_at + now_min * M
    refusals = given_refusals(slot, lines, given_at=at, assessed_at=at, now=now, policy=POLICY)
    if refusals:
        return
    assert slot.due_at - POLICY.window_early <= at <= slot.due_at + POLICY.window_late
    assert at <= now + POLICY.clock_tolerance
    for line in lines:
        assert line.given_at is not None
        assert abs(at - line.given_at) >= 8 * H
