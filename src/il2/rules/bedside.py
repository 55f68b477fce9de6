"""Load the before-dose rules (bedside.toml) into the bedside engine's frozen table."""

from __future__ import annotations

from collections.abc import Mapping

from il2.domain.bedside import (
    Action,
    BedsidePolicy,
    BedsideTable,
    BeforeDoseRule,
    Check,
    Guard,
    LimitCheck,
    OneOfCheck,
    PercentChangeCheck,
    PerKgCheck,
    RangeCheck,
    ResumeRule,
)
from il2.domain.errors import RuleTableError
from il2.domain.findings import FieldSpec
from il2.domain.quantities import Comparison
from il2.rules.reader import Node
from il2.rules.site import PolicySetting

_COMPARISONS = tuple(c.value for c in Comparison)
_KINDS = ("limit", "range", "one_of", "percent_change", "per_kg")
_RULE_KEYS = (
    "action", "kind", "field", "baseline_field", "weight_field", "label", "unit", "comparison",
    "limit", "minimum", "maximum", "minimum_inclusive", "maximum_inclusive", "values",
    "only_if", "regimens", "relative", "unconfirmed", "source", "resume",
)  # fmt: skip


def terms_named(*tables: Node) -> dict[str, list[str]]:
    """Each list field's vocabulary: the values its one_of checks name."""
    terms: dict[str, set[str]] = {}
    for table in tables:
        for _, node in table.children():
            if node.data.get("kind") == "one_of":
                terms.setdefault(node.text("field"), set()).update(node.texts("values"))
    return {field: sorted(values) for field, values in terms.items()}


def bedside_terms(data: Node) -> dict[str, list[str]]:
    """The vocabulary of the list fields: findings the rules name, holds that can resume."""
    terms = terms_named(data.table("rules"), data.table("resume"))
    return {"findings": terms.get("findings", []), "held_for": sorted(data.table("resume").data)}


def _field(node: Node, key: str, fields: Mapping[str, FieldSpec]) -> str:
    name = node.text(key)
    if name not in fields:
        raise node.fail(key, f"{name!r} is not a before-dose assessment field")
    return name


def _comparison(node: Node) -> Comparison:
    return Comparison(node.choice("comparison", _COMPARISONS))


def check_from(node: Node, fields: Mapping[str, FieldSpec]) -> Check:
    """Build one check (limit, range, one_of, percent_change, per_kg) from its table."""
    kind = node.choice("kind", _KINDS)
    field, label = _field(node, "field", fields), node.text("label")
    unit = str(node.data.get("unit", ""))
    if kind == "limit":
        return LimitCheck(field, label, unit, _comparison(node), node.number("limit"))
    if kind == "range":
        return RangeCheck(
            field, label, unit,
            minimum=node.number("minimum"),
            maximum=node.optional_number("maximum"),
            minimum_inclusive=node.flag("minimum_inclusive", default=True),
            maximum_inclusive=node.flag("maximum_inclusive", default=True),
        )  # fmt: skip
    if kind == "one_of":
        return OneOfCheck(field, label, frozenset(node.texts("values")))
    if kind == "percent_change":
        baseline = _field(node, "baseline_field", fields)
        return PercentChangeCheck(field, baseline, label, _comparison(node), node.number("limit"))
    weight = _field(node, "weight_field", fields)
    return PerKgCheck(field, weight, label, unit, _comparison(node), node.number("limit"))


def _guard(node: Node, fields: Mapping[str, FieldSpec]) -> Guard | None:
    if not node.has("only_if"):
        return None
    guard = node.table("only_if")
    guard.only("field", "values", "if_absent")
    return Guard(
        field=_field(guard, "field", fields),
        values=frozenset(guard.texts("values")),
        if_absent=guard.flag("if_absent"),
    )


def _rule(rule_id: str, node: Node, fields: Mapping[str, FieldSpec]) -> BeforeDoseRule:
    node.only(*_RULE_KEYS)
    action = Action(node.choice("action", ("hold", "stop_cycle", "discontinue")))
    return BeforeDoseRule(
        id=rule_id,
        action=action,
        check=check_from(node, fields),
        source=node.text("source"),
        guard=_guard(node, fields),
        regimens=frozenset(node.texts("regimens")) if node.has("regimens") else None,
        relative=node.flag("relative", default=False),
        unconfirmed=node.flag("unconfirmed", default=False),
        resume=node.text("resume", default=""),
    )


def bedside_table(
    data: Node, fields: Mapping[str, FieldSpec], version: str, required_by: Node
) -> BedsideTable:
    """Validate bedside.toml against the assessment fields and build the engine's table."""
    required = required_by.texts("required")
    for name in required:
        if name not in fields:
            raise required_by.fail("required", f"{name!r} is not a before-dose assessment field")
    rules = tuple(_rule(key, node, fields) for key, node in data.table("rules").children())
    resumes = {}
    for key, node in data.table("resume").children():
        node.only("kind", "field", "label", "unit", "comparison", "limit", "values", "source",
                  "unconfirmed")  # fmt: skip
        resumes[key] = ResumeRule(
            key=key,
            check=check_from(node, fields),
            source=node.text("source"),
            unconfirmed=node.flag("unconfirmed", default=False),
        )
    return BedsideTable(
        rules=rules,
        resumes=resumes,
        required=required,
        required_source=required_by.text("required_source"),
        version=version,
    )


def _count(setting: PolicySetting) -> int:
    value = setting.value
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise RuleTableError(
            file=setting.origin,
            field=f"policy.{setting.name}",
            problem=f"must be a whole number of at least 0 (0 = off), not {value!r}",
        )
    return value


def bedside_policy(policies: Mapping[str, PolicySetting]) -> BedsidePolicy:
    """The bedside's site choices from the policy settings."""
    held = policies["stop_cycle_after_held_doses"]
    return BedsidePolicy(
        stop_cycle_after_held_doses=_count(held),
        stop_cycle_on_relative_criteria=_count(policies["stop_cycle_on_relative_criteria"]),
        source=f"site policy: {held.source}",
    )
