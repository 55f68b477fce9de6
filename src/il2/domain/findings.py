"""Reading a nested JSON-like document of clinical findings into flat, checked values.

A field is named by its dotted path (`labs.creatinine_mg_dl`). Each field has a spec; anything
not in the specs, of the wrong type, out of its plausible range or outside its vocabulary is
refused with an error naming the field, the value and what is allowed. Absent fields (or JSON
null) are simply missing: deciding what missing means is the rules' job.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from il2.domain.errors import InvalidInputError
from il2.domain.quantities import exact, plain

Value = Decimal | str | bool | frozenset[str]
Findings = Mapping[str, Value]


class FieldType(StrEnum):
    """The kinds of value a findings field may hold."""

    NUMBER = "number"
    INTEGER = "integer"
    FLAG = "flag"
    CHOICE = "choice"
    TERMS = "terms"
    TEXT = "text"


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """What one field accepts. `minimum`/`maximum` are data-entry guards, not clinical limits.

    `unit` is written as documents and refusals spell it ("C"); `shown_unit` is how a page
    prints it ("°C"). `label` names the field for people, `short_label` as a column heading.
    """

    path: str
    type: FieldType
    unit: str = ""
    minimum: Decimal | None = None
    maximum: Decimal | None = None
    values: tuple[str, ...] = ()
    label: str = ""
    short_label: str = ""
    shown_unit: str = ""

    def describe(self) -> str:
        """What is allowed, in words."""
        unit = f" {self.unit}" if self.unit else ""
        if self.type in (FieldType.NUMBER, FieldType.INTEGER):
            kind = "a whole number" if self.type is FieldType.INTEGER else "a number"
            if self.minimum is not None and self.maximum is not None:
                return f"{kind} from {plain(self.minimum)} to {plain(self.maximum)}{unit}"
            return f"{kind}{unit}"
        if self.type is FieldType.FLAG:
            return "true or false"
        if self.type is FieldType.CHOICE:
            return "one of " + ", ".join(repr(v) for v in self.values)
        if self.type is FieldType.TEXT:
            return "a non-empty text"
        return "a list of terms from: " + ", ".join(self.values)


def _read_number(spec: FieldSpec, raw: object) -> Decimal:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise InvalidInputError(field=spec.path, value=raw, allowed=spec.describe())
    number = exact(raw, field=spec.path)
    if spec.type is FieldType.INTEGER and number != number.to_integral_value():
        raise InvalidInputError(field=spec.path, value=raw, allowed=spec.describe())
    too_low = spec.minimum is not None and number < spec.minimum
    too_high = spec.maximum is not None and number > spec.maximum
    if too_low or too_high:
        raise InvalidInputError(field=spec.path, value=raw, allowed=spec.describe())
    return number


def _read_terms(spec: FieldSpec, raw: object) -> frozenset[str]:
    if not isinstance(raw, list):
        raise InvalidInputError(field=spec.path, value=raw, allowed=spec.describe())
    for item in raw:
        if item not in spec.values:
            raise InvalidInputError(field=spec.path, value=item, allowed=spec.describe())
    return frozenset(str(item) for item in raw)


def read_value(spec: FieldSpec, raw: object) -> Value:
    """Check one raw value against its spec and return it in its domain form."""
    if spec.type in (FieldType.NUMBER, FieldType.INTEGER):
        return _read_number(spec, raw)
    if spec.type is FieldType.FLAG:
        if not isinstance(raw, bool):
            raise InvalidInputError(field=spec.path, value=raw, allowed=spec.describe())
        return raw
    if spec.type is FieldType.CHOICE:
        if raw not in spec.values:
            raise InvalidInputError(field=spec.path, value=raw, allowed=spec.describe())
        return str(raw)
    if spec.type is FieldType.TEXT:
        if not isinstance(raw, str) or not raw.strip():
            raise InvalidInputError(field=spec.path, value=raw, allowed=spec.describe())
        return raw
    return _read_terms(spec, raw)


def read_findings(document: object, specs: Mapping[str, FieldSpec]) -> dict[str, Value]:
    """Flatten and check a nested document against `specs` (keyed by dotted path)."""
    groups = {path.rsplit(".", 1)[0] for path in specs if "." in path}
    groups |= {".".join(group.split(".")[:n]) for group in groups
               for n in range(1, group.count(".") + 1)}  # fmt: skip
    found: dict[str, Value] = {}

    def walk(node: object, prefix: str) -> None:
        if not isinstance(node, Mapping):
            where = prefix.rstrip(".") or "document"
            raise InvalidInputError(field=where, value=node, allowed="a JSON object")
        for key, raw in node.items():
            path = f"{prefix}{key}"
            if path in specs:
                if raw is not None:
                    found[path] = read_value(specs[path], raw)
            elif path in groups:
                if raw is not None:
                    walk(raw, f"{path}.")
            else:
                siblings = sorted(
                    p.removeprefix(prefix).split(".")[0] for p in specs if p.startswith(prefix)
                )
                raise InvalidInputError(
                    field=path,
                    value=raw,
                    allowed="a known field: " + ", ".join(sorted(set(siblings))),
                )

    walk(document, "")
    return found
