"""Courses: plan a course and keep it, every dose slot included.

Laying out the plan from the rules is services/planning.py; recording doses against it (the
dose ledger) is services/doses.py.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from il2.domain.admission import route_refusal
from il2.domain.errors import InvalidInputError, RefusedError
from il2.domain.records import Actor, CourseRecord
from il2.services.admission import admit
from il2.services.auditing import audit, refusals_audited, stamp
from il2.services.context import Services, patient_or_404
from il2.services.documents import plan_document
from il2.services.parsing import aware
from il2.services.permissions import require
from il2.services.planning import find_regimen
from il2.services.planning import plan as plan_one


def plan_course(
    services: Services,
    actor: Actor,
    patient_id: int,
    *,
    regimen: str,
    weight_kg: object,
    first_dose: object,
    cycle_end_rule: object = None,
    override_reason: str | None = None,
    height_cm: object = None,
    lesions: object = None,
    events: object = None,
) -> CourseRecord:
    """Plan the patient's next course and keep the plan, every dose slot included.

    A course that must not start is refused with every reason (services/admission.py); a
    physician may plan against relative reasons only, with `override_reason`, which the plan
    keeps. `cycle_end_rule` is the plan's own choice, needed when the first-dose time leaves
    fewer slots in a cycle's days than doses and the site policy asks.
    """
    require(services, actor, "course.plan")
    with refusals_audited(
        services,
        actor,
        action="plan_course",
        entity="patient",
        entity_id=patient_id,
        patient_id=patient_id,
    ):
        fields = course_fields(
            services,
            regimen=regimen,
            weight_kg=weight_kg,
            first_dose=first_dose,
            cycle_end_rule=cycle_end_rule,
            height_cm=height_cm,
            lesions=lesions,
            events=events,
        )
        with services.uow() as uow:
            patient_or_404(uow, patient_id)
            uow.patients.lock(patient_id)
            override = admit(
                services,
                uow,
                actor,
                patient_id,
                regimen=find_regimen(services.rules, regimen),
                first_dose=fields["first_dose_at"],
                override_reason=override_reason,
            )
            if override is not None:
                fields["plan"] = {**fields["plan"], "admission_override": override}
            number = len(uow.courses.for_patient(patient_id)) + 1
            course = uow.courses.add(
                patient_id=patient_id,
                number=number,
                **fields,
                **stamp(services, actor),
            )
            audit(
                uow,
                services,
                actor,
                action="create",
                entity="course",
                entity_id=course.id,
                patient_id=patient_id,
                after=course,
            )
            uow.commit()
    return course


def _first_dose(raw: object, services: Services) -> datetime:
    """The first dose's date and time, refused in words a physician reads (not a format name)."""
    try:
        return aware(raw, "first_dose", services)
    except InvalidInputError:
        raise InvalidInputError(
            field="first_dose",
            value=raw,
            allowed="the date and time of the first dose, such as 2026-12-14 08:00 "
            f"({services.rules.site.time_zone.key} time unless another offset is given)",
        ) from None


def course_fields(
    services: Services,
    *,
    regimen: str,
    weight_kg: object,
    first_dose: object,
    cycle_end_rule: object = None,
    height_cm: object = None,
    lesions: object = None,
    events: object = None,
) -> dict[str, Any]:
    """What planning a course keeps: regimen, weight, first dose and the plan document (which
    keeps the height, lesions and events the plan was made with).

    A regimen whose aldesleukin route has no before-dose checks in il2 is refused here, never
    overridably, whichever path keeps the course.
    """
    unchecked = route_refusal(
        find_regimen(services.rules, regimen), services.rules.before_dose_routes
    )
    if unchecked is not None:
        raise RefusedError([unchecked])
    planned = plan_one(
        services.rules,
        regimen_id=regimen,
        weight_kg=weight_kg,
        first_dose=_first_dose(first_dose, services),
        cycle_end_rule=cycle_end_rule,
        height_cm=height_cm,
        lesions=lesions,
        events=events,
    )
    return {
        "regimen_id": regimen,
        "weight_kg": str(planned.weight_kg),
        "first_dose_at": planned.cycles[0].doses[0].due_at,
        "plan": plan_document(planned, services.rules),
    }
