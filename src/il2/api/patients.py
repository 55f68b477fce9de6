"""Patients: register, read (de-identified for researchers), screen, plan a course."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from il2.api import answers
from il2.api.schemas import CoursePlan, JsonObject, NewPatient, RecordId
from il2.api.security import Il2Services, SignedIn
from il2.services.courses import plan_course
from il2.services.parsing import plain
from il2.services.patients import create_patient, read_patient_document, record_screening

router = APIRouter(prefix="/patients", tags=["patients"])


@router.post("", status_code=201, response_model=answers.Patient)
async def register(body: NewPatient, actor: SignedIn, services: Il2Services) -> dict[str, Any]:
    """Register a referred patient."""
    patient = create_patient(services, actor, body.model_dump(mode="json", exclude_none=True))
    return dict(plain(patient))


@router.get("/{patient_id}", response_model=answers.PatientRecord)
async def read(patient_id: RecordId, actor: SignedIn, services: Il2Services) -> dict[str, Any]:
    """The patient's record: screenings, courses, doses and entries (read is audited); for
    researchers de-identified, with dates as `day N` from the patient's day 0."""
    return read_patient_document(services, actor, patient_id)


@router.post("/{patient_id}/screenings", status_code=201, response_model=answers.Screening)
async def screen(
    patient_id: RecordId, findings: JsonObject, actor: SignedIn, services: Il2Services
) -> dict[str, Any]:
    """Screen the patient's findings (il2 screen input) and keep the checklist."""
    return dict(plain(record_screening(services, actor, patient_id, findings)))


@router.post("/{patient_id}/courses", status_code=201, response_model=answers.Course)
async def plan(
    patient_id: RecordId, body: CoursePlan, actor: SignedIn, services: Il2Services
) -> dict[str, Any]:
    """Plan the patient's next course and keep every dose slot."""
    course = plan_course(
        services,
        actor,
        patient_id,
        regimen=body.regimen,
        weight_kg=body.weight_kg,
        first_dose=body.first_dose,
        cycle_end_rule=body.cycle_end_rule,
        height_cm=body.height_cm,
        lesions=body.lesions,
        events=[event.model_dump() for event in body.events] if body.events else None,
        override_reason=body.override_reason,
    )
    return dict(plain(course))
