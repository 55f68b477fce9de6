"""The calendar of a course: when every dose the regimen allows falls due.

Doses are spaced in elapsed time (every 8 h is 8 real hours, across daylight-saving changes);
later cycles start at the first dose's wall-clock time on their start day. Each cycle lists the
most doses the regimen allows: doses are planned, not promised.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from il2.domain.errors import InvalidInputError
from il2.domain.regimen import CycleEndRule, Regimen


@dataclass(frozen=True, slots=True)
class PlannedDose:
    """One dose slot: its number within the cycle, when it is due, and its cycle day."""

    number: int
    due_at: datetime
    day: int


@dataclass(frozen=True, slots=True)
class PlannedCycle:
    """One cycle's dose slots."""

    cycle: int
    first_day: date
    doses: tuple[PlannedDose, ...]


@dataclass(frozen=True, slots=True)
class Calendar:
    """Every cycle of a course, and what the planner should know about it."""

    cycles: tuple[PlannedCycle, ...]
    warnings: tuple[str, ...]

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


def _late_start_warning(
    *, regimen: Regimen, cycle: int, start: datetime, fitted: int, allowed: int, rule: CycleEndRule
) -> str:
    days = regimen.dosing_days_per_cycle
    span_h = (allowed - 1) * regimen.interval_h
    latest = _day_end(start, days or 0) - timedelta(hours=span_h)
    if latest.date() == start.date():
        fix = f"a first dose before {latest:%H:%M} fits all {allowed}"
    else:
        fix = f"no first-dose time fits all {allowed} in days 1-{days}"
    if rule is CycleEndRule.WHICHEVER_FIRST:
        return (
            f"Cycle {cycle}: a first dose at {start:%H:%M} leaves room for {fitted} of "
            f"{allowed} doses within days 1-{days}; under the site's cycle-end rule "
            f"'whichever_first' (the label's reading) the cycle ends after dose {fitted}; {fix}."
        )
    late = (
        f"dose {allowed} falls" if fitted + 1 == allowed else f"doses {fitted + 1}-{allowed} fall"
    )
    return (
        f"Cycle {cycle}: {late} after day {days} (the label says days 1-{days}); planned under "
        f"the site's cycle-end rule 'dose_count'; {fix}."
    )


def plan_calendar(*, regimen: Regimen, first_dose: datetime, rule: CycleEndRule) -> Calendar:
    """Lay out every dose slot of one course of `regimen` from an aware first dose."""
    require_aware(first_dose, field="first_dose")
    cycles: list[PlannedCycle] = []
    warnings: list[str] = []
    for index, start_day in enumerate(regimen.cycle_start_days):
        allowed = _dose_allowance(regimen, index)
        if allowed == 0:
            break
        start = _cycle_start(first_dose, start_day)
        slots = [_after(start, n * regimen.interval_h) for n in range(allowed)]
        if regimen.dosing_days_per_cycle is not None:
            end = _day_end(start, regimen.dosing_days_per_cycle)
            fitted = sum(1 for moment in slots if moment < end)
            if fitted < allowed:
                warnings.append(
                    _late_start_warning(
                        regimen=regimen,
                        cycle=index + 1,
                        start=start,
                        fitted=fitted,
                        allowed=allowed,
                        rule=rule,
                    )
                )
                if rule is CycleEndRule.WHICHEVER_FIRST:
                    slots = slots[:fitted]
        doses = tuple(
            PlannedDose(number=n, due_at=moment, day=_cycle_day(moment, start.date()))
            for n, moment in enumerate(slots, start=1)
        )
        cycles.append(PlannedCycle(cycle=index + 1, first_day=start.date(), doses=doses))
    return Calendar(cycles=tuple(cycles), warnings=tuple(warnings))
