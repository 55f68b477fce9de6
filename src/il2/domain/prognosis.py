"""Published prognostic scores (IMDC, MSKCC, melanoma factors) from screening findings.

Each factor is present, absent or unknown. Missing data never counts as absent: an unknown
factor widens the score's count into a range, and the group is named only when every count in
that range falls in one group. The scores are context; they never enter the eligibility
verdict.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from il2.domain.findings import Value
from il2.domain.quantities import Comparison, plain, with_unit


class FactorStatus(StrEnum):
    """Whether an adverse factor is there, per the findings."""

    PRESENT = "present"
    ABSENT = "absent"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class CalciumCorrection:
    """Corrected = measured + coefficient x (reference - albumin); unknown without albumin."""

    id: str
    label: str
    albumin_field: str
    albumin_unit: str
    reference_g_dl: Decimal
    coefficient: Decimal
    source: str
    without_albumin_source: str

    def corrected(self, measured: Decimal, albumin: Decimal) -> Decimal:
        """The corrected value, exactly."""
        return measured + self.coefficient * (self.reference_g_dl - albumin)


@dataclass(frozen=True, slots=True)
class BandFallback:
    """Another field whose grade spans a band of the factor's scale (ECOG -> Karnofsky)."""

    id: str
    label: str
    field: str
    field_label: str
    bands: Mapping[int, tuple[Decimal, Decimal]]
    source: str


@dataclass(frozen=True, slots=True)
class FactorRule:
    """One adverse factor: the field it reads, how it compares, against what."""

    id: str
    label: str
    field: str
    field_label: str
    unit: str
    comparison: Comparison | None  # None: `values` membership
    source: str
    threshold: Decimal | None = None
    limit: str | None = None
    limit_label: str = ""
    multiple: Decimal = Decimal(1)
    values: tuple[str, ...] = ()
    correction: CalciumCorrection | None = None
    fallback: BandFallback | None = None

    def method(self) -> str:
        """How the value is derived (albumin correction, ECOG band), with its sources."""
        notes = []
        if self.correction is not None:
            c = self.correction
            notes.append(
                f"{c.label}: measured + {plain(c.coefficient)} x ({plain(c.reference_g_dl)} - "
                f"albumin g/dL) ({c.source}). Without albumin the factor is unknown "
                f"({c.without_albumin_source})."
            )
        if self.fallback is not None:
            f = self.fallback
            notes.append(
                f"When {self.field_label} is not recorded, {f.field_label} is read as the band "
                f"it spans; the band settles the factor only when all of it lies on one side "
                f"({f.source})."
            )
        return " ".join(notes)

    def threshold_text(self, findings: Mapping[str, Value]) -> str:
        """The threshold in words, with the lab's limit filled in when it is recorded."""
        if self.comparison is None:
            return "one of " + ", ".join(self.values)
        if self.threshold is not None:
            return f"{self.comparison.value} {with_unit(self.threshold, self.unit)}"
        times = "" if self.multiple == 1 else f"{plain(self.multiple)} x "
        text = f"{self.comparison.value} {times}{lower_first(self.limit_label)}"
        limit = _number(findings, self.limit or "")
        if limit is None:
            return f"{text} (not recorded)"
        if self.multiple == 1:
            return f"{text} ({with_unit(limit, self.unit)})"
        product = with_unit(limit * self.multiple, self.unit)
        return f"{text} ({times}{with_unit(limit, self.unit)} = {product})"


def lower_first(label: str) -> str:
    """A label inside a sentence: `Calcium ...` -> `calcium ...`, but `LDH ...` kept."""
    if len(label) > 1 and label[1].isupper():
        return label
    return label[:1].lower() + label[1:]


@dataclass(frozen=True, slots=True)
class GroupRule:
    """A risk group: the factor counts it spans."""

    id: str
    label: str
    min_count: int
    max_count: int
    source: str


@dataclass(frozen=True, slots=True)
class ScoreRule:
    """A published score: the diagnoses it applies to, its factors and groups."""

    id: str
    name: str
    diagnoses: tuple[str, ...]
    built_for: str
    source: str
    factors: tuple[FactorRule, ...]
    groups: tuple[GroupRule, ...]


@dataclass(frozen=True, slots=True)
class PrognosticTable:
    """Every score il2 computes, from prognostic_scores.toml."""

    scores: tuple[ScoreRule, ...]
    caveat: str
    version: str


@dataclass(frozen=True, slots=True)
class FactorResult:
    """One factor judged on the findings."""

    id: str
    label: str
    status: FactorStatus
    finding: str
    threshold: str
    source: str
    method: str = ""


@dataclass(frozen=True, slots=True)
class PrognosticScore:
    """A score on the findings: its factors, the count range and the group (if settled)."""

    id: str
    name: str
    source: str
    built_for: str
    factors: tuple[FactorResult, ...]
    count_low: int
    count_high: int
    group: str | None
    possible_groups: tuple[str, ...]

    @property
    def unknown(self) -> tuple[FactorResult, ...]:
        """The factors the findings cannot settle."""
        return tuple(f for f in self.factors if f.status is FactorStatus.UNKNOWN)


def _number(findings: Mapping[str, Value], path: str) -> Decimal | None:
    value = findings.get(path)
    return value if isinstance(value, Decimal) else None


def _compare(comparison: Comparison, value: Decimal, limit: Decimal) -> FactorStatus:
    return FactorStatus.PRESENT if comparison.holds(value, limit) else FactorStatus.ABSENT


def _limit(rule: FactorRule, findings: Mapping[str, Value]) -> Decimal | None:
    if rule.threshold is not None:
        return rule.threshold
    limit = _number(findings, rule.limit or "")
    return None if limit is None else limit * rule.multiple


def _from_fallback(
    rule: FactorRule, fallback: BandFallback, comparison: Comparison, findings: Mapping[str, Value]
) -> tuple[FactorStatus, str]:
    grade = _number(findings, fallback.field)
    limit = _limit(rule, findings)  # a fixed threshold: the loader refuses a lab limit here
    if grade is None or int(grade) not in fallback.bands or limit is None:
        return FactorStatus.UNKNOWN, f"{rule.field_label}: not recorded"
    low, high = fallback.bands[int(grade)]
    both = {_compare(comparison, low, limit), _compare(comparison, high, limit)}
    status = both.pop() if len(both) == 1 else FactorStatus.UNKNOWN
    band = f"{plain(low)}-{with_unit(high, rule.unit)}"
    settled = "" if status is not FactorStatus.UNKNOWN else ", which does not settle it"
    return status, (
        f"{rule.field_label}: not recorded; {lower_first(fallback.field_label)} {plain(grade)} "
        f"corresponds to {band}{settled}"
    )


def _value(
    rule: FactorRule, measured: Decimal, findings: Mapping[str, Value]
) -> tuple[Decimal | None, str]:
    """The value compared (corrected if the rule says so) and the finding in words."""
    shown = with_unit(measured, rule.unit)
    correction = rule.correction
    if correction is None:
        return measured, f"{rule.field_label} {shown}"
    albumin = _number(findings, correction.albumin_field)
    if albumin is None:
        return None, f"{rule.field_label} {shown}; albumin not recorded, so it cannot be corrected"
    corrected = correction.corrected(measured, albumin)
    return corrected, (
        f"corrected {with_unit(corrected, rule.unit)} "
        f"(measured {shown}, albumin {with_unit(albumin, correction.albumin_unit)})"
    )


def judge_factor(rule: FactorRule, findings: Mapping[str, Value]) -> FactorResult:
    """One factor on the findings: present, absent, or unknown with what is missing."""
    status, finding = _judge(rule, findings)
    return FactorResult(
        rule.id,
        rule.label,
        status,
        finding,
        rule.threshold_text(findings),
        rule.source,
        rule.method(),
    )


def _judge(rule: FactorRule, findings: Mapping[str, Value]) -> tuple[FactorStatus, str]:
    raw = findings.get(rule.field)
    if raw is None:
        if rule.fallback is not None and rule.comparison is not None:
            return _from_fallback(rule, rule.fallback, rule.comparison, findings)
        return FactorStatus.UNKNOWN, f"{rule.field_label}: not recorded"
    if rule.comparison is None:
        present = str(raw) in rule.values
        status = FactorStatus.PRESENT if present else FactorStatus.ABSENT
        return status, f"{rule.field_label} {raw}"
    # the loader lets only number fields be compared
    value, finding = _value(rule, raw, findings) if isinstance(raw, Decimal) else (None, "")
    if value is None:
        return FactorStatus.UNKNOWN, finding or f"{rule.field_label}: not a number"
    limit = _limit(rule, findings)
    if limit is None:
        return FactorStatus.UNKNOWN, f"{finding}; {lower_first(rule.limit_label)} not recorded"
    return _compare(rule.comparison, value, limit), finding


def score(rule: ScoreRule, findings: Mapping[str, Value]) -> PrognosticScore:
    """One score on the findings, with its count range and the groups still possible."""
    factors = tuple(judge_factor(f, findings) for f in rule.factors)
    low = sum(f.status is FactorStatus.PRESENT for f in factors)
    high = low + sum(f.status is FactorStatus.UNKNOWN for f in factors)
    possible = tuple(g.id for g in rule.groups if g.min_count <= high and low <= g.max_count)
    return PrognosticScore(
        id=rule.id,
        name=rule.name,
        source=rule.source,
        built_for=rule.built_for,
        factors=factors,
        count_low=low,
        count_high=high,
        group=possible[0] if len(possible) == 1 else None,
        possible_groups=possible,
    )


def assess_prognosis(
    findings: Mapping[str, Value], *, diagnosis: str, table: PrognosticTable
) -> tuple[PrognosticScore, ...]:
    """The scores that apply to `diagnosis`, each judged on the findings."""
    return tuple(score(s, findings) for s in table.scores if diagnosis in s.diagnoses)


def prognostic_points(
    findings: Mapping[str, Value], *, diagnosis: str, table: PrognosticTable
) -> dict[str, int | None]:
    """Score id -> its factor count when every factor is known, else None."""
    return {
        s.id: s.count_low if s.count_low == s.count_high else None
        for s in assess_prognosis(findings, diagnosis=diagnosis, table=table)
    }
