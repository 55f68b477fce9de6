"""The calendar of a course: when every dose the regimen allows falls due.

Doses are spaced in elapsed time (every 8 h is 8 real hours, across daylight-saving changes);
later cycles start at the first dose's wall-clock time on their start day. Each cycle lists the
most doses the regimen allows: doses are planned, not promised.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from itertools import pairwise

from il2.domain.errors import InvalidInputError
from il2.domain.regimen import ChosenBy, CycleEndRule, Regimen, Step


@dataclass(frozen=True, slots=True)
class PlannedDose:
    """One dose slot: its number within the cycle, when it is due, and its cycle day."""

    number: int
    due_at: datetime
    day: int
    step: int = 0


@dataclass(frozen=True, slots=True)
class PlannedCycle:
    """One cycle's dose slots."""

    cycle: int
    first_day: date
    doses: tuple[PlannedDose, ...]


@dataclass(frozen=True, slots=True)
class Shortfall:
    """A cycle whose dosing days hold fewer slots than the doses it allows."""

    cycle: int
    start: datetime
    fitted: int
    allowed: int
    days: int
    last_day: int

    @property
    def late(self) -> str:
        """The doses that fall after the dosing days, in words ("dose 14", "doses 13-14")."""
        if self.fitted + 1 == self.allowed:
            return f"dose {self.allowed}"
        return f"doses {self.fitted + 1}-{self.allowed}"


@dataclass(frozen=True, slots=True)
class Calendar:
    """Every cycle of a course, and what the planner should know about it."""

    cycles: tuple[PlannedCycle, ...]
    warnings: tuple[str, ...]
    shortfalls: tuple[Shortfall, ...] = ()

    @property
    def last_dose_at(self) -> datetime:
        """When the course's last planned dose is due."""
        return self.cycles[-1].doses[-1].due_at


def require_aware(moment: datetime, *, field: str) -> datetime:
    """Refuse a date-time that carries no time zone."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidInputError(
            field=field,
            value=moment.isoformat(),
            allowed="a date-time with a UTC offset or a site time zone",
        )
    return moment


def _after(start: datetime, hours: int) -> datetime:
    zone = start.tzinfo
    assert zone is not None  # noqa: S101 - callers pass aware date-times only
    return (start.astimezone(UTC) + timedelta(hours=hours)).astimezone(zone)


def _cycle_day(moment: datetime, first_day: date) -> int:
    return (moment.date() - first_day).days + 1


def _cycle_start(first_dose: datetime, start_day: int) -> datetime:
    zone: tzinfo | None = first_dose.tzinfo
    day = first_dose.date() + timedelta(days=start_day - 1)
    return datetime.combine(day, first_dose.timetz().replace(tzinfo=None), tzinfo=zone)


def _dose_allowance(regimen: Regimen, cycle_index: int) -> int:
    allowed = regimen.max_doses_per_cycle
    if regimen.max_doses_per_course is not None:
        already = cycle_index * regimen.max_doses_per_cycle
        allowed = max(0, min(allowed, regimen.max_doses_per_course - already))
    return allowed


def _day_end(start: datetime, days: int) -> datetime:
    last = start.date() + timedelta(days=days)
    return datetime.combine(last, time(0), tzinfo=start.tzinfo)


def _fix(shortfall: Shortfall, interval_h: int) -> str:
    span_h = (shortfall.allowed - 1) * interval_h
    latest = _day_end(shortfall.start, shortfall.days) - timedelta(hours=span_h)
    if latest.date() == shortfall.start.date():
        return f"a first dose before {latest:%H:%M} fits all {shortfall.allowed}"
    return f"no first-dose time fits all {shortfall.allowed} in days 1-{shortfall.days}"


_BY_WHOM = {
    ChosenBy.PLAN: "chosen for this plan",
    ChosenBy.SITE_POLICY: "the site's standing policy",
    ChosenBy.NOT_NEEDED: "",
}


def _late_start_warning(
    shortfall: Shortfall, *, interval_h: int, rule: CycleEndRule, chosen_by: ChosenBy
) -> str:
    s, fix, by = shortfall, _fix(shortfall, interval_h), _BY_WHOM[chosen_by]
    if rule is CycleEndRule.WHICHEVER_FIRST:
        return (
            f"Cycle {s.cycle}: a first dose at {s.start:%H:%M} leaves room for {s.fitted} of "
            f"{s.allowed} doses within days 1-{s.days}; under the cycle-end rule "
            f"'whichever_first' ({by}) the cycle ends after dose {s.fitted}; {fix}."
        )
    return (
        f"Cycle {s.cycle}: {s.late} {'falls' if s.fitted + 1 == s.allowed else 'fall'} after "
        f"day {s.days} (the regimen says days 1-{s.days}); planned under the cycle-end rule "
        f"'dose_count' ({by}), the last dose on day {s.last_day}; {fix}."
    )


def ask_for_cycle_end(shortfalls: tuple[Shortfall, ...], cycles: int) -> InvalidInputError:
    """The refusal of a plan whose bounds disagree and whose cycle-end rule nobody chose."""
    first = shortfalls[0]
    where = "of each cycle" if len(shortfalls) == cycles else f"of cycle {first.cycle}"
    on_day = (
        f"day {first.last_day}"
        if first.last_day == first.days + 1
        else (f"days {first.days + 1}-{first.last_day}")
    )
    return InvalidInputError(
        field="cycle_end_rule",
        value=None,
        allowed=(
            f"a choice, because a first dose at {first.start:%H:%M} fits {first.fitted} of "
            f"{first.allowed} doses in days 1-{first.days} {where}: choose 'whichever_first' "
            f"(end after dose {first.fitted}, keeping to days 1-{first.days}) or 'dose_count' "
            f"(give {first.late} on {on_day})"
        ),
    )


def _shortfall(regimen: Regimen, cycle: int, slots: list[datetime]) -> Shortfall | None:
    days = regimen.dosing_days_per_cycle
    if days is None:
        return None
    start = slots[0]
    end = _day_end(start, days)
    fitted = sum(1 for moment in slots if moment < end)
    if fitted == len(slots):
        return None
    return Shortfall(
        cycle=cycle,
        start=start,
        fitted=fitted,
        allowed=len(slots),
        days=days,
        last_day=_cycle_day(slots[-1], start.date()),
    )


def plan_calendar(
    *,
    regimen: Regimen,
    first_dose: datetime,
    rule: CycleEndRule,
    chosen_by: ChosenBy = ChosenBy.SITE_POLICY,
) -> Calendar:
    """Lay out every dose slot of one course of `regimen` from an aware first dose.

    Where a cycle's dosing days hold fewer slots than it allows doses, `rule` decides; under
    `ask` such a plan is refused, naming `cycle_end_rule` and the choices. A stepped regimen's
    slots follow its steps (`plan_step_calendar`); its cycles have no such bounds to reconcile.
    """
    if regimen.steps:
        return plan_step_calendar(regimen=regimen, first_dose=first_dose)
    require_aware(first_dose, field="first_dose")
    slots_by_cycle: list[list[datetime]] = []
    for index, start_day in enumerate(regimen.cycle_start_days):
        allowed = _dose_allowance(regimen, index)
        if allowed == 0:
            break
        start = _cycle_start(first_dose, start_day)
        slots_by_cycle.append([_after(start, n * regimen.interval_h) for n in range(allowed)])
    shortfalls = tuple(
        found
        for index, slots in enumerate(slots_by_cycle)
        if (found := _shortfall(regimen, index + 1, slots)) is not None
    )
    if shortfalls and rule is CycleEndRule.ASK:
        raise ask_for_cycle_end(shortfalls, len(slots_by_cycle))
    warnings = tuple(
        _late_start_warning(s, interval_h=regimen.interval_h, rule=rule, chosen_by=chosen_by)
        for s in shortfalls
    )
    cycles = []
    before = timedelta(days=regimen.first_dose_day - 1)
    for index, slots in enumerate(slots_by_cycle):
        short = next((s for s in shortfalls if s.cycle == index + 1), None)
        kept = slots[: short.fitted] if short and rule is CycleEndRule.WHICHEVER_FIRST else slots
        first_day = slots[0].date() - before
        doses = tuple(
            PlannedDose(number=n, due_at=moment, day=_cycle_day(moment, first_day))
            for n, moment in enumerate(kept, start=1)
        )
        cycles.append(PlannedCycle(cycle=index + 1, first_day=first_day, doses=doses))
    return Calendar(cycles=tuple(cycles), warnings=warnings, shortfalls=shortfalls)


def step_offsets_h(steps: tuple[Step, ...]) -> list[tuple[int, int]]:
    """Every aldesleukin slot of one cycle as (hours after day 1 at the first-dose time, step
    index), in time order."""
    return sorted(
        ((day - 1) * 24 + k * (step.every_h or 0), index)
        for index, step in enumerate(steps)
        for day in step.days
        for k in range(step.doses_per_day)
    )


def shortest_gap_h(steps: tuple[Step, ...]) -> int | None:
    """The shortest time between two slot starts of one cycle (None for a single slot)."""
    offsets = [hours for hours, _ in step_offsets_h(steps)]
    gaps = [later - earlier for earlier, later in pairwise(offsets)]
    return min(gaps) if gaps else None


def plan_step_calendar(*, regimen: Regimen, first_dose: datetime) -> Calendar:
    """Lay out every aldesleukin slot of a stepped regimen's course from an aware first dose.

    Within a cycle the slots are spaced in elapsed time from the cycle's first dose (a daily
    dose is 24 real hours after the last); each later cycle starts at the first dose's
    wall-clock time on its start day.
    """
    require_aware(first_dose, field="first_dose")
    offsets = step_offsets_h(regimen.steps)
    first_offset = offsets[0][0]
    before = timedelta(days=regimen.first_dose_day - 1)
    cycles = []
    for index, start_day in enumerate(regimen.cycle_start_days):
        allowed = _dose_allowance(regimen, index)
        if allowed == 0:
            break
        start = _cycle_start(first_dose, start_day)
        first_day = start.date() - before
        doses = tuple(
            PlannedDose(
                number=n,
                due_at=(moment := _after(start, hours - first_offset)),
                day=_cycle_day(moment, first_day),
                step=step,
            )
            for n, (hours, step) in enumerate(offsets[:allowed], start=1)
        )
        cycles.append(PlannedCycle(cycle=index + 1, first_day=first_day, doses=doses))
    return Calendar(cycles=tuple(cycles), warnings=())
