"""Plan a course: find the regimen, read the patient's weight and first dose, lay out the plan."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from il2.domain.errors import InvalidInputError, NotFoundError
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
) -> CoursePlan:
    """Plan one course of `regimen_id` for a patient of `weight_kg` from `first_dose`.

    `cycle_end_rule` is the plan's own choice for a cycle whose dosing days cannot hold every
    dose; without it the site policy holds (by default: refuse and ask for the choice).
    """
    regimen = find_regimen(rules, regimen_id)
    return plan_course(
        regimen=regimen,
        product=rules.product,
        policy=rules.plan_policy,
        weight_kg=read_weight_kg(rules, weight_kg),
        first_dose=read_first_dose(rules, first_dose),
        cycle_end_rule=read_cycle_end_rule(cycle_end_rule),
    )
