"""Plan a course: find the regimen, read the patient's weight and first dose, lay out the plan."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, time
from decimal import Decimal

from il2.domain.errors import InvalidInputError, NotFoundError
from il2.domain.events import Event
from il2.domain.limits import checked_moment
from il2.domain.plan import CoursePlan, plan_course
from il2.domain.quantities import exact, plain
from il2.domain.regimen import CycleEndRule, Regimen
from il2.rules.loader import RuleSet


def find_regimen(rules: RuleSet, regimen_id: str) -> Regimen:
    """The regimen with this id, or a NotFoundError listing the known ones."""
    try:
        return rules.regimens[regimen_id]
    except KeyError:
        raise NotFoundError(kind="regimen", key=regimen_id, known=tuple(rules.regimens)) from None


def read_first_dose(rules: RuleSet, value: str | datetime) -> datetime:
    """An ISO 8601 date-time; one without an offset is read in the site's time zone."""
    if isinstance(value, str):
        allowed = "an ISO 8601 date-time with a time of day, such as 2026-12-07T08:00:00-08:00"
        if len(value.strip()) <= len("2026-12-07"):
            raise InvalidInputError(field="first_dose", value=value, allowed=allowed)
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise InvalidInputError(field="first_dose", value=value, allowed=allowed) from None
    else:
        moment = value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=rules.site.time_zone)
    return checked_moment(moment, "first_dose")


def read_weight_kg(rules: RuleSet, value: object) -> Decimal:
    """A body weight in kg as an exact decimal (its range is the plan's to check)."""
    policy = rules.plan_policy
    try:
        return exact(value, field="weight_kg")
    except InvalidInputError:
        allowed = (
            f"a body weight from {plain(policy.weight_min_kg)} to {plain(policy.weight_max_kg)} kg"
        )
        raise InvalidInputError(field="weight_kg", value=value, allowed=allowed) from None


def read_height_cm(rules: RuleSet, value: object) -> Decimal | None:
    """A height in cm as an exact decimal, or None when not given (its range is the plan's)."""
    if value is None or value == "":
        return None
    policy = rules.plan_policy
    try:
        return exact(value, field="height_cm")
    except InvalidInputError:
        allowed = f"a height from {plain(policy.height_min_cm)} to {plain(policy.height_max_cm)} cm"
        raise InvalidInputError(field="height_cm", value=value, allowed=allowed) from None


def read_lesions(value: object) -> int | None:
    """A number of lesions (a whole number from 1), or None when not given (its upper guard is
    the plan's to check)."""
    if value is None or value == "":
        return None
    allowed = "a whole number of lesions, at least 1"
    if isinstance(value, str):
        text = value.strip()
        if not text.isdigit():
            raise InvalidInputError(field="lesions", value=value, allowed=allowed)
        value = int(text)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInputError(field="lesions", value=value, allowed=allowed)
    return value


def event_kinds(rules: RuleSet) -> tuple[str, ...]:
    """The outside events some regimen is anchored to."""
    return tuple(
        dict.fromkeys(r.anchor.event for r in rules.regimens.values() if r.anchor is not None)
    )


def _event(rules: RuleSet, item: object, index: int) -> Event:
    field = f"events[{index}]"
    kinds = event_kinds(rules)
    allowed = f'an event {{"kind": one of {", ".join(kinds)}, "on": an ISO 8601 date or date-time}}'
    if not isinstance(item, Mapping) or set(item) != {"kind", "on"}:
        raise InvalidInputError(field=field, value=item, allowed=allowed)
    kind, on = item["kind"], item["on"]
    if kind not in kinds:
        raise InvalidInputError(
            field=f"{field}.kind", value=kind, allowed=f"one of {', '.join(kinds)}"
        )
    if not isinstance(on, str):
        raise InvalidInputError(
            field=f"{field}.on", value=on, allowed="an ISO 8601 date or date-time"
        )
    try:
        if len(on.strip()) <= len("2026-12-07"):
            day = date.fromisoformat(on.strip())
            checked_moment(datetime.combine(day, time(12)), f"{field}.on")
            return Event(kind=kind, on=day)
        moment = datetime.fromisoformat(on.strip())
    except ValueError:
        raise InvalidInputError(
            field=f"{field}.on", value=on, allowed="an ISO 8601 date (2026-12-04) or date-time"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=rules.site.time_zone)
    checked_moment(moment, f"{field}.on")
    return Event(kind=kind, on=moment.date(), at=moment)


def read_events(rules: RuleSet, value: object) -> tuple[Event, ...]:
    """The plan's outside events: a list of {"kind", "on"}; None or nothing means none."""
    if value is None or value == "":
        return ()
    if not isinstance(value, Sequence) or isinstance(value, str):
        raise InvalidInputError(
            field="events", value=value, allowed='a list of {"kind": ..., "on": ...} events'
        )
    return tuple(_event(rules, item, index) for index, item in enumerate(value))


CYCLE_END_CHOICES = (CycleEndRule.WHICHEVER_FIRST, CycleEndRule.DOSE_COUNT)


def read_cycle_end_rule(value: object) -> CycleEndRule | None:
    """A plan's own cycle-end choice; None (or an empty text) leaves it to the site policy."""
    if value is None or value == "":
        return None
    for rule in CYCLE_END_CHOICES:
        if value == rule.value:
            return rule
    raise InvalidInputError(
        field="cycle_end_rule",
        value=value,
        allowed="'whichever_first' (end the cycle at its last day or dose, whichever comes "
        "first) or 'dose_count' (give every dose, past the last day if need be), or nothing "
        "to follow the site policy",
    )


def plan(
    rules: RuleSet,
    *,
    regimen_id: str,
    weight_kg: object,
    first_dose: str | datetime,
    cycle_end_rule: object = None,
    height_cm: object = None,
    lesions: object = None,
    events: object = None,
) -> CoursePlan:
    """Plan one course of `regimen_id` for a patient of `weight_kg` from `first_dose`.

    `cycle_end_rule` is the plan's own choice for a cycle whose dosing days cannot hold every
    dose; without it the site policy holds (by default: refuse and ask for the choice).
    `height_cm`, `lesions` and `events` are needed by regimens dosed per m², per lesion, or
    anchored to an outside event.
    """
    regimen = find_regimen(rules, regimen_id)
    return plan_course(
        regimen=regimen,
        product=rules.product,
        policy=rules.plan_policy,
        weight_kg=read_weight_kg(rules, weight_kg),
        first_dose=read_first_dose(rules, first_dose),
        cycle_end_rule=read_cycle_end_rule(cycle_end_rule),
        height_cm=read_height_cm(rules, height_cm),
        lesions=read_lesions(lesions),
        events=read_events(rules, events),
    )
