"""After a course: another course, a response scan, follow-up, or stop, with the rules that fired.

Another course needs every condition at once: a response scan after the latest course that
shows some tumor shrinkage and no progression, retreatment not forbidden by the earlier
toxicities, room under the site's cycle limit, and a regimen that has further courses. Each
condition that fails is a reason with its own outcome, and the strongest outcome wins:
stop > response_scan > follow_up > incomplete > another_course. An item that cannot be checked
(a missing history field, a missing change from baseline) never yields another course. The rest
after discharge never blocks another course: it sets the date it may start ("not before").
`today` comes in as an argument; the engine reads no clock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum

from il2.domain.errors import InvalidInputError
from il2.domain.quantities import Comparison, plain
from il2.domain.regimen import Regimen
from il2.domain.retreatment import Retreatment, RetreatmentDecision


class Next(StrEnum):
    """What comes next for the patient's IL-2 program."""

    ANOTHER_COURSE = "another_course"
    INCOMPLETE = "incomplete"
    FOLLOW_UP = "follow_up"
    RESPONSE_SCAN = "response_scan"
    STOP = "stop"

    @property
    def strength(self) -> int:
        """Rank for "the strongest outcome wins"."""
        return _STRENGTH[self]


_STRENGTH = {
    Next.ANOTHER_COURSE: 0,
    Next.INCOMPLETE: 1,
    Next.FOLLOW_UP: 2,
    Next.RESPONSE_SCAN: 3,
    Next.STOP: 4,
}
BLOCKING = tuple(n for n in Next if n is not Next.ANOTHER_COURSE)


@dataclass(frozen=True, slots=True)
class Course:
    """One course as given: what was received and when the patient went home."""

    number: int
    cycles_given: int
    doses_given: int
    last_dose_on: date
    discharged_on: date


@dataclass(frozen=True, slots=True)
class ResponseSummary:
    """The latest response assessment (RECIST overall response at one time point)."""

    assessed_on: date
    overall: str
    change_from_baseline_pct: Decimal | None = None


@dataclass(frozen=True, slots=True)
class CycleLimit:
    """The most cycles a patient may receive over all courses, and where that number comes from."""

    max_cycles_total: int
    source: str


@dataclass(frozen=True, slots=True)
class Rule:
    """A rule of the pathway that explains a date or a step but blocks nothing."""

    id: str
    source: str


@dataclass(frozen=True, slots=True)
class Block:
    """A rule that, when it fires, rules out another course and calls for `outcome` instead."""

    id: str
    outcome: Next
    source: str


@dataclass(frozen=True, slots=True)
class Shrinkage:
    """What counts as "some tumor shrinkage" after a course."""

    comparison: Comparison
    limit_pct: Decimal
    never: frozenset[str]
    by_category: frozenset[str]


@dataclass(frozen=True, slots=True)
class PathwayTable:
    """The pathway rules in force (pathway.toml), with the version of the file."""

    categories: tuple[str, ...]
    categories_source: str
    progression_categories: frozenset[str]
    shrinkage: Shrinkage
    response_scan: Block
    progression: Block
    no_shrinkage: Block
    retreatment: Block
    incomplete: Block
    further_courses: Block
    cycle_limit: Block
    cycle_limit_policy: str
    rest_after_discharge: Rule
    rescan_before_course: Rule
    version: str


@dataclass(frozen=True, slots=True)
class PathwayReason:
    """Why the answer is what it is: one rule, what was found, its threshold and its source."""

    rule: str
    finding: str
    threshold: str
    source: str
    outcome: Next


@dataclass(frozen=True, slots=True)
class PathwayDecision:
    """What comes next, from when, and why."""

    next: Next
    earliest_on: date | None
    blocked_until: date | None
    reasons: tuple[PathwayReason, ...]
    missing: tuple[str, ...]
    regimen: str
    cycles_given_total: int
    max_cycles_total: int
    rules_version: str
    retreatment_rules_version: str


# ---------------------------------------------------------------- input invariants


def _refuse(field: str, value: object, allowed: str) -> InvalidInputError:
    return InvalidInputError(field=field, value=value, allowed=allowed)


def _check_course(index: int, course: Course, regimen: Regimen, today: date) -> None:
    where = f"courses[{index}]"
    if course.number < 1:
        raise _refuse(f"{where}.number", course.number, "a course number of at least 1")
    if not 1 <= course.cycles_given <= regimen.cycles_per_course:
        raise _refuse(
            f"{where}.cycles_given",
            course.cycles_given,
            f"from 1 to {regimen.cycles_per_course} cycles (regimen {regimen.id})",
        )
    most = course.cycles_given * regimen.max_doses_per_cycle
    if regimen.max_doses_per_course is not None:
        most = min(most, regimen.max_doses_per_course)
    if not course.cycles_given <= course.doses_given <= most:
        raise _refuse(
            f"{where}.doses_given",
            course.doses_given,
            f"from {course.cycles_given} (a dose in every cycle given) to {most} doses "
            f"(regimen {regimen.id}: at most {regimen.max_doses_per_cycle} a cycle)",
        )
    if course.discharged_on < course.last_dose_on:
        raise _refuse(
            f"{where}.discharged_on",
            course.discharged_on.isoformat(),
            f"a date on or after the last dose ({course.last_dose_on.isoformat()})",
        )
    if today < course.last_dose_on:
        raise _refuse(
            "today",
            today.isoformat(),
            f"a date on or after the last dose of course {course.number} "
            f"({course.last_dose_on.isoformat()})",
        )


def check_courses(courses: Sequence[Course], *, regimen: Regimen, today: date) -> None:
    """Refuse impossible courses: bad numbering, counts beyond the regimen, dates in disorder."""
    if not courses:
        raise _refuse("courses", [], "a list of at least one course")
    seen: set[int] = set()
    for index, course in enumerate(courses):
        _check_course(index, course, regimen, today)
        if course.number in seen:
            raise _refuse(f"courses[{index}].number", course.number, "a number not used before")
        seen.add(course.number)
    by_number = sorted(range(len(courses)), key=lambda i: courses[i].number)
    for expected, index in enumerate(by_number, start=1):
        if courses[index].number != expected:
            raise _refuse(
                f"courses[{index}].number",
                courses[index].number,
                f"courses numbered 1 to {len(courses)} without a gap "
                f"(course {expected} is missing)",
            )
        if expected > 1:
            before = courses[by_number[expected - 2]]
            if courses[index].last_dose_on <= before.discharged_on:
                raise _refuse(
                    f"courses[{index}].last_dose_on",
                    courses[index].last_dose_on.isoformat(),
                    f"a date after course {before.number}'s discharge "
                    f"({before.discharged_on.isoformat()})",
                )


def check_response(response: ResponseSummary | None, *, table: PathwayTable, today: date) -> None:
    """Refuse a response the table does not know, a scan after today or a change below -100%."""
    if response is None:
        return
    if response.overall not in table.categories:
        raise _refuse(
            "response.overall",
            response.overall,
            "one of " + ", ".join(repr(c) for c in table.categories),
        )
    if response.assessed_on > today:
        raise _refuse(
            "response.assessed_on",
            response.assessed_on.isoformat(),
            f"a date on or before today ({today.isoformat()})",
        )
    change = response.change_from_baseline_pct
    if change is not None and change < -100:
        raise _refuse(
            "response.change_from_baseline_pct",
            plain(change),
            "a change of at least -100% (a tumor cannot shrink by more than all of it)",
        )


# ---------------------------------------------------------------- the rules


def _weeks_source(
    rule_source: str, regimen: Regimen, field: str, sources: Mapping[str, str]
) -> str:
    return f"{rule_source}; {field} from regimen {regimen.id}: {sources.get(field, regimen.source)}"


def _scan_due(
    latest: Course,
    response: ResponseSummary | None,
    regimen: Regimen,
    table: PathwayTable,
    sources: Mapping[str, str],
) -> tuple[PathwayReason, date | None]:
    rule = table.response_scan
    if response is None:
        finding = f"no response scan since course {latest.number} (last dose {latest.last_dose_on})"
    else:
        finding = (
            f"latest scan {response.assessed_on} is not after course {latest.number}'s last dose "
            f"({latest.last_dose_on})"
        )
    weeks = regimen.response_assessment_weeks_after_course
    if weeks is None:
        threshold = f"a scan after every course (regimen {regimen.id} sets no interval)"
        reason = PathwayReason(rule.id, finding, threshold, rule.source, rule.outcome)
        return reason, None
    due = latest.last_dose_on + timedelta(weeks=weeks)
    threshold = f"due {weeks} weeks after the last dose: {due}"
    source = _weeks_source(rule.source, regimen, "response_assessment_weeks_after_course", sources)
    return PathwayReason(rule.id, finding, threshold, source, rule.outcome), due


def _response_words(response: ResponseSummary) -> str:
    change = response.change_from_baseline_pct
    shown = "" if change is None else f", change from baseline {plain(change)}%"
    return f"{response.overall} on {response.assessed_on}{shown}"


def _shrinkage(response: ResponseSummary, table: PathwayTable) -> bool | None:
    """Whether the scan shows some shrinkage; None when it cannot tell."""
    rule = table.shrinkage
    if response.overall in rule.never:
        return False
    change = response.change_from_baseline_pct
    if change is None:
        return True if response.overall in rule.by_category else None
    return rule.comparison.holds(change, rule.limit_pct)


def _shrinkage_threshold(table: PathwayTable) -> str:
    rule = table.shrinkage
    return (
        f"some tumor shrinkage: change from baseline {rule.comparison.words} "
        f"{plain(rule.limit_pct)}%"
        + (f", or {', '.join(sorted(rule.by_category))}" if rule.by_category else "")
        + (f"; never {', '.join(sorted(rule.never))}" if rule.never else "")
    )


def _response_reasons(
    response: ResponseSummary, table: PathwayTable
) -> tuple[list[PathwayReason], list[str], PathwayReason | None]:
    """Blocking reasons, missing fields and (when shrinkage is shown) the supporting reason."""
    words = _response_words(response)
    if response.overall in table.progression_categories:
        rule = table.progression
        threshold = "no " + ", ".join(sorted(table.progression_categories))
        return [PathwayReason(rule.id, words, threshold, rule.source, rule.outcome)], [], None
    shrinkage = _shrinkage(response, table)
    threshold = _shrinkage_threshold(table)
    rule = table.no_shrinkage
    if shrinkage is None:
        field = "response.change_from_baseline_pct"
        incomplete = table.incomplete
        reason = PathwayReason(
            incomplete.id,
            f"{words}: shrinkage cannot be judged, {field} not given",
            threshold,
            f"{rule.source}; {incomplete.source}",
            incomplete.outcome,
        )
        return [reason], [field], None
    if not shrinkage:
        return [PathwayReason(rule.id, words, threshold, rule.source, rule.outcome)], [], None
    support = PathwayReason(rule.id, words, threshold, rule.source, Next.ANOTHER_COURSE)
    return [], [], support


def _retreatment_reasons(
    decision: RetreatmentDecision, table: PathwayTable
) -> tuple[list[PathwayReason], list[str]]:
    rule = table.retreatment
    if decision.verdict is Retreatment.FORBIDDEN:
        return [
            PathwayReason(
                rule.id,
                r.finding,
                r.threshold,
                f"{rule.source}; {r.item}: {r.source}",
                rule.outcome,
            )
            for r in decision.reasons
        ], []
    if decision.verdict is Retreatment.INCOMPLETE:
        missing = [f"history.{name}" for name in decision.not_evaluated]
        incomplete = table.incomplete
        reason = PathwayReason(
            incomplete.id,
            f"retreatment cannot be judged: {', '.join(missing)} not given",
            "every item of the no-retreatment list checked",
            f"{rule.source}; {incomplete.source}",
            incomplete.outcome,
        )
        return [reason], missing
    return [], []


def _course_reasons(
    regimen: Regimen, total: int, limit: CycleLimit, table: PathwayTable
) -> PathwayReason:
    """Whether the regimen and the site's cycle limit leave room for another course."""
    if regimen.rest_between_courses_weeks is None:
        rule = table.further_courses
        return PathwayReason(
            rule.id,
            f"regimen {regimen.id} sets no rest between courses",
            "a further course needs a regimen whose courses repeat",
            rule.source,
            rule.outcome,
        )
    rule = table.cycle_limit
    after = total + regimen.cycles_per_course
    return PathwayReason(
        rule.id,
        f"{total} cycles given; another course of {regimen.cycles_per_course} makes {after}",
        f"at most {limit.max_cycles_total} cycles in all",
        f"{rule.source}; {limit.source}",
        rule.outcome if after > limit.max_cycles_total else Next.ANOTHER_COURSE,
    )


def _count(number: int, unit: str) -> str:
    return f"{number} {unit}" if number == 1 else f"{number} {unit}s"


def _since_discharge(days: int) -> str:
    if days < 0:
        return f"{_count(-days, 'day')} before discharge"
    return f"{_count(days // 7, 'week')} {_count(days % 7, 'day')} after discharge"


def _rest_reason(
    latest: Course,
    *,
    weeks: int,
    regimen: Regimen,
    today: date,
    table: PathwayTable,
    sources: Mapping[str, str],
) -> tuple[PathwayReason, date]:
    earliest = latest.discharged_on + timedelta(weeks=weeks)
    finding = (
        f"course {latest.number} discharged {latest.discharged_on}; today {today} is "
        + _since_discharge((today - latest.discharged_on).days)
    )
    rule = table.rest_after_discharge
    source = _weeks_source(rule.source, regimen, "rest_between_courses_weeks", sources)
    threshold = f"not before {earliest}: at least {weeks} weeks after discharge"
    return PathwayReason(rule.id, finding, threshold, source, Next.ANOTHER_COURSE), earliest


def decide_next(
    *,
    regimen: Regimen,
    courses: Sequence[Course],
    response: ResponseSummary | None,
    retreatment: RetreatmentDecision,
    cycle_limit: CycleLimit,
    table: PathwayTable,
    today: date,
    regimen_sources: Mapping[str, str] | None = None,
) -> PathwayDecision:
    """What comes next after the latest of `courses` of `regimen`, as of `today`."""
    check_courses(courses, regimen=regimen, today=today)
    check_response(response, table=table, today=today)
    sources = regimen_sources or {}
    latest = max(courses, key=lambda c: c.number)
    total = sum(c.cycles_given for c in courses)
    blocks, missing = _retreatment_reasons(retreatment, table)
    supports: list[PathwayReason] = []
    scan_due: date | None = None
    scan = response if response and response.assessed_on > latest.last_dose_on else None
    if scan is None:
        reason, scan_due = _scan_due(latest, response, regimen, table, sources)
        blocks.append(reason)
    else:
        found, unknown, support = _response_reasons(scan, table)
        blocks.extend(found)
        missing.extend(unknown)
        supports.extend([support] if support else [])
    room = _course_reasons(regimen, total, cycle_limit, table)
    if room.outcome is Next.ANOTHER_COURSE:
        supports.append(room)
    else:
        blocks.append(room)

    def decision(outcome: Next, earliest: date | None, blocked: date | None,
                 reasons: Sequence[PathwayReason]) -> PathwayDecision:  # fmt: skip
        return PathwayDecision(
            next=outcome,
            earliest_on=earliest,
            blocked_until=blocked,
            reasons=tuple(reasons),
            missing=tuple(missing),
            regimen=regimen.id,
            cycles_given_total=total,
            max_cycles_total=cycle_limit.max_cycles_total,
            rules_version=table.version,
            retreatment_rules_version=retreatment.rules_version,
        )

    weeks = regimen.rest_between_courses_weeks
    if blocks or scan is None or weeks is None:
        outcome = max((r.outcome for r in blocks), key=lambda n: n.strength)
        ordered = sorted(blocks, key=lambda r: -r.outcome.strength)
        return decision(outcome, scan_due if outcome is Next.RESPONSE_SCAN else None, None, ordered)
    rest, earliest = _rest_reason(
        latest, weeks=weeks, regimen=regimen, today=today, table=table, sources=sources
    )
    allowed = table.retreatment
    supports += [
        PathwayReason(
            allowed.id,
            "no item of the no-retreatment list met in the history",
            "none of the no-retreatment list",
            allowed.source,
            Next.ANOTHER_COURSE,
        ),
        rest,
        PathwayReason(
            table.rescan_before_course.id,
            f"latest scan {scan.assessed_on}",
            "scan again just before the next course",
            table.rescan_before_course.source,
            Next.ANOTHER_COURSE,
        ),
    ]
    blocked = earliest if today < earliest else None
    return decision(Next.ANOTHER_COURSE, earliest, blocked, supports)
