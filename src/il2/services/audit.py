"""The audit trail, read and exported for review, with least privilege.

Administrators review the trail but may not read patient records, so they see who did what,
when, to which record, and which fields changed, never the record's content (names, MRNs,
birth dates and clinical documents live there, and a refusal's words can quote a birth date).
A role that may read patient records sees the content. Account entries (users, sign-ins, the
audit's own exports) hold no patient data and are shown whole.

Reads are filtered and paged in SQL; an export streams, a batch at a time, so neither the
server's memory nor an answer grows with the trail. Every read or export is itself audited.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from il2.domain.errors import PermissionDeniedError
from il2.domain.records import Actor, AuditEntry, Json
from il2.services.auditing import audit
from il2.services.context import Services
from il2.services.parsing import plain
from il2.services.permissions import reads_identified, require
from il2.services.ports import AuditQuery

# Entities about accounts and the trail itself: no patient data, shown whole.
ACCOUNT_ENTITIES = frozenset({"user", "users", "audit"})
# What a refusal's outline keeps: its kind, the field refused and reason codes, never its words
# or values (an `allowed` can quote a birth date).
_REFUSAL_KEYS = ("error", "field", "reasons")
PAGE_MOST = 500
EXPORT_BATCH = 500


@dataclass(frozen=True, slots=True)
class AuditPage:
    """One page of matching entries, newest first; `older` continues the list (None at its end)."""

    entries: list[Json]
    matching: int
    older: int | None


def may_see_content(services: Services, actor: Actor) -> bool:
    """Whether the actor's role may read patient records, and so the trail's content."""
    return reads_identified(services, actor)


def _outline(document: Json | None, *, refusal: bool) -> Json | None:
    """Which record and fields a change touched (and, for a refusal, its kind, field and codes),
    not their values."""
    if document is None:
        return None
    kept: dict[str, Any] = {"fields": sorted(str(k) for k in document)}
    if isinstance(document.get("id"), int):  # which record: its id, never its content
        kept["id"] = document["id"]
    if refusal:
        kept |= {k: document[k] for k in _REFUSAL_KEYS if k in document}
    return kept


def shown(entry: AuditEntry, *, content: bool) -> Json:
    """An entry as the reader may see it."""
    row: Json = plain(entry)
    if content or entry.entity in ACCOUNT_ENTITIES:
        return row
    refusal = entry.action.startswith("refuse_")
    row["before"] = _outline(entry.before, refusal=refusal)
    row["after"] = _outline(entry.after, refusal=refusal)
    row["content"] = "withheld: the reader may not read patient records"
    return row


def _filters(query: AuditQuery) -> Json:
    return {k: v for k, v in plain(query).items() if v is not None}


def audit_page(
    services: Services,
    actor: Actor,
    query: AuditQuery,
    *,
    limit: int = 50,
    before_id: int | None = None,
    offset: int = 0,
    oldest_first: bool = False,
) -> AuditPage:
    """Up to `limit` (at most PAGE_MOST) matching entries, newest first, older than `before_id`;
    the read is audited with its filters.

    FHIR pages by `_offset`: `oldest_first` with `offset` gives pages that stay put while the
    trail grows (newest first, each read's own audit entry would shift the next page)."""
    require(services, actor, "audit.read")
    limit = max(1, min(limit, PAGE_MOST))
    content = may_see_content(services, actor)
    with services.uow() as uow:
        rows = list(
            uow.audit.page(
                query, limit=limit + 1, before_id=before_id, offset=offset,
                oldest_first=oldest_first,
            )
        )  # fmt: skip
        matching = uow.audit.count(query)
        read = {"filters": _filters(query), "before_id": before_id, "shown": len(rows[:limit])}
        if offset:
            read["offset"] = offset
        audit(uow, services, actor, action="read", entity="audit", entity_id="*",
              patient_id=query.patient_id, after=read)  # fmt: skip
        uow.commit()
    older = rows[limit - 1].id if len(rows) > limit else None
    return AuditPage([shown(e, content=content) for e in rows[:limit]], matching, older)


def stream_audit(
    services: Services, actor: Actor, query: AuditQuery, *, batch: int = EXPORT_BATCH
) -> Iterator[Json]:
    """Every matching entry, oldest first, read a batch at a time. The export is audited (with
    its filters) before the first entry leaves."""
    require(services, actor, "audit.read")
    content = may_see_content(services, actor)
    with services.uow() as uow:
        audit(uow, services, actor, action="export", entity="audit", entity_id="*",
              patient_id=query.patient_id, after={"filters": _filters(query)})  # fmt: skip
        uow.commit()

    def entries() -> Iterator[Json]:
        with services.uow() as uow:
            for entry in uow.audit.stream(query, batch=batch):
                yield shown(entry, content=content)

    return entries()


def export_audit(services: Services, actor: Actor, *, since: datetime | None = None) -> list[Json]:
    """Every audit entry (since a moment), oldest first, as the actor may see it."""
    return list(stream_audit(services, actor, AuditQuery(since=since)))


def audit_denial(services: Services, error: PermissionDeniedError) -> None:
    """Record a refused permission (who, which action), in a transaction of its own: the edge
    calls this once the refused service's transaction has unwound. A denial that names no user
    (a failed sign-in is audited where it happens) records nothing here."""
    if error.username is None:
        return
    with services.uow() as uow:
        user = uow.users.by_username(error.username)
        if user is None:
            return
        actor = Actor(user.id, user.username, user.role)
        audit(uow, services, actor, action="deny", entity="permission",
              entity_id=(error.action or "?")[:40], patient_id=None,
              after={"role": user.role.value, "action": error.action})  # fmt: skip
        uow.commit()
