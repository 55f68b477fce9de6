"""What every record-keeping use case needs: rules, storage, a clock; and the shared checks."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from il2.domain import limits
from il2.domain.errors import (
    Il2Error,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    RefusedError,
)
from il2.domain.records import Actor, Json, Patient
from il2.rules.loader import RuleSet
from il2.services.ports import BulkRecordsFactory, Clock, UnitOfWork, UnitOfWorkFactory


@dataclass(frozen=True, slots=True)
class Services:
    """The rule tables in force, a way to open transactions, and the clock.

    `bulk` opens bulk transactions, for writing large synthetic programs (None: not offered).
    """

    rules: RuleSet
    uow: UnitOfWorkFactory
    clock: Clock
    bulk: BulkRecordsFactory | None = None
    study_key: bytes = field(default=b"", repr=False)
    """The site's secret key for study numbers (domain/deidentify.py); never logged."""
    answers: dict[tuple[str, int], tuple[object, Any]] = field(
        default_factory=dict, repr=False, compare=False
    )
    """Answers worked out from one patient's records, by (use, patient id), each kept with the
    marks of the records it was worked out from (services/schedule.py): records are only ever
    added, so an answer whose marks still match is still the answer. Per app, so per database;
    a copy made with `dataclasses.replace` shares it."""


def require(services: Services, actor: Actor, action: str) -> None:
    """Refuse the action unless the actor's role allows it (the one place permissions live)."""
    if not services.rules.permissions.allows(actor.role, action):
        raise PermissionDeniedError(
            f"{actor.username} ({actor.role.value}) may not {action}: "
            f"{services.rules.permissions.descriptions.get(action, 'unknown action')}",
            username=actor.username,
            action=action,
        )


_JSON_SCALARS = frozenset({str, int, float, bool, type(None)})


def plain(value: object) -> Any:  # noqa: PLR0911 - one return per kind of value
    """A record as JSON-ready data (dates as ISO text, enums as their values)."""
    kind = type(value)
    if kind in _JSON_SCALARS:  # most of a record's documents: checked first, by exact type
        return value
    if kind is dict:
        return {k: plain(v) for k, v in value.items()}  # type: ignore[attr-defined]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in fields(value)}
    return value


def audit(
    uow: UnitOfWork,
    services: Services,
    actor: Actor,
    *,
    action: str,
    entity: str,
    entity_id: object,
    patient_id: int | None,
    before: object = None,
    after: object = None,
) -> None:
    """Append to the audit trail inside the caller's transaction."""
    uow.audit.add(
        **audit_entry(
            services.clock(),
            actor,
            action=action,
            entity=entity,
            entity_id=entity_id,
            patient_id=patient_id,
            before=before,
            after=after,
        )
    )


def audit_entry(
    at: datetime,
    actor: Actor,
    *,
    action: str,
    entity: str,
    entity_id: object,
    patient_id: int | None,
    before: object = None,
    after: object = None,
) -> dict[str, Any]:
    """The fields of one audit entry, as `audit` appends it (records as plain JSON)."""
    return {
        "at": at,
        "username": actor.username,
        "action": action,
        "entity": entity,
        "entity_id": str(entity_id),
        "patient_id": patient_id,
        "before": None if before is None else plain(before),
        "after": None if after is None else plain(after),
    }


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


def patient_or_404(uow: UnitOfWork, patient_id: int) -> Patient:
    """The patient, or NotFoundError."""
    patient = uow.patients.get(patient_id)
    if patient is None:
        raise NotFoundError(kind="patient", key=str(patient_id))
    return patient


def text(
    raw: object,
    field: str,
    *,
    required: bool = True,
    limit: int = limits.MAX_NAME,
    multiline: bool = False,
) -> str | None:
    """A trimmed non-empty string (or None when optional and absent) within il2's limits:
    at most `limit` characters, and single-line text with no control, bidirectional,
    zero-width or noncharacter code points (`multiline` free text keeps line breaks and tabs).
    """
    if raw is None and not required:
        return None
    if not isinstance(raw, str) or not raw.strip():
        shown = raw.encode("utf-8", "backslashreplace").decode() if isinstance(raw, str) else raw
        raise InvalidInputError(field=field, value=shown, allowed="a non-empty text")
    return limits.checked_text(raw.strip(), field, limit=limit, multiline=multiline)


def iso_date(raw: object, field: str) -> date:
    """An ISO 8601 date."""
    try:
        return date.fromisoformat(str(raw))
    except ValueError:
        raise InvalidInputError(
            field=field, value=raw, allowed="an ISO 8601 date (YYYY-MM-DD)"
        ) from None


def aware(raw: object, field: str, services: Services) -> datetime:
    """An ISO 8601 date-time; one without an offset is read in the site's time zone."""
    try:
        moment = datetime.fromisoformat(str(raw))
    except ValueError:
        raise InvalidInputError(
            field=field,
            value=raw,
            allowed="an ISO 8601 date-time such as 2026-12-07T08:00:00-08:00",
        ) from None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=services.rules.site.time_zone)
    return limits.checked_moment(moment, field)


def as_json(value: object, field: str) -> Json:
    """A JSON object."""
    if not isinstance(value, dict):
        raise InvalidInputError(field=field, value=value, allowed="a JSON object")
    return value
