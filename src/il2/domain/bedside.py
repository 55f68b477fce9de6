"""Before every dose: give, hold, stop the cycle, or discontinue, with the rules that fired.

The rules come from the rule files; this module interprets their kinds and combines them.
The strongest action wins: discontinue > stop_cycle > incomplete > hold > give. A required
pre-dose item that is missing makes the answer `incomplete` (never `give`) unless a rule has
already stopped the cycle or discontinued the drug on what is known. The engine is
deterministic: the same assessment and rule versions always give the same decision.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Protocol

from il2.domain.findings import Findings
from il2.domain.quantities import Comparison, plain, round_to
from il2.domain.regimen import Regimen


class Action(StrEnum):
    """What to do with the scheduled dose."""

    GIVE = "give"
    HOLD = "hold"
    INCOMPLETE = "incomplete"
    STOP_CYCLE = "stop_cycle"
    DISCONTINUE = "discontinue"

    @property
    def strength(self) -> int:
        """Rank for "the strongest action wins"."""
        return _STRENGTH[self]


_STRENGTH = {
    Action.GIVE: 0,
    Action.HOLD: 1,
    Action.INCOMPLETE: 2,
    Action.STOP_CYCLE: 3,
    Action.DISCONTINUE: 4,
}


@dataclass(frozen=True, slots=True)
class Fired:
    """A check whose condition holds: what was found, and the threshold it crossed."""

    finding: str
    threshold: str


@dataclass(frozen=True, slots=True)
class Unknown:
    """A check that could not be evaluated: the fields it needs that were not given."""

    fields: tuple[str, ...]


Outcome = Fired | Unknown | None


class Check(Protocol):
    """A condition on the assessment."""

    def evaluate(self, findings: Findings) -> Outcome:
        """Fired, None (quiet), or Unknown (needs fields that are missing)."""
        ...


def _quantity(value: Decimal, unit: str) -> str:
    gap = "" if unit.startswith("%") or not unit else " "
    return f"{plain(value)}{gap}{unit}"


@dataclass(frozen=True, slots=True)
class LimitCheck:
    """A numeric field compared with a limit."""

    field: str
    label: str
    unit: str
    comparison: Comparison
    limit: Decimal

    def evaluate(self, findings: Findings) -> Outcome:
        """Fires when `value <op> limit`."""
        value = findings.get(self.field)
        if not isinstance(value, Decimal):
            return Unknown((self.field,))
        if not self.comparison.holds(value, self.limit):
            return None
        return Fired(
            f"{self.label} {_quantity(value, self.unit)}",
            f"{self.comparison.words} {_quantity(self.limit, self.unit)}",
        )


@dataclass(frozen=True, slots=True)
class RangeCheck:
    """A numeric field within a range (ends inclusive unless said otherwise)."""

    field: str
    label: str
    unit: str
    minimum: Decimal
    maximum: Decimal | None
    minimum_inclusive: bool = True
    maximum_inclusive: bool = True

    def evaluate(self, findings: Findings) -> Outcome:
        """Fires when the value lies in the range."""
        value = findings.get(self.field)
        if not isinstance(value, Decimal):
            return Unknown((self.field,))
        low_ok = value >= self.minimum if self.minimum_inclusive else value > self.minimum
        high_ok = self.maximum is None or (
            value <= self.maximum if self.maximum_inclusive else value < self.maximum
        )
        if not (low_ok and high_ok):
            return None
        return Fired(f"{self.label} {_quantity(value, self.unit)}", self.describe())

    def describe(self) -> str:
        """The range in words."""
        low = f"{'at least' if self.minimum_inclusive else 'above'} "
        low += _quantity(self.minimum, self.unit)
        if self.maximum is None:
            return low
        high = "at most" if self.maximum_inclusive else "below"
        return f"{low} and {high} {_quantity(self.maximum, self.unit)}"


@dataclass(frozen=True, slots=True)
class OneOfCheck:
    """A coded field equal to, or a list field containing, any of `values`."""

    field: str
    label: str
    values: frozenset[str]

    def evaluate(self, findings: Findings) -> Outcome:
        """Fires on any listed value."""
        value = findings.get(self.field)
        if value is None:
            return Unknown((self.field,))
        present = (
            sorted(self.values & value) if isinstance(value, frozenset) else
            [value] if value in self.values else []
        )  # fmt: skip
        if not present:
            return None
        return Fired(
            f"{self.label}: {', '.join(map(str, present))}",
            "any of " + ", ".join(sorted(self.values)),
        )


@dataclass(frozen=True, slots=True)
class PercentChangeCheck:
    """A field's change from a baseline field, in percent, compared with a limit."""

    field: str
    baseline_field: str
    label: str
    comparison: Comparison
    limit: Decimal

    def evaluate(self, findings: Findings) -> Outcome:
        """Fires when 100 x (value - baseline) / baseline <op> limit, computed exactly."""
        value, baseline = findings.get(self.field), findings.get(self.baseline_field)
        if not isinstance(value, Decimal) or not isinstance(baseline, Decimal):
            missing = [
                f for f, v in ((self.field, value), (self.baseline_field, baseline)) if v is None
            ]
            return Unknown(tuple(missing))
        change = (value - baseline) * 100 / baseline
        if not self.comparison.holds(change, self.limit):
            return None
        return Fired(
            f"{self.label} {round_to(change, 1)}% ({plain(value)} against {plain(baseline)})",
            f"{self.comparison.words} {plain(self.limit)}%",
        )


@dataclass(frozen=True, slots=True)
class PerKgCheck:
    """A field divided by a weight field, compared with a limit."""

    field: str
    weight_field: str
    label: str
    unit: str
    comparison: Comparison
    limit: Decimal

    def evaluate(self, findings: Findings) -> Outcome:
        """Fires when value / weight <op> limit."""
        value, weight = findings.get(self.field), findings.get(self.weight_field)
        if not isinstance(value, Decimal) or not isinstance(weight, Decimal):
            missing = [
                f for f, v in ((self.field, value), (self.weight_field, weight)) if v is None
            ]
            return Unknown(tuple(missing))
        rate = value / weight
        if not self.comparison.holds(rate, self.limit):
            return None
        return Fired(
            f"{self.label} {round_to(rate, 2)} {self.unit} "
            f"({plain(value)} over {plain(weight)} kg)",
            f"{self.comparison.words} {_quantity(self.limit, self.unit)}",
        )


@dataclass(frozen=True, slots=True)
class Guard:
    """Restricts a rule to some values of a coded field (e.g. sinus rhythm only)."""

    field: str
    values: frozenset[str]
    if_absent: bool

    def allows(self, findings: Findings) -> bool:
        """Whether the rule applies to this assessment."""
        value = findings.get(self.field)
        if value is None:
            return self.if_absent
        return value in self.values


@dataclass(frozen=True, slots=True)
class BeforeDoseRule:
    """One rule: a check, the action it calls for, and where it comes from."""

    id: str
    action: Action
    check: Check
    source: str
    guard: Guard | None = None
    regimens: frozenset[str] | None = None
    relative: bool = False
    unconfirmed: bool = False
    resume: str = ""


@dataclass(frozen=True, slots=True)
class ResumeRule:
    """When a hold that is still open may end."""

    key: str
    check: Check
    source: str
    unconfirmed: bool = False


@dataclass(frozen=True, slots=True)
class BedsideTable:
    """Every before-dose rule in force, with the version of its file."""

    rules: tuple[BeforeDoseRule, ...]
    resumes: Mapping[str, ResumeRule]
    required: tuple[str, ...]
    required_source: str
    version: str


@dataclass(frozen=True, slots=True)
class BedsidePolicy:
    """Site choices for the bedside (0 switches a rule off)."""

    stop_cycle_after_held_doses: int = 0
    stop_cycle_on_relative_criteria: int = 0
    source: str = ""


@dataclass(frozen=True, slots=True)
class Reason:
    """Why the decision is what it is: one rule that fired."""

    rule: str
    finding: str
    threshold: str
    action: Action
    source: str
    unconfirmed: bool = False
    resume: str = ""


@dataclass(frozen=True, slots=True)
class DoseDecision:
    """The decision before one dose, with every reason and what was missing."""

    action: Action
    reasons: tuple[Reason, ...]
    missing: tuple[str, ...]
    not_evaluated: tuple[str, ...]
    rules_version: str


def _int(findings: Findings, field: str) -> int | None:
    value = findings.get(field)
    return int(value) if isinstance(value, Decimal) else None


def _regimen_reasons(findings: Findings, regimen: Regimen) -> list[Reason]:
    reasons = []
    source = f"Regimen {regimen.id}: {regimen.source}"
    cycle = _int(findings, "cycle")
    if cycle is not None and cycle > regimen.cycles_per_course:
        reasons.append(Reason(
            "regimen-cycles-per-course", f"cycle {cycle}",
            f"at most {regimen.cycles_per_course} cycles a course", Action.STOP_CYCLE, source,
        ))  # fmt: skip
    number = _int(findings, "dose_number")
    given = _int(findings, "doses_given_this_cycle")
    limit = regimen.max_doses_per_cycle
    if (number is not None and number > limit) or (given is not None and given >= limit):
        shown = [
            f"dose {number}" if number is not None else "",
            f"{given} given" if given is not None else "",
        ]
        reasons.append(Reason(
            "regimen-max-doses-per-cycle", ", ".join(part for part in shown if part),
            f"at most {limit} doses a cycle", Action.STOP_CYCLE, source,
        ))  # fmt: skip
    hours = findings.get("hours_since_last_dose")
    if isinstance(hours, Decimal) and hours < regimen.interval_h:
        reasons.append(Reason(
            "regimen-interval", f"{plain(hours)} h since the last dose",
            f"not before {regimen.interval_h} h after the last dose", Action.HOLD, source,
        ))  # fmt: skip
    return reasons


def _policy_reasons(findings: Findings, policy: BedsidePolicy, relative: int) -> list[Reason]:
    reasons = []
    held = _int(findings, "doses_held_this_cycle")
    limit = policy.stop_cycle_after_held_doses
    if limit and held is not None and held >= limit:
        reasons.append(Reason(
            "policy-held-doses", f"{held} doses held this cycle",
            f"stop the cycle after {limit} held doses", Action.STOP_CYCLE, policy.source,
        ))  # fmt: skip
    count = policy.stop_cycle_on_relative_criteria
    if count and relative >= count:
        reasons.append(Reason(
            "policy-relative-criteria", f"{relative} relative criteria met at this assessment",
            f"stop the cycle at {count} or more", Action.STOP_CYCLE, policy.source,
        ))  # fmt: skip
    return reasons


def _open_holds(findings: Findings, table: BedsideTable) -> list[Reason]:
    reasons = []
    held_for = findings.get("held_for")
    for key in sorted(held_for) if isinstance(held_for, frozenset) else ():
        resume = table.resumes[key]
        outcome = resume.check.evaluate(findings)
        if isinstance(outcome, Fired):
            continue
        reasons.append(Reason(
            f"open-hold-{key}",
            f"hold for {key} still open" + (": " + ", ".join(outcome.fields) + " not given"
                                              if isinstance(outcome, Unknown) else ""),
            f"resume only when {_resume_words(resume)}", Action.HOLD, resume.source,
            resume.unconfirmed,
        ))  # fmt: skip
    return reasons


def _resume_words(resume: ResumeRule) -> str:
    check = resume.check
    if isinstance(check, LimitCheck):
        return f"{check.label} {check.comparison.words} {_quantity(check.limit, check.unit)}"
    if isinstance(check, OneOfCheck):
        return f"{check.label}: " + " or ".join(sorted(check.values))
    return resume.source


def decide_before_dose(
    findings: Findings, *, regimen: Regimen, table: BedsideTable, policy: BedsidePolicy
) -> DoseDecision:
    """Decide what to do with the scheduled dose of `regimen` given the assessment."""
    reasons: list[Reason] = []
    not_evaluated: list[str] = []
    relative = 0
    for rule in table.rules:
        if rule.regimens is not None and regimen.id not in rule.regimens:
            continue
        if rule.guard is not None and not rule.guard.allows(findings):
            continue
        outcome = rule.check.evaluate(findings)
        if isinstance(outcome, Fired):
            reasons.append(Reason(
                rule.id, outcome.finding, outcome.threshold, rule.action, rule.source,
                rule.unconfirmed, rule.resume,
            ))  # fmt: skip
            relative += rule.relative
        elif isinstance(outcome, Unknown):
            not_evaluated.append(rule.id)
    reasons.extend(_regimen_reasons(findings, regimen))
    reasons.extend(_policy_reasons(findings, policy, relative))
    reasons.extend(_open_holds(findings, table))
    missing = [field for field in table.required if field not in findings]
    if _needs_interval(findings):
        missing.append("hours_since_last_dose")
    action = max((r.action for r in reasons), key=lambda a: a.strength, default=Action.GIVE)
    if missing and action.strength < Action.INCOMPLETE.strength:
        action = Action.INCOMPLETE
    return DoseDecision(
        action=action,
        reasons=tuple(sorted(reasons, key=lambda r: -r.action.strength)),
        missing=tuple(missing),
        not_evaluated=tuple(not_evaluated),
        rules_version=table.version,
    )


def _needs_interval(findings: Findings) -> bool:
    """A dose after one already given this cycle needs the time since it, to keep the interval."""
    if "hours_since_last_dose" in findings:
        return False
    given = findings.get("doses_given_this_cycle")
    if isinstance(given, Decimal):
        return given > 0
    number = findings.get("dose_number")
    return isinstance(number, Decimal) and number > 1
