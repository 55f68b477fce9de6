"""The audit trail for review (administrators): filtered pages, and a streamed export.

Administrators see who did what, when, to which record and which fields, never the record's
content (see services/audit.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from il2.api import answers
from il2.api.schemas import Moment
from il2.api.security import Il2Services, SignedIn
from il2.domain.limits import MAX_ID
from il2.services.audit import PAGE_MOST, audit_page, stream_audit
from il2.services.ports import AuditQuery

router = APIRouter(prefix="/audit", tags=["audit"])

Since = Annotated[Moment | None, Query(description="Only entries from then on")]
Until = Annotated[Moment | None, Query(description="Only entries before then")]
Username = Annotated[str | None, Query(max_length=80, description="Only this user's entries")]
PatientId = Annotated[
    int | None, Query(ge=1, le=MAX_ID, description="Only entries about this patient")
]
Action = Annotated[str | None, Query(max_length=40, description="Only this action, e.g. create")]


def _query(
    since: Since = None,
    until: Until = None,
    username: Username = None,
    patient_id: PatientId = None,
    action: Action = None,
) -> AuditQuery:
    """The filters of a read or an export."""
    return AuditQuery(
        since=since, until=until, username=username, patient_id=patient_id, action=action
    )


Filters = Annotated[AuditQuery, Depends(_query)]


@router.get("", response_model=answers.AuditPage, response_model_exclude_unset=True)
def page(
    actor: SignedIn,
    services: Il2Services,
    query: Filters,
    limit: Annotated[int, Query(ge=1, le=PAGE_MOST, description="Entries per page")] = 100,
    before_id: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="Continue below this entry id (`older`)")
    ] = None,
) -> dict[str, Any]:
    """Matching entries, newest first, a page at a time: pass `older` back as `before_id`."""
    found = audit_page(services, actor, query, limit=limit, before_id=before_id)
    return {"entries": found.entries, "matching": found.matching, "older": found.older}


@router.get(
    "/export",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "One audit entry (as in GET /api/audit) per line",
            "content": {"application/x-ndjson": {"schema": {"type": "string"}}},
        }
    },
)
def export(actor: SignedIn, services: Il2Services, query: Filters) -> StreamingResponse:
    """Every matching entry, oldest first, one JSON object per line (NDJSON), streamed."""
    entries = stream_audit(services, actor, query)

    def lines() -> Iterator[bytes]:
        for entry in entries:
            yield orjson.dumps(entry) + b"\n"

    return StreamingResponse(lines(), media_type="application/x-ndjson")
