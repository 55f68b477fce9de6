"""Hypothesis strategies that build valid input documents from the rule files' field specs."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from il2.domain.findings import FieldSpec, FieldType


def value_of(spec: FieldSpec) -> st.SearchStrategy[Any]:
    """Any value the spec accepts."""
    if spec.type is FieldType.NUMBER:
        low = spec.minimum if spec.minimum is not None else Decimal(0)
        high = spec.maximum if spec.maximum is not None else Decimal(10_000)
        return st.decimals(min_value=low, max_value=high, places=2).map(float)
    if spec.type is FieldType.INTEGER:
        return st.integers(int(spec.minimum or 0), int(spec.maximum or 10))
    if spec.type is FieldType.FLAG:
        return st.booleans()
    if spec.type in (FieldType.CHOICE, FieldType.TEXT):
        return st.sampled_from(spec.values)
    return st.lists(st.sampled_from(spec.values), unique=True, max_size=4)


def put(document: dict[str, Any], path: str, value: Any) -> None:
    """Set a dotted path in a nested document."""
    *groups, name = path.split(".")
    target = document
    for group in groups:
        target = target.setdefault(group, {})
    target[name] = value


@st.composite
def documents(
    draw: st.DrawFn,
    specs: Mapping[str, FieldSpec],
    *,
    always: tuple[str, ...] = (),
    fixed: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A valid document: fields in `always` present, `fixed` values set, the rest maybe."""
    document: dict[str, Any] = {}
    for path, spec in specs.items():
        if fixed and path in fixed:
            put(document, path, fixed[path])
        elif path in always or draw(st.booleans()):
            put(document, path, draw(value_of(spec)))
    return document
