"""Whether a course may start: the patient's records read before a plan is kept.

A course must not start without a current `eligible` screening, while another course is
running, after a permanent discontinue, or against a retreatment contraindication: these
refusals are never overridable. Too short a rest since the last course, a course that starts
earlier than the latest course's regimen's `course_every_weeks` after that course's first dose
day, one that would take the cycles over all courses past the new regimen's
`max_cycles_total` (protocol limits, not facts about time), or a retreatment judgement that
needs review, may be planned against by a physician with a recorded reason. The rest counts
from the recorded discharge after the latest treated course (the label counts it from the date
of hospital discharge), or from its last dose given when none is recorded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo

from il2.domain.errors import InvalidInputError, Refusal
from il2.domain.records import CourseRecord, DoseOutcome, LedgerLine, ScreeningRecord
from il2.domain.regimen import Regimen
from il2.domain.retreatment import Retreatment, RetreatmentDecision

ELIGIBLE = "eligible"
_STOPS_A_CYCLE = "stop_cycle"
_DISCONTINUE = "discontinue"


@dataclass(frozen=True, slots=True)
class AdmissionPolicy:
    """The site's choices for planning: how old a screening may be, and the first-dose window."""

    screening_valid_days: int
    first_dose_past_tolerance_hours: int
    first_dose_max_days_ahead: int
    source: str = ""


def route_refusal(regimen: Regimen, checked_routes: Sequence[str]) -> Refusal | None:
    """Refuse, never overridably, a course whose aldesleukin route has no before-dose checks
    in il2 (`checked_routes`, from the regimen file): its doses would go unchecked."""
    if regimen.route.value in checked_routes:
        return None
    route = regimen.route.value.replace("_", " ")
    return Refusal(
        "route-without-before-dose-checks",
        f"Regimen {regimen.id} gives aldesleukin by {route}: il2's before-dose checks are for "
        f"the {' and '.join(r.replace('_', ' ') for r in checked_routes)} route only, and the "
        f"before-dose checks for {route} are not in il2 yet. The plan can be previewed, not "
        "planned as a course.",
    )


def check_first_dose(first_dose: datetime, *, now: datetime, policy: AdmissionPolicy) -> None:
    """Refuse a first dose in the past (beyond a small tolerance) or too far ahead."""
    earliest = now - timedelta(hours=policy.first_dose_past_tolerance_hours)
    latest = now + timedelta(days=policy.first_dose_max_days_ahead)
    if earliest <= first_dose <= latest:
        return
    raise InvalidInputError(
        field="first_dose",
        value=first_dose.isoformat(timespec="minutes"),
        allowed=(
            f"a first dose from {_when(earliest)} (at most "
            f"{policy.first_dose_past_tolerance_hours} h ago) to {_when(latest)} "
            f"({policy.first_dose_max_days_ahead} days ahead)"
        ),
    )


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M %Z").strip()


def course_last_due(course: CourseRecord) -> datetime:
    """The due time of the course's last planned dose slot."""
    return max(
        datetime.fromisoformat(str(slot["due_at"]))
        for cycle in course.plan.get("cycles", [])
        for slot in cycle.get("doses", [])
    )


def course_ended(course: CourseRecord, ledger: Sequence[LedgerLine]) -> bool:
    """True when a discontinue, or a stop in the course's last cycle, ended it early."""
    cycles = [int(cycle["cycle"]) for cycle in course.plan.get("cycles", [])]
    last_cycle = max(cycles) if cycles else 1
    return any(
        line.decision_action == _DISCONTINUE
        or (line.decision_action == _STOPS_A_CYCLE and line.cycle == last_cycle)
        for line in ledger
    )


@dataclass(frozen=True, slots=True)
class PatientRecords:
    """What admission reads: screenings, courses with their ledgers, the regimens in force, and
    the latest current discharge date of each course that has one (by course id).

    `rest_sources` cites each regimen's rest; `field_sources` cites any other field by regimen
    id and field name (a field without one is cited to the regimen's own source).
    """

    screenings: Sequence[ScreeningRecord]
    courses: Sequence[CourseRecord]
    ledgers: Mapping[int, Sequence[LedgerLine]]
    regimens: Mapping[str, Regimen]
    rest_sources: Mapping[str, str] = field(default_factory=dict)
    discharges: Mapping[int, date] = field(default_factory=dict)
    field_sources: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def cite(self, regimen: Regimen, name: str) -> str:
        """Where the regimen's field `name` comes from."""
        return self.field_sources.get(regimen.id, {}).get(name) or regimen.source


def admission_refusals(
    records: PatientRecords,
    *,
    first_dose: datetime,
    now: datetime,
    policy: AdmissionPolicy,
    retreatment: RetreatmentDecision | None,
    regimen: Regimen | None = None,
) -> list[Refusal]:
    """Every reason a course of `regimen` starting at `first_dose` must not be planned now
    (without `regimen`, its own cycle limit is not checked)."""
    refusals = _screening_refusals(records.screenings, now=now, policy=policy)
    refusals += _course_refusals(records, first_dose=first_dose, now=now)
    if regimen is not None:
        refusals += _cap_refusals(records, regimen=regimen, now=now)
    if _treated_before(records) and retreatment is not None:
        refusals += _retreatment_refusals(retreatment)
    return refusals


def _screening_refusals(
    screenings: Sequence[ScreeningRecord], *, now: datetime, policy: AdmissionPolicy
) -> list[Refusal]:
    if not screenings:
        return [
            Refusal(
                "screening-missing",
                "The patient has no eligibility screening: screen before planning a course.",
            )
        ]
    latest = max(screenings, key=lambda s: (s.recorded_at, s.id))
    refusals = []
    if latest.verdict != ELIGIBLE:
        refusals.append(
            Refusal(
                "screening-not-eligible",
                f"The latest screening ({latest.recorded_at:%Y-%m-%d}) is "
                f"'{latest.verdict.replace('_', ' ')}', not eligible: a course needs an "
                "eligible screening.",
            )
        )
    if now - latest.recorded_at > timedelta(days=policy.screening_valid_days):
        refusals.append(
            Refusal(
                "screening-outdated",
                f"The latest screening ({latest.recorded_at:%Y-%m-%d}) is older than "
                f"{policy.screening_valid_days} days (site policy): screen again before "
                "planning a course.",
            )
        )
    return refusals


def _given(ledger: Sequence[LedgerLine]) -> list[datetime]:
    return [
        line.given_at
        for line in ledger
        if line.outcome is DoseOutcome.GIVEN and line.given_at is not None
    ]


def _treated_before(records: PatientRecords) -> bool:
    return any(_given(records.ledgers.get(c.id, ())) for c in records.courses)


def _course_refusals(
    records: PatientRecords, *, first_dose: datetime, now: datetime
) -> list[Refusal]:
    refusals: list[Refusal] = []
    discontinued = [
        c
        for c in records.courses
        if any(line.decision_action == _DISCONTINUE for line in records.ledgers.get(c.id, ()))
    ]
    if discontinued:
        refusals.append(
            Refusal(
                "earlier-discontinue",
                f"Aldesleukin was permanently discontinued in course {discontinued[0].number}: "
                "no further course may be given.",
            )
        )
    running = [
        c
        for c in records.courses
        if not course_ended(c, records.ledgers.get(c.id, ())) and first_dose <= course_last_due(c)
    ]
    refusals += [
        Refusal(
            "course-overlap",
            f"Course {c.number} is still planned to run until "
            f"{course_last_due(c):%Y-%m-%d %H:%M %Z}: a new course cannot start before it ends.",
        )
        for c in running
    ]
    if not running:
        for timing in (
            _rest_refusal(records, first_dose=first_dose, now=now),
            _spacing_refusal(records, first_dose=first_dose, now=now),
        ):
            refusals += [timing] if timing is not None else []
    return refusals


def _ahead(course: CourseRecord, records: PatientRecords, now: datetime) -> bool:
    """A course that has not ended and whose last planned dose still lies ahead."""
    return course_last_due(course) > now and not course_ended(
        course, records.ledgers.get(course.id, ())
    )


def _started(records: PatientRecords, now: datetime) -> tuple[CourseRecord, datetime] | None:
    """The course that started last (its first dose given, or planned for one still ahead)."""
    starts = []
    for course in records.courses:
        given = _given(records.ledgers.get(course.id, ()))
        if given:
            starts.append((min(given), course.number, course))
        elif _ahead(course, records, now):
            starts.append((course.first_dose_at, course.number, course))
    if not starts:
        return None
    start, _, course = max(starts, key=lambda s: (s[0], s[1]))
    return course, start


def _spacing_refusal(
    records: PatientRecords, *, first_dose: datetime, now: datetime
) -> Refusal | None:
    """The regimen's course spacing, counted from the first dose day of the course that
    started last, in the new first dose's time zone."""
    started = _started(records, now)
    if started is None:
        return None
    course, start = started
    regimen = records.regimens.get(course.regimen_id)
    if regimen is None or regimen.course_every_weeks is None:
        return None
    weeks = regimen.course_every_weeks
    first_day = start.astimezone(first_dose.tzinfo).date()
    earliest = first_day + timedelta(weeks=weeks)
    if first_dose.date() >= earliest:
        return None
    cited = records.cite(regimen, "course_every_weeks")
    return Refusal(
        "course-spacing-too-short",
        f"Courses of {regimen.name} repeat every {weeks} weeks from the first dose day: course "
        f"{course.number} started {first_day:%Y-%m-%d}, so the next course may start on "
        f"{earliest:%Y-%m-%d} at the earliest (earliest first dose {earliest:%Y-%m-%d}; "
        f"course_every_weeks of regimen {regimen.id}: {cited}).",
        overridable=True,
    )


def _cycles_counted(records: PatientRecords, now: datetime) -> int:
    """Cycles over all courses: each cycle with a dose given, and every planned cycle of a
    course that has not ended and still lies ahead."""
    total = 0
    for course in records.courses:
        given = {
            line.cycle
            for line in records.ledgers.get(course.id, ())
            if line.outcome is DoseOutcome.GIVEN and line.given_at is not None
        }
        if _ahead(course, records, now):
            given |= {int(cycle["cycle"]) for cycle in course.plan.get("cycles", [])}
        total += len(given)
    return total


def _cap_refusals(records: PatientRecords, *, regimen: Regimen, now: datetime) -> list[Refusal]:
    """The new course's regimen's own limit on cycles over all courses."""
    most = regimen.max_cycles_total
    if most is None:
        return []
    counted = _cycles_counted(records, now)
    after = counted + regimen.cycles_per_course
    if after <= most:
        return []
    return [
        Refusal(
            "regimen-cycle-limit",
            f"{counted} cycle{'s' if counted != 1 else ''} of aldesleukin given or planned over "
            f"all courses; a course of {regimen.name} adds {regimen.cycles_per_course}, making "
            f"{after}: more than the regimen's limit of {most} cycles in all "
            f"(max_cycles_total of regimen {regimen.id}: "
            f"{records.cite(regimen, 'max_cycles_total')}).",
            overridable=True,
        )
    ]


def _rest_refusal(
    records: PatientRecords, *, first_dose: datetime, now: datetime
) -> Refusal | None:
    """The rest after the last course, counted from its recorded discharge, else from its last
    dose given (or, for a course that has not ended and still lies ahead, its last planned dose).
    """
    if not records.courses:
        return None
    latest = max(records.courses, key=lambda c: c.number)
    regimen = records.regimens.get(latest.regimen_id)
    if regimen is None or regimen.rest_between_courses_weeks is None:
        return None
    weeks = regimen.rest_between_courses_weeks
    moments = [moment for c in records.courses for moment in _given(records.ledgers.get(c.id, ()))]
    for course in records.courses:
        last_due = course_last_due(course)
        if last_due > now and not course_ended(course, records.ledgers.get(course.id, ())):
            moments.append(last_due)
    if not moments:
        return None
    last = max(moments)
    earliest = last + timedelta(weeks=weeks)
    discharged = _discharge_after(records, last, first_dose.tzinfo)
    if discharged is not None:
        # A discharge is a day, not a moment: counted from the start of that day, and never
        # earlier than the last dose itself allows.
        start = datetime.combine(discharged, time(), tzinfo=first_dose.tzinfo)
        earliest = max(earliest, start + timedelta(weeks=weeks))
    if first_dose >= earliest:
        return None
    since = f"the last dose ({last:%Y-%m-%d})"
    if discharged is not None:
        since = f"discharge ({discharged:%Y-%m-%d})"
    elif _treated_before(records) and last <= now:
        since = f"the last dose ({last:%Y-%m-%d}; no discharge recorded)"
    return Refusal(
        "rest-too-short",
        f"The rest since {since} is shorter than the {weeks} weeks "
        f"between courses of {regimen.name} (earliest first dose {earliest:%Y-%m-%d}; "
        f"{records.rest_sources.get(latest.regimen_id, 'regimen rule')}).",
        overridable=True,
    )


def _discharge_after(
    records: PatientRecords, last: datetime, first_day_zone: tzinfo | None
) -> date | None:
    """The discharge recorded after the course whose given dose is the latest, `last`, when
    it is on or after that dose's day (None otherwise: the rest counts from the dose)."""
    for course in records.courses:
        if last in _given(records.ledgers.get(course.id, ())):
            discharged = records.discharges.get(course.id)
            if discharged is not None and discharged >= last.astimezone(first_day_zone).date():
                return discharged
    return None


def _retreatment_refusals(decision: RetreatmentDecision) -> list[Refusal]:
    if decision.verdict is Retreatment.FORBIDDEN:
        return [
            Refusal(
                "retreatment-forbidden",
                "Retreatment is contraindicated by an earlier toxicity: "
                + "; ".join(f"{r.finding} ({r.threshold})" for r in decision.reasons)
                + ".",
            )
        ]
    if decision.verdict is Retreatment.INCOMPLETE:
        unknown = [f.replace("_", " ") for f in decision.not_evaluated] + [
            f"{r.finding}: {r.asks.removeprefix('a physician must confirm ')}"
            for r in decision.to_review
        ]
        return [
            Refusal(
                "retreatment-incomplete",
                "The records do not show whether an earlier toxicity forbids retreatment ("
                + "; ".join(unknown)
                + "): a physician must review the earlier course.",
                overridable=True,
            )
        ]
    return []
