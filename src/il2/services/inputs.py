"""Reading JSON documents at the use-case boundary: one object check shared by every reader."""

from __future__ import annotations

from collections.abc import Mapping

from il2.domain.errors import InvalidInputError


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
