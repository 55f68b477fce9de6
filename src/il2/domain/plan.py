"""A course plan: the doses, how to prepare them, the vials, and the calendar of every dose.

Aldesleukin's doses are the numbered slots of each cycle (the ledger records them); each
companion agent's administrations are listed by cycle and day, with its totals in its unit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from il2.domain.body import bsa_m2, check_height_cm, check_lesions
from il2.domain.dosing import (
    check_weight_kg,
    concentration_ug_per_ml,
    diluent_ml,
    dose_amount,
    dose_mg,
    extractable_iu_per_vial,
    in_window_total_ml,
    mg_factor_note,
    reconstituted_ml,
    vials_for_amounts,
    vials_per_dose,
)
from il2.domain.errors import InvalidInputError
from il2.domain.events import Event, anchor_warnings
from il2.domain.quantities import plain, round_to, whole
from il2.domain.regimen import (
    BsaFormula,
    ChosenBy,
    CompanionAgent,
    CycleEndRule,
    Dose,
    DoseBasis,
    DoseUnit,
    DosingWeightBasis,
    MgFactor,
    PlanPolicy,
    Product,
    Regimen,
    Route,
)
from il2.domain.schedule import (
    Calendar,
    PlannedCycle,
    Shortfall,
    plan_calendar,
    plan_step_calendar,
)


@dataclass(frozen=True, slots=True)
class Body:
    """The measures a plan doses by: weight, and height, area and lesions where needed."""

    weight_kg: Decimal
    height_cm: Decimal | None = None
    bsa_m2: Decimal | None = None
    bsa_formula: BsaFormula | None = None
    lesions: int | None = None


@dataclass(frozen=True, slots=True)
class AldesleukinDose:
    """One aldesleukin dose of a step (a regimen without steps has one): amount and vials."""

    step: int
    dose: Dose
    route: Route
    dose_iu: int
    dose_mg: Decimal
    vials: int
    reconstituted_ml: Decimal
    duration_h: Decimal | None


@dataclass(frozen=True, slots=True)
class Administration:
    """A companion agent on one cycle day: how many administrations that day."""

    cycle: int
    day: int
    on: date
    doses: int


@dataclass(frozen=True, slots=True)
class CompanionPlan:
    """A companion agent's planned administrations and amounts (None where no dose is known).

    `amount` is one administration in IU (an IU or MIU agent) or mg; `per_cycle` sums a
    cycle's administrations in the same unit.
    """

    agent: CompanionAgent
    amount: Decimal | None
    unit: str
    administrations: tuple[Administration, ...]
    per_cycle: tuple[Decimal | None, ...]


@dataclass(frozen=True, slots=True)
class CoursePlan:
    """Everything a pharmacist and a coordinator need to prepare one course."""

    regimen: Regimen
    weight_kg: Decimal
    dosing_weight_basis: DosingWeightBasis
    dose_iu: int
    dose_mg: Decimal
    mg_factor_note: str
    reconstituted_ml: Decimal
    diluent: str
    diluent_ml: int | None
    concentration_ug_per_ml: Decimal | None
    concentration_in_window: bool | None
    vials_per_dose: int
    vials_per_cycle: tuple[int, ...]
    vial_extractable_ml: Decimal
    vial_extractable_iu: int
    cycles: tuple[PlannedCycle, ...]
    cycle_end_rule: CycleEndRule | None
    cycle_end_chosen_by: ChosenBy
    shortfall: Shortfall | None
    response_assessment_on: date | None
    earliest_next_course_on: date | None
    warnings: tuple[str, ...]
    body: Body | None = None
    aldesleukin_doses: tuple[AldesleukinDose, ...] = ()
    companions: tuple[CompanionPlan, ...] = ()
    events: tuple[Event, ...] = ()
    preparation_note: str = ""
    preparation_source: str = ""

    @property
    def vials_per_course(self) -> int:
        """Vials for every planned dose of the course."""
        return sum(self.vials_per_cycle)


def _concentration_warning(plan_value: Decimal, mg: Decimal, product: Product) -> str:
    low, high = product.concentration_min_ug_per_ml, product.concentration_max_ug_per_ml
    least_ml, most_ml = in_window_total_ml(dose_mg=mg, min_ug_per_ml=low, max_ug_per_ml=high)
    remedy = product.below_window_remedy if plan_value < low else product.above_window_remedy
    return (
        f"Final concentration {round_to(plan_value, 2)} ug/mL is outside the label's "
        f"{plain(low)}-{plain(high)} ug/mL window, where drug delivery becomes more variable; "
        f"review the preparation with pharmacy. {remedy} For this dose a total volume (drug "
        f"and D5W) of {round_to(least_ml, 1)} to {round_to(most_ml, 1)} mL lies inside the "
        f"window (computed)."
    )


@dataclass(frozen=True, slots=True)
class _CycleEnd:
    calendar: Calendar
    rule: CycleEndRule | None
    chosen_by: ChosenBy


def _calendar(
    regimen: Regimen, first_dose: datetime, chosen: CycleEndRule | None, policy: PlanPolicy
) -> _CycleEnd:
    """The calendar under the plan's own cycle-end choice, else the site's policy."""
    rule: CycleEndRule = policy.cycle_end_rule
    by = ChosenBy.SITE_POLICY
    if chosen is not None and chosen is not CycleEndRule.ASK:
        rule, by = chosen, ChosenBy.PLAN
    calendar = plan_calendar(regimen=regimen, first_dose=first_dose, rule=rule, chosen_by=by)
    if rule is CycleEndRule.ASK:  # not refused: every dose fits, nobody had to choose
        return _CycleEnd(calendar, None, ChosenBy.NOT_NEEDED)
    return _CycleEnd(calendar, rule, by)


def _vials_by_cycle(
    *, doses: tuple[AldesleukinDose, ...], per_vial: int, calendar: Calendar, regimen: Regimen,
    product: Product, policy: PlanPolicy,
) -> tuple[int, ...]:  # fmt: skip
    def span(step: int) -> timedelta:
        duration = doses[step].duration_h
        if duration is not None and regimen.route is Route.CONTINUOUS_INFUSION:
            return timedelta(hours=float(duration))
        return timedelta(minutes=regimen.infusion_min)

    return tuple(
        vials_for_amounts(
            doses=[(d.due_at, d.due_at + span(d.step), doses[d.step].dose_iu) for d in cycle.doses],
            iu_per_vial=per_vial,
            pooling=policy.vial_pooling,
            stability_h=product.stability_h,
        )
        for cycle in calendar.cycles
    )


def _unconfirmed(regimen: Regimen) -> tuple[str, ...]:
    named = [f"agents.{a.agent}.{field}" for a in regimen.agents for field in a.unconfirmed]
    return tuple(dict.fromkeys((*regimen.unconfirmed, *named)))


def _unconfirmed_warning(regimen: Regimen) -> str:
    return (
        f"Regimen {regimen.id}: these values are unconfirmed in il2's clinical reference and "
        f"must be checked against the primary source before use: "
        f"{', '.join(_unconfirmed(regimen))}."
    )


def _next_course_on(
    regimen: Regimen, last_dose: date, first_day: date
) -> tuple[date | None, str | None]:
    if regimen.course_every_weeks is not None:
        earliest = first_day + timedelta(weeks=regimen.course_every_weeks)
        return earliest, (
            f"Regimen {regimen.id} repeats every {regimen.course_every_weeks} weeks: the next "
            f"course starts {earliest.isoformat()}, {regimen.course_every_weeks} weeks after "
            f"this one's first day ({first_day.isoformat()})."
        )
    if regimen.rest_between_courses_weeks is None:
        return None, f"Regimen {regimen.id} defines no further courses."
    earliest = last_dose + timedelta(weeks=regimen.rest_between_courses_weeks)
    return earliest, (
        f"The earliest next course ({earliest.isoformat()}) counts "
        f"{regimen.rest_between_courses_weeks} weeks from the last planned dose day; the label "
        f"counts them from hospital discharge, so recompute it from the actual discharge date."
    )


def _needed(regimen: Regimen, basis: DoseBasis, field: str, value: object, allowed: str) -> None:
    if value is None and regimen.needs(basis):
        raise InvalidInputError(
            field=field,
            value=None,
            allowed=f"{allowed}: regimen {regimen.id} doses "
            f"{'per m² of body surface' if basis is DoseBasis.PER_M2 else 'per lesion'}",
        )


def measure_body(
    regimen: Regimen,
    policy: PlanPolicy,
    *,
    weight_kg: Decimal,
    height_cm: Decimal | None,
    lesions: object,
) -> Body:
    """Check the weight, and the height and lesions the regimen's doses need (or were given)."""
    check_weight_kg(weight_kg, minimum=policy.weight_min_kg, maximum=policy.weight_max_kg)
    height_words = (
        f"a height from {plain(policy.height_min_cm)} to {plain(policy.height_max_cm)} cm"
    )
    _needed(regimen, DoseBasis.PER_M2, "height_cm", height_cm, height_words)
    _needed(regimen, DoseBasis.PER_LESION, "lesions", lesions, "a number of lesions, at least 1")
    area = None
    if height_cm is not None:
        check_height_cm(height_cm, minimum=policy.height_min_cm, maximum=policy.height_max_cm)
        area = bsa_m2(height_cm=height_cm, weight_kg=weight_kg, formula=policy.bsa_formula)
    return Body(
        weight_kg=weight_kg,
        height_cm=height_cm,
        bsa_m2=area,
        bsa_formula=policy.bsa_formula if area is not None else None,
        lesions=check_lesions(lesions, maximum=policy.lesions_max) if lesions is not None else None,
    )


def _aldesleukin_doses(
    regimen: Regimen, body: Body, *, per_vial: int, factor: MgFactor, product: Product
) -> tuple[AldesleukinDose, ...]:
    shapes = [(s.dose, s.duration_h) for s in regimen.steps] or [(regimen.aldesleukin_dose, None)]
    doses = []
    for index, (dose, duration) in enumerate(shapes):
        iu = whole(
            dose_amount(dose, weight_kg=body.weight_kg, bsa_m2=body.bsa_m2, lesions=body.lesions)
        )
        doses.append(
            AldesleukinDose(
                step=index,
                dose=dose,
                route=regimen.route,
                dose_iu=iu,
                dose_mg=dose_mg(dose_iu=iu, factor=factor),
                vials=vials_per_dose(dose_iu=iu, iu_per_vial=per_vial),
                reconstituted_ml=reconstituted_ml(
                    dose_iu=iu, iu_per_ml=product.reconstituted_iu_per_ml
                ),
                duration_h=duration,
            )
        )
    return tuple(doses)


def _companion(
    agent: CompanionAgent, body: Body, cycles: tuple[PlannedCycle, ...]
) -> CompanionPlan:
    amount = None
    unit = DoseUnit.MG.value
    if agent.dose is not None:
        amount = dose_amount(
            agent.dose, weight_kg=body.weight_kg, bsa_m2=body.bsa_m2, lesions=body.lesions
        )
        unit = DoseUnit.IU.value if agent.dose.unit.is_units else DoseUnit.MG.value
    given = tuple(
        Administration(
            cycle=cycle.cycle,
            day=day,
            on=cycle.first_day + timedelta(days=day - 1),
            doses=agent.doses_per_day,
        )
        for cycle in cycles
        for day in agent.days
    )
    per_cycle = tuple(
        None if amount is None else amount * sum(a.doses for a in given if a.cycle == cycle.cycle)
        for cycle in cycles
    )
    return CompanionPlan(
        agent=agent, amount=amount, unit=unit, administrations=given, per_cycle=per_cycle
    )


@dataclass(frozen=True, slots=True)
class _Bag:
    """The IV bolus's D5W bag: volume, concentration, whether inside the label's window."""

    diluent_ml: int | None = None
    concentration: Decimal | None = None
    in_window: bool | None = None


def _bag(first: AldesleukinDose, product: Product) -> _Bag:
    if first.route is not Route.IV_BOLUS:
        return _Bag()
    bag_ml = diluent_ml(dose_iu=first.dose_iu, bands=product.dilution_bands)
    concentration = concentration_ug_per_ml(
        dose_mg=first.dose_mg, total_ml=bag_ml + first.reconstituted_ml
    )
    low, high = product.concentration_min_ug_per_ml, product.concentration_max_ug_per_ml
    return _Bag(bag_ml, concentration, low <= concentration <= high)


def plan_course(
    *,
    regimen: Regimen,
    product: Product,
    policy: PlanPolicy,
    weight_kg: Decimal,
    first_dose: datetime,
    cycle_end_rule: CycleEndRule | None = None,
    height_cm: Decimal | None = None,
    lesions: object = None,
    events: tuple[Event, ...] = (),
) -> CoursePlan:
    """Plan one course of `regimen` for a patient whose dosing weight is `weight_kg`.

    The weight is the dosing weight on the site's basis (`policy.dosing_weight_basis`); it is
    used as given. `cycle_end_rule` is this plan's own choice; without one the site's policy
    holds, and under `ask` a plan whose cycle bounds disagree is refused. A regimen dosed per
    m² needs `height_cm`, one dosed per lesion `lesions`, one anchored to an event the event.
    """
    body = measure_body(regimen, policy, weight_kg=weight_kg, height_cm=height_cm, lesions=lesions)
    per_vial = extractable_iu_per_vial(
        extractable_ml=policy.vial_extractable_ml,
        iu_per_ml=product.reconstituted_iu_per_ml,
        reconstitution_ml=product.reconstitution_ml,
    )
    factor = product.mg_factor(policy.mg_factor)
    doses = _aldesleukin_doses(regimen, body, per_vial=per_vial, factor=factor, product=product)
    first = doses[0]
    bag = _bag(first, product)
    if regimen.steps:
        calendar = plan_step_calendar(regimen=regimen, first_dose=first_dose)
        cycle_end = _CycleEnd(calendar, None, ChosenBy.NOT_NEEDED)
    else:
        cycle_end = _calendar(regimen, first_dose, cycle_end_rule, policy)
        calendar = cycle_end.calendar
    warnings = list(calendar.warnings)
    warnings += anchor_warnings(regimen, events, first_dose)
    if bag.in_window is False and bag.concentration is not None:
        warnings.append(_concentration_warning(bag.concentration, first.dose_mg, product))
    if _unconfirmed(regimen):
        warnings.append(_unconfirmed_warning(regimen))
    last_day = calendar.last_dose_at.date()
    assessment = None
    if regimen.response_assessment_weeks_after_course is not None:
        assessment = last_day + timedelta(weeks=regimen.response_assessment_weeks_after_course)
    next_course, next_note = _next_course_on(regimen, last_day, calendar.cycles[0].first_day)
    if next_note:
        warnings.append(next_note)
    preparation = product.preparation_for(regimen.route)
    return CoursePlan(
        regimen=regimen,
        weight_kg=weight_kg,
        dosing_weight_basis=policy.dosing_weight_basis,
        dose_iu=first.dose_iu,
        dose_mg=first.dose_mg,
        mg_factor_note=mg_factor_note(factor, [f for f in product.mg_factors if f != factor]),
        reconstituted_ml=first.reconstituted_ml,
        diluent=product.diluent if bag.diluent_ml is not None else "",
        diluent_ml=bag.diluent_ml,
        concentration_ug_per_ml=bag.concentration,
        concentration_in_window=bag.in_window,
        vials_per_dose=max(d.vials for d in doses),
        vials_per_cycle=_vials_by_cycle(
            doses=doses,
            per_vial=per_vial,
            calendar=calendar,
            regimen=regimen,
            product=product,
            policy=policy,
        ),
        vial_extractable_ml=policy.vial_extractable_ml,
        vial_extractable_iu=per_vial,
        cycles=calendar.cycles,
        cycle_end_rule=cycle_end.rule,
        cycle_end_chosen_by=cycle_end.chosen_by,
        shortfall=calendar.shortfalls[0] if calendar.shortfalls else None,
        response_assessment_on=assessment,
        earliest_next_course_on=next_course,
        warnings=tuple(warnings),
        body=body,
        aldesleukin_doses=doses,
        companions=tuple(_companion(a, body, calendar.cycles) for a in regimen.agents),
        events=events,
        preparation_note=preparation.note if preparation else "",
        preparation_source=preparation.source if preparation else "",
    )
