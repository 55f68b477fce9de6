"""A course plan: the dose, how to prepare it, the vials, and the calendar of every dose."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from il2.domain.dosing import (
    check_weight_kg,
    concentration_ug_per_ml,
    diluent_ml,
    dose_iu,
    dose_mg,
    extractable_iu_per_vial,
    in_window_total_ml,
    mg_factor_note,
    reconstituted_ml,
    vials_for_doses,
    vials_per_dose,
)
from il2.domain.quantities import plain, round_to
from il2.domain.regimen import (
    ChosenBy,
    CycleEndRule,
    DosingWeightBasis,
    PlanPolicy,
    Product,
    Regimen,
)
from il2.domain.schedule import Calendar, PlannedCycle, Shortfall, plan_calendar


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
    diluent_ml: int
    concentration_ug_per_ml: Decimal
    concentration_in_window: bool
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
    *, dose: int, per_vial: int, calendar: Calendar, regimen: Regimen, product: Product,
    policy: PlanPolicy,
) -> tuple[int, ...]:  # fmt: skip
    return tuple(
        vials_for_doses(
            dose_iu=dose,
            due_at=[planned.due_at for planned in cycle.doses],
            iu_per_vial=per_vial,
            pooling=policy.vial_pooling,
            stability_h=product.stability_h,
            infusion_min=regimen.infusion_min,
        )
        for cycle in calendar.cycles
    )


def _unconfirmed_warning(regimen: Regimen) -> str:
    return (
        f"Regimen {regimen.id}: these values are unconfirmed in il2's clinical reference and "
        f"must be checked against the primary source before use: "
        f"{', '.join(regimen.unconfirmed)}."
    )


def _next_course_on(regimen: Regimen, last_dose: date) -> tuple[date | None, str | None]:
    if regimen.rest_between_courses_weeks is None:
        return None, f"Regimen {regimen.id} defines no further courses."
    earliest = last_dose + timedelta(weeks=regimen.rest_between_courses_weeks)
    return earliest, (
        f"The earliest next course ({earliest.isoformat()}) counts "
        f"{regimen.rest_between_courses_weeks} weeks from the last planned dose day; the label "
        f"counts them from hospital discharge, so recompute it from the actual discharge date."
    )


def plan_course(
    *,
    regimen: Regimen,
    product: Product,
    policy: PlanPolicy,
    weight_kg: Decimal,
    first_dose: datetime,
    cycle_end_rule: CycleEndRule | None = None,
) -> CoursePlan:
    """Plan one course of `regimen` for a patient whose dosing weight is `weight_kg`.

    The weight is the dosing weight on the site's basis (`policy.dosing_weight_basis`); it is
    used as given. `cycle_end_rule` is this plan's own choice; without one the site's policy
    holds, and under `ask` a plan whose cycle bounds disagree is refused.
    """
    check_weight_kg(weight_kg, minimum=policy.weight_min_kg, maximum=policy.weight_max_kg)
    per_vial = extractable_iu_per_vial(
        extractable_ml=policy.vial_extractable_ml,
        iu_per_ml=product.reconstituted_iu_per_ml,
        reconstitution_ml=product.reconstitution_ml,
    )
    iu = dose_iu(weight_kg=weight_kg, iu_per_kg=regimen.dose_iu_per_kg)
    factor = product.mg_factor(policy.mg_factor)
    mg = dose_mg(dose_iu=iu, factor=factor)
    drug_ml = reconstituted_ml(dose_iu=iu, iu_per_ml=product.reconstituted_iu_per_ml)
    bag_ml = diluent_ml(dose_iu=iu, bands=product.dilution_bands)
    concentration = concentration_ug_per_ml(dose_mg=mg, total_ml=bag_ml + drug_ml)
    in_window = (
        product.concentration_min_ug_per_ml <= concentration <= product.concentration_max_ug_per_ml
    )
    cycle_end = _calendar(regimen, first_dose, cycle_end_rule, policy)
    calendar = cycle_end.calendar
    warnings = list(calendar.warnings)
    if not in_window:
        warnings.append(_concentration_warning(concentration, mg, product))
    if regimen.unconfirmed:
        warnings.append(_unconfirmed_warning(regimen))
    last_day = calendar.last_dose_at.date()
    assessment = None
    if regimen.response_assessment_weeks_after_course is not None:
        assessment = last_day + timedelta(weeks=regimen.response_assessment_weeks_after_course)
    next_course, next_note = _next_course_on(regimen, last_day)
    if next_note:
        warnings.append(next_note)
    return CoursePlan(
        regimen=regimen,
        weight_kg=weight_kg,
        dosing_weight_basis=policy.dosing_weight_basis,
        dose_iu=iu,
        dose_mg=mg,
        mg_factor_note=mg_factor_note(factor, [f for f in product.mg_factors if f != factor]),
        reconstituted_ml=drug_ml,
        diluent=product.diluent,
        diluent_ml=bag_ml,
        concentration_ug_per_ml=concentration,
        concentration_in_window=in_window,
        vials_per_dose=vials_per_dose(dose_iu=iu, iu_per_vial=per_vial),
        vials_per_cycle=_vials_by_cycle(
            dose=iu,
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
    )
