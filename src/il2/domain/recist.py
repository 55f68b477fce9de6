"""RECIST 1.1 response from lesion measurements: time points and best overall response.

The first assessment is the baseline. Each later assessment gets a target, non-target and
overall category with the reasons for it. Shrinkage is judged against the baseline, growth
against the nadir (the smallest earlier complete sum, baseline included). Target CR is judged on
the lesions (non-nodal gone, nodes below 10 mm), not on the sum, since nodes stay in the sum.
After a CR definitively assigned at the previous evaluated time point, any lesion that reappears
makes the time point PD (EORTC RECIST FAQ); "definitively" means confirmed when the analysis
requires confirmation, and as assigned when it does not.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import TypeVar

from il2.domain.errors import InvalidInputError
from il2.domain.quantities import plain, round_to


class NonTarget(StrEnum):
    """The non-target assessment as entered."""

    ABSENT = "absent"
    PRESENT = "present"
    UNEQUIVOCAL_PROGRESSION = "unequivocal_progression"
    NOT_EVALUATED = "not_evaluated"


class Category(StrEnum):
    """A response category (RECIST 1.1)."""

    CR = "CR"
    PR = "PR"
    SD = "SD"
    PD = "PD"
    NE = "NE"
    NON_CR_NON_PD = "non-CR/non-PD"


class PrDrift(StrEnum):
    """How a confirmed PR that drifts above -30% (short of PD) is called."""

    CONTINUING_PR = "continuing_pr"
    JUDGE_AFRESH = "judge_afresh"


@dataclass(frozen=True, slots=True)
class RecistCriteria:
    """The thresholds of RECIST 1.1, from the rule file."""

    non_nodal_target_min_mm: Decimal
    nodal_target_min_short_axis_mm: Decimal
    nodal_normal_below_mm: Decimal
    max_targets: int
    max_targets_per_organ: int
    pr_change_from_baseline_pct: Decimal
    pd_change_from_nadir_pct: Decimal
    pd_increase_min_mm: Decimal
    source: str
    version: str
    reappearance_source: str


@dataclass(frozen=True, slots=True)
class RecistOptions:
    """Per-analysis choices: confirmation, the SD minimum, and the PR-drift rule."""

    confirmation_required: bool
    confirmation_weeks: int
    min_sd_weeks: int
    pr_drift: PrDrift


@dataclass(frozen=True, slots=True)
class Lesion:
    """One target lesion's measurement; None when it was not measured."""

    id: str
    organ: str
    nodal: bool
    diameter_mm: Decimal | None


@dataclass(frozen=True, slots=True)
class NewLesion:
    """A new lesion (iRECIST tracks them); diameter None when not measurable."""

    id: str
    organ: str
    diameter_mm: Decimal | None


@dataclass(frozen=True, slots=True)
class Assessment:
    """One scan's findings."""

    date: date
    targets: tuple[Lesion, ...]
    non_target: NonTarget
    new_lesions: bool
    new_lesion_detail: tuple[NewLesion, ...] = ()
    non_target_further_growth: bool = False


@dataclass(frozen=True, slots=True)
class LesionChange:
    """One target lesion at one time point, for spider and waterfall plots."""

    id: str
    diameter_mm: Decimal | None
    change_from_baseline_pct: Decimal | None


@dataclass(frozen=True, slots=True)
class TimePoint:
    """One assessment's categories and why."""

    date: date
    sum_mm: Decimal | None
    change_from_baseline_pct: Decimal | None
    change_from_nadir_pct: Decimal | None
    target: Category | None
    non_target: Category | None
    overall: Category | None
    reasons: tuple[str, ...]
    lesions: tuple[LesionChange, ...]
    measured_sum_mm: Decimal = Decimal(0)
    nadir_mm: Decimal | None = None


@dataclass(frozen=True, slots=True)
class RecistResult:
    """Every time point, the best overall response and the dates outcome analysis needs."""

    timepoints: tuple[TimePoint, ...]
    best_overall_response: Category
    confirmed: bool
    reasons: tuple[str, ...]
    response_on: date | None
    progression_on: date | None
    best_change_from_baseline_pct: Decimal | None
    rules_version: str
    notes: tuple[str, ...] = field(default_factory=tuple)


def _change_pct(value: Decimal, reference: Decimal) -> Decimal | None:
    if reference == 0:
        return None
    return (value - reference) * 100 / reference


def _shown(pct: Decimal | None) -> str:
    return "n/a" if pct is None else f"{round_to(pct, 1)}%"


# ---------------------------------------------------------------- validation


def _field(index: int, rest: str) -> str:
    return f"assessments[{index}].{rest}"


def validate(assessments: Sequence[Assessment], criteria: RecistCriteria) -> None:
    """Refuse a baseline that RECIST does not allow, or follow-ups that do not match it."""
    if len(assessments) < 1:
        raise InvalidInputError(
            field="assessments", value=[], allowed="a baseline assessment at least"
        )
    dates = [a.date for a in assessments]
    duplicates = [d for d, n in Counter(dates).items() if n > 1]
    if duplicates:
        raise InvalidInputError(
            field="assessments", value=duplicates[0].isoformat(), allowed="one assessment a date"
        )
    baseline = assessments[0]
    _validate_baseline(baseline, criteria)
    ids = [lesion.id for lesion in baseline.targets]
    for index, assessment in enumerate(assessments[1:], start=1):
        given = [lesion.id for lesion in assessment.targets]
        if sorted(given) != sorted(ids):
            raise InvalidInputError(
                field=_field(index, "target_lesions"),
                value=sorted(given),
                allowed=(
                    f"the baseline's target lesions {sorted(ids)} (a lesion not measured has "
                    "diameter_mm null; new lesions go in new_lesions)"
                ),
            )


def _validate_baseline(baseline: Assessment, criteria: RecistCriteria) -> None:
    if not baseline.targets and baseline.non_target is NonTarget.ABSENT:
        raise InvalidInputError(
            field=_field(0, "target_lesions"),
            value=[],
            allowed="baseline disease: target or non-target lesions",
        )
    if baseline.non_target in (NonTarget.UNEQUIVOCAL_PROGRESSION, NonTarget.NOT_EVALUATED):
        raise InvalidInputError(
            field=_field(0, "non_target"),
            value=baseline.non_target.value,
            allowed="'absent' or 'present' at baseline",
        )
    if baseline.new_lesions:
        raise InvalidInputError(
            field=_field(0, "new_lesions"), value=True, allowed="false at baseline"
        )
    if len(baseline.targets) > criteria.max_targets:
        raise InvalidInputError(
            field=_field(0, "target_lesions"),
            value=len(baseline.targets),
            allowed=f"at most {criteria.max_targets} target lesions (RECIST 1.1)",
        )
    for organ, count in Counter(lesion.organ for lesion in baseline.targets).items():
        if count > criteria.max_targets_per_organ:
            raise InvalidInputError(
                field=_field(0, "target_lesions"),
                value=f"{count} in {organ}",
                allowed=(
                    f"at most {criteria.max_targets_per_organ} target lesions "
                    "per organ (RECIST 1.1)"
                ),
            )
    ids = [lesion.id for lesion in baseline.targets]
    for index, lesion in enumerate(baseline.targets):
        where = _field(0, f"target_lesions[{index}]")
        if ids.count(lesion.id) > 1:
            raise InvalidInputError(
                field=f"{where}.id", value=lesion.id, allowed="a unique lesion id"
            )
        minimum = (
            criteria.nodal_target_min_short_axis_mm
            if lesion.nodal
            else criteria.non_nodal_target_min_mm
        )
        kind = (
            "a lymph node's short axis" if lesion.nodal else "a non-nodal lesion's longest diameter"
        )
        if lesion.diameter_mm is None or lesion.diameter_mm < minimum:
            raise InvalidInputError(
                field=f"{where}.diameter_mm",
                value=None if lesion.diameter_mm is None else float(lesion.diameter_mm),
                allowed=f"a measurable target: {kind} of at least {plain(minimum)} mm (RECIST 1.1)",
            )


# ---------------------------------------------------------------- one time point


@dataclass(frozen=True, slots=True)
class _Target:
    category: Category | None
    reasons: tuple[str, ...]
    sum_mm: Decimal | None
    measured_sum_mm: Decimal


def target_category(  # noqa: PLR0911 - one return per target category
    assessment: Assessment, *, baseline_sum: Decimal, nadir: Decimal, criteria: RecistCriteria
) -> _Target:
    """The target-lesion category at one follow-up, with reasons."""
    if not assessment.targets:
        return _Target(None, (), None, Decimal(0))
    measured = [
        lesion.diameter_mm for lesion in assessment.targets if lesion.diameter_mm is not None
    ]
    measured_sum = sum(measured, Decimal(0))
    growth_pct = _change_pct(measured_sum, nadir)
    grew_enough = (
        measured_sum - nadir >= criteria.pd_increase_min_mm
        and growth_pct is not None
        and growth_pct >= criteria.pd_change_from_nadir_pct
    ) or (nadir == 0 and measured_sum - nadir >= criteria.pd_increase_min_mm)
    growth = (
        f"sum {plain(measured_sum)} mm is {_shown(growth_pct)} and "
        f"{plain(measured_sum - nadir)} mm above "
        f"the nadir {plain(nadir)} mm (PD needs >= {plain(criteria.pd_change_from_nadir_pct)}% and "
        f">= {plain(criteria.pd_increase_min_mm)} mm)"
    )
    if len(measured) < len(assessment.targets):
        missing = [lesion.id for lesion in assessment.targets if lesion.diameter_mm is None]
        if grew_enough:
            return _Target(
                Category.PD, (f"PD on the measured lesions alone: {growth}",), None, measured_sum
            )
        return _Target(
            Category.NE,
            (
                (
                    f"not evaluable: {', '.join(missing)} not measured, and the measured lesions "
                    "do not prove PD"
                ),
            ),
            None,
            measured_sum,
        )
    total = measured_sum
    if grew_enough:
        return _Target(Category.PD, (f"PD: {growth}",), total, total)
    gone = all(
        (lesion.diameter_mm or Decimal(0)) < criteria.nodal_normal_below_mm
        if lesion.nodal
        else lesion.diameter_mm == 0
        for lesion in assessment.targets
    )
    if gone:
        return _Target(
            Category.CR,
            (
                (
                    "CR: every non-nodal target gone and every nodal target below "
                    f"{plain(criteria.nodal_normal_below_mm)} mm"
                ),
            ),
            total,
            total,
        )
    change = _change_pct(total, baseline_sum)
    if change is not None and change <= criteria.pr_change_from_baseline_pct:
        return _Target(
            Category.PR,
            (
                (
                    f"PR: sum {plain(total)} mm is {_shown(change)} from baseline "
                    f"{plain(baseline_sum)} mm "
                    f"(PR at {plain(criteria.pr_change_from_baseline_pct)}% or less)"
                ),
            ),
            total,
            total,
        )
    return _Target(
        Category.SD,
        (
            (
                f"SD: sum {plain(total)} mm is {_shown(change)} from baseline "
                f"(PR needs {plain(criteria.pr_change_from_baseline_pct)}%) and not PD ({growth})"
            ),
        ),
        total,
        total,
    )


_NON_TARGET = {
    NonTarget.ABSENT: Category.CR,
    NonTarget.PRESENT: Category.NON_CR_NON_PD,
    NonTarget.UNEQUIVOCAL_PROGRESSION: Category.PD,
    NonTarget.NOT_EVALUATED: Category.NE,
}


def overall_category(  # noqa: PLR0911 - one return per row of RECIST Tables 1 and 2
    target: Category | None, non_target: Category, *, new_lesions: bool
) -> tuple[Category, str]:
    """RECIST 1.1 Table 1 (target disease) or Table 2 (non-target disease only)."""
    if new_lesions:
        return Category.PD, "PD: a new lesion"
    if target is Category.PD:
        return Category.PD, "PD: target lesions progressed"
    if non_target is Category.PD:
        return Category.PD, "PD: unequivocal progression of non-target disease"
    if target is None:
        return non_target, f"non-target disease only (Table 2): {non_target.value}"
    if target is Category.CR:
        if non_target is Category.CR:
            return Category.CR, "CR: target CR, non-target CR, no new lesion"
        why = (
            "non-target not evaluated (unconfirmed row)"
            if non_target is Category.NE
            else "non-target disease persists"
        )
        return Category.PR, f"PR: target CR but {why}"
    if target is Category.NE:
        return Category.NE, "NE: target lesions not all evaluated"
    return (
        target,
        f"{target.value}: target {target.value}, non-target {non_target.value}, no new lesion",
    )


# ---------------------------------------------------------------- all time points


def _lesion_changes(assessment: Assessment, baseline: Assessment) -> tuple[LesionChange, ...]:
    start = {lesion.id: lesion.diameter_mm for lesion in baseline.targets}
    return tuple(
        LesionChange(
            lesion.id,
            lesion.diameter_mm,
            None
            if lesion.diameter_mm is None or not start.get(lesion.id)
            else _change_pct(lesion.diameter_mm, start[lesion.id] or Decimal(1)),
        )
        for lesion in assessment.targets
    )


def _confirmed_pr_before(points: Sequence[TimePoint], options: RecistOptions) -> bool:
    good = {Category.PR, Category.CR}
    for i, first in enumerate(points):
        if first.overall not in good:
            continue
        if not options.confirmation_required:
            return True
        for later in points[i + 1 :]:
            if later.overall not in good | {Category.NE}:
                break
            if later.overall in good and later.date - first.date >= timedelta(
                weeks=options.confirmation_weeks
            ):
                return True
    return False


@dataclass(frozen=True, slots=True)
class _StandingCr:
    """The CR standing at the latest evaluated time point: first seen, and when confirmed."""

    since: date
    confirmed_on: date | None

    def words(self) -> str:
        confirmed = f", confirmed {self.confirmed_on.isoformat()}" if self.confirmed_on else ""
        return f"the CR of {self.since.isoformat()}{confirmed}"


def _definitive_cr(points: Sequence[TimePoint], options: RecistOptions) -> _StandingCr | None:
    """The CR definitively assigned at the latest evaluated follow-up (NE skipped), if any."""
    run: list[TimePoint] = []
    for point in reversed(points):
        if point.overall not in (Category.CR, Category.NE):
            break
        run.insert(0, point)
    crs = [p for p in run if p.overall is Category.CR]
    if not crs:
        return None
    if not options.confirmation_required:
        return _StandingCr(crs[0].date, None)
    weeks = timedelta(weeks=options.confirmation_weeks)
    confirming = next((p for p in crs if p.date - crs[0].date >= weeks), None)
    return _StandingCr(crs[0].date, confirming.date) if confirming else None


def _targets_back(assessment: Assessment, criteria: RecistCriteria) -> list[str]:
    """Target lesions present again: non-nodal above 0 mm, nodal back to the normal limit."""
    found = []
    for lesion in assessment.targets:
        size = lesion.diameter_mm
        if size is None:
            continue
        if lesion.nodal and size >= criteria.nodal_normal_below_mm:
            found.append(
                f"nodal target {lesion.id} back to {plain(size)} mm short axis "
                f"(normal below {plain(criteria.nodal_normal_below_mm)} mm)"
            )
        elif not lesion.nodal and size > 0:
            found.append(f"target {lesion.id} reappeared at {plain(size)} mm")
    return found


def _after_cr(
    assessment: Assessment,
    target: _Target,
    non_target: Category,
    standing: _StandingCr,
    criteria: RecistCriteria,
) -> tuple[_Target, Category, str] | None:
    """Target, non-target and overall reason when disease reappeared after a definitive CR."""
    targets = _targets_back(assessment, criteria)
    non_target_back = assessment.non_target in (
        NonTarget.PRESENT, NonTarget.UNEQUIVOCAL_PROGRESSION
    )  # fmt: skip
    if not targets and not non_target_back:
        return None
    found = [*targets, *(["non-target disease present again"] if non_target_back else [])]
    why = (
        f"PD: {'; '.join(found)} after {standing.words()} "
        f"(reappearance after a definitive CR is PD: {criteria.reappearance_source})"
    )
    if targets:
        target = _Target(Category.PD, (), target.sum_mm, target.measured_sum_mm)
    return target, Category.PD if non_target_back else non_target, why


def timepoints(
    assessments: Sequence[Assessment], criteria: RecistCriteria, options: RecistOptions
) -> tuple[TimePoint, ...]:
    """Every time point, the baseline first (its categories None)."""
    ordered = sorted(assessments, key=lambda a: a.date)
    validate(ordered, criteria)
    baseline = ordered[0]
    baseline_sum = sum(
        (lesion.diameter_mm or Decimal(0) for lesion in baseline.targets), Decimal(0)
    )
    has_targets = bool(baseline.targets)
    points = [
        TimePoint(
            baseline.date, baseline_sum if has_targets else None, None, None, None, None, None,
            ("baseline",), _lesion_changes(baseline, baseline), baseline_sum,
        )
    ]  # fmt: skip
    complete_sums = [baseline_sum]
    # Follow-ups that count when looking for a standing CR: a PD called because disease reappeared
    # after a definitive CR does not end that CR's reference, so disease still present at the next
    # scan is PD again (iRECIST then keeps iUPD until the disease shrinks or grows further).
    cr_track: list[TimePoint] = []
    for assessment in ordered[1:]:
        point, reappeared = _follow_up(
            assessment,
            _Context(baseline, baseline_sum, min(complete_sums), points[1:], cr_track),
            criteria,
            options,
        )
        points.append(point)
        if not reappeared:
            cr_track.append(point)
        if point.sum_mm is not None:
            complete_sums.append(point.sum_mm)
    return tuple(points)


@dataclass(frozen=True, slots=True)
class _Context:
    """What a follow-up is judged against: the baseline, the nadir and the earlier follow-ups."""

    baseline: Assessment
    baseline_sum: Decimal
    nadir: Decimal
    earlier: Sequence[TimePoint]
    cr_track: Sequence[TimePoint]


def _follow_up(
    assessment: Assessment, context: _Context, criteria: RecistCriteria, options: RecistOptions
) -> tuple[TimePoint, bool]:
    """One follow-up's time point, and whether it is PD because disease reappeared after a CR."""
    nadir = context.nadir
    target = target_category(
        assessment, baseline_sum=context.baseline_sum, nadir=nadir, criteria=criteria
    )
    non_target = _NON_TARGET[assessment.non_target]
    category, why = overall_category(
        target.category, non_target, new_lesions=assessment.new_lesions
    )
    standing = _definitive_cr(context.cr_track, options)
    reappearance = (
        _after_cr(assessment, target, non_target, standing, criteria) if standing else None
    )
    if reappearance is not None:
        target, non_target, why = reappearance
        category = Category.PD
    reasons = [*target.reasons, why]
    drifted = (
        options.pr_drift is PrDrift.CONTINUING_PR
        and category is Category.SD
        and target.category is Category.SD
        and _confirmed_pr_before(context.earlier, options)
    )
    if drifted:
        category = Category.PR
        reasons.append(
            "continuing PR: a PR was confirmed and PD is not met "
            "(EORTC RECIST FAQ; site policy recist_pr_drift)"
        )
    point = TimePoint(
        date=assessment.date,
        sum_mm=target.sum_mm,
        change_from_baseline_pct=None
        if target.sum_mm is None
        else _change_pct(target.sum_mm, context.baseline_sum),
        change_from_nadir_pct=None if target.sum_mm is None else _change_pct(target.sum_mm, nadir),
        target=target.category,
        non_target=non_target,
        overall=category,
        reasons=tuple(reasons),
        lesions=_lesion_changes(assessment, context.baseline),
        measured_sum_mm=target.measured_sum_mm,
        nadir_mm=nadir if context.baseline.targets else None,
    )
    return point, reappearance is not None


# ---------------------------------------------------------------- best overall response


def _first_confirmed(
    points: Sequence[TimePoint], wanted: set[Category], allowed_between: set[Category], weeks: int
) -> TimePoint | None:
    for i, first in enumerate(points):
        if first.overall not in wanted:
            continue
        for later in points[i + 1 :]:
            if later.overall not in allowed_between:
                break
            if later.overall in wanted and later.date - first.date >= timedelta(weeks=weeks):
                return first
    return None


Change = TypeVar("Change", Decimal, float)


def best_change(changes: Iterable[Change | None]) -> Change | None:
    """The best percent change from baseline over the follow-up scans: the lowest of those that
    have one (the deepest shrinkage, the waterfall's bar), or None when no follow-up scan has a
    measurable change (never 0, which would claim a scan that showed no change)."""
    measured = [c for c in changes if c is not None]
    return min(measured) if measured else None


def best_overall_response(
    points: Sequence[TimePoint], options: RecistOptions, *, rules_version: str
) -> RecistResult:
    """RECIST 1.1 best overall response, with confirmation when the options require it."""
    baseline, follow_ups = points[0], list(points[1:])
    progression = next((p for p in follow_ups if p.overall is Category.PD), None)
    before_pd = follow_ups if progression is None else follow_ups[: follow_ups.index(progression)]
    sd_from = baseline.date + timedelta(weeks=options.min_sd_weeks)
    weeks = options.confirmation_weeks
    reasons: list[str] = []
    confirmed = False
    response: TimePoint | None = None
    if options.confirmation_required:
        response = _first_confirmed(before_pd, {Category.CR}, {Category.CR, Category.NE}, weeks)
        best = Category.CR if response else None
        if response is None:
            response = _first_confirmed(
                before_pd,
                {Category.CR, Category.PR},
                {Category.CR, Category.PR, Category.NE},
                weeks,
            )
            best = Category.PR if response else None
        confirmed = response is not None
        if response:
            reasons.append(
                f"{best}: first seen {response.date.isoformat()}, "
                f"confirmed at least {weeks} weeks later"
            )
    else:
        for wanted in (Category.CR, Category.PR):
            response = next((p for p in before_pd if p.overall is wanted), None)
            if response:
                best = wanted
                reasons.append(
                    f"{wanted}: seen {response.date.isoformat()} (confirmation not required)"
                )
                confirmed = (
                    _first_confirmed(
                        before_pd, {wanted}, {Category.CR, Category.PR, Category.NE}, weeks
                    )
                    is not None
                )
                break
        else:
            best = None
    if best is None:
        best, why = _without_response(before_pd, progression, sd_from, options)
        reasons.append(why)
    return RecistResult(
        timepoints=tuple(points),
        best_overall_response=best,
        confirmed=confirmed,
        reasons=tuple(reasons),
        response_on=response.date if response else None,
        progression_on=progression.date if progression else None,
        best_change_from_baseline_pct=best_change(p.change_from_baseline_pct for p in follow_ups),
        rules_version=rules_version,
    )


_NOT_PROGRESSING = {Category.SD, Category.PR, Category.CR, Category.NON_CR_NON_PD}


def _without_response(
    before_pd: Sequence[TimePoint],
    progression: TimePoint | None,
    sd_from: date,
    options: RecistOptions,
) -> tuple[Category, str]:
    stable = [
        p for p in before_pd
        if p.overall in _NOT_PROGRESSING and p.date >= sd_from
    ]  # fmt: skip
    if stable:
        category = (
            Category.NON_CR_NON_PD if stable[0].overall is Category.NON_CR_NON_PD else Category.SD
        )
        return category, (
            f"{category.value}: met on {stable[0].date.isoformat()}, "
            f"at least {options.min_sd_weeks} weeks "
            "after baseline, with no confirmed response"
        )
    if progression is not None:
        return (
            Category.PD,
            (
                f"PD on {progression.date.isoformat()}, "
                f"with no SD of {options.min_sd_weeks} weeks before it"
            ),
        )
    return (
        Category.NE,
        f"NE: no response, no SD of at least {options.min_sd_weeks} weeks, and no PD",
    )


def assess(
    assessments: Sequence[Assessment], criteria: RecistCriteria, options: RecistOptions
) -> RecistResult:
    """Time points and best overall response for one patient's scans."""
    points = timepoints(assessments, criteria, options)
    return best_overall_response(points, options, rules_version=criteria.version)
