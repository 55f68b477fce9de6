"""Studies and arms: define a study, list studies, assign, correct and withdraw patients."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from il2.api import answers
from il2.api.schemas import NewAssignment, NewStudy, RecordId, Withdrawal
from il2.api.security import Il2Services, SignedIn
from il2.services.studies import (
    create_study,
    list_studies,
    recorded_assignment,
    study_assignments,
    study_document,
)

router = APIRouter(prefix="/studies", tags=["studies"])


@router.post("", status_code=201, response_model=answers.Study)
async def define(body: NewStudy, actor: SignedIn, services: Il2Services) -> dict[str, Any]:
    """Define a study and its arms (physicians, coordinators); a name or registry id already
    kept is a conflict (409)."""
    study = create_study(services, actor, body.model_dump(mode="json", exclude_none=True))
    return study_document(study)


@router.get("", response_model=answers.Studies)
async def studies(actor: SignedIn, services: Il2Services) -> dict[str, Any]:
    """Every study with its arms and how many patients each arm has."""
    return {"studies": list_studies(services, actor)}


@router.get("/{study_id}/assignments", response_model=answers.StudyAssignments)
async def assignments(study_id: RecordId, actor: SignedIn, services: Il2Services) -> dict[str, Any]:
    """The study, its enrolment by arm and every record of its patients' chains, oldest first
    (audited); for researchers de-identified: study numbers, no ids, dates or reasons."""
    return study_assignments(services, actor, study_id)


@router.post("/{study_id}/assignments", status_code=201, response_model=answers.Assignment)
async def assign(
    study_id: RecordId, body: NewAssignment, actor: SignedIn, services: Il2Services
) -> dict[str, Any]:
    """Assign a patient to an arm (they must be in no arm of the study now), or correct the
    arm they are in (`kind` corrected, with a reason): a new record, never an overwrite."""
    return recorded_assignment(services, actor, study_id, body.patient_id, kind=body.kind,
                           arm=body.arm, on=body.on and body.on.isoformat(),
                           reason=body.reason)  # fmt: skip


@router.post("/{study_id}/withdrawals", status_code=201, response_model=answers.Assignment)
async def withdraw(
    study_id: RecordId, body: Withdrawal, actor: SignedIn, services: Il2Services
) -> dict[str, Any]:
    """Withdraw a patient from the study, with the reason (they must be in an arm now)."""
    return recorded_assignment(services, actor, study_id, body.patient_id, kind="withdrawn",
                           on=body.on and body.on.isoformat(), reason=body.reason)  # fmt: skip
