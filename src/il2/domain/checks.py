"""Conditions on a flat set of findings: the kinds of check the rule files name.

A check answers Fired (with what was found and the threshold crossed), None (quiet), or Unknown
(naming the fields it needs that are not given). Deciding what an unknown means is the caller's
job; the bedside engine never lets one become a go-ahead.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from il2.domain.findings import Findings, Value
from il2.domain.quantities import Comparison, plain, round_to


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


def _both(findings: Findings, first: str, second: str) -> tuple[Decimal, Decimal] | Unknown:
    """Two numeric fields, or Unknown naming whichever is not given."""
    one, two = findings.get(first), findings.get(second)
    if isinstance(one, Decimal) and isinstance(two, Decimal):
        return one, two
    return Unknown(tuple(f for f, v in ((first, one), (second, two)) if not isinstance(v, Decimal)))


def quantity(value: Decimal, unit: str) -> str:
    """A number with its unit, as a clinician reads it."""
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
        return Fired(f"{self.label} {quantity(value, self.unit)}", self.describe())

    def describe(self) -> str:
        """The threshold in words."""
        return f"{self.comparison.words} {quantity(self.limit, self.unit)}"


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
        if not self.contains(value):
            return None
        return Fired(f"{self.label} {quantity(value, self.unit)}", self.describe())

    def contains(self, value: Decimal) -> bool:
        """Whether `value` lies in the range."""
        low_ok = value >= self.minimum if self.minimum_inclusive else value > self.minimum
        high_ok = self.maximum is None or (
            value <= self.maximum if self.maximum_inclusive else value < self.maximum
        )
        return low_ok and high_ok

    def describe(self) -> str:
        """The range in words."""
        low = f"{'at least' if self.minimum_inclusive else 'above'} "
        low += quantity(self.minimum, self.unit)
        if self.maximum is None:
            return low
        high = "at most" if self.maximum_inclusive else "below"
        return f"{low} and {high} {quantity(self.maximum, self.unit)}"


@dataclass(frozen=True, slots=True)
class ReachedCheck:
    """A supportive measure (oxygen flow) that counts as the need only when its target is met.

    Dutcher 2014 grades oxygen by the flow needed to keep SpO2 at 95% or more. When the target is
    reached at the flow given, that flow is read as the need. When it is not, the need is more
    than the flow: the check fires only if every need above the flow would fire it, is quiet
    only if none would, and is otherwise unknown (titrate, then assess again).
    """

    inner: LimitCheck | RangeCheck
    target_field: str
    target: Decimal
    target_label: str

    def evaluate(self, findings: Findings) -> Outcome:
        """Judge the need against the inner check's threshold."""
        given = _both(findings, self.inner.field, self.target_field)
        if isinstance(given, Unknown):
            return given
        flow, reached = given
        if reached >= self.target:
            return self.inner.evaluate(findings)
        verdict = self._above(flow)
        if verdict is None:
            return Unknown((self.inner.field,))
        if not verdict:
            return None
        return Fired(
            f"{self.inner.label} more than {quantity(flow, self.inner.unit)} "
            f"({self.target_label} {quantity(reached, '%')} at that flow, below "
            f"{quantity(self.target, '%')})",
            self.inner.describe() + f" to keep {self.target_label} at {quantity(self.target, '%')}",
        )

    def _above(self, flow: Decimal) -> bool | None:
        """For every need strictly above `flow`: True if all fire, False if none, None if mixed."""
        check = self.inner
        if isinstance(check, RangeCheck):
            if check.maximum is not None and flow >= check.maximum:
                return False
            return None
        if check.comparison in (Comparison.ABOVE, Comparison.AT_LEAST):
            return True if flow >= check.limit else None
        return False if flow >= check.limit else None

    def describe(self) -> str:
        """The threshold in words."""
        return self.inner.describe()


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
        given = _both(findings, self.field, self.baseline_field)
        if isinstance(given, Unknown):
            return given
        value, baseline = given
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
        given = _both(findings, self.field, self.weight_field)
        if isinstance(given, Unknown):
            return given
        value, weight = given
        rate = value / weight
        if not self.comparison.holds(rate, self.limit):
            return None
        return Fired(
            f"{self.label} {round_to(rate, 2)} {self.unit} "
            f"({plain(value)} over {plain(weight)} kg)",
            f"{self.comparison.words} {quantity(self.limit, self.unit)}",
        )


def fields_of(check: Check) -> tuple[str, ...]:
    """The fields a check reads."""
    if isinstance(check, ReachedCheck):
        return (*fields_of(check.inner), check.target_field)
    names = ("field", "baseline_field", "weight_field")
    return tuple(str(getattr(check, name)) for name in names if hasattr(check, name))


def _matches(value: Value, wanted: frozenset[str]) -> bool:
    if isinstance(value, frozenset):
        return bool(value & wanted)
    if isinstance(value, Decimal):
        return any(value == Decimal(item) for item in wanted)
    return str(value) in wanted


@dataclass(frozen=True, slots=True)
class Guard:
    """Restricts a rule to some values of a field: a code, a number, or any term of a list."""

    field: str
    values: frozenset[str]
    if_absent: bool

    def allows(self, findings: Findings) -> bool:
        """Whether the rule applies to this assessment."""
        value = findings.get(self.field)
        if value is None:
            return self.if_absent
        return _matches(value, self.values)


def _shown(value: Value | None, unit: str = "") -> str:
    """A finding's value as a clinician reads it, or "not given"."""
    if value is None:
        return "not given"
    if isinstance(value, Decimal):
        return quantity(value, unit)
    if isinstance(value, frozenset):
        return ", ".join(sorted(value)) or "none"
    return str(value).replace("_", " ")


def seen(check: Check, findings: Findings) -> str:
    """What a check read from the assessment, in words, whether or not it fired."""
    if isinstance(check, ReachedCheck):
        target = _shown(findings.get(check.target_field), "%")
        return f"{seen(check.inner, findings)} ({check.target_label} {target})"
    if isinstance(check, LimitCheck | RangeCheck):
        return f"{check.label} {_shown(findings.get(check.field), check.unit)}"
    if isinstance(check, OneOfCheck):
        return f"{check.label}: {_shown(findings.get(check.field))}"
    if isinstance(check, PercentChangeCheck):
        value, baseline = findings.get(check.field), findings.get(check.baseline_field)
        return f"{check.label}: {_shown(value)} against a baseline of {_shown(baseline)}"
    if isinstance(check, PerKgCheck):
        value, weight = findings.get(check.field), findings.get(check.weight_field)
        return f"{check.label}: {_shown(value)} over {_shown(weight, 'kg')}"
    return ", ".join(f"{f} {_shown(findings.get(f))}" for f in fields_of(check))


def threshold(check: Check) -> str:
    """When a check fires, in words: the rule table's own limit."""
    if isinstance(check, LimitCheck | RangeCheck | ReachedCheck):
        return check.describe()
    if isinstance(check, OneOfCheck):
        return "any of " + ", ".join(sorted(v.replace("_", " ") for v in check.values))
    if isinstance(check, PercentChangeCheck):
        return f"a change {check.comparison.words} {plain(check.limit)}%"
    if isinstance(check, PerKgCheck):
        return f"{check.comparison.words} {quantity(check.limit, check.unit)}"
    return ""


def inputs(check: Check, findings: Findings) -> dict[str, str]:
    """The fields a check read, each with its value as given ("" when not given)."""
    return {f: _raw(findings.get(f)) for f in fields_of(check)}


def _raw(value: Value | None) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, frozenset):
        return ",".join(sorted(value))
    return str(value)
