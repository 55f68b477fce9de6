"""Whether earlier toxicities forbid another course of aldesleukin."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from il2.domain.checks import Check, Fired, Unknown
from il2.domain.findings import Findings


class Retreatment(StrEnum):
    """The verdict on another course."""

    FORBIDDEN = "forbidden"
    NOT_FORBIDDEN = "not_forbidden"
    INCOMPLETE = "incomplete"


@dataclass(frozen=True, slots=True)
class RetreatmentItem:
    """One earlier toxicity that forbids retreatment."""

    id: str
    check: Check
    source: str


@dataclass(frozen=True, slots=True)
class RetreatmentTable:
    """The no-retreatment list in force."""

    items: tuple[RetreatmentItem, ...]
    version: str


@dataclass(frozen=True, slots=True)
class RetreatmentReason:
    """An item of the list that the patient's history meets."""

    item: str
    finding: str
    threshold: str
    source: str


@dataclass(frozen=True, slots=True)
class RetreatmentDecision:
    """The verdict, the items met, and the items that could not be checked."""

    verdict: Retreatment
    reasons: tuple[RetreatmentReason, ...]
    not_evaluated: tuple[str, ...]
    rules_version: str


def judge_retreatment(history: Findings, table: RetreatmentTable) -> RetreatmentDecision:
    """Forbidden if any item is met; incomplete if none is but some could not be checked."""
    reasons: list[RetreatmentReason] = []
    unknown: list[str] = []
    for item in table.items:
        outcome = item.check.evaluate(history)
        if isinstance(outcome, Fired):
            reasons.append(
                RetreatmentReason(item.id, outcome.finding, outcome.threshold, item.source)
            )
        elif isinstance(outcome, Unknown):
            unknown.extend(f for f in outcome.fields if f not in unknown)
    if reasons:
        verdict = Retreatment.FORBIDDEN
    elif unknown:
        verdict = Retreatment.INCOMPLETE
    else:
        verdict = Retreatment.NOT_FORBIDDEN
    return RetreatmentDecision(verdict, tuple(reasons), tuple(unknown), table.version)
