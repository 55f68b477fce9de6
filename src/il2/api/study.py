"""Researchers' reads, addressed by study number so that no database id is in a request or an
answer (a researcher asking for /api/patients/{id} is answered 404)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from il2.api import answers
from il2.api.security import Il2Services, SignedIn
from il2.domain.deidentify import STUDY_LENGTH, STUDY_PREFIX
from il2.services.patients import read_study_document

router = APIRouter(prefix="/study", tags=["study"])

StudyNumber = Annotated[
    str,
    Path(
        min_length=1,
        max_length=len(STUDY_PREFIX) + STUDY_LENGTH + 8,
        description="The study number, e.g. S-ABCDEFGHIJKL",
    ),
]


@router.get("/{number}", response_model=answers.StudyRecord)
def read(number: StudyNumber, actor: SignedIn, services: Il2Services) -> dict[str, Any]:
    """A researcher's de-identified record: study number, dates as `day N` from the patient's
    day 0, free text withheld; courses and entries numbered within the record (`id`,
    `course_id`, `corrects_id`), never by database id. Staff read /api/patients/{id} (404)."""
    return read_study_document(services, actor, number)
