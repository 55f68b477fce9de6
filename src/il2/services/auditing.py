"""Writing the audit trail: every entry a use case appends, and every refusal it records.

Records carry who kept them and when (stamp). One builder (audit_entry) makes an entry's
fields, so the entries a use case appends in its transaction (audit) and those bulk writers
add by the batch read the same. Reading the trail back is services/audit.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, NotRequired, TypedDict, Unpack

from il2.domain.errors import Il2Error, InvalidInputError, RefusedError
from il2.domain.records import Actor, Json
from il2.services.context import Services
from il2.services.parsing import plain
from il2.services.ports import UnitOfWork


class Audited(TypedDict):
    """What an audit entry says was done, to which record, and the record before and after."""

    action: str
    entity: str
    entity_id: object
    patient_id: int | None
    before: NotRequired[object]
    after: NotRequired[object]


class Stamp(TypedDict):
    """Who recorded a record and when, as every kept record carries them."""

    recorded_by: str
    at: datetime


def stamp(services: Services, actor: Actor) -> Stamp:
    """The actor as the record's author, at the clock's time."""
    return {"recorded_by": actor.username, "at": services.clock()}


def audit_entry(at: datetime, actor: Actor, **what: Unpack[Audited]) -> dict[str, Any]:
    """The fields of one audit entry (records as plain JSON), as the trail keeps them."""
    before, after = what.get("before"), what.get("after")
    return {
        "at": at,
        "username": actor.username,
        "action": what["action"],
        "entity": what["entity"],
        "entity_id": str(what["entity_id"]),
        "patient_id": what["patient_id"],
        "before": None if before is None else plain(before),
        "after": None if after is None else plain(after),
    }


def audit(uow: UnitOfWork, services: Services, actor: Actor, **what: Unpack[Audited]) -> None:
    """Append to the audit trail inside the caller's transaction, at the clock's time."""
    uow.audit.add(**audit_entry(services.clock(), actor, **what))


def refusal_detail(error: Il2Error) -> Json:
    """What the audit keeps of a refusal: its kind and its words (never the refused values)."""
    detail: Json = {"error": type(error).__name__, "message": str(error)}
    if isinstance(error, InvalidInputError):
        detail = {"error": type(error).__name__, "field": error.field, "allowed": error.allowed}
    if isinstance(error, RefusedError):
        detail["reasons"] = [reason.code for reason in error.reasons]
    return detail


@contextmanager
def refusals_audited(
    services: Services,
    actor: Actor,
    *,
    action: str,
    entity: str,
    entity_id: object,
    patient_id: int | None,
) -> Iterator[None]:
    """Audit, in a transaction of its own, any refusal raised inside the block, and re-raise.

    The block's own transaction is rolled back by then, so a refusal records nothing but the
    audit entry `refuse_<action>`.
    """
    try:
        yield
    except Il2Error as error:
        with services.uow() as uow:
            audit(
                uow,
                services,
                actor,
                action=f"refuse_{action}",
                entity=entity,
                entity_id=entity_id,
                patient_id=patient_id,
                after=refusal_detail(error),
            )
            uow.commit()
        raise
