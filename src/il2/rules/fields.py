"""Load the input fields of the rule files: what each accepts, how people read it, and which
CTCAE term grades it.

A field's label, its short label (a column heading) and the printed form of its unit live with
the field in its input file, so that every page names a field the same way. The bedside
fields' CTCAE terms (`[grading]`) are checked against the CTCAE table: an unknown term, a unit
the term does not accept or a measure that is not the term's is refused at start-up, naming
file and field.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache

from il2.domain.ctcae import CtcaeTable
from il2.domain.field_grading import FieldGrading, ReferenceLimit
from il2.domain.findings import FieldSpec, FieldType
from il2.rules.reader import Node, read_bundled

UNITS_FILE = "units_shown.toml"
INPUT_FILES = ("screening_input.toml", "bedside_input.toml", "retreatment.toml")


@cache
def shown_units() -> Mapping[str, str]:
    """How each unit is printed for people, by the unit as the input files write it."""
    root = Node(read_bundled(UNITS_FILE), UNITS_FILE)
    root.only("meta", "shown")
    shown = root.table("shown")
    return {unit: shown.text(unit) for unit in shown.data}


def field_specs(node: Node, terms: Mapping[str, Sequence[str]]) -> dict[str, FieldSpec]:
    """Input fields; a `terms` field accepts the terms the rules name plus its `extra_terms`."""
    units = shown_units()
    specs = {}
    for path, spec in node.children():
        spec.only(
            "type", "unit", "minimum", "maximum", "values", "extra_terms", "label", "short_label"
        )
        kind = FieldType(spec.choice("type", tuple(t.value for t in FieldType)))
        values = spec.texts("values", default=())
        if kind is FieldType.TERMS:
            values = tuple(sorted({*terms.get(path, []), *spec.texts("extra_terms", default=())}))
        unit = spec.data.get("unit", "")
        label = spec.text("label")
        specs[path] = FieldSpec(
            path=path,
            type=kind,
            unit=unit,
            minimum=spec.optional_number("minimum"),
            maximum=spec.optional_number("maximum"),
            values=values,
            label=label,
            short_label=spec.text("short_label", default=label),
            shown_unit=units.get(unit, unit),
        )
    return specs


@cache
def input_fields() -> Mapping[str, FieldSpec]:
    """Every input field of the bundled input files, by path, for naming fields to people.

    A path in two files (weight, the labs screened and checked before each dose) must carry
    one label, so that a page names it the same way wherever it is entered. (What a field
    accepts is read per file into the rule set; a site's policy changes no label or unit.)
    """
    found: dict[str, FieldSpec] = {}
    for name in INPUT_FILES:
        fields = Node(read_bundled(name), name).table("fields")
        for path, spec in field_specs(fields, {}).items():
            earlier = found.setdefault(path, spec)
            if earlier.label != spec.label:
                raise fields.table(path).fail(
                    "label", f"is {spec.label!r}, another input file says {earlier.label!r}"
                )
    return found


@cache
def field_labels() -> Mapping[str, str]:
    """Every input field's label, by path."""
    return {path: spec.label for path, spec in input_fields().items()}


def field_gradings(
    node: Node, fields: Mapping[str, FieldSpec], ctcae: CtcaeTable
) -> dict[str, FieldGrading]:
    """The `[grading]` table: each field's CTCAE term, checked against the fields and terms."""
    gradings = {}
    for path, entry in node.children():
        entry.only("term", "unit", "measure", "limit", "baseline", "source")
        if path not in fields:
            raise node.fail(path, "is not a field of [fields]")
        term = ctcae.terms.get(entry.text("term"))
        if term is None:
            raise entry.fail("term", f"{entry.text('term')!r} is not a CTCAE term of the table")
        unit = entry.choice("unit", tuple(term.units))
        measure = entry.choice("measure", (term.basis,))
        limits = tuple(r.value for r in ReferenceLimit)
        limit = entry.choice("limit", limits) if entry.has("limit") else None
        baseline = entry.text("baseline") if entry.has("baseline") else None
        if baseline is not None and baseline not in fields:
            raise entry.fail("baseline", f"{baseline!r} is not a field of [fields]")
        gradings[path] = FieldGrading(
            field=path,
            term=term.id,
            unit=unit,
            measure=measure,
            source=entry.text("source"),
            limit=None if limit is None else ReferenceLimit(limit),
            baseline=baseline,
        )
    return gradings
