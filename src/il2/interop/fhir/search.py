"""FHIR search over resources already built: the four kinds of parameter il2 answers.

The values a query may take follow FHIR R4's search page (http://hl7.org/fhir/R4/search.html):
a token is `code`, `system|code`, `|code` or `system|`; a date carries an optional prefix
(eq, ne, gt, lt, ge, le, sa, eb) before a date or date-time, compared as the ranges both
cover; a reference is `id`, `Type/id` or an absolute URL ending in `Type/id`; a string
matches a value starting with it, ignoring case. Commas mean "any of".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from il2.domain.errors import InvalidInputError
from il2.interop.fhir.model import Resource, SearchParam

_PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb")
_DATE_FORMS = "a date (2026-03-01) or date-time (2026-03-01T08:00:00+00:00), optionally after eq, ne, gt, lt, ge, le, sa or eb"  # noqa: E501


def _token_matches(wanted: str, value: Any) -> bool:
    system, bar, code = wanted.partition("|")
    if isinstance(value, Mapping):
        has_system, has_code = value.get("system"), value.get("code", value.get("value"))
    else:
        has_system, has_code = None, value
    if not bar:
        return has_code is not None and str(has_code) == wanted
    if not system:
        return has_system is None and str(has_code) == code
    if not code:
        return has_system == system
    return has_system == system and str(has_code) == code


def _codings(value: Any) -> Iterable[Any]:
    """A CodeableConcept's codings, or the value itself."""
    if isinstance(value, Mapping) and "coding" in value:
        return list(value["coding"])
    return [value]


def _range(text: str, field: str) -> tuple[datetime, datetime]:
    """The instants `text` covers: a whole day for a date, one instant for a date-time."""
    try:
        if "T" not in text:
            day = date.fromisoformat(text)
            start = datetime(day.year, day.month, day.day, tzinfo=UTC)
            return start, start + timedelta(days=1)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInputError(field=field, value=text, allowed=_DATE_FORMS) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment, moment + timedelta(microseconds=1)


def _date_matches(prefix: str, wanted: tuple[datetime, datetime], value: str, field: str) -> bool:
    low, high = _range(value, field)
    start, end = wanted
    return {
        "eq": start <= low and high <= end,
        "ne": not (start <= low and high <= end),
        "gt": high > end,
        "lt": low < start,
        "ge": high > start,
        "le": low < end,
        "sa": low >= end,
        "eb": high <= start,
    }[prefix]


def _reference_matches(wanted: str, value: str, target: str | None) -> bool:
    if "/" not in wanted and target:
        wanted = f"{target}/{wanted}"
    tail = "/".join(wanted.rstrip("/").split("/")[-2:])
    return value == tail


def _one_matches(param: SearchParam, query: str, values: Sequence[Any]) -> bool:
    field = param.name
    if param.kind == "token":
        return any(_token_matches(query, c) for v in values for c in _codings(v))
    if param.kind == "string":
        text = query.casefold()
        return any(str(v).casefold().startswith(text) for v in values if v is not None)
    if param.kind == "reference":
        return any(_reference_matches(query, str(v), param.target) for v in values)
    prefix = query[:2] if query[:2] in _PREFIXES else "eq"
    bare = query[2:] if query[:2] in _PREFIXES else query
    wanted = _range(bare, field)
    return any(_date_matches(prefix, wanted, str(v), field) for v in values if v)


def matches(param: SearchParam, query: str, resource: Resource) -> bool:
    """Whether `resource` matches one occurrence of the parameter (commas: any of)."""
    values = [v for v in param.values(resource) if v is not None]
    return any(_one_matches(param, part, values) for part in query.split(","))


def date_bounds(query: str, field: str) -> tuple[str, datetime, datetime]:
    """A date parameter's prefix (eq when none) and the instants its date covers, [start, end)."""
    prefix = query[:2] if query[:2] in _PREFIXES else "eq"
    start, end = _range(query[2:] if query[:2] in _PREFIXES else query, field)
    return prefix, start, end


def check_dates(param: SearchParam, query: str) -> None:
    """Refuse a date parameter that is no date, before any record is read."""
    if param.kind != "date":
        return
    for part in query.split(","):
        _range(part[2:] if part[:2] in _PREFIXES else part, param.name)
