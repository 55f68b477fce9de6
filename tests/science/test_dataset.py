"""The program's records refuse values that cannot be right, naming the field."""

from __future__ import annotations

from datetime import date

import pytest

from il2.domain.errors import InvalidInputError
from tests.science.builders import course, cycle, patient, program, response, toxicity


def _refused(field: str) -> pytest.RaisesExc[InvalidInputError]:
    return pytest.raises(InvalidInputError, match=field.replace(".", r"\."))


def test_an_unknown_diagnosis_is_refused() -> None:
    with _refused("patient.diagnosis"):
        patient(diagnosis="glioma")  # type: ignore[arg-type]


def test_a_last_contact_before_referral_is_refused() -> None:
    with _refused("patient.last_contact_on"):
        patient(last_contact_on=date(2023, 1, 1))


def test_a_death_before_the_last_contact_is_refused() -> None:
    with _refused("patient.death_on"):
        patient(death_on=date(2024, 6, 1), last_contact_on=date(2024, 7, 1))


def test_a_grade_outside_one_to_five_is_refused() -> None:
    with _refused("toxicity.grade"):
        toxicity(grade=0)


def test_a_discharge_before_admission_is_refused() -> None:
    with _refused("cycle.discharged_on"):
        cycle(admitted_on=date(2024, 2, 6), discharged_on=date(2024, 2, 1))


def test_negative_doses_are_refused() -> None:
    with _refused("cycle.doses_given"):
        cycle(doses_given=-1)


def test_a_course_ending_before_it_starts_is_refused() -> None:
    with _refused("course.last_dose_on"):
        course(last_dose_on=date(2024, 1, 1))


def test_an_unknown_best_response_is_refused() -> None:
    with _refused("response.best_overall_response"):
        response("MR")  # type: ignore[arg-type]


def test_a_response_date_for_stable_disease_is_refused() -> None:
    with _refused("response.response_on"):
        response("SD", response_on=date(2024, 4, 1))


def test_a_progression_before_the_response_is_refused() -> None:
    with _refused("response.progression_on"):
        response("PR", response_on=date(2024, 5, 1), progression_on=date(2024, 4, 1))


def test_a_progression_before_the_first_dose_is_refused() -> None:
    with _refused("response.progression_on"):
        response("PD", progression_on=date(2024, 1, 1))


def test_a_responder_without_a_response_date_is_accepted() -> None:
    assert response("PR").response_on is None


def test_records_pointing_at_unknown_patients_are_refused() -> None:
    with _refused("course.patient_id"):
        program(patients=[patient(1)], courses=[course(patient_id=2)])


def test_cycles_of_unknown_courses_are_refused() -> None:
    with _refused("cycle.course_id"):
        program(patients=[patient(1)], cycles=[cycle(99)])


def test_two_responses_for_one_patient_are_refused() -> None:
    with _refused("program.responses"):
        program(patients=[patient(1)], responses=[response(), response()])


def test_a_duplicate_patient_is_refused() -> None:
    with _refused("program.patients"):
        program(patients=[patient(1), patient(1)])


def test_a_dose_after_the_last_contact_is_refused() -> None:
    with _refused("patient.last_contact_on"):
        program(patients=[patient(1, last_contact_on=date(2024, 1, 10))], courses=[course()])
