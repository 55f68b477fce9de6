"""Where each patient is on the pathway, and what comes next: the coordinator's worklist.

Stages, in pathway order: referred (no screening yet), screening (incomplete), not_eligible,
scheduled (a course planned, first dose ahead), in_hospital (within a cycle's dosing days),
between_cycles, awaiting_scans (course over, no response recorded since), follow_up, deceased.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from il2.domain.records import (
    ClinicalEntry,
    CourseRecord,
    DoseRecord,
    PlannedDose,
    ScreeningRecord,
)


class Stage(StrEnum):
    """A patient's place on the pathway."""

    REFERRED = "referred"
    SCREENING = "screening"
    NOT_ELIGIBLE = "not_eligible"
    SCHEDULED = "scheduled"
    IN_HOSPITAL = "in_hospital"
    BETWEEN_CYCLES = "between_cycles"
    AWAITING_SCANS = "awaiting_scans"
    FOLLOW_UP = "follow_up"
    DECEASED = "deceased"


@dataclass(frozen=True, slots=True)
class Where:
    """A stage, the next action and when it is due."""

    stage: Stage
    next_action: str
    next_on: date | None


@dataclass(frozen=True, slots=True)
class Slot(PlannedDose):
    """One planned dose and what the ledger says of it."""

    status: str


def slots(course: CourseRecord, ledger: Sequence[DoseRecord], now: datetime) -> list[Slot]:
    """Every planned dose slot of a course with its status (due, overdue, given, held, stopped)."""
    recorded = {(r.cycle, r.dose_number): r.outcome.value for r in ledger}
    result = []
    for cycle in course.plan.get("cycles", []):
        for dose in cycle["doses"]:
            due = datetime.fromisoformat(dose["due_at"])
            status = recorded.get((cycle["cycle"], dose["number"]))
            if status is None:
                status = "overdue" if due < now else "due"
            result.append(Slot(course.id, cycle["cycle"], dose["number"], due, status))
    return result


def dose_window(slot: Slot, now: datetime, early: timedelta, late: timedelta) -> str:
    """Where an unrecorded slot stands against its dose window at `now`: `open` from `early`
    before its due time to `late` after, `not_yet` before, `passed` after; "" once recorded.

    A ward list reads this, not `due`/`overdue` (which only compare with the planned time):
    a dose a few minutes past its planned time is still due now, one hours away is not yet.
    The bedside still decides, with the interval since the last dose as well.
    """
    if slot.status not in ("due", "overdue"):
        return ""
    if now < slot.due_at - early:
        return "not_yet"
    return "open" if now <= slot.due_at + late else "passed"


def _course_stage(course: CourseRecord, ledger: Sequence[DoseRecord], now: datetime) -> Where:
    cycles = course.plan.get("cycles", [])
    today = now.date()
    for index, cycle in enumerate(cycles):
        first = datetime.fromisoformat(cycle["doses"][0]["due_at"])
        last = datetime.fromisoformat(cycle["doses"][-1]["due_at"])
        if now < first:
            if index == 0:
                return Where(
                    Stage.SCHEDULED, f"admit for course {course.number}, cycle 1", first.date()
                )
            return Where(Stage.BETWEEN_CYCLES, f"admit for cycle {cycle['cycle']}", first.date())
        if first <= now <= last + timedelta(hours=24):
            pending = [
                s
                for s in slots(course, ledger, now)
                if s.cycle == cycle["cycle"] and s.status in ("due", "overdue")
            ]
            nxt = min((s.due_at for s in pending), default=None)
            action = f"dose {cycle['cycle']}.{pending[0].dose_number}" if pending else "discharge"
            return Where(Stage.IN_HOSPITAL, action, nxt.date() if nxt else today)
    scan = course.plan.get("response_assessment_on")
    return Where(Stage.AWAITING_SCANS, "response scan", date.fromisoformat(scan) if scan else None)


def where(  # noqa: PLR0911 - one return per stage
    screenings: Sequence[ScreeningRecord],
    courses: Sequence[CourseRecord],
    ledgers: Mapping[int, Sequence[DoseRecord]],
    entries: Sequence[ClinicalEntry],
    now: datetime,
) -> Where:
    """The patient's stage and next action from their records."""
    if any(e.kind == "follow_up" and e.content.get("status") == "dead" for e in entries):
        return Where(Stage.DECEASED, "none", None)
    if courses:
        latest = max(courses, key=lambda c: c.number)
        here = _course_stage(latest, ledgers.get(latest.id, ()), now)
        if here.stage is not Stage.AWAITING_SCANS:
            return here
        responses = [
            e
            for e in entries
            if e.kind in ("response", "follow_up")
            and e.recorded_at >= latest.recorded_at
            and e.observed_on
            > datetime.fromisoformat(latest.plan["cycles"][-1]["doses"][-1]["due_at"]).date()
        ]
        if responses:
            return Where(Stage.FOLLOW_UP, "decide the next course (il2 next) or follow up", None)
        return here
    if not screenings:
        return Where(Stage.REFERRED, "screen", None)
    verdict = screenings[-1].verdict
    if verdict == "ineligible":
        return Where(Stage.NOT_ELIGIBLE, "inform the referring team", None)
    if verdict == "incomplete":
        return Where(Stage.SCREENING, "obtain the missing work-up", None)
    return Where(Stage.SCREENING, "plan a course", None)
