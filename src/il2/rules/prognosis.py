"""Load the prognostic scores (prognostic_scores.toml), checked against the screening fields."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from il2.domain.findings import FieldSpec, FieldType
from il2.domain.prognosis import (
    BandFallback,
    CalciumCorrection,
    FactorRule,
    GroupRule,
    PrognosticTable,
    ScoreRule,
)
from il2.domain.quantities import Comparison
from il2.rules.reader import Node, read_bundled

PROGNOSIS_FILE = "prognostic_scores.toml"
_NUMERIC = (FieldType.NUMBER, FieldType.INTEGER)
_COMPARISONS = (*(c.value for c in Comparison), "in")


def _field(node: Node, key: str, fields: Mapping[str, FieldSpec], *, numeric: bool) -> FieldSpec:
    path = node.text(key)
    spec = fields.get(path)
    if spec is None:
        raise node.fail(key, f"{path!r} is not a screening field (screening_input.toml)")
    if numeric and spec.type not in _NUMERIC:
        raise node.fail(key, f"{path!r} is not a number field")
    return spec


def _correction(key: str, node: Node, fields: Mapping[str, FieldSpec]) -> CalciumCorrection:
    node.only(
        "label", "albumin_field", "reference_g_dl", "coefficient", "without_albumin",
        "source", "without_albumin_source",
    )  # fmt: skip
    node.choice("without_albumin", ("unknown",))  # the one choice il2 makes: never guessed
    albumin = _field(node, "albumin_field", fields, numeric=True)
    return CalciumCorrection(
        id=key,
        label=node.text("label"),
        albumin_field=albumin.path,
        albumin_unit=albumin.unit,
        reference_g_dl=node.number("reference_g_dl"),
        coefficient=node.number("coefficient"),
        source=node.text("source"),
        without_albumin_source=node.text("without_albumin_source"),
    )


def _fallback(key: str, node: Node, fields: Mapping[str, FieldSpec]) -> BandFallback:
    node.only("label", "field", "bands", "source")
    spec = _field(node, "field", fields, numeric=True)
    bands_node = node.table("bands")
    bands: dict[int, tuple[Decimal, Decimal]] = {}
    for grade, _ in bands_node.data.items():
        if not grade.isdigit():
            raise bands_node.fail(grade, "a band's key must be a whole-number grade")
        band = bands_node.integers(grade)
        if len(band) != 2 or band[0] > band[1]:
            raise bands_node.fail(grade, f"must be [low, high] with low <= high, not {band!r}")
        bands[int(grade)] = (Decimal(band[0]), Decimal(band[1]))
    return BandFallback(
        id=key,
        label=node.text("label"),
        field=spec.path,
        field_label=spec.label,
        bands=bands,
        source=node.text("source"),
    )


def _factor(
    node: Node,
    fields: Mapping[str, FieldSpec],
    corrections: Mapping[str, CalciumCorrection],
    fallbacks: Mapping[str, BandFallback],
) -> FactorRule:
    node.only(
        "id", "label", "field", "comparison", "threshold", "limit", "multiple", "values",
        "correction", "fallback", "source",
    )  # fmt: skip
    comparison = node.choice("comparison", _COMPARISONS)
    if comparison == "in":
        spec = _field(node, "field", fields, numeric=False)
        values = node.texts("values")
        unknown = [v for v in values if v not in spec.values]
        if spec.type is not FieldType.CHOICE or not values or unknown:
            raise node.fail("values", f"must be values of the choice field {spec.path!r}")
        return FactorRule(
            id=node.text("id"),
            label=node.text("label"),
            field=spec.path,
            field_label=spec.label,
            unit="",
            comparison=None,
            source=node.text("source"),
            values=values,
        )
    spec = _field(node, "field", fields, numeric=True)
    if node.has("threshold") == node.has("limit"):
        raise node.fail("threshold", "give exactly one of threshold (a number) or limit (a field)")
    limit = _field(node, "limit", fields, numeric=True) if node.has("limit") else None
    if limit is not None and limit.unit != spec.unit:
        raise node.fail("limit", f"is in {limit.unit!r}, the field in {spec.unit!r}")
    if node.has("multiple") and limit is None:
        raise node.fail("multiple", "applies to a lab limit only")
    return FactorRule(
        id=node.text("id"),
        label=node.text("label"),
        field=spec.path,
        field_label=spec.label,
        unit=spec.unit,
        comparison=Comparison(comparison),
        source=node.text("source"),
        threshold=node.optional_number("threshold"),
        limit=None if limit is None else limit.path,
        limit_label=limit.label if limit else "",
        multiple=node.number("multiple") if node.has("multiple") else Decimal(1),
        correction=_named(node, "correction", corrections),
        fallback=_fallback_for(node, fallbacks),
    )


def _named(
    node: Node, key: str, table: Mapping[str, CalciumCorrection]
) -> CalciumCorrection | None:
    if not node.has(key):
        return None
    name = node.text(key)
    if name not in table:
        raise node.fail(key, f"{name!r} is not an entry of [corrections]")
    return table[name]


def _fallback_for(node: Node, table: Mapping[str, BandFallback]) -> BandFallback | None:
    if not node.has("fallback"):
        return None
    name = node.text("fallback")
    if name not in table:
        raise node.fail("fallback", f"{name!r} is not an entry of [fallbacks]")
    if node.has("limit"):
        raise node.fail("fallback", "works with a fixed threshold only")
    return table[name]


def _groups(node: Node, count: int) -> tuple[GroupRule, ...]:
    """Groups in order, spanning 0 to the number of factors without gap or overlap."""
    if not node.has("groups"):
        return ()
    groups = []
    expected = 0
    for item in node.tables("groups"):
        item.only("id", "label", "min_count", "max_count", "source")
        low, high = item.integer("min_count"), item.integer("max_count")
        if low != expected or high < low:
            raise item.fail("min_count", f"groups must run on from count {expected} without gap")
        expected = high + 1
        groups.append(
            GroupRule(item.text("id"), item.text("label"), low, high, item.text("source"))
        )
    if expected != count + 1:
        raise node.fail("groups", f"must end at the number of factors ({count})")
    return tuple(groups)


def _score(
    key: str,
    node: Node,
    fields: Mapping[str, FieldSpec],
    corrections: Mapping[str, CalciumCorrection],
    fallbacks: Mapping[str, BandFallback],
) -> ScoreRule:
    node.only("name", "diagnoses", "built_for", "source", "factors", "groups")
    diagnoses = node.texts("diagnoses")
    known = fields["diagnosis"].values
    if not diagnoses or any(d not in known for d in diagnoses):
        raise node.fail("diagnoses", f"must be diagnoses of the screening ({', '.join(known)})")
    factors = tuple(_factor(f, fields, corrections, fallbacks) for f in node.tables("factors"))
    ids = [f.id for f in factors]
    if len(set(ids)) != len(ids):
        raise node.fail("factors", "factor ids must be unique")
    return ScoreRule(
        id=key,
        name=node.text("name"),
        diagnoses=diagnoses,
        built_for=node.text("built_for"),
        source=node.text("source"),
        factors=factors,
        groups=_groups(node, len(factors)),
    )


def prognostic_table(root: Node, fields: Mapping[str, FieldSpec]) -> PrognosticTable:
    """Validate prognostic_scores.toml against the screening fields and build the table."""
    root.only("meta", "corrections", "fallbacks", "scores")
    meta = root.table("meta")
    meta.only("version", "description", "caveat")
    corrections = {k: _correction(k, n, fields) for k, n in root.table("corrections").children()}
    fallbacks = {k: _fallback(k, n, fields) for k, n in root.table("fallbacks").children()}
    scores = tuple(
        _score(k, n, fields, corrections, fallbacks) for k, n in root.table("scores").children()
    )
    return PrognosticTable(scores=scores, caveat=meta.text("caveat"), version=meta.text("version"))


def load_prognostic_table(fields: Mapping[str, FieldSpec]) -> PrognosticTable:
    """The bundled prognostic scores."""
    return prognostic_table(Node(read_bundled(PROGNOSIS_FILE), PROGNOSIS_FILE), fields)
