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
    mg_factor_note,
    reconstituted_ml,
    vials_for_doses,
    vials_per_dose,
)
from il2.domain.quantities import plain, round_to
from il2.domain.regimen import PlanPolicy, Product, Regimen
from il2.domain.schedule import PlannedCycle, plan_calendar


@dataclass(frozen=True, slots=True)
class CoursePlan:
    """Everything a pharmacist and a coordinator need to prepare one course."""

    regimen: Regimen
    weight_kg: Decimal
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
    cycles: tuple[PlannedCycle, ...]
    response_assessment_on: date | None
    earliest_next_course_on: date | None
    warnings: tuple[str, ...]

    @property
    def vials_per_course(self) -> int:
        """Vials for every planned dose of the course."""
        return sum(self.vials_per_cycle)


def _concentration_warning(plan_value: Decimal, product: Product) -> str:
    return (
        f"Final concentration {round_to(plan_value, 2)} ug/mL is outside the label's "
        f"{plain(product.concentration_min_ug_per_ml)}-{plain(product.concentration_max_ug_per_ml)}"
        f" ug/mL window, where drug delivery becomes more variable; review the preparation "
        f"with pharmacy."
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
) -> CoursePlan:
    """Plan one course of `regimen` for a patient weighing `weight_kg`."""
    check_weight_kg(weight_kg, minimum=policy.weight_min_kg, maximum=policy.weight_max_kg)
    iu = dose_iu(weight_kg=weight_kg, iu_per_kg=regimen.dose_iu_per_kg)
    factor = product.mg_factor(policy.mg_factor)
    mg = dose_mg(dose_iu=iu, factor=factor)
    drug_ml = reconstituted_ml(dose_iu=iu, iu_per_ml=product.reconstituted_iu_per_ml)
    bag_ml = diluent_ml(dose_iu=iu, bands=product.dilution_bands)
    concentration = concentration_ug_per_ml(dose_mg=mg, total_ml=bag_ml + drug_ml)
    in_window = (
        product.concentration_min_ug_per_ml <= concentration <= product.concentration_max_ug_per_ml
    )
    calendar = plan_calendar(regimen=regimen, first_dose=first_dose, rule=policy.cycle_end_rule)
    warnings = list(calendar.warnings)
    if not in_window:
        warnings.append(_concentration_warning(concentration, product))
    if regimen.unconfirmed:
        warnings.append(_unconfirmed_warning(regimen))
    last_day = calendar.last_dose_at.date()
    assessment = None
    if regimen.response_assessment_weeks_after_course is not None:
        assessment = last_day + timedelta(weeks=regimen.response_assessment_weeks_after_course)
    next_course, next_note = _next_course_on(regimen, last_day)
    if next_note:
        warnings.append(next_note)
    vials = tuple(
        vials_for_doses(
            dose_iu=iu,
            due_at=[dose.due_at for dose in cycle.doses],
            vial_iu=product.vial_iu,
            pooling=policy.vial_pooling,
            stability_h=product.stability_h,
            infusion_min=regimen.infusion_min,
        )
        for cycle in calendar.cycles
    )
    return CoursePlan(
        regimen=regimen,
        weight_kg=weight_kg,
        dose_iu=iu,
        dose_mg=mg,
        mg_factor_note=mg_factor_note(factor, [f for f in product.mg_factors if f != factor]),
        reconstituted_ml=drug_ml,
        diluent=product.diluent,
        diluent_ml=bag_ml,
        concentration_ug_per_ml=concentration,
        concentration_in_window=in_window,
        vials_per_dose=vials_per_dose(dose_iu=iu, vial_iu=product.vial_iu),
        vials_per_cycle=vials,
        cycles=calendar.cycles,
        response_assessment_on=assessment,
        earliest_next_course_on=next_course,
        warnings=tuple(warnings),
    )
