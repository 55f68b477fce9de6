"""Whether earlier toxicities forbid another course of aldesleukin.

The list forbids on findings and durations. A toxicity graded by CTCAE names the event but not
the qualifier the list turns on (how many beats, whether it was controlled, how long it lasted),
so a recorded grade at or above its review grade never forbids by itself: it leaves the verdict
`incomplete` and says what a physician must confirm.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
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
class GradeReview:
    """A CTCAE term whose grade, from `min_grade` on, may meet an item: a physician confirms."""

    term: str
    name: str
    min_grade: int
    item: str
    asks: str
    source: str


@dataclass(frozen=True, slots=True)
class RecordedGrade:
    """A CTCAE grade recorded during an earlier course."""

    term: str
    grade: int
    observed_on: date | None = None


@dataclass(frozen=True, slots=True)
class RetreatmentTable:
    """The no-retreatment list in force, and the recorded grades a physician must review."""

    items: tuple[RetreatmentItem, ...]
    version: str
    reviews: tuple[GradeReview, ...] = ()


@dataclass(frozen=True, slots=True)
class RetreatmentReason:
    """An item of the list that the patient's history meets."""

    item: str
    finding: str
    threshold: str
    source: str


@dataclass(frozen=True, slots=True)
class RetreatmentReview:
    """A recorded grade that may meet an item: what a physician must confirm, and why."""

    item: str
    finding: str
    asks: str
    source: str


@dataclass(frozen=True, slots=True)
class RetreatmentDecision:
    """The verdict, the items met, the items that could not be checked, and the recorded grades
    a physician must review."""

    verdict: Retreatment
    reasons: tuple[RetreatmentReason, ...]
    not_evaluated: tuple[str, ...]
    rules_version: str
    to_review: tuple[RetreatmentReview, ...] = ()


def _reviews(
    grades: Sequence[RecordedGrade], table: RetreatmentTable
) -> tuple[RetreatmentReview, ...]:
    """One review per term, on its highest recorded grade (the latest day of that grade)."""
    worst: dict[str, RecordedGrade] = {}
    for recorded in grades:
        kept = worst.get(recorded.term)
        if kept is None or (recorded.grade, recorded.observed_on or date.min) > (
            kept.grade,
            kept.observed_on or date.min,
        ):
            worst[recorded.term] = recorded
    found = []
    for rule in table.reviews:
        met = worst.get(rule.term)
        if met is None or met.grade < rule.min_grade:
            continue
        when = f" on {met.observed_on.isoformat()}" if met.observed_on else ""
        found.append(
            RetreatmentReview(
                rule.item,
                f"{rule.name} grade {met.grade}{when}",
                f"a physician must confirm {rule.asks}",
                rule.source,
            )
        )
    return tuple(found)


def judge_retreatment(
    history: Findings, table: RetreatmentTable, grades: Sequence[RecordedGrade] = ()
) -> RetreatmentDecision:
    """Forbidden if any item is met; incomplete if none is but some could not be checked or a
    recorded grade needs a physician's review."""
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
    reviews = _reviews(grades, table)
    if reasons:
        verdict = Retreatment.FORBIDDEN
    elif unknown or reviews:
        verdict = Retreatment.INCOMPLETE
    else:
        verdict = Retreatment.NOT_FORBIDDEN
    return RetreatmentDecision(verdict, tuple(reasons), tuple(unknown), table.version, reviews)
