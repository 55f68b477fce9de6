"""The audit trail, exported for review (administrators)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from il2.api.schemas import Moment
from il2.api.security import Il2Services, SignedIn
from il2.services.audit import export_audit

router = APIRouter(prefix="/audit", tags=["audit"])


@router.get("")
async def export(
    actor: SignedIn,
    services: Il2Services,
    since: Annotated[Moment | None, Query(description="Only entries from then on")] = None,
) -> dict[str, Any]:
    """Every audit entry (since a moment), oldest first; the export itself is audited."""
    return {"entries": export_audit(services, actor, since=since)}
