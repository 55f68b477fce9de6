"""Whether a course may start: the patient's records read, in the planning transaction."""

from __future__ import annotations

from datetime import datetime

from il2.domain.admission import PatientRecords, admission_refusals, check_first_dose
from il2.domain.errors import RefusedError
from il2.domain.records import Actor, Json
from il2.services.context import Services, require
from il2.services.history import recorded_retreatment
from il2.services.ports import UnitOfWork


def patient_records(services: Services, uow: UnitOfWork, patient_id: int) -> PatientRecords:
    """The screenings, courses and ledgers admission reads."""
    courses = uow.courses.for_patient(patient_id)
    return PatientRecords(
        screenings=uow.screenings.for_patient(patient_id),
        courses=courses,
        ledgers={c.id: uow.doses.lines_for_course(c.id) for c in courses},
        regimens=services.rules.regimens,
        rest_sources={
            key: sources.get("rest_between_courses_weeks", "")
            for key, sources in services.rules.regimen_sources.items()
        },
    )


def admit(
    services: Services,
    uow: UnitOfWork,
    actor: Actor,
    patient_id: int,
    *,
    first_dose: datetime,
    override_reason: str | None,
) -> Json | None:
    """Refuse a course that must not start; the override kept when a physician plans against
    relative reasons only (None when nothing was overridden)."""
    now = services.clock()
    check_first_dose(first_dose, now=now, policy=services.rules.admission)
    records = patient_records(services, uow, patient_id)
    refusals = admission_refusals(
        records,
        first_dose=first_dose,
        now=now,
        policy=services.rules.admission,
        retreatment=recorded_retreatment(services, uow, patient_id),
    )
    if not refusals:
        return None
    reason = (override_reason or "").strip()
    if not reason or not all(r.overridable for r in refusals):
        raise RefusedError(refusals)
    require(services, actor, "course.plan_override")
    return {
        "reason": reason,
        "by": actor.username,
        "at": now.isoformat(),
        "overrides": [{"code": r.code, "message": r.message} for r in refusals],
    }
