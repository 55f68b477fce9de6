"""Eligibility screening: every criterion judged met, not met or missing, with its evidence.

The criteria come from the rule files; this module only interprets their kinds. The overall
verdict is `ineligible` if any criterion is not met, `incomplete` if none fails but some are
missing, and `eligible` only when every criterion in force is met. A criterion switched off
(by default, or by a site's policy) stays on the checklist as `not_applied` and decides nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Protocol

from il2.domain.findings import Findings
from il2.domain.quantities import Comparison, plain, with_unit


class Verdict(StrEnum):
    """One criterion's verdict."""

    MET = "met"
    NOT_MET = "not_met"
    MISSING = "missing"
    NOT_APPLIED = "not_applied"  # switched off (by default or by the site): decides nothing


class Overall(StrEnum):
    """The screening's verdict."""

    ELIGIBLE = "eligible"
    INELIGIBLE = "ineligible"
    INCOMPLETE = "incomplete"


@dataclass(frozen=True, slots=True)
class Judgement:
    """What a test concluded, and the evidence for it in words."""

    verdict: Verdict
    evidence: str


class Test(Protocol):
    """A check on findings that judges met, not met or missing."""

    def judge(self, findings: Findings) -> Judgement:
        """Judge the findings."""
        ...


@dataclass(frozen=True, slots=True)
class Limit:
    """A numeric field compared with a fixed limit (creatinine at most 1.5 mg/dL)."""

    field: str
    label: str
    unit: str
    comparison: Comparison
    limit: Decimal

    def judge(self, findings: Findings) -> Judgement:
        """Met when the value satisfies the comparison."""
        rule = f"{self.comparison.words} {with_unit(self.limit, self.unit)}"
        value = findings.get(self.field)
        if not isinstance(value, Decimal):
            return Judgement(
                Verdict.MISSING, f"{self.label}: not given ({self.field}); rule: {rule}"
            )
        verdict = Verdict.MET if self.comparison.holds(value, self.limit) else Verdict.NOT_MET
        return Judgement(verdict, f"{self.label} {with_unit(value, self.unit)} (rule: {rule})")


@dataclass(frozen=True, slots=True)
class RelativeLimit:
    """A numeric field compared with a multiple of another (AST at most 3 x its ULN)."""

    field: str
    reference_field: str
    label: str
    reference_label: str
    unit: str
    comparison: Comparison
    factor: Decimal

    def judge(self, findings: Findings) -> Judgement:
        """Met when value <op> factor x reference."""
        value = findings.get(self.field)
        reference = findings.get(self.reference_field)
        rule = f"{self.comparison.words} {plain(self.factor)} x {self.reference_label}"
        absent = [
            name
            for name, given in ((self.field, value), (self.reference_field, reference))
            if not isinstance(given, Decimal)
        ]
        if absent or not isinstance(value, Decimal) or not isinstance(reference, Decimal):
            return Judgement(
                Verdict.MISSING, f"{self.label}: not given ({', '.join(absent)}); rule: {rule}"
            )
        limit = self.factor * reference
        verdict = Verdict.MET if self.comparison.holds(value, limit) else Verdict.NOT_MET
        return Judgement(
            verdict,
            f"{self.label} {with_unit(value, self.unit)} (rule: {rule}, {plain(self.factor)} x "
            f"{with_unit(reference, self.unit)} = {with_unit(limit, self.unit)})",
        )


@dataclass(frozen=True, slots=True)
class Category:
    """A coded field whose values are acceptable, unacceptable, or not yet decisive."""

    field: str
    label: str
    met: frozenset[str]
    not_met: frozenset[str]

    def judge(self, findings: Findings) -> Judgement:
        """Met, not met, or missing (absent, or a value such as 'not_done')."""
        value = findings.get(self.field)
        wanted = " or ".join(sorted(self.met))
        if isinstance(value, str) and value in self.met:
            return Judgement(Verdict.MET, f"{self.label}: {value}")
        if isinstance(value, str) and value in self.not_met:
            return Judgement(Verdict.NOT_MET, f"{self.label}: {value} (rule: {wanted})")
        shown = value if isinstance(value, str) else f"not given ({self.field})"
        return Judgement(Verdict.MISSING, f"{self.label}: {shown} (rule: {wanted})")


@dataclass(frozen=True, slots=True)
class Excludes:
    """A list field (conditions, medications) must not contain `term`."""

    field: str
    term: str
    label: str

    def judge(self, findings: Findings) -> Judgement:
        """Not met when the term is listed; missing when the list itself is absent."""
        listed = findings.get(self.field)
        if not isinstance(listed, frozenset):
            return Judgement(Verdict.MISSING, f"{self.field} not given: {self.label} unknown")
        if self.term in listed:
            return Judgement(Verdict.NOT_MET, f"{self.label}: present ({self.field})")
        return Judgement(Verdict.MET, f"{self.label}: not listed in {self.field}")


@dataclass(frozen=True, slots=True)
class Flag:
    """A true/false field that must have the value `required`."""

    field: str
    label: str
    required: bool

    def judge(self, findings: Findings) -> Judgement:
        """Met when the flag has the required value."""
        value = findings.get(self.field)
        if not isinstance(value, bool):
            return Judgement(Verdict.MISSING, f"{self.label}: not given ({self.field})")
        said = "yes" if value else "no"
        verdict = Verdict.MET if value is self.required else Verdict.NOT_MET
        return Judgement(verdict, f"{self.label}: {said}")


def _parts_evidence(results: Sequence[Judgement]) -> str:
    return "; ".join(f"{r.evidence} — {_VERDICT_WORDS[r.verdict]}" for r in results)


_VERDICT_WORDS = {
    Verdict.MET: "met",
    Verdict.NOT_MET: "not met",
    Verdict.MISSING: "missing",
    Verdict.NOT_APPLIED: "not applied",
}


@dataclass(frozen=True, slots=True)
class AllOf:
    """Every part must pass (FEV1 above 2.0 L and at least 75% predicted).

    Not met as soon as one part fails, whatever the others say; met only when every part is
    met; otherwise missing.
    """

    parts: tuple[Test, ...]

    def judge(self, findings: Findings) -> Judgement:
        """Judge each part, then combine them: all are required."""
        results = [part.judge(findings) for part in self.parts]
        evidence = f"{_parts_evidence(results)} (all are required)"
        if any(r.verdict is Verdict.NOT_MET for r in results):
            return Judgement(Verdict.NOT_MET, evidence)
        if all(r.verdict is Verdict.MET for r in results):
            return Judgement(Verdict.MET, evidence)
        return Judgement(Verdict.MISSING, evidence)


@dataclass(frozen=True, slots=True)
class AnyOf:
    """One passing part is enough (creatinine at most 1.5 mg/dL, or clearance at least 60).

    Met as soon as one part is met; not met only when every part was checked and failed;
    otherwise missing (a failing part with another still unknown: obtain the other).
    """

    parts: tuple[Test, ...]

    def judge(self, findings: Findings) -> Judgement:
        """Judge each part, then combine them: any one suffices."""
        results = [part.judge(findings) for part in self.parts]
        evidence = f"{_parts_evidence(results)} (any one suffices)"
        if any(r.verdict is Verdict.MET for r in results):
            return Judgement(Verdict.MET, evidence)
        if all(r.verdict is Verdict.NOT_MET for r in results):
            return Judgement(Verdict.NOT_MET, evidence)
        return Judgement(Verdict.MISSING, evidence)


@dataclass(frozen=True, slots=True)
class RequiredTest:
    """A work-up result that every patient needs, or (by site policy) only patients at risk.

    The result decides first: met when it passes, not met when it fails (an abnormal result
    counts whether or not the test was required). When it is not known, the test is missing
    if the site requires it for every patient or a trigger applies; met when no trigger
    applies; missing when the triggers themselves are unknown.
    """

    label: str
    result: Test
    triggers: tuple[Test, ...]
    required_for_all: bool

    def judge(self, findings: Findings) -> Judgement:
        """Judge the result, then whether the patient needs the test at all."""
        outcome = self.result.judge(findings)
        if outcome.verdict is not Verdict.MISSING:
            return outcome
        evidence = outcome.evidence
        if self.required_for_all:
            return Judgement(Verdict.MISSING, f"required for every patient; {evidence}")
        reasons = [test.judge(findings) for test in self.triggers]
        applying = [r.evidence for r in reasons if r.verdict is Verdict.MET]
        if applying:
            return Judgement(Verdict.MISSING, f"required ({'; '.join(applying)}); {evidence}")
        if all(r.verdict is Verdict.NOT_MET for r in reasons):
            why = "; ".join(r.evidence for r in reasons)
            return Judgement(
                Verdict.MET, f"{self.label} not required for this patient by site policy ({why})"
            )
        unknown = "; ".join(r.evidence for r in reasons if r.verdict is Verdict.MISSING)
        return Judgement(Verdict.MISSING, f"cannot tell whether required ({unknown}); {evidence}")


@dataclass(frozen=True, slots=True)
class Criterion:
    """One eligibility criterion: its test, and what a clinician needs to check it."""

    id: str
    title: str
    test: Test
    obtain: str
    source: str
    unconfirmed: bool = False
    site_setting: str = ""
    enabled: bool = True
    label_rule: str = ""  # "contraindication" or "indication": fixed by the label


@dataclass(frozen=True, slots=True)
class CriterionResult:
    """One line of the checklist."""

    criterion: Criterion
    verdict: Verdict
    evidence: str

    @property
    def obtain(self) -> str | None:
        """What to obtain, for a missing criterion."""
        return self.criterion.obtain if self.verdict is Verdict.MISSING else None


@dataclass(frozen=True, slots=True)
class CriteriaTable:
    """The criteria in force, with the version of the file they came from."""

    criteria: tuple[Criterion, ...]
    version: str


@dataclass(frozen=True, slots=True)
class Screening:
    """The checklist and its verdict."""

    verdict: Overall
    results: tuple[CriterionResult, ...]
    rules_version: str


def overall(verdicts: Sequence[Verdict]) -> Overall:
    """Ineligible if any criterion fails; incomplete if any is missing; else eligible."""
    if Verdict.NOT_MET in verdicts:
        return Overall.INELIGIBLE
    if Verdict.MISSING in verdicts:
        return Overall.INCOMPLETE
    return Overall.ELIGIBLE


def _judge(criterion: Criterion, findings: Findings) -> Judgement:
    if criterion.enabled:
        return criterion.test.judge(findings)
    if criterion.site_setting:
        return Judgement(Verdict.NOT_APPLIED, "not applied: switched off by the site policy")
    return Judgement(
        Verdict.NOT_APPLIED, "not applied: off by default; a site may switch it on in its policy"
    )


def screen(findings: Findings, table: CriteriaTable) -> Screening:
    """Judge every criterion of `table` on `findings` (a switched-off one is not applied)."""
    results = []
    for criterion in table.criteria:
        judgement = _judge(criterion, findings)
        results.append(CriterionResult(criterion, judgement.verdict, judgement.evidence))
    return Screening(
        verdict=overall([r.verdict for r in results]),
        results=tuple(results),
        rules_version=table.version,
    )
