"""Program-wide reads for clients: patient search, the worklist and the outcome summary.

Each read needs the permission the web needs for the same page, and each is audited.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query

from il2.api import answers
from il2.api.security import Il2Services, SignedIn
from il2.domain.limits import MAX_ID
from il2.services.outcomes import Filters, outcome_summary
from il2.services.patients import SEARCH_LENGTH, SEARCH_LIMIT, search_patients
from il2.services.worklist import worklist

router = APIRouter(tags=["program"])

WORKLIST_PAGE = 50
WORKLIST_MOST = 200


@router.get("/patients", response_model=answers.Search)
async def search(
    actor: SignedIn,
    services: Il2Services,
    q: Annotated[
        str,
        Query(
            description="Part of a name or an MRN (any case)",
            min_length=SEARCH_LENGTH[0],
            max_length=SEARCH_LENGTH[1],
        ),
    ],
) -> dict[str, Any]:
    """Patients whose name or MRN contains `q`, by name (at most 50); identified readers only
    (a name search would re-identify a de-identified record). The search is audited."""
    found = search_patients(services, actor, q)
    return {"query": q.strip(), "limit": SEARCH_LIMIT, "patients": found}


@router.get("/worklist", response_model=answers.Worklist)
async def patients_by_stage(
    actor: SignedIn,
    services: Il2Services,
    limit: Annotated[int, Query(ge=1, le=WORKLIST_MOST, description="Patients per page")] = (
        WORKLIST_PAGE
    ),
    offset: Annotated[int, Query(ge=0, le=MAX_ID, description="Patients to skip")] = 0,
) -> dict[str, Any]:
    """A page of patients (newest referral first) with their stage and next action, the
    total, how many patients (every page) are at each stage, and today's doses on the ward;
    researchers see study numbers, not names."""
    found = worklist(services, actor, limit=limit, offset=offset)
    return {
        "total": found.total,
        "stages": {str(stage): n for stage, n in found.by_stage},
        "limit": limit,
        "offset": offset,
        "patients": [
            {
                "patient_id": row.patient_id,
                "label": row.label,
                "diagnosis": row.diagnosis,
                "stage": str(row.stage),
                "next_action": row.next_action,
                "next_on": row.next_on.isoformat() if row.next_on else None,
            }
            for row in found.rows
        ],
        "doses_today": [
            {
                "patient_id": dose.patient_id,
                "label": dose.label,
                "course_id": dose.course_id,
                "cycle": dose.cycle,
                "dose_number": dose.dose_number,
                "due_at": dose.due_at.isoformat(),
                "status": dose.status,
            }
            for dose in found.doses_today
        ],
    }


@router.get("/outcomes", response_model=answers.OutcomeSummary)
async def outcomes(
    actor: SignedIn,
    services: Il2Services,
    as_of: Annotated[date | None, Query(description="Data cut-off; default today")] = None,
    study_id: Annotated[
        int | None,
        Query(
            ge=1,
            le=MAX_ID,
            description="The study whose arms `comparison` compares; "
            "default the newest study (an unknown study: 422, field study)",
        ),
    ] = None,
) -> dict[str, Any]:
    """The program's de-identified outcome summary (as `il2 report --json`), with its
    data-quality block and `comparison`: each arm of a study (intention to treat) and each
    first regimen side by side; the read and each patient left out of a figure are audited."""
    cut = as_of or services.clock().date()
    return outcome_summary(services, actor, as_of=cut, filters=Filters(study_id=study_id))
