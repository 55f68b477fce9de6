"""Load the before-dose rules (bedside.toml) into the bedside engine's frozen table."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from decimal import Decimal, InvalidOperation

from il2.domain.bedside import (
    BOLUS,
    BOLUS_ONLY,
    Action,
    AdviceRule,
    BedsidePolicy,
    BedsideTable,
    BeforeDoseRule,
    ResumeRule,
    RouteChecks,
)
from il2.domain.checks import (
    Check,
    Guard,
    LimitCheck,
    OneOfCheck,
    PercentChangeCheck,
    PerKgCheck,
    RangeCheck,
    ReachedCheck,
)
from il2.domain.errors import RuleTableError
from il2.domain.findings import FieldSpec, FieldType
from il2.domain.quantities import Comparison
from il2.domain.regimen import ALDESLEUKIN_ROUTES
from il2.rules.reader import Node
from il2.rules.site import PolicySetting

_COMPARISONS = tuple(c.value for c in Comparison)
_KINDS = ("limit", "range", "one_of", "percent_change", "per_kg")
_CHECK_KEYS = (
    "kind", "field", "baseline_field", "weight_field", "label", "unit", "comparison", "limit",
    "minimum", "maximum", "minimum_inclusive", "maximum_inclusive", "values", "reached",
)  # fmt: skip
_RULE_KEYS = (
    *_CHECK_KEYS, "action", "only_if", "regimens", "relative", "unconfirmed", "source", "resume",
    "if_unknown", "when_policy", "enabled", "routes", "routes_source", "routes_unconfirmed",
)  # fmt: skip
_ADVICE_KEYS = (*_CHECK_KEYS, "only_if", "regimens", "advice", "source", "enabled", "routes")
_ROUTE_KEYS = ("required", "required_source", "assessed", "limits")
_RESUME_KEYS = (*_CHECK_KEYS, "limit_from", "source", "unconfirmed")
_UNKNOWN = ("incomplete", "quiet")


def terms_named(*tables: Node) -> dict[str, list[str]]:
    """Each list field's vocabulary: the values its one_of checks name."""
    terms: dict[str, set[str]] = {}
    for table in tables:
        for _, node in table.children():
            if node.data.get("kind") == "one_of":
                terms.setdefault(node.text("field"), set()).update(node.texts("values"))
    return {field: sorted(values) for field, values in terms.items()}


def bedside_terms(data: Node, policies: Mapping[str, PolicySetting]) -> dict[str, list[str]]:
    """The vocabulary of the list fields: findings the rules and advice in force name, holds
    they resume."""

    def kept(table: Node) -> Node:
        data = {key: node.data for key, node in table.children() if _in_force(node, policies)}
        return Node(data, table.file, table.path)

    in_force = kept(data.table("rules"))
    terms = terms_named(in_force, kept(data.table("advice")), data.table("resume"))
    resumes = {str(node.data["resume"]) for _, node in in_force.children() if node.has("resume")}
    return {"findings": terms.get("findings", []), "held_for": sorted(resumes)}


def _field(node: Node, key: str, fields: Mapping[str, FieldSpec]) -> str:
    name = node.text(key)
    if name not in fields:
        raise node.fail(key, f"{name!r} is not a before-dose assessment field")
    return name


def _unit(node: Node, kind: str, spec: FieldSpec) -> str:
    """The check's unit: the field's own (per kg of body weight for `per_kg`), never another.

    A rule may write the unit beside its threshold, for the reader of the file; it must then be
    the field's, so the rule file and the field definitions cannot disagree.
    """
    unit = f"{spec.unit}/kg" if kind == "per_kg" else spec.unit
    written = node.data.get("unit")
    if written is not None and written != unit:
        raise node.fail("unit", f"{written!r} is not the unit of {spec.path!r}, {unit!r}")
    return unit


def _comparison(node: Node) -> Comparison:
    return Comparison(node.choice("comparison", _COMPARISONS))


def _reached(node: Node, inner: Check, fields: Mapping[str, FieldSpec]) -> Check:
    if not node.has("reached"):
        return inner
    if not isinstance(inner, LimitCheck | RangeCheck):
        raise node.fail("reached", "applies to a limit or a range only")
    target = node.table("reached")
    target.only("field", "at_least", "label")
    return ReachedCheck(
        inner=inner,
        target_field=_field(target, "field", fields),
        target=target.number("at_least"),
        target_label=target.text("label"),
    )


def check_from(
    node: Node, fields: Mapping[str, FieldSpec], *, limit: Decimal | None = None
) -> Check:
    """Build one check (limit, range, one_of, percent_change, per_kg) from its table."""
    kind = node.choice("kind", _KINDS)
    field, label = _field(node, "field", fields), node.text("label")
    unit = _unit(node, kind, fields[field])
    check: Check
    if kind == "limit":
        value = limit if limit is not None else node.number("limit")
        check = LimitCheck(field, label, unit, _comparison(node), value)
    elif kind == "range":
        check = RangeCheck(
            field, label, unit,
            minimum=node.number("minimum"),
            maximum=node.optional_number("maximum"),
            minimum_inclusive=node.flag("minimum_inclusive", default=True),
            maximum_inclusive=node.flag("maximum_inclusive", default=True),
        )  # fmt: skip
    elif kind == "one_of":
        check = OneOfCheck(field, label, frozenset(node.texts("values")))
    elif kind == "percent_change":
        baseline = _field(node, "baseline_field", fields)
        check = PercentChangeCheck(field, baseline, label, _comparison(node), node.number("limit"))
    else:
        weight = _field(node, "weight_field", fields)
        check = PerKgCheck(field, weight, label, unit, _comparison(node), node.number("limit"))
    return _reached(node, check, fields)


def _guard(node: Node, fields: Mapping[str, FieldSpec]) -> Guard | None:
    if not node.has("only_if"):
        return None
    guard = node.table("only_if")
    guard.only("field", "values", "if_absent")
    field = _field(guard, "field", fields)
    values = frozenset(guard.texts("values"))
    if fields[field].type in (FieldType.NUMBER, FieldType.INTEGER):
        for value in values:
            try:
                Decimal(value)
            except InvalidOperation:
                raise guard.fail("values", f"{value!r} is not a number ({field})") from None
    return Guard(field=field, values=values, if_absent=guard.flag("if_absent"))


def _in_force(node: Node, policies: Mapping[str, PolicySetting]) -> bool:
    """Whether a rule is enabled and kept by the site policy values it names."""
    if not node.flag("enabled", default=True):
        return False
    if not node.has("when_policy"):
        return True
    wanted = node.table("when_policy")
    for name, value in wanted.data.items():
        if name not in policies:
            raise wanted.fail(name, "is not a site policy")
        if policies[name].allowed and value not in policies[name].allowed:
            raise wanted.fail(name, f"{value!r} is not one of {', '.join(policies[name].allowed)}")
    return all(policies[name].value == value for name, value in wanted.data.items())


def _routes(node: Node, known: Collection[str]) -> frozenset[str]:
    """The routes a rule is in force for: the high-dose IV bolus unless it names others."""
    if not node.has("routes"):
        return BOLUS_ONLY
    named = node.texts("routes")
    for route in named:
        if route != BOLUS and route not in known:
            raise node.fail(
                "routes", f"{route!r} has no [routes.{route}] table in bedside_input.toml"
            )
    if not named:
        raise node.fail("routes", "names no route")
    return frozenset(named)


def route_checks(inputs: Node, fields: Mapping[str, FieldSpec]) -> dict[str, RouteChecks]:
    """The routes other than the IV bolus that have before-dose checks, with their assessment."""
    if not inputs.has("routes"):
        return {}
    checks = {}
    for route, node in inputs.table("routes").children():
        node.only(*_ROUTE_KEYS)
        others = [r.value for r in ALDESLEUKIN_ROUTES if r.value != BOLUS]
        if route not in others:
            allowed = ", ".join(others)
            raise node.fail("route", f"{route!r} is not one of {allowed}")
        required = node.texts("required")
        for name in required:
            if name not in fields:
                raise node.fail("required", f"{name!r} is not a before-dose assessment field")
        checks[route] = RouteChecks(
            required=required,
            required_source=node.text("required_source"),
            assessed=node.text("assessed"),
            limits=node.text("limits"),
        )
    return checks


def _rule(  # noqa: PLR0917 (the loader's one call site names each piece in order)
    rule_id: str,
    node: Node,
    fields: Mapping[str, FieldSpec],
    resumes: Mapping[str, ResumeRule],
    notes: Mapping[str, str],
    routes: Collection[str],
) -> BeforeDoseRule:
    node.only(*_RULE_KEYS)
    action = Action(node.choice("action", ("hold", "stop_cycle", "discontinue")))
    resume = None
    if node.has("resume"):
        key = node.text("resume")
        if key not in resumes:
            raise node.fail("resume", f"{key!r} is not a [resume] entry")
        resume = resumes[key]
    quiet = node.has("if_unknown") and node.choice("if_unknown", _UNKNOWN) == "quiet"
    if quiet and not node.has("only_if"):
        raise node.fail("if_unknown", "'quiet' needs an only_if naming when another rule holds")
    return BeforeDoseRule(
        id=rule_id,
        action=action,
        check=check_from(node, fields),
        source=node.text("source"),
        guard=_guard(node, fields),
        regimens=frozenset(node.texts("regimens")) if node.has("regimens") else None,
        relative=node.flag("relative", default=False),
        unconfirmed=node.flag("unconfirmed", default=False),
        resume=resume,
        quiet_if_unknown=quiet,
        site_setting=notes.get(rule_id, ""),
        routes=_routes(node, routes),
        routes_source=_routes_source(node),
        routes_unconfirmed=node.flag("routes_unconfirmed", default=False),
    )


def _routes_source(node: Node) -> str:
    """Why a rule written for the IV bolus holds for the other routes it names (required)."""
    named = set(node.texts("routes")) if node.has("routes") else set(BOLUS_ONLY)
    if BOLUS in named and len(named) > 1:
        if not node.has("routes_source"):
            raise node.fail(
                "routes_source", "a rule for the IV bolus and other routes says why it holds there"
            )
        return node.text("routes_source")
    if node.has("routes_source") or node.has("routes_unconfirmed"):
        raise node.fail("routes_source", "only for a rule for the IV bolus and other routes")
    return ""


def _advice(
    rule_id: str,
    node: Node,
    fields: Mapping[str, FieldSpec],
    notes: Mapping[str, str],
    routes: Collection[str],
) -> AdviceRule:
    node.only(*_ADVICE_KEYS)
    return AdviceRule(
        id=rule_id,
        check=check_from(node, fields),
        advice=node.text("advice"),
        source=node.text("source"),
        guard=_guard(node, fields),
        regimens=frozenset(node.texts("regimens")) if node.has("regimens") else None,
        site_setting=notes.get(rule_id, ""),
        routes=_routes(node, routes),
    )


def _resumes(data: Node, fields: Mapping[str, FieldSpec], rules: Node) -> dict[str, ResumeRule]:
    resumes = {}
    for key, node in data.table("resume").children():
        node.only(*_RESUME_KEYS)
        limit = None
        if node.has("limit_from") and not node.has("limit"):
            origin = node.text("limit_from")
            if not rules.has(origin) or "limit" not in rules.table(origin).data:
                raise node.fail("limit_from", f"{origin!r} is not a rule with a limit")
            limit = rules.table(origin).number("limit")
        resumes[key] = ResumeRule(
            key=key,
            check=check_from(node, fields, limit=limit),
            source=node.text("source"),
            unconfirmed=node.flag("unconfirmed", default=False),
        )
    return resumes


def bedside_table(
    data: Node,
    fields: Mapping[str, FieldSpec],
    version: str,
    inputs: Node,
    *,
    policies: Mapping[str, PolicySetting],
    notes: Mapping[str, str] | None = None,
) -> BedsideTable:
    """Validate bedside.toml against the assessment fields and build the engine's table."""
    meta = inputs.table("meta")
    required = meta.texts("required")
    for name in required:
        if name not in fields:
            raise meta.fail("required", f"{name!r} is not a before-dose assessment field")
    notes = notes or {}
    routes = route_checks(inputs, fields)
    rules_node = data.table("rules")
    resumes = _resumes(data, fields, rules_node)
    rules = tuple(
        _rule(key, node, fields, resumes, notes, routes)
        for key, node in rules_node.children()
        if _in_force(node, policies)
    )
    advice = tuple(
        _advice(key, node, fields, notes, routes)
        for key, node in data.table("advice").children()
        if _in_force(node, policies)
    )
    obtain = inputs.table("obtain")
    for name in obtain.data:
        if name not in fields and name != "vasopressors":
            raise obtain.fail(name, "is not a before-dose assessment field")
    return BedsideTable(
        rules=rules,
        resumes=resumes,
        required=required,
        required_source=meta.text("required_source"),
        version=version,
        advice=advice,
        obtain={name: obtain.text(name) for name in obtain.data},
        groups={"vasopressors.": "vasopressors", "vasopressor_agents": "vasopressors"},
        routes=routes,
    )


def pressor_agents(inputs: Node) -> dict[str, str]:
    """Each vasopressor agent and the unit suffix of its dose fields."""
    table = inputs.table("vasopressors")
    return {agent: table.choice(agent, ("ug_kg_min", "units_min")) for agent in table.data}


def _count(setting: PolicySetting) -> int:
    value = setting.value
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise RuleTableError(
            file=setting.origin,
            field=f"policy.{setting.name}",
            problem=f"must be a whole number of at least 0 (0 = off), not {value!r}",
        )
    return value


def _hours(setting: PolicySetting) -> Decimal:
    value = setting.value
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise RuleTableError(
            file=setting.origin,
            field=f"policy.{setting.name}",
            problem=f"must be a number of hours above 0, not {value!r}",
        )
    return Decimal(str(value))


def _said(setting: PolicySetting) -> str:
    changed = setting.value != setting.default
    site = f"; set by {setting.origin} (default {setting.default!r})" if changed else ""
    why = f"; reason: {setting.reason}" if setting.reason else ""
    return f"site policy {setting.name} = {setting.value!r} ({setting.source}){site}{why}"


def bedside_policy(policies: Mapping[str, PolicySetting]) -> BedsidePolicy:
    """The bedside's site choices from the policy settings."""
    held = policies["stop_cycle_after_held_doses"]
    labs = policies["lab_max_age_h"]
    return BedsidePolicy(
        stop_cycle_after_held_doses=_count(held),
        stop_cycle_on_relative_criteria=_count(policies["stop_cycle_on_relative_criteria"]),
        source=f"site policy: {held.source}",
        lab_max_age_h=_hours(labs),
        lab_source=_said(labs),
    )
