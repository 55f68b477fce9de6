"""A site's policy file: its choices laid over the bundled defaults, every change recorded.

The site file may hold `[meta]` (version), `[site]` (name, time_zone), `[policy]` (values for
the settings in site_policy.toml, plain or as `{value = ..., reason = "..."}`), and tables merged
over the bundled ones (or new): `[eligibility.<criterion>]`, `[bedside.<rule or advice>]`,
`[resume.<key>]` (how an open hold ends), `[regimens.<id>]`, and `[permissions.<action>]`
(which roles may take an action: the program's access policy, so a change there is shown and
audited like a clinical one). Each change keeps the default it replaced and the site's reason,
so it can be shown and audited; the file's SHA-256 goes into every decision's rules version.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from il2.domain.errors import RuleTableError
from il2.rules.reader import Node

Scalar = str | int | float | bool


@dataclass(frozen=True, slots=True)
class PolicySetting:
    """One site-configurable setting: its value in force, its default and why."""

    name: str
    value: Scalar
    default: Scalar
    allowed: tuple[str, ...]
    description: str
    source: str
    origin: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class ThresholdSetting:
    """An eligibility threshold a site may change, with the cited alternatives to choose from."""

    criterion: str
    key: str
    value: object
    default: object
    unit: str
    source: str
    alternatives: tuple[tuple[object, str], ...]
    comparison: str = ""


@dataclass(frozen=True, slots=True)
class SiteChange:
    """One value a site's policy file changed."""

    section: str
    key: str
    field: str
    default: object
    value: object
    reason: str
    origin: str

    def describe(self) -> str:
        """The change in words, for checklists and the policy listing."""
        why = f"; reason: {self.reason}" if self.reason else ""
        return (
            f"site policy ({self.origin}) sets {self.field} = {self.value!r} "
            f"(default {self.default!r}){why}"
        )


@dataclass(slots=True)
class Merged:
    """The bundled tables with the site's changes applied."""

    site: dict[str, Any]
    site_origin: str
    site_version: str
    policies: dict[str, PolicySetting]
    regimens: dict[str, Any]
    regimens_origin: str
    criteria: dict[str, Any]
    criteria_origin: str
    bedside: dict[str, Any]
    bedside_origin: str
    permissions: dict[str, Any]
    permissions_origin: str
    changes: tuple[SiteChange, ...] = field(default_factory=tuple)


def _policies(defaults: Node) -> dict[str, PolicySetting]:
    settings = {}
    for name, node in defaults.table("policy").children():
        node.only("value", "allowed", "description", "source")
        value = node.raw("value")
        allowed = node.texts("allowed", default=())
        if allowed and value not in allowed:
            raise node.fail("value", f"{value!r} is not one of {', '.join(allowed)}")
        settings[name] = PolicySetting(
            name=name,
            value=value,
            default=value,
            allowed=allowed,
            description=node.text("description"),
            source=node.text("source"),
            origin=defaults.file,
        )
    return settings


def _set_policy(setting: PolicySetting, node: Node, name: str) -> PolicySetting:
    raw = node.raw(name)
    reason = ""
    if isinstance(raw, Mapping):
        entry = node.table(name)
        entry.only("value", "reason")
        raw, reason = entry.raw("value"), entry.text("reason", default="")
    if setting.allowed and raw not in setting.allowed:
        raise node.fail(name, f"{raw!r} is not one of {', '.join(setting.allowed)}")
    numeric = isinstance(setting.default, int | float) and not isinstance(setting.default, bool)
    if numeric and (isinstance(raw, bool) or not isinstance(raw, int | float)):
        raise node.fail(name, f"must be a number like the default {setting.default!r}")
    return PolicySetting(
        name=name,
        value=raw,
        default=setting.default,
        allowed=setting.allowed,
        description=setting.description,
        source=setting.source,
        origin=node.file,
        reason=reason,
    )


def _overlay(
    base: dict[str, Any],
    overrides: Node,
    section: str,
    changes: list[SiteChange],
    *,
    deep: bool = False,
) -> None:
    """Merge each `[section.<key>]` table of the site file over (or beside) the bundled one.

    With `deep`, a sub-table merges into the bundled sub-table of the same name (a site sets
    one part's limit without restating the others), each value recorded as its own change.
    """
    for key, node in overrides.children():
        entry = dict(node.data)
        reason = entry.pop("reason", "")
        if not isinstance(reason, str):
            raise node.fail("reason", "must be a string")
        target = base.setdefault(key, {})
        for name, previous, value, why in _merge(
            target, entry, f"{section}.{key}", deep=deep, reason=reason, file=node.file
        ):
            changes.append(SiteChange(section, key, name, previous, value, why, node.file))


def _merge(
    target: dict[str, Any],
    entry: Mapping[str, Any],
    field: str,
    *,
    deep: bool,
    reason: str,
    file: str,
) -> list[tuple[str, object, object, str]]:
    """Lay `entry` over `target`; each value set as (dotted field, previous, value, reason).

    A merged sub-table may give its own `reason` (`[eligibility.x.any_of.part]` with one).
    """
    done: list[tuple[str, object, object, str]] = []
    for name, value in entry.items():
        current = target.get(name)
        if deep and isinstance(value, Mapping) and isinstance(current, dict):
            inner = dict(value)
            why = inner.pop("reason", reason)
            if not isinstance(why, str):
                raise RuleTableError(
                    file=file, field=f"{field}.{name}.reason", problem="must be a string"
                )
            done += _merge(current, inner, f"{field}.{name}", deep=deep, reason=why, file=file)
            continue
        done.append((f"{field}.{name}", target.get(name, "(new)"), value, reason))
        target[name] = copy.deepcopy(value)
    return done


def _overlay_bedside(bedside: dict[str, Any], overrides: Node, changes: list[SiteChange]) -> None:
    """`[bedside.<id>]` changes the rule or the advice of that id; a new id adds a rule."""
    for key, node in overrides.children():
        section = "advice" if key in bedside["advice"] else "rules"
        _overlay(bedside[section], Node({key: node.data}, overrides.file), "bedside", changes)


def _set_policies(merged: Merged, policy: Node, changes: list[SiteChange]) -> None:
    for name in policy.data:
        if name not in merged.policies:
            raise policy.fail(name, f"is not a site policy (known: {', '.join(merged.policies)})")
        setting = _set_policy(merged.policies[name], policy, name)
        merged.policies[name] = setting
        changes.append(
            SiteChange("policy", name, f"policy.{name}", setting.default, setting.value,
                       setting.reason, policy.file)
        )  # fmt: skip


def _overlay_tables(merged: Merged, site: Node, changes: list[SiteChange]) -> None:
    """The site's rule tables merged over the bundled ones, each change recorded."""
    origin = site.file
    if site.has("regimens"):
        _overlay(merged.regimens, site.table("regimens"), "regimens", changes)
        merged.regimens_origin = f"regimens.toml with {origin}"
    if site.has("eligibility"):
        _overlay(merged.criteria, site.table("eligibility"), "eligibility", changes, deep=True)
        merged.criteria_origin = f"eligibility.toml with {origin}"
    if site.has("bedside"):
        _overlay_bedside(merged.bedside, site.table("bedside"), changes)
        merged.bedside_origin = f"bedside.toml with {origin}"
    if site.has("resume"):
        resume = site.table("resume")
        known = merged.bedside["resume"]
        for key in resume.data:
            if key not in known:
                raise resume.fail(key, f"is not a resume test (known: {', '.join(known)})")
        _overlay(known, resume, "resume", changes)
        merged.bedside_origin = f"bedside.toml with {origin}"
    if site.has("permissions"):
        _overlay(merged.permissions, site.table("permissions"), "permissions", changes)
        merged.permissions_origin = f"permissions.toml with {origin}"


def apply_site_file(
    files: Mapping[str, dict[str, Any]], site_file: dict[str, Any] | None, origin: str
) -> Merged:
    """Lay `site_file` (or nothing) over the bundled `files`."""
    defaults = Node(files["site_policy"], "site_policy.toml")
    regimens = copy.deepcopy(files["regimens"]["regimens"])
    criteria = copy.deepcopy(files["eligibility"]["criteria"])
    for criterion in criteria.values():
        criterion.setdefault("enabled", True)  # so switching one off shows what it replaced
    bedside = {key: copy.deepcopy(files["bedside"][key]) for key in ("rules", "advice", "resume")}
    permissions = copy.deepcopy(files["permissions"]["actions"])
    merged = Merged(
        site=dict(defaults.table("site").data),
        site_origin="site_policy.toml",
        site_version="",
        policies=_policies(defaults),
        regimens=regimens,
        regimens_origin="regimens.toml",
        criteria=criteria,
        criteria_origin="eligibility.toml",
        bedside=bedside,
        bedside_origin="bedside.toml",
        permissions=permissions,
        permissions_origin="permissions.toml",
    )
    if site_file is None:
        return merged
    site = Node(site_file, origin)
    site.only(
        "meta", "site", "policy", "eligibility", "regimens", "bedside", "resume", "permissions"
    )
    changes: list[SiteChange] = []
    if site.has("meta"):
        merged.site_version = site.table("meta").text("version", default="")
    if site.has("site"):
        for name, value in site.table("site").data.items():
            merged.site[name] = value
        merged.site_origin = origin
    if site.has("policy"):
        _set_policies(merged, site.table("policy"), changes)
    _overlay_tables(merged, site, changes)
    merged.changes = tuple(changes)
    return merged
