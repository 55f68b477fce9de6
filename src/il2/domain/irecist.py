"""iRECIST on top of RECIST 1.1: unconfirmed progression (iUPD) and its confirmation (iCPD).

RECIST progression becomes iUPD. A later assessment at least 4 weeks on confirms it (iCPD) when
the target sum grew a further 5 mm or more, the non-target disease grew further, the new target
lesions grew 5 mm or more, or there are more new lesions; an earlier scan counts only when it
shows more new lesions. When RECIST itself would call a later time point SD, PR or CR, that
becomes the response (iSD, iPR, iCR) and progression must be established again. il2's reading
where the sources are silent: while the lesions that made a time point PD remain (a new lesion
still present, say), RECIST gives PD and the status stays iUPD; a reset needs RECIST SD or better.
A lesion that reappears after a definitive CR is RECIST PD (EORTC RECIST FAQ), so it is iUPD here,
and it stays PD while the disease is present: iCPD needs further growth (5 mm more in the target
sum, say), and only its disappearance again (iCR) or new shrinkage resets the status.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum

from il2.domain.quantities import plain
from il2.domain.recist import Assessment, Category, RecistOptions, TimePoint


class ICategory(StrEnum):
    """iRECIST response categories."""

    ICR = "iCR"
    IPR = "iPR"
    ISD = "iSD"
    NON_ICR_NON_IUPD = "non-iCR/non-iUPD"
    IUPD = "iUPD"
    ICPD = "iCPD"
    NE = "NE"


_FROM_RECIST = {
    Category.CR: ICategory.ICR,
    Category.PR: ICategory.IPR,
    Category.SD: ICategory.ISD,
    Category.NON_CR_NON_PD: ICategory.NON_ICR_NON_IUPD,
    Category.NE: ICategory.NE,
}
_RESPONSES = (ICategory.ICR, ICategory.IPR, ICategory.ISD, ICategory.NON_ICR_NON_IUPD)


@dataclass(frozen=True, slots=True)
class IrecistCriteria:
    """iRECIST's confirmation window and growth thresholds, from the rule file."""

    confirm_after_weeks_min: int
    confirm_after_weeks_max: int
    further_target_increase_mm: Decimal
    further_new_target_increase_mm: Decimal
    source: str


@dataclass(frozen=True, slots=True)
class ITimePoint:
    """One follow-up's iRECIST category and why."""

    date: date
    category: ICategory
    reasons: tuple[str, ...]
    new_lesion_count: int
    new_target_sum_mm: Decimal


@dataclass(frozen=True, slots=True)
class IrecistResult:
    """Every follow-up's iRECIST category and the best overall iRECIST response."""

    timepoints: tuple[ITimePoint, ...]
    best_overall_response: ICategory
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Unconfirmed:
    on: date
    sum_mm: Decimal
    new_lesion_count: int
    new_target_sum_mm: Decimal


def _new_targets(assessment: Assessment) -> tuple[int, Decimal]:
    measured = sorted(
        (n for n in assessment.new_lesion_detail if n.diameter_mm is not None), key=lambda n: n.id
    )
    count = max(len(assessment.new_lesion_detail), 1 if assessment.new_lesions else 0)
    return count, sum((n.diameter_mm or Decimal(0) for n in measured[:5]), Decimal(0))


def _further_growth(
    point: TimePoint, assessment: Assessment, upd: _Unconfirmed, criteria: IrecistCriteria
) -> list[str]:
    count, new_sum = _new_targets(assessment)
    evidence = []
    grown = point.measured_sum_mm - upd.sum_mm
    if grown >= criteria.further_target_increase_mm:
        evidence.append(
            f"target sum {plain(point.measured_sum_mm)} mm is {plain(grown)} mm above the iUPD sum "
            f"{plain(upd.sum_mm)} mm (>= {plain(criteria.further_target_increase_mm)} mm)"
        )
    if assessment.non_target_further_growth:
        evidence.append("further growth of the non-target disease")
    if new_sum - upd.new_target_sum_mm >= criteria.further_new_target_increase_mm:
        evidence.append(
            f"new target lesions grew {plain(new_sum - upd.new_target_sum_mm)} mm "
            f"(>= {plain(criteria.further_new_target_increase_mm)} mm)"
        )
    if count > upd.new_lesion_count:
        evidence.append(f"more new lesions ({count} against {upd.new_lesion_count} at iUPD)")
    return evidence


def _after_upd(
    point: TimePoint, assessment: Assessment, upd: _Unconfirmed, criteria: IrecistCriteria
) -> tuple[ICategory, list[str]]:
    evidence = _further_growth(point, assessment, upd, criteria)
    since = assessment.date - upd.on
    early = since < timedelta(weeks=criteria.confirm_after_weeks_min)
    more_lesions = any(e.startswith("more new lesions") for e in evidence)
    if evidence and (not early or more_lesions):
        late = since > timedelta(weeks=criteria.confirm_after_weeks_max)
        note = [f"later than the {criteria.confirm_after_weeks_max}-week window"] if late else []
        return ICategory.ICPD, ["iCPD: iUPD confirmed by " + "; ".join(evidence), *note]
    if point.overall in _FROM_RECIST and point.overall is not Category.NE:
        category = _FROM_RECIST[point.overall]
        return category, [
            (
                f"{category.value}: RECIST {point.overall.value} after iUPD; "
                "progression must be shown again"
            )
        ]
    if early and evidence:
        return ICategory.IUPD, [
            (
                f"iUPD: a scan under {criteria.confirm_after_weeks_min} weeks after iUPD "
                "counts only "
                "with more new lesions"
            )
        ]
    return ICategory.IUPD, ["iUPD: not confirmed (no further growth)"]


def irecist(
    assessments: Sequence[Assessment],
    points: Sequence[TimePoint],
    criteria: IrecistCriteria,
    options: RecistOptions,
) -> IrecistResult:
    """iRECIST categories for every follow-up, given RECIST 1.1's time points."""
    ordered = sorted(assessments, key=lambda a: a.date)
    upd: _Unconfirmed | None = None
    confirmed = False
    result: list[ITimePoint] = []
    for assessment, point in zip(ordered[1:], points[1:], strict=True):
        count, new_sum = _new_targets(assessment)
        if confirmed:
            category, reasons = ICategory.ICPD, ["iCPD: progression already confirmed"]
        elif upd is not None:
            category, reasons = _after_upd(point, assessment, upd, criteria)
            confirmed = category is ICategory.ICPD
            if category in _RESPONSES:
                upd = None
        elif point.overall is Category.PD:
            category, reasons = (
                ICategory.IUPD,
                [f"iUPD: {r}" for r in point.reasons if r.startswith("PD")],
            )
            upd = _Unconfirmed(assessment.date, point.measured_sum_mm, count, new_sum)
        else:
            category = _FROM_RECIST[point.overall or Category.NE]
            reasons = [f"{category.value}: as RECIST 1.1"]
        result.append(ITimePoint(assessment.date, category, tuple(reasons), count, new_sum))
    best, why = _best(result, points[0].date, options)
    return IrecistResult(tuple(result), best, (why,))


def _best(
    points: Sequence[ITimePoint], baseline: date, options: RecistOptions
) -> tuple[ICategory, str]:
    weeks = timedelta(weeks=options.confirmation_weeks)
    for wanted in (ICategory.ICR, ICategory.IPR):
        good = {ICategory.ICR} if wanted is ICategory.ICR else {ICategory.ICR, ICategory.IPR}
        for i, first in enumerate(points):
            if first.category not in good:
                continue
            if not options.confirmation_required:
                return wanted, f"{wanted.value} on {first.date.isoformat()}"
            for later in points[i + 1 :]:
                if later.category not in good | {ICategory.NE}:
                    break
                if later.category in good and later.date - first.date >= weeks:
                    return wanted, f"{wanted.value} on {first.date.isoformat()}, confirmed"
    sd_from = baseline + timedelta(weeks=options.min_sd_weeks)
    stable = [p for p in points if p.category in _RESPONSES and p.date >= sd_from]
    if stable:
        category = (
            ICategory.NON_ICR_NON_IUPD
            if stable[0].category is ICategory.NON_ICR_NON_IUPD
            else ICategory.ISD
        )
        return category, f"{category.value} on {stable[0].date.isoformat()}"
    for worst in (ICategory.ICPD, ICategory.IUPD):
        hit = next((p for p in points if p.category is worst), None)
        if hit:
            return worst, f"{worst.value} on {hit.date.isoformat()}"
    return ICategory.NE, "NE: no evaluable response"
