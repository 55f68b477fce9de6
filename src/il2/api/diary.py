"""A course's self-injection diary: record, correct and read what the patient reports."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from il2.api import answers
from il2.api.schemas import DiaryCorrection, DiaryEntry, RecordId
from il2.api.security import Il2Services, SignedIn
from il2.services.diary import correct_diary_entry, course_diary, record_entry, recorded_entry

router = APIRouter(prefix="/courses", tags=["diary"])


@router.get("/{course_id}/diary", response_model=answers.Diary)
async def read(course_id: RecordId, actor: SignedIn, services: Il2Services) -> dict[str, Any]:
    """The diary of an outpatient course: entries oldest first and the summary (audited)."""
    return course_diary(services, actor, course_id)


@router.post("/{course_id}/diary", status_code=201, response_model=answers.DiaryEntry)
async def record(
    course_id: RecordId, body: DiaryEntry, actor: SignedIn, services: Il2Services
) -> dict[str, Any]:
    """Record what the patient reports of one planned injection (nurses, coordinators); a
    second entry for the injection is a conflict (409) whose `existing` is the first."""
    entry = record_entry(services, actor, course_id, body.model_dump(mode="json"))
    return recorded_entry(services, entry)


@router.post(
    "/{course_id}/diary/{entry_id}/corrections",
    status_code=201,
    response_model=answers.DiaryEntry,
)
async def correct(
    course_id: RecordId,
    entry_id: RecordId,
    body: DiaryCorrection,
    actor: SignedIn,
    services: Il2Services,
) -> dict[str, Any]:
    """Correct an injection's current entry: a new entry pointing at it, with the reason."""
    document = body.model_dump(mode="json", exclude={"reason"})
    entry = correct_diary_entry(services, actor, course_id, entry_id, document, reason=body.reason)
    return recorded_entry(services, entry)
