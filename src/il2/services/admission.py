"""Whether a course may start: the patient's records read, in the planning transaction."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime

from il2.domain.admission import PatientRecords, admission_refusals, check_first_dose
from il2.domain.errors import RefusedError
from il2.domain.records import Actor, CourseRecord, Json, LedgerLine, ScreeningRecord
from il2.domain.regimen import Regimen
from il2.domain.retreatment import RetreatmentDecision
from il2.services.clinical import latest_discharges
from il2.services.context import Services
from il2.services.history import recorded_retreatment
from il2.services.permissions import require
from il2.services.ports import UnitOfWork


def patient_records(
    services: Services,
    *,
    screenings: Sequence[ScreeningRecord],
    courses: Sequence[CourseRecord],
    ledgers: Mapping[int, Sequence[LedgerLine]],
    discharges: Mapping[int, date] | None = None,
) -> PatientRecords:
    """The records admission reads, with the regimens in force and their rest sources."""
    return PatientRecords(
        screenings=screenings,
        courses=courses,
        ledgers=ledgers,
        discharges=dict(discharges or {}),
        regimens=services.rules.regimens,
        rest_sources={
            key: sources.get("rest_between_courses_weeks", "")
            for key, sources in services.rules.regimen_sources.items()
        },
        field_sources=services.rules.regimen_sources,
    )


def judge_admission(
    services: Services,
    actor: Actor,
    records: PatientRecords,
    retreatment: RetreatmentDecision,
    *,
    regimen: Regimen,
    first_dose: datetime,
    override_reason: str | None,
) -> Json | None:
    """Refuse a course of `regimen` that must not start; the override kept when a physician
    plans against relative reasons only (None when nothing was overridden)."""
    now = services.clock()
    check_first_dose(first_dose, now=now, policy=services.rules.admission)
    refusals = admission_refusals(
        records,
        first_dose=first_dose,
        now=now,
        policy=services.rules.admission,
        retreatment=retreatment,
        regimen=regimen,
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


def admit(
    services: Services,
    uow: UnitOfWork,
    actor: Actor,
    patient_id: int,
    *,
    regimen: Regimen,
    first_dose: datetime,
    override_reason: str | None,
) -> Json | None:
    """`judge_admission` on the patient's stored records (call with the patient locked)."""
    courses = uow.courses.for_patient(patient_id)
    records = patient_records(
        services,
        screenings=uow.screenings.for_patient(patient_id),
        courses=courses,
        ledgers={c.id: uow.doses.lines_for_course(c.id) for c in courses},
        discharges=latest_discharges(uow.entries.for_patient(patient_id)),
    )
    return judge_admission(
        services,
        actor,
        records,
        recorded_retreatment(services, uow, patient_id),
        regimen=regimen,
        first_dose=first_dose,
        override_reason=override_reason,
    )
