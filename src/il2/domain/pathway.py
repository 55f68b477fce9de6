"""After a course: another course, a response scan, follow-up, or stop, with the rules that fired.

Another course needs every condition at once: a response scan after the latest course that
meets the regimen's condition and shows no progression, retreatment not forbidden by the earlier
toxicities, room under the cycle limit (the site's, or the regimen's own `max_cycles_total`
where that is stricter), and a regimen that has further courses (one that sets a rest between
courses or a course spacing, `course_every_weeks`). The
label's condition is "some tumor shrinkage following the last course": the RECIST target sum
must have fallen by at least the site's minimum since the scan taken just before the latest
course started (for course 1, the baseline), or the response must be CR. Each condition that
fails is a reason with its own outcome, and the strongest outcome wins:
stop > response_scan > follow_up > incomplete > another_course. An item that cannot be checked
(a missing history field, a missing change since the pre-course scan) never yields another
course. The rest after discharge and the regimen's course spacing (counted from the latest
course's first dose day) never block another course: they set the date it may start ("not
before"), the later of the two where a regimen sets both. `today` comes in as an argument; the
engine reads no clock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum

from il2.domain.errors import InvalidInputError
from il2.domain.quantities import plain
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
    """One course as given: what was received, when it started and when the patient went home.

    `first_dose_on` is needed only for a regimen whose courses repeat every `course_every_weeks`
    from the first dose day (None when not given).
    """

    number: int
    cycles_given: int
    doses_given: int
    last_dose_on: date
    discharged_on: date
    first_dose_on: date | None = None


@dataclass(frozen=True, slots=True)
class ResponseSummary:
    """The latest response assessment (RECIST overall response at one time point).

    `change_from_pre_course_pct` is the percent change of the RECIST target sum from the scan
    taken just before the latest course started (for course 1, the baseline) to this scan; it is
    what shrinkage is judged on. `change_from_baseline_pct` is shown, never decisive.
    """

    assessed_on: date
    overall: str
    change_from_baseline_pct: Decimal | None = None
    change_from_pre_course_pct: Decimal | None = None


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
class MinShrinkage:
    """The smallest decrease of the target sum that counts as shrinkage, and its source."""

    pct: Decimal
    source: str

    def met_by(self, change_pct: Decimal) -> bool:
        """A decrease of at least `pct` percent; any decrease at all when `pct` is 0."""
        return change_pct < 0 and change_pct <= -self.pct


@dataclass(frozen=True, slots=True)
class Condition:
    """What the response scan must show for another course.

    A category in `by_category` meets it on its own, one in `never` never does; any other needs
    the change since the pre-course scan to meet the minimum shrinkage of the site setting named
    by `policy` (None when the categories alone decide).
    """

    id: str
    outcome: Next
    never: frozenset[str]
    by_category: frozenset[str]
    policy: str | None
    source: str


@dataclass(frozen=True, slots=True)
class PathwayTable:
    """The pathway rules in force (pathway.toml), with the version of the file."""

    categories: tuple[str, ...]
    categories_source: str
    progression_categories: frozenset[str]
    conditions: Mapping[str, Condition]
    default_condition: str
    regimen_conditions: Mapping[str, str]
    response_scan: Block
    progression: Block
    retreatment: Block
    incomplete: Block
    further_courses: Block
    cycle_limit: Block
    cycle_limit_policy: str
    rest_after_discharge: Rule
    rescan_before_course: Rule
    course_spacing: Rule
    version: str

    def condition_for(self, regimen_id: str) -> Condition:
        """The condition the response scan must meet after a course of `regimen_id`."""
        return self.conditions[self.regimen_conditions.get(regimen_id, self.default_condition)]


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
    condition: str = ""
    min_shrinkage_pct: Decimal | None = None
    max_cycles_total_from: str = "site"


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
    if course.first_dose_on is not None and course.first_dose_on > course.last_dose_on:
        raise _refuse(
            f"{where}.first_dose_on",
            course.first_dose_on.isoformat(),
            f"a date on or before the last dose ({course.last_dose_on.isoformat()})",
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
            _check_after(courses[by_number[expected - 2]], courses[index], index)


def _check_after(before: Course, course: Course, index: int) -> None:
    """A course's dates come after the discharge of the course before it."""
    for name in ("first_dose_on", "last_dose_on"):
        day = getattr(course, name)
        if day is not None and day <= before.discharged_on:
            raise _refuse(
                f"courses[{index}].{name}",
                day.isoformat(),
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
    for name in ("change_from_baseline_pct", "change_from_pre_course_pct"):
        change = getattr(response, name)
        if change is not None and change < -100:
            raise _refuse(
                f"response.{name}",
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


def _pre_course_scan(course: int) -> str:
    return f"the scan before course {course}" + (" (the baseline)" if course == 1 else "")


def _response_words(response: ResponseSummary, course: int) -> str:
    shown = []
    if response.change_from_pre_course_pct is not None:
        shown.append(
            f"target sum {_signed(response.change_from_pre_course_pct)}% against "
            + _pre_course_scan(course)
        )
    if response.change_from_baseline_pct is not None:
        shown.append(f"{_signed(response.change_from_baseline_pct)}% against the baseline")
    return f"{response.overall} on {response.assessed_on}" + "".join(f", {s}" for s in shown)


def _signed(pct: Decimal) -> str:
    return plain(pct) if pct <= 0 else f"+{plain(pct)}"


def _condition_threshold(condition: Condition, course: int, minimum: MinShrinkage | None) -> str:
    categories = ", ".join(sorted(condition.by_category))
    never = f"; never {', '.join(sorted(condition.never))}" if condition.never else ""
    if minimum is None:
        return f"a response of {categories}{never}"
    decrease = (
        "any decrease of the RECIST target sum (below 0%)"
        if minimum.pct == 0
        else f"a decrease of at least {plain(minimum.pct)}% of the RECIST target sum "
        f"(a change since that scan of -{plain(minimum.pct)}% or less)"
    )
    return (
        f"some tumor shrinkage since {_pre_course_scan(course)}: {decrease}, "
        f"or a response of {categories}{never}"
    )


def _condition_reasons(
    response: ResponseSummary,
    condition: Condition,
    *,
    course: int,
    minimum: MinShrinkage | None,
    table: PathwayTable,
) -> tuple[list[PathwayReason], list[str], PathwayReason | None]:
    """Blocking reasons, missing fields and (when the condition is met) the supporting reason."""
    words = _response_words(response, course)
    if response.overall in table.progression_categories:
        rule = table.progression
        threshold = "no " + ", ".join(sorted(table.progression_categories))
        return [PathwayReason(rule.id, words, threshold, rule.source, rule.outcome)], [], None
    threshold = _condition_threshold(condition, course, minimum)
    source = condition.source + (f"; {minimum.source}" if minimum else "")

    def reason(outcome: Next) -> PathwayReason:
        return PathwayReason(condition.id, words, threshold, source, outcome)

    if response.overall in condition.never:
        return [reason(condition.outcome)], [], None
    if response.overall in condition.by_category:
        return [], [], reason(Next.ANOTHER_COURSE)
    change = response.change_from_pre_course_pct
    if minimum is None or change is None:
        field = "response.change_from_pre_course_pct"
        incomplete = table.incomplete
        missing = PathwayReason(
            incomplete.id,
            f"{words}: shrinkage cannot be judged, {field} not given; obtain the percent "
            f"change of the RECIST target sum from {_pre_course_scan(course)} to this scan",
            threshold,
            f"{source}; {incomplete.source}",
            incomplete.outcome,
        )
        return [missing], [field], None
    if minimum.met_by(change):
        return [], [], reason(Next.ANOTHER_COURSE)
    return [reason(condition.outcome)], [], None


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
        reasons = []
        if missing:
            reasons.append(
                PathwayReason(
                    incomplete.id,
                    f"retreatment cannot be judged: {', '.join(missing)} not given",
                    "every item of the no-retreatment list checked",
                    f"{rule.source}; {incomplete.source}",
                    incomplete.outcome,
                )
            )
        reasons += [
            PathwayReason(
                incomplete.id,
                f"{r.finding} recorded: {r.asks}",
                f"no-retreatment item {r.item} ruled out",
                f"{rule.source}; {r.item}: {r.source}",
                incomplete.outcome,
            )
            for r in decision.to_review
        ]
        return reasons, missing
    return [], []


@dataclass(frozen=True, slots=True)
class _Cap:
    """The cycle limit in force: the number, which limit it is, its words and its source."""

    most: int
    origin: str
    words: str
    source: str


def _cycle_cap(regimen: Regimen, limit: CycleLimit, sources: Mapping[str, str]) -> _Cap:
    """The stricter of the site's cycle limit and the regimen's own `max_cycles_total`."""
    site = limit.max_cycles_total
    own = regimen.max_cycles_total
    if own is None or own > site:
        return _Cap(site, "site", "the site's limit", limit.source)
    cited = (
        f"max_cycles_total from regimen {regimen.id}: "
        f"{sources.get('max_cycles_total', regimen.source)}"
    )
    if own == site:
        words = f"the site's limit and regimen {regimen.id}'s own"
        return _Cap(own, "site_and_regimen", words, f"{limit.source}; {cited}")
    words = f"regimen {regimen.id}'s own limit, stricter than the site's {site}"
    return _Cap(own, "regimen", words, cited)


def _repeats(regimen: Regimen) -> bool:
    """Whether the regimen has further courses: a rest between them or a course spacing."""
    return regimen.rest_between_courses_weeks is not None or regimen.course_every_weeks is not None


def _course_reasons(regimen: Regimen, total: int, cap: _Cap, table: PathwayTable) -> PathwayReason:
    """Whether the regimen and the cycle limit in force leave room for another course."""
    if not _repeats(regimen):
        rule = table.further_courses
        return PathwayReason(
            rule.id,
            f"regimen {regimen.id} sets no rest between courses and no course spacing",
            "a further course needs a regimen whose courses repeat",
            rule.source,
            rule.outcome,
        )
    rule = table.cycle_limit
    after = total + regimen.cycles_per_course
    return PathwayReason(
        rule.id,
        f"{total} cycles given; another course of {regimen.cycles_per_course} makes {after}",
        f"at most {_count(cap.most, 'cycle')} in all ({cap.words})",
        f"{rule.source}; {cap.source}",
        rule.outcome if after > cap.most else Next.ANOTHER_COURSE,
    )


def _spacing_unknown(latest: Course, where: str, table: PathwayTable) -> PathwayReason:
    """The regimen's spacing counts from a first dose day the document does not give."""
    incomplete = table.incomplete
    return PathwayReason(
        incomplete.id,
        f"course {latest.number}'s first dose day not given ({where}): obtain the day of its "
        "first dose",
        "the next course's earliest day counts from the latest course's first dose day",
        f"{table.course_spacing.source}; {incomplete.source}",
        incomplete.outcome,
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


def _spacing_reason(
    latest: Course,
    *,
    first_day: date,
    weeks: int,
    regimen: Regimen,
    today: date,
    table: PathwayTable,
    sources: Mapping[str, str],
) -> tuple[PathwayReason, date]:
    earliest = first_day + timedelta(weeks=weeks)
    days = (today - first_day).days
    finding = (
        f"course {latest.number}'s first dose {first_day}; today {today} is "
        f"{_count(days // 7, 'week')} {_count(days % 7, 'day')} after it"
    )
    rule = table.course_spacing
    source = _weeks_source(rule.source, regimen, "course_every_weeks", sources)
    threshold = (
        f"not before {earliest}: courses of regimen {regimen.id} repeat every {weeks} weeks "
        "from the first dose day"
    )
    return PathwayReason(rule.id, finding, threshold, source, Next.ANOTHER_COURSE), earliest


def _timing(
    latest: Course,
    *,
    regimen: Regimen,
    today: date,
    table: PathwayTable,
    sources: Mapping[str, str],
) -> tuple[list[PathwayReason], date]:
    """The rest after discharge and the course spacing the regimen sets, and the later date."""
    timed: list[tuple[PathwayReason, date]] = []
    rest = regimen.rest_between_courses_weeks
    if rest is not None:
        timed.append(
            _rest_reason(
                latest, weeks=rest, regimen=regimen, today=today, table=table, sources=sources
            )
        )
    every = regimen.course_every_weeks
    if every is not None and latest.first_dose_on is not None:
        timed.append(
            _spacing_reason(
                latest,
                first_day=latest.first_dose_on,
                weeks=every,
                regimen=regimen,
                today=today,
                table=table,
                sources=sources,
            )
        )
    return [reason for reason, _ in timed], max(day for _, day in timed)


def decide_next(
    *,
    regimen: Regimen,
    courses: Sequence[Course],
    response: ResponseSummary | None,
    retreatment: RetreatmentDecision,
    cycle_limit: CycleLimit,
    min_shrinkage: MinShrinkage | None,
    table: PathwayTable,
    today: date,
    regimen_sources: Mapping[str, str] | None = None,
) -> PathwayDecision:
    """What comes next after the latest of `courses` of `regimen`, as of `today`.

    `min_shrinkage` is the site's minimum for a condition that measures shrinkage (None when the
    regimen's condition does not measure it).
    """
    check_courses(courses, regimen=regimen, today=today)
    check_response(response, table=table, today=today)
    sources = regimen_sources or {}
    condition = table.condition_for(regimen.id)
    if condition.policy is not None and min_shrinkage is None:
        raise ValueError(f"condition {condition.id} needs the site policy {condition.policy}")
    minimum = min_shrinkage if condition.policy is not None else None
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
        found, unknown, support = _condition_reasons(
            scan, condition, course=latest.number, minimum=minimum, table=table
        )
        blocks.extend(found)
        missing.extend(unknown)
        supports.extend([support] if support else [])
    cap = _cycle_cap(regimen, cycle_limit, sources)
    room = _course_reasons(regimen, total, cap, table)
    if room.outcome is Next.ANOTHER_COURSE:
        supports.append(room)
        if regimen.course_every_weeks is not None and latest.first_dose_on is None:
            where = f"courses[{list(courses).index(latest)}].first_dose_on"
            blocks.append(_spacing_unknown(latest, where, table))
            missing.append(where)
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
            max_cycles_total=cap.most,
            rules_version=table.version,
            retreatment_rules_version=retreatment.rules_version,
            condition=condition.id,
            min_shrinkage_pct=minimum.pct if minimum else None,
            max_cycles_total_from=cap.origin,
        )

    if blocks or scan is None:
        outcome = max((r.outcome for r in blocks), key=lambda n: n.strength)
        ordered = sorted(blocks, key=lambda r: -r.outcome.strength)
        return decision(outcome, scan_due if outcome is Next.RESPONSE_SCAN else None, None, ordered)
    timing, earliest = _timing(latest, regimen=regimen, today=today, table=table, sources=sources)
    allowed = table.retreatment
    supports += [
        PathwayReason(
            allowed.id,
            "no item of the no-retreatment list met in the history",
            "none of the no-retreatment list",
            allowed.source,
            Next.ANOTHER_COURSE,
        ),
        *timing,
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
