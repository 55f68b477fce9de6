"""Discharge entries on SQLite and PostgreSQL: the day a patient left hospital after a course,
checked against the clock, the course and its last dose given; corrected like other entries.

The clock stands at 2026-12-07 16:00 UTC (the site's zone); the first dose is given then.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from il2.bootstrap import App
from il2.domain.errors import InvalidInputError, NotFoundError, RefusedError
from il2.domain.records import Actor, DoseOutcome, Role
from il2.services.audit import export_audit
from il2.services.clinical import correct_entry, record_discharge, record_follow_up
from il2.services.courses import plan_course
from il2.services.doses import DoseSubmission, submit_dose
from il2.services.patients import create_patient, read_patient
from tests.integration.builders import PASSWORD, PATIENT, screen_eligible, stable_assessment, staff
from tests.integration.conftest import FixedClock


def _course(
    app: App, people: dict[Role, Actor], *, given: bool = True, mrn: str = ""
) -> tuple[int, int]:
    """A patient and a planned course, its first dose given now unless `given` is False."""
    doctor = people[Role.PHYSICIAN]
    patient = {**PATIENT, "mrn": mrn} if mrn else PATIENT
    patient_id = create_patient(app.services, doctor, patient).id
    screen_eligible(app.services, doctor, patient_id)
    now = app.services.clock()
    course = plan_course(app.services, doctor, patient_id, regimen="hd-label", weight_kg=70,
                         first_dose=now.isoformat(), cycle_end_rule="dose_count")  # fmt: skip
    if given:
        dose = DoseSubmission(cycle=1, dose_number=1, assessment=stable_assessment(),
                              outcome=DoseOutcome.GIVEN, given_at=now, verified_by="nurse2",
                              verifier_password=PASSWORD)  # fmt: skip
        submit_dose(app.services, people[Role.NURSE], course.id, dose)
    return patient_id, course.id


def _discharges(app: App, people: dict[Role, Actor], patient_id: int) -> list[dict[str, Any]]:
    entries = read_patient(app.services, people[Role.PHYSICIAN], patient_id)["entries"]
    return [e for e in entries if e["kind"] == "discharge"]


def test_a_discharge_is_kept_with_its_day_and_course(app: App, clock: FixedClock) -> None:
    people = staff(app)
    patient_id, course_id = _course(app, people)
    clock.now += timedelta(days=3)
    entry = record_discharge(app.services, people[Role.COORDINATOR], patient_id,
                             course_id=course_id, discharged_on="2026-12-10")  # fmt: skip
    assert entry.observed_on.isoformat() == "2026-12-10"
    assert entry.content == {"discharged_on": "2026-12-10"}
    assert entry.summary == "discharged on 2026-12-10 after course 1"
    assert [e["id"] for e in _discharges(app, people, patient_id)] == [entry.id]
    trail = export_audit(app.services, people[Role.ADMINISTRATOR])
    assert any(e["action"] == "create" and e["entity"] == "discharge" for e in trail)


@pytest.mark.parametrize(
    ("discharged_on", "field", "allowed"),
    [
        ("2026-12-08", "discharged_on", "a date not after today (2026-12-07)"),
        ("2026-12-06", "discharged_on", "a date on or after the course's last dose given (2026-12-07)"),
        ("12/07/2026", "discharged_on", "an ISO 8601 date (YYYY-MM-DD)"),
    ],
)  # fmt: skip
def test_a_discharge_in_the_future_or_before_the_last_dose_is_refused_and_not_kept(
    app: App, discharged_on: str, field: str, allowed: str
) -> None:
    people = staff(app)
    patient_id, course_id = _course(app, people)
    with pytest.raises(InvalidInputError) as refused:
        record_discharge(app.services, people[Role.NURSE], patient_id, course_id=course_id,
                         discharged_on=discharged_on)  # fmt: skip
    assert (refused.value.field, refused.value.allowed) == (field, allowed)
    assert _discharges(app, people, patient_id) == []


def test_a_discharge_from_a_course_with_no_dose_given_is_refused(app: App) -> None:
    people = staff(app)
    patient_id, course_id = _course(app, people, given=False)
    with pytest.raises(InvalidInputError) as refused:
        record_discharge(app.services, people[Role.NURSE], patient_id, course_id=course_id,
                         discharged_on="2026-12-07")  # fmt: skip
    assert refused.value.field == "course_id"
    assert "a course with a dose given" in refused.value.allowed
    assert _discharges(app, people, patient_id) == []


def test_a_discharge_names_a_course_of_this_patient(app: App) -> None:
    people = staff(app)
    patient_id, _ = _course(app, people)
    other_id, other_course = _course(app, people, given=False, mrn="M-OTHER")
    assert other_id != patient_id
    with pytest.raises(NotFoundError):
        record_discharge(app.services, people[Role.NURSE], patient_id, course_id=other_course,
                         discharged_on="2026-12-07")  # fmt: skip
    with pytest.raises(InvalidInputError) as refused:
        record_discharge(app.services, people[Role.NURSE], patient_id, course_id="1",
                         discharged_on="2026-12-07")  # fmt: skip
    assert refused.value.field == "course_id"
    assert _discharges(app, people, patient_id) == []


def test_a_correction_is_checked_again_and_a_second_discharge_is_kept(
    app: App, clock: FixedClock
) -> None:
    people = staff(app)
    patient_id, course_id = _course(app, people)
    clock.now += timedelta(days=5)
    first = record_discharge(app.services, people[Role.NURSE], patient_id, course_id=course_id,
                             discharged_on="2026-12-09")  # fmt: skip
    with pytest.raises(InvalidInputError) as refused:
        correct_entry(app.services, people[Role.NURSE], patient_id, first.id,
                      content={"discharged_on": "2026-12-01"}, reason="typo")  # fmt: skip
    assert refused.value.field == "discharged_on"
    fixed = correct_entry(app.services, people[Role.NURSE], patient_id, first.id,
                          content={"discharged_on": "2026-12-10"}, reason="typo")  # fmt: skip
    assert (fixed.corrects_id, fixed.observed_on.isoformat()) == (first.id, "2026-12-10")
    assert fixed.summary.startswith("discharged on 2026-12-10 after course 1 (correction of")
    again = record_discharge(app.services, people[Role.PHYSICIAN], patient_id,
                             course_id=course_id, discharged_on="2026-12-12")  # fmt: skip
    assert {e["id"] for e in _discharges(app, people, patient_id)} == {first.id, fixed.id, again.id}


def test_no_discharge_is_recorded_after_a_recorded_death(app: App, clock: FixedClock) -> None:
    people = staff(app)
    patient_id, course_id = _course(app, people)
    clock.now += timedelta(days=5)
    record_follow_up(app.services, people[Role.PHYSICIAN], patient_id, observed_on="2026-12-09",
                     status="dead")  # fmt: skip
    with pytest.raises(InvalidInputError) as refused:
        record_discharge(app.services, people[Role.NURSE], patient_id, course_id=course_id,
                         discharged_on="2026-12-11")  # fmt: skip
    assert refused.value.field == "discharged_on"
    assert "the patient's death (2026-12-09)" in refused.value.allowed
    assert not isinstance(refused.value, RefusedError)
