"""What if: a course's own dose ledger, and other schedules, through the mechanistic simulator.

The course is read as the ledger keeps it (services/doses.py): each planned dose slot of the
course's plan, given (at the time the ledger, or an outpatient's diary, says), held, stopped
(the ledger's stop, or an infusion stop that stopped the cycle or discontinued), or not given
(no record). The read is audited as every record read is (`read`, or `read_deidentified` for a
researcher), on the course. Who may ask is the permission `simulation.whatif`; a researcher's
answer names the patient by study number only and carries no date (dose times are hours from
the course's first planned dose), as every de-identified view.

The simulation is il2.science.mechanism.whatif: a model's what-if, never a clinical decision.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from il2.domain.deidentify import study_number
from il2.domain.diary import Taken, current_entries
from il2.domain.errors import InvalidInputError, NotFoundError
from il2.domain.records import Actor, CourseRecord, DoseOutcome, Patient
from il2.services.auditing import audit
from il2.services.context import Services, patient_or_404
from il2.services.diary import self_injected
from il2.services.doses import infusion_stops
from il2.services.patients import _study_patient_id
from il2.services.permissions import read_mode, reads_identified, require
from il2.services.ports import UnitOfWork

if TYPE_CHECKING:
    from il2.science.mechanism.whatif import CourseLedger, WhatIf

ACTION = "simulation.whatif"
_OUTCOME = {
    DoseOutcome.GIVEN: "given",
    DoseOutcome.HELD: "held",
    DoseOutcome.STOPPED: "stopped",
}


def _course(
    courses: Sequence[CourseRecord], number: int | None, course_id: int | None
) -> CourseRecord:
    """The patient's course by number in the program, or by record id (default: the latest)."""
    if not courses:
        raise NotFoundError(kind="course", key="any")
    if course_id is not None:
        found = next((c for c in courses if c.id == course_id), None)
        if found is None:
            raise NotFoundError(kind="course", key=str(course_id))
        return found
    if number is None:
        return max(courses, key=lambda c: c.number)
    found = next((c for c in courses if c.number == number), None)
    if found is None:
        raise InvalidInputError(
            field="course", value=number,
            allowed="a course number of this patient: " + ", ".join(str(c.number) for c in courses),
        )  # fmt: skip
    return found


def _given_at(uow: UnitOfWork, course: CourseRecord) -> dict[tuple[int, int], tuple[str, Any]]:
    """Each recorded slot's outcome and the time a given dose began: the ledger, the diary's
    injections reported taken (outpatient courses) and the infusion stops."""
    found: dict[tuple[int, int], tuple[str, Any]] = {}
    for record in uow.doses.for_course(course.id):
        found[record.cycle, record.dose_number] = (_OUTCOME[record.outcome], record.given_at)
    if self_injected(course):
        for slot, entry in current_entries(uow.diary.for_course(course.id)).items():
            if slot in found:
                continue
            taken = entry.report.status is Taken.TAKEN and entry.report.taken_at is not None
            found[slot] = ("given", entry.report.taken_at) if taken else ("held", None)
    for line in infusion_stops(uow, course.patient_id):
        if line.course_id == course.id:
            outcome, at = found.get((line.cycle, line.dose_number), ("stopped", None))
            found[line.cycle, line.dose_number] = (outcome, at) if outcome == "given" else (
                "stopped", None
            )  # fmt: skip
    return found


def _minutes(at: datetime, first: datetime) -> float:
    return (at - first).total_seconds() / 60.0


def course_ledger(patient: Patient, course: CourseRecord, recorded: Mapping[Any, Any]) -> Any:
    """The course's planned slots with what the ledger says of each (science CourseLedger)."""
    from il2.science.mechanism.whatif import CourseLedger, LedgerDose  # noqa: PLC0415

    first = course.first_dose_at
    doses = []
    for cycle in course.plan.get("cycles", ()):
        for slot in cycle.get("doses", ()):
            key = (int(cycle["cycle"]), int(slot["number"]))
            due = datetime.fromisoformat(str(slot["due_at"]))
            outcome, at = recorded.get(key, ("not_given", None))
            if outcome == "given" and at is None:
                at = due  # a dose given without its time: at its due time
            doses.append(
                LedgerDose(
                    cycle=key[0],
                    number=key[1],
                    due_min=_minutes(due, first),
                    outcome=outcome,
                    dose_iu=float(slot["dose_iu"]),
                    given_min=_minutes(at, first) if outcome == "given" else None,
                )
            )
    ledger: CourseLedger = CourseLedger(
        regimen=course.regimen_id,
        diagnosis=patient.diagnosis,
        weight_kg=float(course.weight_kg),
        doses=tuple(doses),
    )
    return ledger


def read_course_ledger(
    services: Services,
    actor: Actor,
    patient_id: int,
    *,
    course_number: int | None = None,
    course_id: int | None = None,
) -> tuple[Patient, CourseRecord, CourseLedger, bool]:
    """The patient, the course, its ledger as the simulator reads it, and whether the actor
    reads identified records; the read audited on the course."""
    require(services, actor, ACTION)
    identified = read_mode(services, actor) == "identified"
    with services.uow() as uow:
        patient = patient_or_404(uow, patient_id)
        course = _course(uow.courses.for_patient(patient_id), course_number, course_id)
        recorded = _given_at(uow, course)
        audit(
            uow,
            services,
            actor,
            action="read" if identified else "read_deidentified",
            entity="course",
            entity_id=course.id,
            patient_id=patient_id,
        )
        uow.commit()
    return patient, course, course_ledger(patient, course, recorded), identified


def course_whatif(
    services: Services,
    actor: Actor,
    patient_id: int,
    *,
    course_number: int | None = None,
    course_id: int | None = None,
    alternatives: Sequence[str] | None = None,
    twins: int | None = None,
    seed: int | None = None,
) -> tuple[dict[str, Any], WhatIf]:
    """The what-if of a patient's course (default: the latest): the course as recorded, and
    each alternative (default: as planned, and the regimen's full label course), given to the
    same virtual twins. Answers the JSON document and the science result (for figures)."""
    from il2.science.mechanism import whatif  # noqa: PLC0415 - numpy and numba, when asked

    patient, course, ledger, identified = read_course_ledger(
        services, actor, patient_id, course_number=course_number, course_id=course_id
    )
    result = whatif.what_if(
        ledger,
        (whatif.AS_PLANNED, whatif.LABEL) if alternatives is None else tuple(alternatives),
        twins=whatif.DEFAULT_TWINS if twins is None else twins,
        seed=whatif.DEFAULT_SEED if seed is None else seed,
        rules=services.rules,
    )
    who: dict[str, Any] = (
        {"patient_id": patient.id}
        if identified
        else {"study_id": study_number(patient.id, key=services.study_key)}
    )
    document = {**who, "course": course.number, **result.as_json()}
    return document, result


def study_course_whatif(
    services: Services,
    actor: Actor,
    number: str,
    *,
    course_number: int | None = None,
    alternatives: Sequence[str] | None = None,
    twins: int | None = None,
    seed: int | None = None,
) -> tuple[dict[str, Any], WhatIf]:
    """A researcher's what-if of a course, the patient found by study number (staff, who read
    /patients/{id}, are answered NotFoundError as for every study-number address)."""
    if reads_identified(services, actor):
        raise NotFoundError(kind="study number", key=number[:40])
    require(services, actor, ACTION)
    return course_whatif(
        services, actor, _study_patient_id(services, number), course_number=course_number,
        alternatives=alternatives, twins=twins, seed=seed,
    )  # fmt: skip
