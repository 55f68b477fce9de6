"""Load the bundled CTCAE table (data/ctcae_v5.toml) into a frozen, validated `CtcaeTable`.

Every field is checked on load: a malformed file fails with a `RuleTableError` naming the file
and the field, before any finding is graded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal
from typing import Any

from il2.domain.ctcae import (
    Bound,
    Clause,
    Conversion,
    CtcaeTable,
    Direction,
    GradedBy,
    Measure,
    Reference,
    Term,
)
from il2.domain.errors import RuleTableError
from il2.domain.quantities import Comparison
from il2.rules.reader import Node, read_bundled

FILE = "ctcae_v5.toml"
_ONE, _ZERO = Decimal(1), Decimal(0)
_BASES = (
    "clinical", "abs", "uln_and_bl", "uln_or_bl", "bl", "abs_and_bl", "between_limbs", "bsa",
)  # fmt: skip
_TERM_KEYS = (
    "name", "basis", "graded_by", "worse", "source", "unit", "units", "grades", "clauses",
    "resolution", "note",
)  # fmt: skip
_ENDS = {
    "above": Comparison.ABOVE,
    "at_least": Comparison.AT_LEAST,
    "below": Comparison.BELOW,
    "at_most": Comparison.AT_MOST,
}
_MEASURES = tuple(m.value for m in Measure)
_CLAUSE_KEYS = ("grade", "text", "unit", "symptomatic", "needs_clinician", *_MEASURES)


def _grades(node: Node) -> dict[int, str]:
    grades = {}
    for key in node.data:
        if key not in {"1", "2", "3", "4", "5"}:
            raise node.fail(key, "is not a grade; grades are 1 to 5 (0 means none)")
        grades[int(key)] = node.text(key)
    if not grades:
        raise RuleTableError(file=node.file, field=node.path, problem="lists no grade")
    return dict(sorted(grades.items()))


def _units(node: Node, known: Mapping[str, str], canonical: str) -> dict[str, Conversion]:
    conversions = {}
    for unit, entry in node.children():
        if unit not in known:
            raise node.fail(unit, f"is not a known unit (known: {', '.join(known)})")
        entry.only("factor", "offset", "divisor", "scale", "source")
        factor = entry.number("factor")
        if factor <= 0:
            raise entry.fail("factor", "must be above 0")
        divisor = entry.number("divisor") if entry.has("divisor") else Decimal(1)
        if divisor <= 0:
            raise entry.fail("divisor", "must be above 0")
        conversions[unit] = Conversion(
            unit=unit,
            label=known[unit],
            factor=factor,
            scale=entry.text("scale", default=canonical),
            source=entry.text("source"),
            offset=entry.number("offset") if entry.has("offset") else Decimal(0),
            divisor=divisor,
        )
    for unit, conversion in conversions.items():
        target = conversions.get(conversion.scale)
        if (
            target is None
            or (target.factor, target.offset, target.divisor) != (_ONE, _ZERO, _ONE)
            or target.scale != target.unit
        ):
            raise node.table(unit).fail(
                "scale", f"{conversion.scale!r} is not a unit of this term with factor 1"
            )
    return conversions


def _limit(node: Node, key: str, measure: Measure) -> Decimal | Reference:
    raw = node.raw(key)
    if isinstance(raw, str):
        if measure is not Measure.VALUE or raw not in {r.value for r in Reference}:
            raise node.fail(key, f"{raw!r}: only a value bound may end at 'uln' or 'lln'")
        return Reference(raw)
    return node.number(key)


def _bounds(node: Node, measure: Measure) -> tuple[Bound, ...]:
    node.only(*_ENDS)
    lower = [key for key in ("above", "at_least") if node.has(key)]
    upper = [key for key in ("below", "at_most") if node.has(key)]
    if len(lower) > 1 or len(upper) > 1 or not lower + upper:
        raise RuleTableError(
            file=node.file, field=node.path, problem="needs one lower and/or one upper end"
        )
    return tuple(Bound(measure, _ENDS[key], _limit(node, key, measure)) for key in lower + upper)


def _clause(node: Node, grades: Mapping[int, str], scales: set[str], canonical: str) -> Clause:
    node.only(*_CLAUSE_KEYS)
    grade = node.integer("grade", minimum=1)
    if grade not in grades or grade == 5:
        raise node.fail("grade", f"{grade} is not a grade of this term that a value can reach")
    bounds = tuple(
        bound
        for measure in Measure
        if node.has(measure.value)
        for bound in _bounds(node.table(measure.value), measure)
    )
    if not bounds:
        raise node.fail("grade", f"the clause bounds none of {', '.join(_MEASURES)}")
    scale = node.text("unit", default=canonical)
    if scale not in scales:
        raise node.fail("unit", f"{scale!r} is not a scale of this term's units")
    return Clause(
        grade=grade,
        text=node.text("text"),
        bounds=bounds,
        scale=scale,
        symptomatic=node.flag("symptomatic") if node.has("symptomatic") else None,
        needs_clinician=node.flag("needs_clinician", default=False),
    )


def _term(term_id: str, node: Node, known_units: Mapping[str, str]) -> Term:
    node.only(*_TERM_KEYS)
    graded_by = GradedBy(node.choice("graded_by", tuple(g.value for g in GradedBy)))
    basis = node.choice("basis", _BASES)
    grades = _grades(node.table("grades"))
    term = Term(
        id=term_id,
        name=node.text("name"),
        basis=basis,
        graded_by=graded_by,
        source=node.text("source"),
        grades=grades,
        note=node.text("note", default=""),
    )
    if graded_by is GradedBy.CLINICIAN:
        for key in ("unit", "units", "clauses", "resolution", "worse"):
            if node.has(key):
                raise node.fail(key, "a term graded by the clinician has no value to grade")
        return term
    if basis == "clinical":
        raise node.fail("graded_by", "a term with a clinical basis is graded by the clinician")
    canonical = node.text("unit")
    if canonical not in node.table("units").data:
        raise node.fail("unit", f"{canonical!r} is not among the term's units")
    units = _units(node.table("units"), known_units, canonical)
    scales = {c.scale for c in units.values()}
    resolution = node.optional_number("resolution")
    if resolution is not None and resolution <= 0:
        raise node.fail("resolution", "must be above 0")
    return replace(
        term,
        unit=canonical,
        units=units,
        clauses=tuple(_clause(n, grades, scales, canonical) for n in node.tables("clauses")),
        resolution=resolution,
        worse=Direction(node.choice("worse", tuple(d.value for d in Direction))),
    )


def ctcae_table(data: Mapping[str, Any], *, file: str = FILE) -> CtcaeTable:
    """Validate a parsed CTCAE file into a frozen table (errors name `file` and the field)."""
    root = Node(data, file)
    root.only("meta", "units", "terms")
    meta = root.table("meta")
    meta.only("version", "description", "source")
    units_node = root.table("units")
    known_units = {unit: units_node.text(unit) for unit in units_node.data}
    terms = {key: _term(key, node, known_units) for key, node in root.table("terms").children()}
    return CtcaeTable(version=meta.text("version"), source=meta.text("source"), terms=terms)


def load_ctcae() -> CtcaeTable:
    """The bundled CTCAE v5.0 table, validated."""
    return ctcae_table(read_bundled(FILE))
