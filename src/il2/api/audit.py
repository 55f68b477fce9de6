"""The audit trail for review (administrators): filtered pages, and a streamed export.

Administrators see who did what, when, to which record and which fields, never the record's
content (see services/audit.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

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
    since: Moment | None,
    until: Moment | None,
    username: str | None,
    patient_id: int | None,
    action: str | None,
) -> AuditQuery:
    return AuditQuery(
        since=since, until=until, username=username, patient_id=patient_id, action=action
    )


@router.get("")
def page(  # noqa: PLR0917 - one parameter per filter
    actor: SignedIn,
    services: Il2Services,
    since: Since = None,
    until: Until = None,
    username: Username = None,
    patient_id: PatientId = None,
    action: Action = None,
    limit: Annotated[int, Query(ge=1, le=PAGE_MOST, description="Entries per page")] = 100,
    before_id: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="Continue below this entry id (`older`)")
    ] = None,
) -> dict[str, Any]:
    """Matching entries, newest first, a page at a time: pass `older` back as `before_id`."""
    found = audit_page(
        services,
        actor,
        _query(since, until, username, patient_id, action),
        limit=limit,
        before_id=before_id,
    )
    return {"entries": found.entries, "matching": found.matching, "older": found.older}


@router.get("/export", response_class=StreamingResponse)
def export(  # noqa: PLR0917 - one parameter per filter
    actor: SignedIn,
    services: Il2Services,
    since: Since = None,
    until: Until = None,
    username: Username = None,
    patient_id: PatientId = None,
    action: Action = None,
) -> StreamingResponse:
    """Every matching entry, oldest first, one JSON object per line (NDJSON), streamed."""
    entries = stream_audit(services, actor, _query(since, until, username, patient_id, action))

    def lines() -> Iterator[bytes]:
        for entry in entries:
            yield orjson.dumps(entry) + b"\n"

    return StreamingResponse(lines(), media_type="application/x-ndjson")
