"""Toxicities, responses, follow-up and discharges as entries; corrections as new entries."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from il2.api import answers
from il2.api.schemas import Correction, Discharge, FollowUp, RecordId, Response, Toxicity
from il2.api.security import Il2Services, SignedIn
from il2.services.clinical import (
    record_discharge,
    record_follow_up,
    record_response,
    record_toxicity,
)
from il2.services.doses import correct_any_entry
from il2.services.parsing import plain

router = APIRouter(prefix="/patients/{patient_id}", tags=["clinical entries"])


@router.post("/toxicities", status_code=201, response_model=answers.Entry)
async def toxicity(
    patient_id: RecordId, body: Toxicity, actor: SignedIn, services: Il2Services
) -> dict[str, Any]:
    """Grade CTCAE findings and keep them with their grades."""
    entry = record_toxicity(
        services,
        actor,
        patient_id,
        observed_on=body.observed_on,
        course_id=body.course_id,
        findings=body.findings,
    )
    return dict(plain(entry))


@router.post("/responses", status_code=201, response_model=answers.Entry)
async def response(
    patient_id: RecordId, body: Response, actor: SignedIn, services: Il2Services
) -> dict[str, Any]:
    """Assess RECIST from lesion measurements and keep both."""
    entry = record_response(
        services,
        actor,
        patient_id,
        course_id=body.course_id,
        measurements=body.measurements,
    )
    return dict(plain(entry))


@router.post("/follow-ups", status_code=201, response_model=answers.Entry)
async def follow_up(
    patient_id: RecordId, body: FollowUp, actor: SignedIn, services: Il2Services
) -> dict[str, Any]:
    """Keep a follow-up contact."""
    entry = record_follow_up(
        services,
        actor,
        patient_id,
        observed_on=body.observed_on,
        status=body.status,
        notes=body.notes,
    )
    return dict(plain(entry))


@router.post("/discharges", status_code=201, response_model=answers.Entry)
async def discharge(
    patient_id: RecordId, body: Discharge, actor: SignedIn, services: Il2Services
) -> dict[str, Any]:
    """Keep the day the patient left hospital after a course."""
    entry = record_discharge(
        services,
        actor,
        patient_id,
        course_id=body.course_id,
        discharged_on=body.discharged_on.isoformat(),
    )
    return dict(plain(entry))


@router.post("/entries/{entry_id}/corrections", status_code=201, response_model=answers.Entry)
async def correction(
    patient_id: RecordId,
    entry_id: RecordId,
    body: Correction,
    actor: SignedIn,
    services: Il2Services,
) -> dict[str, Any]:
    """Correct an entry: a new entry pointing at the old, which is kept. A bedside recheck's
    content is the corrected before-dose assessment (decided again)."""
    entry = correct_any_entry(
        services,
        actor,
        patient_id,
        entry_id,
        content=body.content,
        reason=body.reason,
        observed_on=body.observed_on,
    )
    return dict(plain(entry))
