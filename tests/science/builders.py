"""Builders with safe defaults for the outcome analytics tests: override only what a test needs."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from il2.science.dataset import (
    BestResponse,
    Course,
    Cycle,
    Diagnosis,
    Patient,
    Program,
    Response,
    Toxicity,
)

REFERRED = date(2024, 1, 2)
FIRST_DOSE = date(2024, 2, 1)
AS_OF = date(2025, 6, 30)


def patient(
    patient_id: int = 1,
    *,
    diagnosis: Diagnosis = "melanoma",
    referred_on: date = REFERRED,
    eligible: bool = True,
    treated: bool = True,
    death_on: date | None = None,
    last_contact_on: date = date(2025, 1, 1),
    progression_on: date | None = None,
) -> Patient:
    """A treated melanoma patient, alive at last contact on 1 January 2025."""
    return Patient(patient_id, diagnosis, referred_on, eligible, treated, death_on,
                   last_contact_on, progression_on)  # fmt: skip


def course(
    course_id: int = 10,
    *,
    patient_id: int = 1,
    number: int = 1,
    first_dose_on: date = FIRST_DOSE,
    last_dose_on: date | None = None,
    vials_per_dose: int = 3,
) -> Course:
    """A first hd-label course starting on FIRST_DOSE."""
    return Course(
        patient_id,
        course_id,
        number,
        "hd-label",
        first_dose_on,
        last_dose_on or first_dose_on,
        vials_per_dose,
    )


def cycle(
    course_id: int = 10,
    *,
    number: int = 1,
    doses_given: int = 10,
    doses_held: int = 4,
    admitted_on: date = FIRST_DOSE,
    discharged_on: date = date(2024, 2, 6),
) -> Cycle:
    """A five-night cycle of ten doses."""
    return Cycle(course_id, number, doses_given, doses_held, admitted_on, discharged_on)


def toxicity(
    term: str = "hypotension", grade: int = 2, *, patient_id: int = 1, course_id: int = 10
) -> Toxicity:
    """A grade 2 hypotension in course 10."""
    return Toxicity(patient_id, course_id, term, grade)


def response(
    best: BestResponse = "SD",
    *,
    patient_id: int = 1,
    response_on: date | None = None,
    progression_on: date | None = None,
    best_change_pct: float | None = -10.0,
    timepoints: Sequence[tuple[date, float]] = ((date(2024, 4, 1), -10.0),),
    first_dose_on: date = FIRST_DOSE,
) -> Response:
    """Stable disease at one assessment."""
    return Response(
        patient_id,
        best,
        response_on,
        progression_on,
        best_change_pct,
        tuple(timepoints),
        first_dose_on,
    )


def program(
    *,
    patients: Sequence[Patient] = (),
    courses: Sequence[Course] = (),
    cycles: Sequence[Cycle] = (),
    toxicities: Sequence[Toxicity] = (),
    responses: Sequence[Response] = (),
    as_of: date = AS_OF,
) -> Program:
    """A program holding exactly the given records."""
    return Program(
        tuple(patients), tuple(courses), tuple(cycles), tuple(toxicities), tuple(responses), as_of
    )


def clinic() -> Program:
    """Five melanoma patients: CR, PR, PD, NE, and one referred but not treated.

    Patient 1 had a CR on 2024-04-01, progressed 2024-10-01, is alive at 2025-01-01.
    Patient 2 had a PR on 2024-04-01, died 2024-08-01 without recorded progression.
    Patient 3 progressed on 2024-04-01 and was last seen 2024-06-01.
    Patient 4 is not evaluable, alive at 2025-03-01.
    Patient 5 was never treated.
    """
    return program(
        patients=[
            patient(1),
            patient(2, death_on=date(2024, 8, 1), last_contact_on=date(2024, 7, 20)),
            patient(3, last_contact_on=date(2024, 6, 1)),
            patient(4, last_contact_on=date(2025, 3, 1)),
            patient(5, eligible=False, treated=False),
        ],
        courses=[course(10 + i, patient_id=i) for i in (1, 2, 3, 4)],
        cycles=[cycle(10 + i, doses_given=6 + 2 * i) for i in (1, 2, 3, 4)],
        toxicities=[
            toxicity("hypotension", 3, patient_id=1, course_id=11),
            toxicity("hypotension", 1, patient_id=1, course_id=11),
            toxicity("diarrhea", 1, patient_id=1, course_id=11),
            toxicity("hypotension", 2, patient_id=2, course_id=12),
            toxicity("diarrhea", 4, patient_id=3, course_id=13),
        ],
        responses=[
            response(
                "CR",
                patient_id=1,
                response_on=date(2024, 4, 1),
                progression_on=date(2024, 10, 1),
                best_change_pct=-100.0,
                timepoints=[(date(2024, 4, 1), -100.0), (date(2024, 10, 1), -95.0)],
            ),
            response(
                "PR",
                patient_id=2,
                response_on=date(2024, 4, 1),
                best_change_pct=-45.0,
                timepoints=[(date(2024, 4, 1), -45.0)],
            ),
            response(
                "PD",
                patient_id=3,
                progression_on=date(2024, 4, 1),
                best_change_pct=35.0,
                timepoints=[(date(2024, 4, 1), 35.0)],
            ),
            response("NE", patient_id=4, best_change_pct=None, timepoints=()),
        ],
    )
