"""Load the eligibility criteria (eligibility.toml, with a site's changes) into the domain table.

A criterion is one test: a leaf (`limit`, `relative_limit`, `category`, `excludes`, `flag`) or a
combination with named semantics: `all_of` (every part must pass) or `any_of` (one passing part
suffices), whose parts are named tables. `required_for_policy` with `triggers` makes it a
work-up that a site policy requires for every patient or only for those a trigger applies to.
A criterion marked `contraindication = "label"` or `indication = "label"` is fixed by the
product label: a site file may tighten its threshold or choose a cited alternative, nothing
else; any other change is refused, naming the file and the field.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Any

from il2.domain.eligibility import (
    AllOf,
    AnyOf,
    Category,
    CriteriaTable,
    Criterion,
    Excludes,
    Flag,
    Limit,
    RelativeLimit,
    RequiredTest,
    Test,
)
from il2.domain.errors import RuleTableError
from il2.domain.findings import FieldSpec
from il2.domain.quantities import Comparison
from il2.rules.reader import Node
from il2.rules.site import PolicySetting, SiteChange, ThresholdSetting

_COMPARISONS = tuple(c.value for c in Comparison)
_LEAVES = ("limit", "relative_limit", "category", "excludes", "flag")
_COMBINATIONS = ("all_of", "any_of")
_TEST_KEYS = (
    "kind", "field", "reference_field", "label", "reference_label", "unit", "comparison",
    "limit", "factor", "met", "not_met", "term", "required", "alternatives", "source",
    *_COMBINATIONS,
)  # fmt: skip
_CRITERION_KEYS = (
    *_TEST_KEYS, "title", "obtain", "unconfirmed", "triggers", "required_for_policy", "enabled",
    "contraindication", "indication",
)  # fmt: skip
_PART_ONLY = (
    "field", "reference_field", "reference_label", "unit", "comparison", "limit", "factor",
    "met", "not_met", "term", "required", "alternatives",
)  # fmt: skip
_LABEL_RULES = ("contraindication", "indication")
# What a site may change in a criterion the label fixes: its threshold, never its existence.
_THRESHOLD_KEYS = ("limit", "comparison", "factor")


def _leaf(kind: str, node: Node) -> Test:
    if kind == "limit":
        return Limit(
            field=node.text("field"),
            label=node.text("label"),
            unit=node.data.get("unit", ""),
            comparison=Comparison(node.choice("comparison", _COMPARISONS)),
            limit=node.number("limit"),
        )
    if kind == "relative_limit":
        return RelativeLimit(
            field=node.text("field"),
            reference_field=node.text("reference_field"),
            label=node.text("label"),
            reference_label=node.text("reference_label"),
            unit=node.data.get("unit", ""),
            comparison=Comparison(node.choice("comparison", _COMPARISONS)),
            factor=node.number("factor"),
        )
    if kind == "category":
        return Category(
            field=node.text("field"),
            label=node.text("label"),
            met=frozenset(node.texts("met")),
            not_met=frozenset(node.texts("not_met")),
        )
    if kind == "excludes":
        return Excludes(field=node.text("field"), term=node.text("term"), label=node.text("label"))
    return Flag(field=node.text("field"), label=node.text("label"), required=node.flag("required"))


def _alternatives(node: Node) -> None:
    if node.has("alternatives"):
        for alternative in node.tables("alternatives"):
            alternative.only("limit", "factor", "comparison", "source")
            if alternative.has("comparison"):
                alternative.choice("comparison", _COMPARISONS)


def _test(node: Node, fields: Mapping[str, FieldSpec]) -> Test:
    """A leaf test, or an `all_of` / `any_of` of named parts (which may combine in turn)."""
    kind = node.choice("kind", (*_LEAVES, *_COMBINATIONS))
    for key in ("field", "reference_field"):
        if node.has(key) and node.text(key) not in fields:
            raise node.fail(key, f"{node.text(key)!r} is not a screening input field")
    _alternatives(node)
    for other in _COMBINATIONS:
        if other != kind and node.has(other):
            raise node.fail(other, f"belongs to kind {other!r}, not {kind!r}")
    if kind in _COMBINATIONS:
        for key in _PART_ONLY:
            if node.has(key):
                raise node.fail(key, f"belongs to a part of the {kind}, not to the {kind} itself")
        parts = node.table(kind)
        if not parts.data:
            raise node.fail(kind, "must name at least one part")
        tests = []
        for _, part in parts.children():
            part.only(*_TEST_KEYS)
            tests.append(_test(part, fields))
        return AllOf(tuple(tests)) if kind == "all_of" else AnyOf(tuple(tests))
    return _leaf(kind, node)


def _trigger(node: Node, fields: Mapping[str, FieldSpec]) -> Test:
    node.only(*_TEST_KEYS)
    return _test(node, fields)


def _label_rule(node: Node) -> str:
    rules = [rule for rule in _LABEL_RULES if node.has(rule)]
    for rule in rules:
        node.choice(rule, ("label",))
    if len(rules) > 1:
        raise node.fail(rules[1], "a criterion is either a contraindication or an indication")
    return rules[0] if rules else ""


def _criterion(
    criterion_id: str,
    node: Node,
    fields: Mapping[str, FieldSpec],
    policies: Mapping[str, PolicySetting],
    site_note: str,
) -> Criterion:
    node.only(*_CRITERION_KEYS)
    test = _test(node, fields)
    if node.has("required_for_policy"):
        policy_name = node.text("required_for_policy")
        if policy_name not in policies:
            raise node.fail("required_for_policy", f"{policy_name!r} is not a site policy")
        test = RequiredTest(
            label=node.text("label"),
            result=test,
            triggers=tuple(_trigger(n, fields) for n in node.tables("triggers")),
            required_for_all=policies[policy_name].value == "all",
        )
    elif node.has("triggers"):
        raise node.fail("triggers", "only a criterion with required_for_policy has triggers")
    return Criterion(
        id=criterion_id,
        title=node.text("title"),
        test=test,
        obtain=node.text("obtain"),
        source=node.text("source"),
        unconfirmed=node.flag("unconfirmed", default=False),
        site_setting=site_note,
        enabled=node.flag("enabled", default=True),
        label_rule=_label_rule(node),
    )


def _site_notes(criteria: Node, changes: Sequence[SiteChange]) -> dict[str, list[str]]:
    """Each criterion's site changes in words, including the policies that decide its work-up."""
    notes: dict[str, list[str]] = {}
    users: dict[str, list[str]] = {}
    for criterion_id, node in criteria.children():
        policy = node.data.get("required_for_policy")
        if isinstance(policy, str):
            users.setdefault(policy, []).append(criterion_id)
    for change in changes:
        if change.section == "eligibility":
            notes.setdefault(change.key, []).append(change.describe())
        elif change.section == "policy":
            for criterion_id in users.get(change.key, []):
                notes.setdefault(criterion_id, []).append(change.describe())
    return notes


def criteria_table(
    criteria: Node,
    *,
    fields: Mapping[str, FieldSpec],
    policies: Mapping[str, PolicySetting],
    changes: Sequence[SiteChange],
    bundled: Mapping[str, Any],
    version: str,
) -> CriteriaTable:
    """The criteria in force, validated, with each site change noted on its criterion."""
    notes = _site_notes(criteria, changes)
    table = tuple(
        _criterion(key, node, fields, policies, "; ".join(notes.get(key, [])))
        for key, node in criteria.children()
    )
    _refuse_label_changes(bundled, criteria.data, changes)
    return CriteriaTable(criteria=table, version=version)


def terms_named(criteria: Node) -> dict[str, list[str]]:
    """Each list field's vocabulary: the terms the `excludes` criteria name."""
    terms: dict[str, list[str]] = {}
    for _, criterion in criteria.children():
        for leaf in _leaves(criterion.data):
            field, term = leaf.get("field"), leaf.get("term")
            # a malformed one is refused, naming its field, when the criteria are read
            if leaf.get("kind") == "excludes" and isinstance(field, str) and isinstance(term, str):
                terms.setdefault(field, []).append(term)
    return terms


# ---------------------------------------------------------------- what a site may change


def _leaves(node: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    kind = node.get("kind")
    if kind in _COMBINATIONS and isinstance(node.get(kind), Mapping):
        for part in node[kind].values():
            if isinstance(part, Mapping):
                yield from _leaves(part)
    else:
        yield node


def _at(node: Mapping[str, Any], path: Sequence[str]) -> Mapping[str, Any] | None:
    for key in path:
        child = node.get(key)
        if not isinstance(child, Mapping):
            return None
        node = child
    return node


def _rule(
    node: Mapping[str, Any], *, comparison: object = None, limit: object = None
) -> tuple[Comparison, Decimal]:
    key = "factor" if node.get("kind") == "relative_limit" else "limit"
    return (
        Comparison(str(comparison if comparison is not None else node["comparison"])),
        Decimal(str(limit if limit is not None else node[key])),
    )


def _accepts_no_more(new: tuple[Comparison, Decimal], old: tuple[Comparison, Decimal]) -> bool:
    """Whether every value `new` accepts is accepted by `old` (the same bound, as strict)."""
    lower = (Comparison.ABOVE, Comparison.AT_LEAST)
    if (new[0] in lower) != (old[0] in lower):
        return False
    strict = (Comparison.ABOVE, Comparison.BELOW)
    if new[1] == old[1]:
        return old[0] not in strict or new[0] in strict
    return new[1] > old[1] if old[0] in lower else new[1] < old[1]


def _cited(node: Mapping[str, Any]) -> list[tuple[Comparison, Decimal]]:
    key = "factor" if node.get("kind") == "relative_limit" else "limit"
    return [
        _rule(node, comparison=alt.get("comparison"), limit=alt.get(key))
        for alt in node.get("alternatives", [])
    ]


def _refuse_label_changes(
    bundled: Mapping[str, Any], merged: Mapping[str, Any], changes: Sequence[SiteChange]
) -> None:
    """Refuse a site change that switches off or loosens a criterion the label fixes."""
    for change in changes:
        if change.section != "eligibility":
            continue
        path = change.field.split(".")[2:]
        if path == ["enabled"] and change.value is False and not change.reason:
            raise RuleTableError(
                file=change.origin,
                field=change.field,
                problem="a site that switches a criterion off must give its reason",
            )
        original = bundled.get(change.key)
        if not isinstance(original, Mapping):
            continue
        rule = next((r for r in _LABEL_RULES if original.get(r) == "label"), None)
        if rule is None:
            continue
        _refuse_one(change, rule, original, merged[change.key], path)


def _refuse_one(
    change: SiteChange,
    rule: str,
    original: Mapping[str, Any],
    merged: Mapping[str, Any],
    path: Sequence[str],
) -> None:
    fixed = f"{change.key} is a {rule} on the Proleukin label"
    if path == ["enabled"] and change.value is True:
        return
    if path[-1] not in _THRESHOLD_KEYS:
        what = "switch it off" if path == ["enabled"] else f"change its {path[-1]}"
        raise RuleTableError(
            file=change.origin,
            field=change.field,
            problem=f"{fixed}: a site may not {what}; it may only tighten the threshold "
            "or choose a cited alternative",
        )
    before, after = _at(original, path[:-1]), _at(merged, path[:-1])
    if before is None or after is None or before.get("kind") not in ("limit", "relative_limit"):
        raise RuleTableError(
            file=change.origin, field=change.field, problem=f"{fixed}: it has no such threshold"
        )
    new = _rule(after)
    if _accepts_no_more(new, _rule(before)) or new in _cited(before):
        return
    old = _rule(before)
    raise RuleTableError(
        file=change.origin,
        field=change.field,
        problem=f"{fixed}: '{new[0].value} {new[1]}' would accept more than the default "
        f"'{old[0].value} {old[1]}' and is not a cited alternative",
    )


# ---------------------------------------------------------------- thresholds for the policy page


def _threshold_settings(
    criterion_id: str, node: Mapping[str, Any], default: Mapping[str, Any] | None, prefix: str
) -> Iterator[ThresholdSetting]:
    kind = node.get("kind")
    if kind in _COMBINATIONS:
        for name, part in node.get(str(kind), {}).items():
            inner = _at(default, [str(kind), name]) if default is not None else None
            yield from _threshold_settings(criterion_id, part, inner, f"{prefix}{kind}.{name}.")
        return
    key = {"limit": "limit", "relative_limit": "factor"}.get(str(kind))
    if key is None:
        return
    alternatives = []
    for alt in node.get("alternatives", []):
        value = alt.get(key, node[key])
        shown = f"{alt['comparison']} {value}" if "comparison" in alt else value
        alternatives.append((shown, str(alt.get("source", ""))))
    yield ThresholdSetting(
        criterion=criterion_id,
        key=f"{prefix}{key}",
        value=node[key],
        default=default.get(key, "(site criterion)") if default is not None else "(site criterion)",
        unit=f"x {node.get('reference_label', '')}"
        if key == "factor"
        else str(node.get("unit", "")),
        source=str(node.get("source", "")),
        alternatives=tuple(alternatives),
        comparison=str(node.get("comparison", "")),
    )


def thresholds(criteria: Node, bundled: Mapping[str, Any]) -> tuple[ThresholdSetting, ...]:
    """Every numeric threshold in force, with its default and the cited alternatives."""
    settings: list[ThresholdSetting] = []
    for criterion_id, node in criteria.children():
        default = bundled.get(criterion_id)
        for setting in _threshold_settings(
            criterion_id, node.data, default if isinstance(default, Mapping) else None, ""
        ):
            # a part without its own source is cited by its criterion's
            settings.append(
                setting if setting.source else replace(setting, source=node.text("source"))
            )
    return tuple(settings)
