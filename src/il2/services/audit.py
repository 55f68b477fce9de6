"""The audit trail, exported for review."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from il2.domain.records import Actor
from il2.services.context import Services, plain, require


def export_audit(
    services: Services, actor: Actor, *, since: datetime | None = None
) -> list[dict[str, Any]]:
    """Every audit entry (since a moment), oldest first; the export itself is audited."""
    require(services, actor, "audit.read")
    with services.uow() as uow:
        entries = [plain(e) for e in uow.audit.entries(since=since)]
        uow.audit.add(
            at=services.clock(),
            username=actor.username,
            action="export",
            entity="audit",
            entity_id="*",
            patient_id=None,
            before=None,
            after={"entries": len(entries)},
        )
        uow.commit()
    return entries
