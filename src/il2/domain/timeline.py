"""One dose timeline per patient: when a scheduled dose may be recorded, and when given.

Every check reads the patient's whole ledger, across all courses and cycles, so the minimum
interval runs from the last dose the patient was given, whatever course or cycle it belonged to.
A slot is `due` inside its window around the planned time (and once the interval since the last
given dose has run), `not_due` before that (with the moment it becomes due), `window_passed`
after its window, `cycle_stopped` once its cycle was stopped and `discontinued` once any dose
of the patient was recorded with a discontinue. None of the refusals here may be overridden:
they are facts about time, not clinical judgement.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from enum import StrEnum

from il2.domain.errors import Refusal
from il2.domain.records import CourseDoseLine, DoseOutcome, PlannedDose

DISCONTINUE = "discontinue"
STOP_CYCLE = "stop_cycle"


class SlotStatus(StrEnum):
    """Where a scheduled dose stands on the patient's timeline at a given moment."""

    DUE = "due"
    NOT_DUE = "not_due"
    WINDOW_PASSED = "window_passed"
    CYCLE_STOPPED = "cycle_stopped"
    DISCONTINUED = "discontinued"


@dataclass(frozen=True, slots=True)
class TimelinePolicy:
    """The site's dose window around the due time, and the clock tolerance for `given_at`."""

    window_early: timedelta
    window_late: timedelta
    clock_tolerance: timedelta
    source: str = ""
    time_zone: tzinfo = UTC


@dataclass(frozen=True, slots=True)
class TimelineLine(CourseDoseLine):
    """One ledger line of the patient, with the minimum interval of its course's regimen."""

    interval_h: int


@dataclass(frozen=True, slots=True)
class Slot(PlannedDose):
    """A scheduled dose: its course, cycle and number, when it is due, and its cycle's start."""

    cycle_first_due_at: datetime
    interval_h: int


@dataclass(frozen=True, slots=True)
class SlotState:
    """A slot's status at a moment; `due_from` says when a `not_due` slot becomes due."""

    status: SlotStatus
    due_from: datetime | None
    message: str


def _clock(zone: tzinfo) -> Callable[[datetime], str]:
    """How moments read on the ward: in the site's time zone, to the minute."""

    def when(moment: datetime) -> str:
        return moment.astimezone(zone).strftime("%a %d %b %Y %H:%M %Z").strip()

    return when


def _given(lines: Sequence[TimelineLine]) -> list[TimelineLine]:
    return [line for line in lines if line.outcome is DoseOutcome.GIVEN and line.given_at]


def discontinued_by(lines: Sequence[TimelineLine]) -> TimelineLine | None:
    """The first ledger line of the patient recorded with a discontinue, if any."""
    return next((line for line in lines if line.decision_action == DISCONTINUE), None)


def stopped_by(slot: Slot, lines: Sequence[TimelineLine]) -> TimelineLine | None:
    """The ledger line that stopped the slot's cycle (a stop decision or a stopped dose)."""
    return next(
        (
            line
            for line in lines
            if (line.course_id, line.cycle) == (slot.course_id, slot.cycle)
            and (line.decision_action == STOP_CYCLE or line.outcome is DoseOutcome.STOPPED)
        ),
        None,
    )


def _gap(line: TimelineLine, slot: Slot) -> timedelta:
    return timedelta(hours=max(line.interval_h, slot.interval_h))


def earliest(slot: Slot, lines: Sequence[TimelineLine], policy: TimelinePolicy) -> datetime:
    """The first moment the slot may be given: its window opens and the interval has run."""
    opens = slot.due_at - policy.window_early
    after = [line.given_at + _gap(line, slot) for line in _given(lines) if line.given_at]
    return max([opens, *after])


def slot_state(
    slot: Slot, lines: Sequence[TimelineLine], *, policy: TimelinePolicy, now: datetime
) -> SlotState:
    """Where the slot stands at `now` on the patient's timeline (`lines`: every course)."""
    when = _clock(policy.time_zone)
    stop = discontinued_by(lines)
    if stop is not None:
        return SlotState(
            SlotStatus.DISCONTINUED,
            None,
            f"IL-2 was discontinued at dose {stop.cycle}.{stop.dose_number}: no more doses",
        )
    stop = stopped_by(slot, lines)
    if stop is not None:
        return SlotState(
            SlotStatus.CYCLE_STOPPED,
            None,
            f"cycle {slot.cycle} was stopped at dose {stop.cycle}.{stop.dose_number}: "
            "no more doses this cycle",
        )
    closes = slot.due_at + policy.window_late
    first = earliest(slot, lines, policy)
    if now > closes or first > closes:
        return SlotState(
            SlotStatus.WINDOW_PASSED,
            None,
            f"the window of this dose (due {when(slot.due_at)}) closed at {when(closes)}"
            if now > closes
            else "this dose cannot be given inside its window: the minimum interval from the "
            f"last dose given runs to {when(first)}, after the window closes at {when(closes)}",
        )
    if now < first:
        return SlotState(
            SlotStatus.NOT_DUE,
            first,
            f"this dose is not due yet: it becomes due at {when(first)}",
        )
    return SlotState(SlotStatus.DUE, None, "this dose is due")


def given_refusals(
    slot: Slot,
    lines: Sequence[TimelineLine],
    *,
    given_at: datetime,
    assessed_at: datetime,
    now: datetime,
    policy: TimelinePolicy,
) -> tuple[Refusal, ...]:
    """Every reason a dose of `slot` must not be recorded as given at `given_at` (none: it may).

    None of them may be overridden.
    """
    refusals: list[Refusal] = []
    tolerance, when = policy.clock_tolerance, _clock(policy.time_zone)
    if given_at > now + tolerance:
        refusals.append(Refusal(
            "given-at-future",
            f"the time given ({when(given_at)}) is in the future: it is now {when(now)}",
        ))  # fmt: skip
    if assessed_at > now + tolerance:
        refusals.append(Refusal(
            "assessed-at-future",
            f"the assessment time ({when(assessed_at)}) is in the future: it is now {when(now)}",
        ))  # fmt: skip
    if given_at < assessed_at - tolerance:
        refusals.append(Refusal(
            "given-before-assessment",
            f"the time given ({when(given_at)}) is before the before-dose assessment "
            f"({when(assessed_at)})",
        ))  # fmt: skip
    opens, closes = slot.due_at - policy.window_early, slot.due_at + policy.window_late
    if slot.cycle > 1 and given_at < slot.cycle_first_due_at - policy.window_early:
        refusals.append(Refusal(
            "before-cycle-start",
            f"cycle {slot.cycle} starts {when(slot.cycle_first_due_at)}: no dose of it "
            f"before then (time given {when(given_at)})",
        ))  # fmt: skip
    elif not opens <= given_at <= closes:
        refusals.append(Refusal(
            "outside-window",
            f"dose {slot.cycle}.{slot.dose_number} is due {when(slot.due_at)} and may be given "
            f"from {when(opens)} to {when(closes)}, not at {when(given_at)}",
        ))  # fmt: skip
    refusals.extend(_too_soon(slot, lines, given_at, when))
    stop = discontinued_by(lines) or stopped_by(slot, lines)
    if stop is not None:
        state = slot_state(slot, lines, policy=policy, now=now)
        code = "discontinued" if state.status is SlotStatus.DISCONTINUED else "cycle-stopped"
        refusals.append(Refusal(code, state.message))
    return tuple(refusals)


def _too_soon(
    slot: Slot, lines: Sequence[TimelineLine], given_at: datetime, when: Callable[[datetime], str]
) -> list[Refusal]:
    """The minimum interval, both ways: from a dose given before, and to one given after."""
    for line in _given(lines):
        assert line.given_at is not None  # noqa: S101 - _given keeps only dated doses
        gap = _gap(line, slot)
        if abs(given_at - line.given_at) < gap:
            hours = (given_at - line.given_at).total_seconds() / 3600
            side = "after" if hours >= 0 else "before"
            return [Refusal(
                "interval-too-soon",
                f"dose {line.cycle}.{line.dose_number} was given {when(line.given_at)}, "
                f"{abs(hours):.2f} h {side} this one: at least {gap.total_seconds() / 3600:g} h "
                f"must separate two doses (not before {when(line.given_at + gap)})",
            )]  # fmt: skip
    return []


def hours_since_last_given(lines: Sequence[TimelineLine], at: datetime) -> float | None:
    """Hours from the patient's last dose given at or before `at`, to two decimals."""
    before = [line.given_at for line in _given(lines) if line.given_at and line.given_at <= at]
    if not before:
        return None
    return round((at - max(before)).total_seconds() / 3600, 2)
