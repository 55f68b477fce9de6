"""CTCAE toxicity grading: a finding graded by the clauses of its term, naming the clause met.

The terms come from the rule file (rules/data/ctcae_v5.toml); this module only interprets them.
A clause is one criterion of one grade and holds when all of its bounds hold. Criteria that
CTCAE separates by a semicolon are separate clauses, read as OR (as pharmaverse admiral does),
and the highest grade any clause reaches wins. A clause that needs a ULN, LLN, baseline,
duration or symptom status the finding does not give cannot fire; if it could have raised the
grade, the finding is refused naming the missing field rather than graded too low.

Terms graded by clinical description take the grade a clinician chose, checked against the
grades the term has. Grade 5 (death) is only ever a clinician's grade.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from il2.domain.errors import InvalidInputError
from il2.domain.quantities import Comparison, plain, with_unit


class Measure(StrEnum):
    """What a bound compares; each is read as a threshold on one number of the finding."""

    VALUE = "value"
    X_ULN = "x_uln"
    X_BASELINE = "x_baseline"
    PCT_OVER_BASELINE = "pct_over_baseline"
    OVER_BASELINE = "over_baseline"
    UNDER_BASELINE = "under_baseline"
    BASELINE_X_ULN = "baseline_x_uln"
    DURATION_H = "duration_h"


class Reference(StrEnum):
    """A limit of normal used as the end of an absolute range ("<LLN-75,000")."""

    ULN = "uln"
    LLN = "lln"


class GradedBy(StrEnum):
    """Whether a term is graded from a measured value or from a clinician's chosen grade."""

    VALUE = "value"
    CLINICIAN = "clinician"


class Direction(StrEnum):
    """Which way a value gets worse ("increased" terms: higher; "decreased" terms: lower)."""

    HIGHER = "higher"
    LOWER = "lower"


_NEEDS: Mapping[Measure, tuple[str, ...]] = {
    Measure.VALUE: (),
    Measure.X_ULN: ("uln",),
    Measure.X_BASELINE: ("baseline",),
    Measure.PCT_OVER_BASELINE: ("baseline",),
    Measure.OVER_BASELINE: ("baseline",),
    Measure.UNDER_BASELINE: ("baseline",),
    Measure.BASELINE_X_ULN: ("baseline", "uln"),
    Measure.DURATION_H: ("duration_h",),
}
_WANTED = {
    "uln": "the upper limit of normal, in the finding's unit",
    "lln": "the lower limit of normal, in the finding's unit",
    "baseline": "the patient's baseline, in the finding's unit",
    "duration_h": "how long the finding lasted, in hours",
    "symptomatic": "true or false: whether the finding causes symptoms",
    "clinical_grade": "the grade a clinician chose",
}
_FLIPPED = {
    Comparison.AT_LEAST: Comparison.AT_MOST,
    Comparison.AT_MOST: Comparison.AT_LEAST,
    Comparison.ABOVE: Comparison.BELOW,
    Comparison.BELOW: Comparison.ABOVE,
}

# measure -> (the qualifier it is relative to, threshold from (qualifier, limit), wording)
_DERIVED: Mapping[Measure, tuple[str, Callable[[Decimal, Decimal], Decimal], str]] = {
    Measure.X_ULN: ("uln", lambda uln, k: k * uln, "{limit} x ULN {reference}"),
    Measure.BASELINE_X_ULN: ("uln", lambda uln, k: k * uln, "{limit} x ULN {reference}"),
    Measure.X_BASELINE: ("baseline", lambda bl, k: k * bl, "{limit} x baseline {reference}"),
    Measure.PCT_OVER_BASELINE: (
        "baseline",
        lambda bl, pct: bl * (100 + pct) / 100,
        "baseline {reference} + {limit}%",
    ),
    Measure.OVER_BASELINE: ("baseline", lambda bl, k: bl + k, "baseline {reference} + {limit}"),
    Measure.UNDER_BASELINE: ("baseline", lambda bl, k: bl - k, "baseline {reference} - {limit}"),
}


@dataclass(frozen=True, slots=True)
class Bound:
    """One end of a range on one measure: `measure <comparison> limit`."""

    measure: Measure
    comparison: Comparison
    limit: Decimal | Reference

    @property
    def needs(self) -> tuple[str, ...]:
        """The finding's qualifiers this bound cannot be judged without."""
        if isinstance(self.limit, Reference):
            return (self.limit.value,)
        return _NEEDS[self.measure]


@dataclass(frozen=True, slots=True)
class Clause:
    """One criterion of one grade, as CTCAE words it, and the bounds that make it hold."""

    grade: int
    text: str
    bounds: tuple[Bound, ...]
    scale: str
    symptomatic: bool | None = None
    needs_clinician: bool = False


@dataclass(frozen=True, slots=True)
class Conversion:
    """An accepted unit: `(value + offset) x factor / divisor` is the value in `scale`.

    Most units only scale (offset 0, divisor 1); a temperature in °F needs the offset too:
    (°F - 32) x 5 / 9 is °C, exactly, with no rounded factor.
    """

    unit: str
    label: str
    factor: Decimal
    scale: str
    source: str
    offset: Decimal = Decimal(0)
    divisor: Decimal = Decimal(1)

    def convert(self, value: Decimal) -> Decimal:
        """The value, given in this unit, in the scale's unit."""
        return (value + self.offset) * self.factor / self.divisor

    @property
    def formula(self) -> str:
        """How the conversion is computed, in words for the criterion."""
        if self.offset == 0 and self.divisor == 1:
            return f"x {plain(self.factor)}"
        shifted = f"value {'-' if self.offset < 0 else '+'} {plain(abs(self.offset))}"
        body = f"({shifted}) x {plain(self.factor)}" if self.offset else f"x {plain(self.factor)}"
        return body if self.divisor == 1 else f"{body} / {plain(self.divisor)}"


@dataclass(frozen=True, slots=True)
class Term:
    """One CTCAE term: its grades in words and, for a measured term, the clauses that grade it."""

    id: str
    name: str
    basis: str
    graded_by: GradedBy
    source: str
    grades: Mapping[int, str]
    unit: str = ""
    units: Mapping[str, Conversion] = field(default_factory=dict)
    clauses: tuple[Clause, ...] = ()
    resolution: Decimal | None = None
    worse: Direction | None = None
    note: str = ""


@dataclass(frozen=True, slots=True)
class CtcaeTable:
    """The CTCAE terms in force, with the version and source of the file they came from."""

    version: str
    source: str
    terms: Mapping[str, Term]


@dataclass(frozen=True, slots=True)
class Finding:
    """One observation to grade. ULN, LLN and baseline are in the finding's `unit`."""

    term: str
    value: Decimal | None = None
    unit: str | None = None
    uln: Decimal | None = None
    lln: Decimal | None = None
    baseline: Decimal | None = None
    duration_h: Decimal | None = None
    symptomatic: bool | None = None
    clinical_grade: int | None = None


@dataclass(frozen=True, slots=True)
class GradeResult:
    """A finding's grade (0 = no grade criterion met), the criterion that set it and its source."""

    term: str
    grade: int
    criterion: str
    source: str


@dataclass(frozen=True, slots=True)
class _Reading:
    """A finding's numbers converted to the scale of its unit; `numbers` holds those given."""

    value: Decimal
    label: str
    scale: str
    numbers: Mapping[str, Decimal]
    symptomatic: bool | None
    clinical_grade: int | None


@dataclass(frozen=True, slots=True)
class _Outcome:
    """A clause judged: met (with the numbers), not met, or undecided for want of `missing`."""

    met: bool
    missing: tuple[str, ...] = ()
    details: str = ""


# ---------------------------------------------------------------- clauses


def _with_label(value: Decimal, label: str) -> str:
    """A value and its unit label, glued as CTCAE writes `%`, `/` and `°` units."""
    return with_unit(value, label, glued=("%", "/", "°"))


def _check(bound: Bound, reading: _Reading) -> tuple[bool, str]:
    """Judge one bound whose qualifiers are all given, as `number <op> threshold (how)`."""
    comparison, unit = bound.comparison, reading.label
    subject, number = "value", reading.value
    threshold, how = _threshold(bound, reading.numbers)
    if bound.measure is Measure.UNDER_BASELINE:
        comparison = _FLIPPED[comparison]
    elif bound.measure is Measure.BASELINE_X_ULN:
        subject, number = "baseline", reading.numbers["baseline"]
    elif bound.measure is Measure.DURATION_H:
        subject, number, unit = "duration", reading.numbers["duration_h"], "h"
    holds = comparison.holds(number, threshold)
    shown, limit = _with_label(number, unit), _with_label(threshold, unit)
    text = f"{subject} {shown} {comparison.value} {limit}{how}"
    return holds, text


def _threshold(bound: Bound, numbers: Mapping[str, Decimal]) -> tuple[Decimal, str]:
    """The bound as a threshold on the value itself (or on the baseline, or the duration)."""
    limit = bound.limit
    if isinstance(limit, Reference):
        return numbers[limit.value], f" ({limit.value.upper()})"
    if bound.measure not in _DERIVED:
        return limit, ""
    reference, derive, wording = _DERIVED[bound.measure]
    number = numbers[reference]
    how = wording.format(limit=plain(limit), reference=plain(number))
    return derive(number, limit), f" (= {how})"


def _judge(clause: Clause, reading: _Reading) -> _Outcome:
    """Met, not met, or undecided (a needed qualifier is missing and nothing else fails)."""
    missing: list[str] = []
    details: list[str] = []
    for bound in clause.bounds:
        absent = [name for name in bound.needs if name not in reading.numbers]
        if absent:
            missing.extend(name for name in absent if name not in missing)
            continue
        holds, text = _check(bound, reading)
        if not holds:
            return _Outcome(met=False)
        details.append(text)
    if clause.symptomatic is not None:
        if reading.symptomatic is None:
            missing.append("symptomatic")
        elif reading.symptomatic is not clause.symptomatic:
            return _Outcome(met=False)
        else:
            details.append("with symptoms" if clause.symptomatic else "without symptoms")
    if missing:
        return _Outcome(met=False, missing=tuple(missing))
    if clause.needs_clinician:
        if reading.clinical_grade is None:
            return _Outcome(met=False, missing=("clinical_grade",))
        return _Outcome(met=False)
    return _Outcome(met=True, details="; ".join(details))


# ---------------------------------------------------------------- reading a finding


def _positive(value: Decimal | None, name: str, *, zero_allowed: bool) -> Decimal | None:
    if value is None:
        return None
    if value < 0 or (value == 0 and not zero_allowed):
        allowed = "a number of at least 0" if zero_allowed else "a number above 0"
        raise InvalidInputError(field=name, value=plain(value), allowed=allowed)
    return value


def _conversion(term: Term, unit: str | None) -> Conversion:
    if unit is None or unit not in term.units:
        allowed = f"a unit for {term.name}: " + ", ".join(
            f"{c.label} ({unit})" for unit, c in term.units.items()
        )
        raise InvalidInputError(field="unit", value=unit, allowed=allowed)
    return term.units[unit]


def _read(term: Term, finding: Finding, value: Decimal) -> tuple[_Reading, str]:
    """Convert the value and its ULN, LLN and baseline to the scale of the finding's unit."""
    conversion = _conversion(term, finding.unit)
    _positive(value, "value", zero_allowed=True)
    given = {
        "uln": _positive(finding.uln, "uln", zero_allowed=False),
        "lln": _positive(finding.lln, "lln", zero_allowed=False),
        "baseline": _positive(finding.baseline, "baseline", zero_allowed=True),
    }
    numbers = {name: conversion.convert(v) for name, v in given.items() if v is not None}
    duration = _positive(finding.duration_h, "duration_h", zero_allowed=True)
    if duration is not None:
        numbers["duration_h"] = duration
    reading = _Reading(
        value=conversion.convert(value),
        label=term.units[conversion.scale].label,
        scale=conversion.scale,
        numbers=numbers,
        symptomatic=finding.symptomatic,
        clinical_grade=finding.clinical_grade,
    )
    if term.resolution is not None:
        for name, number in (("value", reading.value), ("baseline", numbers.get("baseline"))):
            if number is not None and number % term.resolution != 0:
                allowed = (
                    f"a multiple of {plain(term.resolution)} {reading.label}: CTCAE writes the "
                    f"{term.name} ranges in whole units, with no grade between them"
                )
                raise InvalidInputError(field=name, value=plain(number), allowed=allowed)
    said = _with_label(value, conversion.label)
    if conversion.unit != conversion.scale:
        shown = (
            reading.value.quantize(Decimal("0.01")) if conversion.divisor != 1 else reading.value
        )
        said = f"{said}, converted to {_with_label(shown, reading.label)} ({conversion.formula})"
    return reading, said


# ---------------------------------------------------------------- grading


def _grade_value(term: Term, finding: Finding, value: Decimal) -> tuple[int, str]:
    """The highest grade a clause reaches, and the criterion in words."""
    reading, said = _read(term, finding, value)
    judged = [(c, _judge(c, reading)) for c in term.clauses if c.scale == reading.scale]
    met = [(c, o) for c, o in judged if o.met]
    grade = max((c.grade for c, _ in met), default=0)
    floor = max(grade, finding.clinical_grade or 0)
    undecided = [(c, o) for c, o in judged if o.missing and c.grade > floor]
    if undecided:
        clause, outcome = max(undecided, key=lambda pair: pair[0].grade)
        name = outcome.missing[0]
        raise InvalidInputError(
            field=name,
            value=None,
            allowed=f"{_WANTED[name]}: without it {term.name} {said} could be grade "
            f"{clause.grade} ({clause.text})",
        )
    if not met:
        return 0, f"no grade criterion met: {term.name} {said}"
    clause, outcome = next((c, o) for c, o in met if c.grade == grade)
    return grade, f"grade {grade}: {term.name} {said} meets '{clause.text}' ({outcome.details})"


def _check_clinical_grade(term: Term, grade: int) -> None:
    if grade not in term.grades:
        allowed = f"a grade {term.name} has: " + ", ".join(str(g) for g in sorted(term.grades))
        raise InvalidInputError(field="clinical_grade", value=grade, allowed=allowed)


def _clinicians(term: Term, grade: int) -> str:
    return f"clinician's grade {grade} ('{term.grades[grade]}')"


def grade_finding(finding: Finding, table: CtcaeTable) -> GradeResult:
    """Grade one finding by its term's clauses, or check the clinician's grade it carries."""
    term = table.terms.get(finding.term)
    if term is None:
        known = ", ".join(list(table.terms)[:5])
        allowed = f"a CTCAE v{table.version} term id ({len(table.terms)} known), such as {known}"
        raise InvalidInputError(field="term", value=finding.term, allowed=allowed)
    chosen = finding.clinical_grade
    if chosen is not None:
        _check_clinical_grade(term, chosen)
    if finding.value is None:
        if chosen is None and term.graded_by is GradedBy.CLINICIAN:
            allowed = f"{_WANTED['clinical_grade']}: {term.name} is graded by clinical description"
            raise InvalidInputError(field="clinical_grade", value=None, allowed=allowed)
        if chosen is None:
            allowed = f"a measured value (or a clinical_grade) for {term.name}"
            raise InvalidInputError(field="value", value=None, allowed=allowed)
        return GradeResult(
            term.id, chosen, f"grade {chosen}: {_clinicians(term, chosen)}", term.source
        )
    if term.graded_by is GradedBy.CLINICIAN:
        allowed = f"no value: {term.name} is graded by clinical description; give clinical_grade"
        raise InvalidInputError(field="value", value=plain(finding.value), allowed=allowed)
    grade, criterion = _grade_value(term, finding, finding.value)
    if chosen is not None and chosen > grade:
        criterion = (
            f"grade {chosen}: {_clinicians(term, chosen)}, higher than grade {grade} from the "
            f"value ({criterion})"
        )
        grade = chosen
    elif chosen is not None:
        criterion = f"{criterion}; the {_clinicians(term, chosen)} is not higher"
    return GradeResult(term.id, grade, criterion, term.source)


def grade_findings(findings: Sequence[Finding], table: CtcaeTable) -> tuple[GradeResult, ...]:
    """Grade every finding; an unusable one is refused naming `findings[i].<field>`."""
    results = []
    for index, finding in enumerate(findings):
        try:
            results.append(grade_finding(finding, table))
        except InvalidInputError as error:
            raise InvalidInputError(
                field=f"findings[{index}].{error.field}", value=error.value, allowed=error.allowed
            ) from None
    return tuple(results)
