"""A course and its dose ledger: one record per (course, cycle, dose number)."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header
from fastapi.responses import JSONResponse

from il2.api import answers
from il2.api.schemas import Dose, InfusionEvent, RecordId, SlotNumber
from il2.api.security import Il2Services, SignedIn
from il2.services.doses import DoseSubmission, ledger, submit_dose
from il2.services.infusions import InfusionSubmission, read_infusion, record_infusion_event
from il2.services.parsing import plain

router = APIRouter(prefix="/courses", tags=["courses"])


class _Json(JSONResponse):
    """A record as JSON, written by orjson: a fraction of the time of `plain` and `json`.

    orjson writes dataclasses, enums (their values) and dates (ISO 8601) as `plain` does;
    anything else it does not know (decimals) goes through `plain`.
    """

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, default=plain)


IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        description="A retry with the same key returns the first result (200), never a second",
    ),
]


@router.get("/{course_id}", response_model=answers.Ledger)
async def read(course_id: RecordId, actor: SignedIn, services: Il2Services) -> dict[str, Any]:
    """The course with its plan, and its ledger in dose order (read is audited)."""
    course, doses = ledger(services, actor, course_id)
    return {"course": plain(course), "doses": [plain(dose) for dose in doses]}


@router.post(
    "/{course_id}/doses",
    status_code=201,
    response_model=None,
    responses={
        201: {"model": answers.DoseRecord, "description": "The dose as recorded"},
        200: {
            "model": answers.DoseRecord,
            "description": "A retry with the same Idempotency-Key: the first record",
        },
        409: {"description": "The dose is already recorded; `existing` is the first record"},
    },
)
async def record(
    course_id: RecordId,
    *,
    body: Dose,
    actor: SignedIn,
    services: Il2Services,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Assess a scheduled dose with the bedside engine and record what was done."""
    submission = DoseSubmission(
        cycle=body.cycle,
        dose_number=body.dose_number,
        assessment=body.assessment,
        outcome=body.outcome,
        given_at=body.given_at,
        verified_by=body.verified_by,
        override_reason=body.override_reason,
        idempotency_key=idempotency_key,
        verifier_password=body.verifier_password,
        assessed_at=body.assessed_at,
        overrides=tuple(body.overrides or ()),
    )
    result = submit_dose(services, actor, course_id, submission)
    # Skip FastAPI's generic encoder: the record is dataclasses, enums, dates and JSON documents.
    return _Json(result.record, status_code=201 if result.created else 200)


INFUSION = "/{course_id}/doses/{cycle}/{number}/infusion"


@router.post(INFUSION, status_code=201, response_model=answers.Infusion)
async def infusion_event(
    course_id: RecordId,
    cycle: SlotNumber,
    number: SlotNumber,
    *,
    body: InfusionEvent,
    actor: SignedIn,
    services: Il2Services,
) -> dict[str, Any]:
    """Pause, resume or stop a running continuous infusion; its state after the event."""
    submission = InfusionSubmission(
        cycle=cycle,
        dose_number=number,
        event=body.event,
        at=body.at,
        assessment=body.assessment,
        reason=body.reason,
        corrects=body.corrects,
    )
    return record_infusion_event(services, actor, course_id, submission)


@router.get(INFUSION, response_model=answers.Infusion)
async def infusion(
    course_id: RecordId,
    cycle: SlotNumber,
    number: SlotNumber,
    actor: SignedIn,
    services: Il2Services,
) -> dict[str, Any]:
    """A day's continuous infusion now: events, hours run and paused, IU delivered (audited)."""
    return read_infusion(services, actor, course_id, cycle, number)
