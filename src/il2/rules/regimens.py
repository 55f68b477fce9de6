"""Build regimens from regimens.toml (and a site's [regimens] tables) into domain values.

A regimen gives its aldesleukin either as an interval schedule (`dose_iu_per_kg` every
`interval_h` hours, at most `max_doses_per_cycle` a cycle) or as `[[regimens.<id>.steps]]`
(doses on listed cycle days). What a stepped regimen does not state (its shortest interval,
doses a cycle, first dosing day) is derived from its steps here, once, so every later check
reads one number. Every error names the file and the field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from itertools import pairwise

from il2.domain.regimen import (
    ALDESLEUKIN_ROUTES,
    Anchor,
    CareSetting,
    CompanionAgent,
    Dose,
    DoseBasis,
    DoseUnit,
    Regimen,
    Route,
    Step,
)
from il2.domain.schedule import shortest_gap_h, step_offsets_h
from il2.rules.reader import Node

_COMMON = (
    "name", "route", "setting", "cycles_per_course", "cycle_start_days",
    "response_assessment_weeks_after_course", "rest_between_courses_weeks",
    "course_every_weeks", "cycle_length_days", "max_cycles_total", "indications", "source",
    "version", "unconfirmed", "notes", "sources", "agents", "anchor",
)  # fmt: skip
_INTERVAL = (
    "dose_iu_per_kg", "interval_h", "interval_max_h", "infusion_min", "max_doses_per_cycle",
    "dosing_days_per_cycle", "max_doses_per_course", "first_dose_day",
)  # fmt: skip
_STEPPED = ("steps",)
REGIMEN_FIELDS = _COMMON + _INTERVAL + _STEPPED
_STEP_FIELDS = ("days", "doses_per_day", "every_h", "dose", "unit", "basis", "duration_h", "source")
_AGENT_FIELDS = (
    "agent", "route", "dose", "unit", "basis", "days", "doses_per_day", "duration_h", "source",
    "unconfirmed", "notes",
)  # fmt: skip
_RANGE = re.compile(r"^\s*(\d+)\s*-\s*(\d+)\s*$")
_DAY_H = 24


def _days(node: Node, key: str, *, allow_empty: bool = False) -> tuple[int, ...]:
    """Cycle days as a list of whole numbers and "first-last" ranges, rising, from day 1."""
    raw = node.raw(key)
    problem = 'must be a list of cycle days (1, 2, ...) and ranges ("8-12"), rising'
    if not isinstance(raw, list) or (not raw and not allow_empty):
        raise node.fail(key, f"{problem}, not {raw!r}")
    days: list[int] = []
    for item in raw:
        if type(item) is int:
            days.append(item)
        elif isinstance(item, str) and (found := _RANGE.match(item)):
            first, last = int(found.group(1)), int(found.group(2))
            if last < first:
                raise node.fail(key, f"{problem}: {item!r} ends before it starts")
            days.extend(range(first, last + 1))
        else:
            raise node.fail(key, f"{problem}, not {item!r}")
    if any(day < 1 for day in days) or days != sorted(set(days)):
        raise node.fail(key, f"{problem}, each day once, not {raw!r}")
    return tuple(days)


def _dose(node: Node, *, units: tuple[DoseUnit, ...]) -> Dose:
    amount = node.number("dose")
    if amount <= 0:
        raise node.fail("dose", f"must be above 0, not {amount}")
    unit = DoseUnit(node.choice("unit", tuple(u.value for u in units)))
    basis = DoseBasis(node.choice("basis", tuple(b.value for b in DoseBasis)))
    return Dose(amount=amount, unit=unit, basis=basis)


def _duration_h(node: Node, route: Route) -> Decimal | None:
    duration = node.optional_number("duration_h")
    if route is Route.CONTINUOUS_INFUSION and duration is None:
        raise node.fail("duration_h", "is required for a continuous infusion (hours)")
    if duration is not None and not Decimal(0) < duration <= _DAY_H:
        raise node.fail("duration_h", f"must be above 0 and at most 24 h a day, not {duration}")
    return duration


def _step(node: Node, route: Route) -> Step:
    node.only(*_STEP_FIELDS)
    per_day = node.integer("doses_per_day", minimum=1)
    every = node.optional_integer("every_h", minimum=1)
    if per_day > 1 and (every is None or per_day * every > _DAY_H):
        raise node.fail("every_h", f"{per_day} doses a day need every_h, with them all in 24 h")
    duration = _duration_h(node, route)
    if route is Route.CONTINUOUS_INFUSION and per_day != 1:
        raise node.fail("doses_per_day", "a continuous infusion is one bag a day (1)")
    return Step(
        days=_days(node, "days"),
        doses_per_day=per_day,
        every_h=every if per_day > 1 else None,
        dose=_dose(node, units=(DoseUnit.IU, DoseUnit.MIU)),
        duration_h=duration,
        source=node.text("source"),
    )


def _agent(node: Node) -> CompanionAgent:
    node.only(*_AGENT_FIELDS)
    route = Route(node.choice("route", tuple(r.value for r in Route)))
    days = _days(node, "days", allow_empty=True)
    unconfirmed = node.texts("unconfirmed", default=())
    if not days and "days" not in unconfirmed:
        raise node.fail("days", "may be empty only when 'days' is listed in unconfirmed")
    if not node.has("dose") and "dose" not in unconfirmed:
        raise node.fail("dose", "may be left out only when 'dose' is listed in unconfirmed")
    return CompanionAgent(
        agent=node.text("agent"),
        route=route,
        dose=_dose(node, units=tuple(DoseUnit)) if node.has("dose") else None,
        days=days,
        doses_per_day=node.integer("doses_per_day", minimum=1) if node.has("doses_per_day") else 1,
        source=node.text("source"),
        duration_h=_duration_h(node, route),
        unconfirmed=unconfirmed,
        notes=node.text("notes", default=""),
    )


def _anchor(node: Node) -> Anchor:
    node.only("event", "days_after", "hours_after", "required", "source")
    if node.has("days_after") == node.has("hours_after"):
        raise node.fail("days_after", "give either days_after or hours_after = [least, most]")
    if node.has("days_after"):
        low = high = node.integer("days_after", minimum=0) * _DAY_H
    else:
        hours = node.integers("hours_after", minimum=0)
        if len(hours) != 2 or hours[0] > hours[1]:
            raise node.fail("hours_after", "must be [least, most] hours, least first")
        low, high = hours
    return Anchor(
        event=node.text("event"),
        min_h=low,
        max_h=high,
        required=node.flag("required", default=True),
        source=node.text("source"),
    )


def _starts(node: Node) -> tuple[int, ...]:
    starts = node.integers("cycle_start_days", minimum=1)
    if list(starts) != sorted(set(starts)) or starts[0] != 1:
        raise node.fail("cycle_start_days", f"must start at 1 and increase, not {list(starts)}")
    if len(starts) != node.integer("cycles_per_course", minimum=1):
        raise node.fail("cycles_per_course", "must equal the number of cycle_start_days")
    return starts


def _check_sources(node: Node) -> None:
    if node.has("sources"):
        for key in node.table("sources").data:
            if key not in REGIMEN_FIELDS:
                raise node.table("sources").fail(key, "names no regimen field")


@dataclass(frozen=True, slots=True)
class _Schedule:
    """Aldesleukin's schedule as a Regimen holds it: stated (interval) or derived (steps)."""

    dose: Dose
    dose_iu_per_kg: int | None
    interval_h: int
    interval_max_h: int | None
    infusion_min: int
    max_doses_per_cycle: int
    dosing_days_per_cycle: int | None
    max_doses_per_course: int | None
    first_dose_day: int
    steps: tuple[Step, ...] = ()


def _stepped(node: Node, starts: tuple[int, ...], route: Route) -> _Schedule:
    """What a stepped regimen's schedule gives: its steps and the numbers derived from them."""
    for key in _INTERVAL:
        if node.has(key):
            raise node.fail(key, "is for an interval schedule; a regimen with steps derives it")
    steps = tuple(_step(item, route) for item in node.tables("steps"))
    days = [day for step in steps for day in step.days]
    if len(days) != len(set(days)):
        raise node.fail("steps", "two steps give aldesleukin on the same cycle day")
    offsets = [hours for hours, _ in step_offsets_h(steps)]
    gap = shortest_gap_h(steps) or _DAY_H
    span = offsets[-1] - offsets[0]
    for index, (start, following) in enumerate(pairwise(starts)):
        # one hour of slack: later cycles start at the wall-clock time, across a clock change
        if (following - start) * _DAY_H - span - 1 < gap:
            raise node.fail(
                "cycle_start_days", f"cycle {index + 2} starts before cycle {index + 1} has ended"
            )
    per_cycle = len(offsets)
    duration = steps[0].duration_h
    return _Schedule(
        dose=steps[0].dose,
        dose_iu_per_kg=None,
        interval_h=gap,
        interval_max_h=None,
        infusion_min=int(duration * 60) if duration is not None else 0,
        max_doses_per_cycle=per_cycle,
        dosing_days_per_cycle=None,
        max_doses_per_course=per_cycle * len(starts),
        first_dose_day=min(days),
        steps=steps,
    )


def _interval(node: Node, route: Route) -> _Schedule:
    """What an interval (high-dose bolus) regimen's schedule gives, as the file states it."""
    if route is not Route.IV_BOLUS:
        raise node.fail("route", "an interval schedule is an IV bolus's; give steps for another")
    interval = node.integer("interval_h", minimum=1)
    per_kg = node.integer("dose_iu_per_kg", minimum=1)
    return _Schedule(
        dose=Dose(Decimal(per_kg), DoseUnit.IU, DoseBasis.PER_KG),
        dose_iu_per_kg=per_kg,
        interval_h=interval,
        interval_max_h=node.optional_integer("interval_max_h", minimum=interval),
        infusion_min=node.integer("infusion_min", minimum=1),
        max_doses_per_cycle=node.integer("max_doses_per_cycle", minimum=1),
        dosing_days_per_cycle=node.optional_integer("dosing_days_per_cycle", minimum=1),
        max_doses_per_course=node.optional_integer("max_doses_per_course", minimum=1),
        first_dose_day=node.optional_integer("first_dose_day", minimum=1) or 1,
    )


def _check_cycle_length(node: Node, agents: tuple[CompanionAgent, ...]) -> None:
    length = node.optional_integer("cycle_length_days", minimum=1)
    steps = [_days(item, "days") for item in node.tables("steps")] if node.has("steps") else []
    last = max([*(d for a in agents for d in a.days), *(d for s in steps for d in s)], default=0)
    if length is not None and last > length:
        raise node.fail("cycle_length_days", f"day {last} is given, past the cycle's end")


def regimen(regimen_id: str, node: Node) -> Regimen:
    """One `[regimens.<id>]` table as a Regimen."""
    node.only(*REGIMEN_FIELDS)
    _check_sources(node)
    starts = _starts(node)
    stepped = node.has("steps")
    if not stepped and not node.has("route"):
        route = Route.IV_BOLUS  # the interval schedule of the high-dose bolus regimens
    else:
        route = Route(node.choice("route", tuple(r.value for r in Route)))
    if route not in ALDESLEUKIN_ROUTES:
        raise node.fail("route", f"{route.value!r} is a companion agent's route, not aldesleukin's")
    schedule = _stepped(node, starts, route) if stepped else _interval(node, route)
    agents = tuple(_agent(item) for item in node.tables("agents")) if node.has("agents") else ()
    _check_cycle_length(node, agents)
    return Regimen(
        id=regimen_id,
        name=node.text("name"),
        cycles_per_course=len(starts),
        cycle_start_days=starts,
        response_assessment_weeks_after_course=node.optional_integer(
            "response_assessment_weeks_after_course", minimum=1
        ),
        rest_between_courses_weeks=node.optional_integer("rest_between_courses_weeks", minimum=1),
        indications=node.texts("indications"),
        source=node.text("source"),
        version=node.text("version"),
        unconfirmed=node.texts("unconfirmed", default=()),
        notes=node.text("notes", default=""),
        route=route,
        setting=CareSetting(
            node.choice("setting", tuple(s.value for s in CareSetting))
            if node.has("setting") or stepped
            else CareSetting.INPATIENT.value
        ),
        agents=agents,
        anchor=_anchor(node.table("anchor")) if node.has("anchor") else None,
        course_every_weeks=node.optional_integer("course_every_weeks", minimum=1),
        cycle_length_days=node.optional_integer("cycle_length_days", minimum=1),
        max_cycles_total=node.optional_integer("max_cycles_total", minimum=1),
        dose=schedule.dose,
        dose_iu_per_kg=schedule.dose_iu_per_kg,
        interval_h=schedule.interval_h,
        interval_max_h=schedule.interval_max_h,
        infusion_min=schedule.infusion_min,
        max_doses_per_cycle=schedule.max_doses_per_cycle,
        dosing_days_per_cycle=schedule.dosing_days_per_cycle,
        max_doses_per_course=schedule.max_doses_per_course,
        first_dose_day=schedule.first_dose_day,
        steps=schedule.steps,
    )


def regimen_sources(node: Node) -> dict[str, str]:
    """A regimen's per-field sources (`[regimens.<id>.sources]`)."""
    if not node.has("sources"):
        return {}
    sources = node.table("sources")
    return {key: sources.text(key) for key in sources.data}


def before_dose_routes(node: Node) -> tuple[tuple[str, ...], str]:
    """The aldesleukin routes whose before-dose checks il2 has, and why (`[before_dose]`)."""
    table = node.table("before_dose")
    table.only("routes", "source")
    routes = table.texts("routes")
    for route in routes:
        if route not in {r.value for r in Route}:
            raise table.fail("routes", f"{route!r} is not a route ({', '.join(Route)})")
    return routes, table.text("source")
