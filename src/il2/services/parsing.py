"""Reading what callers send to the use cases, and answering records as plain JSON data.

Every use case reads its inputs through these checks, so a refused input always names its
field and what is allowed in the same words (InvalidInputError).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields, is_dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from il2.domain import limits
from il2.domain.errors import InvalidInputError
from il2.domain.records import Json
from il2.services.context import Services

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


def json_object(raw: object, field: str, known: tuple[str, ...]) -> Mapping[str, object]:
    """`raw` as a JSON object with only `known` keys; `field` "document" names the top level."""
    if not isinstance(raw, Mapping):
        raise InvalidInputError(field=field, value=raw, allowed="a JSON object")
    for key in raw:
        if key not in known:
            where = f"{field}.{key}" if field != "document" else str(key)
            raise InvalidInputError(
                field=where, value=raw[key], allowed="a known field: " + ", ".join(known)
            )
    return raw
