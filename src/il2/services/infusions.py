"""A running continuous infusion: pause, resume and stop it while it runs, and read its state.

Only a day's infusion the dose ledger records as given can be paused, resumed or stopped, and
only for a course whose regimen gives aldesleukin by continuous infusion. No source gives how
often to assess a running infusion or numbers for pausing or resuming it (bedside_input.toml
[routes.continuous_infusion]), so none is invented: an assessment while the infusion runs goes
through the same before-dose engine, with the slot's facts as the ledger gave them when the
infusion started (cycle, dose number, counts, hours since the dose before) and, on a resume,
`held_for` the resume keys of the pause's reasons. A hold (or an incomplete assessment) pauses,
a stop of the cycle or a discontinue stops, and only a give resumes (domain/infusion.py). A
pause on a give, or a stop on a weaker decision, needs a clinician's reason.

A stop whose decision is discontinue closes the patient's timeline as a ledger discontinue
does, and a stop of the cycle closes the cycle (services/doses.py reads the stops with the
ledger). Events are numbered per dose slot and the database keeps one per number, so two
recorded at once never both land; each write is audited, and a refusal records nothing but
its audit entry `refuse_record_infusion_event`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from il2.domain import limits
from il2.domain.errors import InvalidInputError, NotFoundError
from il2.domain.infusion import (
    EventKind,
    Infusion,
    InfusionState,
    accept,
    state_at,
)
from il2.domain.infusion import (
    InfusionEvent as DomainEvent,
)
from il2.domain.records import (
    Actor,
    CourseRecord,
    DoseOutcome,
    DoseRecord,
    InfusionEventRecord,
)
from il2.services.auditing import audit, refusals_audited
from il2.services.bedside import assess_before_dose
from il2.services.context import Services
from il2.services.documents import bedside_document
from il2.services.doses import (
    DoseSubmission,
    dose_slot,
    pause_holds,
    slot_document,
    timeline_lines,
)
from il2.services.parsing import plain, text
from il2.services.permissions import require
from il2.services.ports import UnitOfWork

ROUTE = "continuous_infusion"
EVENTS = tuple(kind.value for kind in EventKind)


@dataclass(frozen=True, slots=True)
class InfusionSubmission:
    """One event of a running infusion, as a nurse or physician records it.

    `assessment` is the before-dose assessment made now (il2 bedside input, without the slot's
    facts: the ledger's are used); `reason` a clinician's reason; `at` when (default: now);
    `corrects` the number of the last event this one replaces.
    """

    cycle: int
    dose_number: int
    event: str
    at: datetime | None = None
    assessment: Mapping[str, Any] | None = None
    reason: str | None = None
    corrects: int | None = None


def _course(uow: UnitOfWork, services: Services, course_id: int) -> CourseRecord:
    course = uow.courses.get(course_id)
    if course is None:
        raise NotFoundError(kind="course", key=str(course_id))
    regimen = services.rules.regimens.get(course.regimen_id)
    if regimen is None or regimen.route.value != ROUTE:
        infused = [r.id for r in services.rules.regimens.values() if r.route.value == ROUTE]
        raise InvalidInputError(
            field="course",
            value=course.regimen_id,
            allowed="a course whose regimen gives aldesleukin by continuous infusion ("
            + ", ".join(infused)
            + "): only a running infusion is paused, resumed or stopped",
        )
    return course


def _planned(course: CourseRecord, cycle: int, number: int) -> Mapping[str, Any]:
    cycles = course.plan.get("cycles", [])
    planned = next(c for c in cycles if c["cycle"] == cycle)
    dose: Mapping[str, Any] = next(d for d in planned["doses"] if d["number"] == number)
    return dose


def _given(
    uow: UnitOfWork, services: Services, course: CourseRecord, cycle: int, number: int
) -> DoseRecord:
    dose_slot(services, course, cycle, number)  # the plan has it, or InvalidInputError
    dose = uow.doses.by_slot(course.id, cycle, number)
    if dose is None or dose.outcome is not DoseOutcome.GIVEN or dose.given_at is None:
        said = "not recorded yet" if dose is None else f"recorded {dose.outcome.value}"
        raise InvalidInputError(
            field="dose_number",
            value=f"{cycle}.{number}",
            allowed=f"a day's infusion recorded as given (this one is {said}): record it on "
            "the dose screen first",
        )
    return dose


def _infusion(
    course: CourseRecord, dose: DoseRecord, kept: Sequence[InfusionEventRecord]
) -> Infusion:
    planned = _planned(course, dose.cycle, dose.dose_number)
    hours = Decimal(str(planned.get("duration_h") or 0))
    assert dose.given_at is not None  # noqa: S101 - _given checked it
    return Infusion(
        started_at=dose.given_at,
        planned=timedelta(seconds=float(hours * 3600)),
        planned_iu=int(planned["dose_iu"]),
        events=tuple(
            DomainEvent(
                e.seq, EventKind(e.kind), e.event_at, e.decision_action, e.reason, e.corrects
            )
            for e in kept
        ),
    )


def _assessed(
    services: Services,
    uow: UnitOfWork,
    course: CourseRecord,
    dose: DoseRecord,
    *,
    assessment: Mapping[str, Any],
    held_for: list[str],
) -> tuple[dict[str, Any], dict[str, Any], str]:
    """The before-dose document with the slot's facts, its decision document, and the action."""
    courses = {c.id: c for c in uow.courses.for_patient(course.patient_id)}
    slot = (dose.cycle, dose.dose_number)
    earlier = [
        line
        for line in uow.doses.lines_for_patient(course.patient_id)
        if line.course_id != course.id or (line.cycle, line.dose_number) < slot
    ]
    assert dose.given_at is not None  # noqa: S101 - _given checked it
    submission = DoseSubmission(
        cycle=dose.cycle, dose_number=dose.dose_number, assessment=assessment
    )
    document = slot_document(
        course, timeline_lines(services, courses, earlier), submission, dose.given_at, held_for
    )
    regimen, decision = assess_before_dose(services.rules, document)
    return document, bedside_document(regimen, decision), decision.action.value


def _reason(raw: object) -> str | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    return text(raw, "reason", limit=limits.MAX_FREE_TEXT, multiline=True)


def _kind(raw: object) -> EventKind:
    if raw not in EVENTS:
        raise InvalidInputError(field="event", value=raw, allowed="pause, resume or stop")
    return EventKind(str(raw))


def record_infusion_event(
    services: Services,
    actor: Actor,
    course_id: int,
    submission: InfusionSubmission,
    *,
    patient_id: int | None = None,
) -> dict[str, Any]:
    """Pause, resume or stop a running infusion; its state after the event.

    `patient_id`, when the caller names the patient (a page's path), must be the course's.
    """
    require(services, actor, "dose.record")
    with services.uow() as uow:
        found = uow.courses.get(course_id)
    if found is None or (patient_id is not None and found.patient_id != patient_id):
        raise NotFoundError(
            kind="course" if patient_id is None else "course of this patient", key=str(course_id)
        )
    with (
        refusals_audited(
            services,
            actor,
            action="record_infusion_event",
            entity="course",
            entity_id=course_id,
            patient_id=found.patient_id,
        ),
        services.uow() as uow,
    ):
        kind = _kind(submission.event)
        course = _course(uow, services, course_id)
        uow.patients.lock(course.patient_id)
        dose = _given(uow, services, course, submission.cycle, submission.dose_number)
        kept = uow.infusions.for_dose(course.id, dose.cycle, dose.dose_number)
        infusion = _infusion(course, dose, kept)
        now = services.clock()
        at = submission.at or now
        reason = _reason(submission.reason)
        assessed: tuple[dict[str, Any], dict[str, Any], str] | None = None
        if submission.assessment is not None:
            if not isinstance(submission.assessment, Mapping):
                raise InvalidInputError(
                    field="assessment",
                    value=submission.assessment,
                    allowed="the assessment made now (il2 bedside input)",
                )
            assessed = _assessed(
                services,
                uow,
                course,
                dose,
                assessment=submission.assessment,
                held_for=pause_holds(kept),
            )
        elif kind is EventKind.RESUME:
            raise InvalidInputError(
                field="assessment",
                value=None,
                allowed="the assessment made now: only a decision to give resumes",
            )
        after = accept(
            infusion,
            kind,
            at=at,
            now=now,
            decision_action=assessed[2] if assessed else None,
            reason=reason,
            corrects=submission.corrects,
        )
        event = after.events[-1]
        record = uow.infusions.add(
            course_id=course.id,
            cycle=dose.cycle,
            dose_number=dose.dose_number,
            seq=event.seq,
            kind=event.kind.value,
            event_at=event.at,
            decision_action=event.decision_action,
            reason=event.reason,
            corrects=event.corrects,
            assessment=assessed[0] if assessed else None,
            decision=assessed[1] if assessed else None,
            recorded_by=actor.username,
            at=now,
        )
        audit(
            uow,
            services,
            actor,
            action="create",
            entity="infusion_event",
            entity_id=record.id,
            patient_id=course.patient_id,
            after=event_line(record),
        )
        uow.commit()
    return infusion_view(after, [*kept, record], now)


def read_infusion(
    services: Services,
    actor: Actor,
    course_id: int,
    cycle: int,
    dose_number: int,
    *,
    patient_id: int | None = None,
) -> dict[str, Any]:
    """A running (or ended) infusion's state now: its events, hours and IU (read audited)."""
    require(services, actor, "patient.read")
    with services.uow() as uow:
        course = _course(uow, services, course_id)
        if patient_id is not None and course.patient_id != patient_id:
            raise NotFoundError(kind="course of this patient", key=str(course_id))
        dose = _given(uow, services, course, cycle, dose_number)
        kept = uow.infusions.for_dose(course.id, cycle, dose_number)
        audit(
            uow,
            services,
            actor,
            action="read_infusion",
            entity="dose",
            entity_id=dose.id,
            patient_id=course.patient_id,
        )
        uow.commit()
    return infusion_view(_infusion(course, dose, kept), kept, services.clock())


def infusion_view(
    infusion: Infusion, kept: Sequence[InfusionEventRecord], now: datetime
) -> dict[str, Any]:
    """The infusion's state at `now` as JSON-ready data: every event kept (corrected ones
    marked), the hours run and paused, and the IU delivered."""
    state: InfusionState = state_at(infusion, now)
    corrected = {e.corrects for e in kept if e.corrects is not None}
    return {
        "status": state.status.value,
        "as_of": now.isoformat(),
        "started_at": state.started_at.isoformat(),
        "planned_end": state.planned_end.isoformat(),
        "planned_h": float(Decimal(int(state.planned.total_seconds())) / 3600),
        "running_h": float(state.running_h),
        "paused_h": float(state.paused_h),
        "planned_iu": state.planned_iu,
        "delivered_iu": state.delivered_iu,
        "events": [{**event_line(e), "corrected": e.seq in corrected} for e in kept],
    }


def event_line(record: InfusionEventRecord) -> dict[str, Any]:
    """An event as JSON-ready data, with the decision behind it (the assessment stays kept)."""
    line: dict[str, Any] = plain(record)
    line.pop("assessment", None)
    return line
