"""The physician's and coordinator's day: pending decisions, admissions by day and bed use.

Pending decisions come from the records: held doses of the last 24 hours (a hold waits for a
physician to decide whether to override it, resume or stop: il2 keeps no co-signature of
overrides), and what the pathway engine (services/patient_pathway.py) says comes next after a
course: a response scan, a next-course decision or follow-up, when its date falls due within
the horizon. They are asked of every patient still on the pathway (a course begun, no death
recorded), however long ago the last course was: a follow-up years out is as due as one this
month. A follow-up is due until one is recorded on or after the latest dose given and response
assessment (no source sets an interval for later ones). The pathway's answer for each patient
is kept (Services.answers) with the marks of the records it was worked out from (counts and
highest ids of courses, doses and entries: records are only ever added) and the day; a patient
whose marks and day are unchanged is not read again. Records are read `BATCH` patients at a
time, without the dose decision documents (most of a dose's bytes). Admissions are each planned
cycle's first dose day of a course begun within LOOKBACK_DAYS; a bed counts as used from that
day to the cycle's last planned dose day (the plan has no admission or discharge date of its
own, so both are the planned dose days).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

from il2.domain.errors import Il2Error
from il2.domain.records import Actor, ClinicalEntry, CourseRecord, DoseRecord
from il2.services.auditing import audit
from il2.services.context import Services
from il2.services.patient_pathway import next_for_records, next_in_words
from il2.services.permissions import require
from il2.services.worklist import LOOKBACK_DAYS

HORIZON_DAYS = 14
HELD_WITHIN = timedelta(hours=24)
BATCH = 500  # patients whose records are read at a time: memory stays at one batch

_KINDS = {
    "response_scan": "scan",
    "another_course": "next_course",
    "follow_up": "follow_up",
    "incomplete": "records",
}


@dataclass(frozen=True, slots=True)
class HeldDose:
    """A dose held in the last 24 hours: a physician decides what follows."""

    patient_id: int
    patient: str
    course_id: int
    cycle: int
    dose_number: int
    recorded_at: datetime
    recorded_by: str


@dataclass(frozen=True, slots=True)
class Decision:
    """What comes next after a course, due on or before the end of the horizon."""

    patient_id: int
    patient: str
    kind: str  # scan, next_course, follow_up or records (not enough recorded to decide)
    words: str
    due_on: date | None


@dataclass(frozen=True, slots=True)
class Admission:
    """A cycle's first dose day: the patient comes in."""

    patient_id: int
    patient: str
    course_id: int
    course_number: int
    cycle: int
    day: date
    last_day: date


@dataclass(frozen=True, slots=True)
class Schedule:
    """Pending decisions and the admissions of the next two weeks, with beds per day."""

    today: date
    held: tuple[HeldDose, ...]
    decisions: tuple[Decision, ...]
    admissions: tuple[Admission, ...]
    beds: tuple[tuple[date, int, int], ...]  # day, admissions, beds in use

    def of_kind(self, kind: str) -> tuple[Decision, ...]:
        """The decisions of one kind."""
        return tuple(d for d in self.decisions if d.kind == kind)


def _due(document: dict[str, object]) -> date | None:
    when = document.get("blocked_until") or document.get("earliest_on")
    return date.fromisoformat(str(when)) if when else None


_USE = "schedule"
_UNKNOWN = object()


def _kept(services: Services, patient_id: int, marks: object) -> object:
    """The pathway answer kept for the patient if their records' marks still match, else
    _UNKNOWN."""
    kept = services.answers.get((_USE, patient_id))
    return kept[1] if kept is not None and kept[0] == marks else _UNKNOWN


def _pending(
    services: Services,
    courses: Sequence[CourseRecord],
    doses: Sequence[DoseRecord],
    entries: Sequence[ClinicalEntry],
) -> tuple[str, str, date | None] | None:
    """What the pathway says is pending for a patient (kind, words, due day), or None."""
    zone = services.rules.site.time_zone
    try:
        document = next_for_records(services, courses, doses, entries)
    except Il2Error:
        document = {"next": "incomplete"}
    if document is None or document["next"] not in _KINDS:
        return None
    given_on = [d.given_at.astimezone(zone).date() for d in doses if d.given_at]
    if document["next"] == "follow_up" and followed_up(given_on, entries):
        return None
    return _KINDS[str(document["next"])], next_in_words(document), _due(document)


def _stays(course: CourseRecord, zone: tzinfo) -> list[tuple[int, date, date]]:
    """Each planned cycle of the course as (cycle, first dose day, last dose day)."""
    stays = []
    for cycle in course.plan.get("cycles", []):
        doses = cycle.get("doses") or []
        if doses:
            first = datetime.fromisoformat(doses[0]["due_at"]).astimezone(zone).date()
            last = datetime.fromisoformat(doses[-1]["due_at"]).astimezone(zone).date()
            stays.append((int(cycle["cycle"]), first, last))
    return stays


def schedule(services: Services, actor: Actor) -> Schedule:
    """Pending decisions, admissions and bed use over the next two weeks (the read audited,
    naming every patient shown).

    The pathway's answer for each patient still on it is kept (Services.answers) with the
    marks of the records it came from and the day: a patient whose records have not changed
    since, on the same day, is not read again.
    """
    require(services, actor, "schedule.read")
    require(services, actor, "patient.read")
    now = services.clock()
    zone = services.rules.site.time_zone
    today = now.astimezone(zone).date()
    end = today + timedelta(days=HORIZON_DAYS)
    with services.uow() as uow:
        open_ids = uow.courses.open_patients(starting_before=now + timedelta(days=HORIZON_DAYS + 1))
        marks: dict[int, object] = {}
        for at in range(0, len(open_ids), BATCH):
            found = uow.courses.record_marks(list(open_ids[at : at + BATCH]))
            marks.update({p: (found.get(p), today) for p in open_ids[at : at + BATCH]})
        stale = [p for p in open_ids if _kept(services, p, marks[p]) is _UNKNOWN]
        for at in range(0, len(stale), BATCH):
            ids = stale[at : at + BATCH]
            courses = uow.courses.for_patients(ids)
            ledgers = uow.doses.for_courses(
                [c.id for cs in courses.values() for c in cs], decisions=False
            )
            entries = uow.entries.for_patients(ids)
            for patient_id in ids:
                mine = courses.get(patient_id, ())
                answer = _pending(
                    services,
                    mine,
                    [d for c in mine for d in ledgers.get(c.id, ())],
                    entries.get(patient_id, ()),
                )
                services.answers[(_USE, patient_id)] = (marks[patient_id], answer)
        due = {
            patient_id: kept
            for patient_id in open_ids
            if isinstance(kept := _kept(services, patient_id, marks[patient_id]), tuple)
            and (kept[2] is None or kept[2] <= end)
        }
        on_pathway = set(open_ids)
        # a course's doses all fall within its first weeks: only recent courses hold any
        recent = [
            c
            for c in uow.courses.starting_between(
                now - timedelta(days=LOOKBACK_DAYS),
                now + timedelta(days=HORIZON_DAYS + 1),
            )
            if c.patient_id in on_pathway
        ]
        held_doses = uow.doses.held_since(now - HELD_WITHIN, course_ids=[c.id for c in recent])
        held_courses = {c.id: c for c in recent if any(d.course_id == c.id for d in held_doses)}
        held_ledgers = uow.doses.for_courses(list(held_courses), decisions=False)
        stopped = {
            course_id
            for course_id, ledger in held_ledgers.items()
            if any(r.decision_action == "discontinue" for r in ledger)
        }
        kept_held = [
            (held_courses[d.course_id], d)
            for d in held_doses
            if d.course_id in held_courses and d.course_id not in stopped
        ]
        stays = [
            (course, cycle, first, last)
            for course in recent
            for cycle, first, last in _stays(course, zone)
            if last >= today and first <= end
        ]
        patients = uow.patients.named(
            sorted(
                {*due, *(c.patient_id for c, _ in kept_held), *(c.patient_id for c, *_ in stays)}
            )
        )

        def name(patient_id: int) -> str:
            patient = patients.get(patient_id)
            return patient.name if patient else f"patient {patient_id}"

        held = [
            HeldDose(
                c.patient_id,
                name(c.patient_id),
                c.id,
                r.cycle,
                r.dose_number,
                r.recorded_at,
                r.recorded_by,
            )
            for c, r in kept_held
        ]
        decisions = [
            Decision(patient_id, name(patient_id), kind, words, due_on)
            for patient_id, (kind, words, due_on) in due.items()
        ]
        admissions = [
            Admission(
                course.patient_id,
                name(course.patient_id),
                course.id,
                course.number,
                cycle,
                first,
                last,
            )
            for course, cycle, first, last in stays
        ]
        shown = sorted(
            {h.patient_id for h in held}
            | {d.patient_id for d in decisions}
            | {a.patient_id for a in admissions}
        )
        audit(
            uow,
            services,
            actor,
            action="read_schedule",
            entity="schedule",
            entity_id=0,
            patient_id=None,
            after={"patients": shown},
        )
        uow.commit()
    return Schedule(
        today,
        tuple(sorted(held, key=lambda h: h.recorded_at)),
        tuple(sorted(decisions, key=lambda d: (d.due_on or today, d.patient))),
        tuple(sorted(admissions, key=lambda a: (a.day, a.patient))),
        _beds(admissions, today, end),
    )


def followed_up(given_on: Sequence[date], entries: Sequence[ClinicalEntry]) -> bool:
    """Whether a current (uncorrected) follow-up was observed on or after the latest day a dose
    was given (`given_on`) and the latest current response assessment: the follow-up the
    pathway asks for is then done. The label and il2's references set no interval between later
    follow-ups, so none is asked again until a later dose or scan (a site's follow-up visits
    are its own schedule)."""
    replaced = {e.corrects_id for e in entries if e.corrects_id is not None}
    current = [e for e in entries if e.id not in replaced]
    seen = [e.observed_on for e in current if e.kind == "follow_up"]
    if not seen:
        return False
    scans = [e.observed_on for e in current if e.kind == "response"]
    since = max([*given_on, *scans], default=None)
    return since is None or max(seen) >= since


def _beds(admissions: list[Admission], today: date, end: date) -> tuple[tuple[date, int, int], ...]:
    """Each day from today to `end`: how many are admitted, how many beds are in use."""
    arriving = Counter(a.day for a in admissions)
    days = []
    day = today
    while day <= end:
        in_use = sum(1 for a in admissions if a.day <= day <= a.last_day)
        days.append((day, arriving[day], in_use))
        day += timedelta(days=1)
    return tuple(days)
