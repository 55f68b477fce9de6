"""The worklist: patients by stage with their next action, and today's doses on the ward."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from il2.domain.deidentify import study_number
from il2.domain.errors import PermissionDeniedError
from il2.domain.records import Actor, CourseRecord
from il2.domain.worklist import Stage, dose_window, slots, where
from il2.services.auditing import audit
from il2.services.context import Services
from il2.services.diary import reported_slots
from il2.services.doses import closed_by_infusion_stops
from il2.services.patient_pathway import next_from_records
from il2.services.permissions import read_mode
from il2.services.ports import UnitOfWork

LOOKBACK_DAYS = 60  # a course's doses all fall within its first 20 days (days 1-5, 15-19)


@dataclass(frozen=True, slots=True)
class WorklistRow:
    """One patient on the worklist; for a researcher no `patient_id` (None): the label is the
    study number, by which their pages and API address the record."""

    patient_id: int | None
    label: str
    diagnosis: str
    stage: Stage
    next_action: str
    next_on: date | None
    pathway: str | None = None


@dataclass(frozen=True, slots=True)
class WardDose:
    """One dose slot due today."""

    patient_id: int
    label: str
    course_id: int
    cycle: int
    dose_number: int
    due_at: datetime
    status: str
    window: str = ""  # open, not_yet or passed for a dose not recorded (domain dose_window)


@dataclass(frozen=True, slots=True)
class Worklist:
    """A page of patients, how many there are in all, and today's doses."""

    rows: tuple[WorklistRow, ...]
    total: int
    doses_today: tuple[WardDose, ...]
    by_stage: tuple[tuple[Stage, int], ...] = ()  # every matching patient, every page

    def stage_total(self, stage: Stage) -> int:
        """How many matching patients, on any page, are at this stage."""
        return dict(self.by_stage).get(stage, 0)


def _open(course: CourseRecord, cycle: int, ended: set[int], stopped: set[tuple[int, int]]) -> bool:
    """Whether a dose of the course's cycle may still be given after the infusion stops."""
    return course.patient_id not in ended and (course.id, cycle) not in stopped


def worklist(
    services: Services,
    actor: Actor,
    *,
    limit: int = 50,
    offset: int = 0,
    matching: str | None = None,
) -> Worklist:
    """A page of the worklist (identified, or de-identified for researchers), with how many
    patients are at each stage across every page; `matching` (identified readers only: a name
    or MRN would re-identify) keeps the patients whose name or MRN contains it.

    Researchers see study numbers, stages and next actions, with no date: not the next date
    nor today's doses on the ward (a dose due today is an exact date of the patient's care).
    """
    identified = read_mode(services, actor) == "identified"
    if matching is not None and not identified:
        raise PermissionDeniedError(
            f"{actor.username} ({actor.role.value}) may not search patients by name or MRN",
            username=actor.username,
            action="patient.read",
        )
    now = services.clock()
    zone = services.rules.site.time_zone
    with services.uow() as uow:
        patients = uow.patients.page(limit=limit, offset=offset, matching=matching)
        ids = [p.id for p in patients]
        courses = uow.courses.for_patients(ids)
        recent = uow.courses.starting_between(
            now - timedelta(days=LOOKBACK_DAYS), now + timedelta(days=1)
        )
        ledgers = uow.doses.for_courses(
            [c.id for cs in courses.values() for c in cs] + [c.id for c in recent],
            decisions=False,
        )
        screenings = uow.screenings.for_patients(ids)
        entries = uow.entries.for_patients(ids)
        ward_patients = {c.patient_id: uow.patients.get(c.patient_id) for c in recent}
        total = uow.patients.count(matching=matching)
        by_stage = _stage_totals(uow, now, matching)
        today = now.astimezone(zone).date()
        at_home = reported_slots(uow, recent)  # the diary's: reported, not for the ward
        ended, stopped = closed_by_infusion_stops(uow, recent)
        due_today = [  # a dose due today is an exact date: never on a de-identified list
            (course, s)
            for course in recent
            for s in slots(course, ledgers.get(course.id, ()), now)
            if identified
            and s.due_at.astimezone(zone).date() == today
            and (course.id, s.cycle, s.dose_number) not in at_home
            and (s.status not in ("due", "overdue") or _open(course, s.cycle, ended, stopped))
        ]
        named = ids + sorted({c.patient_id for c, _ in due_today} - set(ids))
        audit(
            uow,
            services,
            actor,
            action="read_worklist",
            entity="worklist",
            entity_id=offset,
            patient_id=None,
            after={
                "patients": named,
                **({"matching": matching} if matching else {}),
            },  # every patient the page names: the list and today's doses
        )
        uow.commit()

    def label(patient_id: int) -> str:
        patient = next((p for p in patients if p.id == patient_id), None) or ward_patients.get(
            patient_id
        )
        if patient is None:
            return f"patient {patient_id}"
        return patient.name if identified else study_number(patient.id, key=services.study_key)

    rows = []
    for patient in patients:
        here = where(
            screenings.get(patient.id, ()),
            courses.get(patient.id, ()),
            ledgers,
            entries.get(patient.id, ()),
            now,
        )
        rows.append(
            WorklistRow(
                patient.id if identified else None,
                label(patient.id),
                patient.diagnosis,
                here.stage,
                here.next_action,
                here.next_on if identified else None,
                next_from_records(
                    services,
                    mine,
                    [d for c in mine for d in ledgers.get(c.id, ())],
                    entries.get(patient.id, ()),
                )
                if identified and (mine := courses.get(patient.id, ()))
                else None,
            )
        )
    timeline = services.rules.timeline
    ward = [
        WardDose(
            course.patient_id,
            label(course.patient_id),
            s.course_id,
            s.cycle,
            s.dose_number,
            s.due_at,
            s.status,
            dose_window(s, now, timeline.window_early, timeline.window_late),
        )
        for course, s in due_today
    ]
    return Worklist(tuple(rows), total, tuple(sorted(ward, key=lambda d: d.due_at)), by_stage)


def _stage_totals(
    uow: UnitOfWork, now: datetime, matching: str | None
) -> tuple[tuple[Stage, int], ...]:
    """How many matching patients are at each stage: counted in SQL, except the few whose
    latest course started within the lookback (in hospital, between cycles or past it), placed
    from their records as the rows are."""
    counted, active = uow.patients.stage_counts(
        now=now, lookback_start=now - timedelta(days=LOOKBACK_DAYS), matching=matching
    )
    totals = Counter({Stage(name): n for name, n in counted.items()})
    if active:
        ids = list(active)
        courses = uow.courses.for_patients(ids)
        ledgers = uow.doses.for_courses(
            [c.id for cs in courses.values() for c in cs], decisions=False
        )
        screenings = uow.screenings.for_patients(ids)
        entries = uow.entries.for_patients(ids)
        for patient_id in ids:
            here = where(
                screenings.get(patient_id, ()),
                courses.get(patient_id, ()),
                ledgers,
                entries.get(patient_id, ()),
                now,
            )
            totals[here.stage] += 1
    return tuple((stage, totals[stage]) for stage in Stage if totals[stage])
