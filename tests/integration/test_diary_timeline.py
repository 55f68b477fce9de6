"""The diary and the dose ledger are one timeline: an injection reported taken at home counts
for the interval before the next dose, and no injection is kept in both."""

from __future__ import annotations

from datetime import timedelta

import pytest

from il2.bootstrap import App
from il2.domain.errors import ConflictError, RefusedError
from il2.domain.records import Actor, DoseOutcome, Role
from il2.services.courses import plan_course
from il2.services.diary import course_diary, record_entry
from il2.services.doses import DoseSubmission, submit_dose
from il2.services.patients import create_patient
from tests.integration.builders import PASSWORD, PATIENT, screen_eligible, stable_assessment, staff
from tests.integration.conftest import FixedClock


@pytest.fixture
def course(app: App, clock: FixedClock) -> tuple[dict[Role, Actor], int]:
    """An ld-sc-nci course (one injection a day, 24 h apart) whose first injection is now."""
    team = staff(app)
    doctor = team[Role.PHYSICIAN]
    patient = create_patient(app.services, doctor, PATIENT).id
    screen_eligible(app.services, doctor, patient)
    planned = plan_course(
        app.services, doctor, patient, regimen="ld-sc-nci", weight_kg=70,
        first_dose=clock.now.isoformat(),
    )  # fmt: skip
    return team, planned.id


def _give(app: App, nurse: Actor, course: int, number: int, clock: FixedClock) -> None:
    submission = DoseSubmission(
        cycle=1, dose_number=number, assessment=stable_assessment(),
        outcome=DoseOutcome.GIVEN, given_at=clock.now, verified_by="nurse2",
        verifier_password=PASSWORD,
    )  # fmt: skip
    submit_dose(app.services, nurse, course, submission)


def _taken(number: int, at: str) -> dict[str, object]:
    return {"cycle": 1, "dose_number": number, "status": "taken", "taken_at": at,
            "reported_by": "patient", "side_effects": []}  # fmt: skip


def test_an_injection_taken_at_home_keeps_the_next_dose_from_coming_too_soon(
    app: App, clock: FixedClock, course: tuple[dict[Role, Actor], int]
) -> None:
    team, course_id = course
    clock.now += timedelta(hours=1)
    record_entry(app.services, team[Role.NURSE], course_id, _taken(1, "2026-12-07T16:30:00+00:00"))
    # dose 2 is due 2026-12-08 16:00, its window open from 15:00; the home injection at 16:30
    # keeps it until 16:30, 24 h later
    clock.now = clock.now.replace(day=8, hour=15, minute=45)
    with pytest.raises(RefusedError) as refused:
        _give(app, team[Role.NURSE], course_id, 2, clock)
    assert [r.code for r in refused.value.reasons] == ["not-due"]
    assert "16:30" in refused.value.reasons[0].message
    clock.now = clock.now.replace(hour=16, minute=35)
    _give(app, team[Role.NURSE], course_id, 2, clock)


def test_an_injection_is_kept_in_the_diary_or_in_the_ledger_never_both(
    app: App, clock: FixedClock, course: tuple[dict[Role, Actor], int]
) -> None:
    team, course_id = course
    clock.now += timedelta(hours=1)
    record_entry(app.services, team[Role.NURSE], course_id, _taken(1, "2026-12-07T16:30:00+00:00"))
    with pytest.raises(ConflictError, match="already reported in the patient's diary"):
        _give(app, team[Role.NURSE], course_id, 1, clock)
    clock.now = clock.now.replace(day=8, hour=16, minute=35)
    _give(app, team[Role.NURSE], course_id, 2, clock)
    with pytest.raises(ConflictError, match="already in the dose ledger"):
        record_entry(
            app.services, team[Role.NURSE], course_id, _taken(2, "2026-12-08T16:35:00+00:00")
        )


def test_an_injection_reported_taken_hours_after_a_clinic_dose_is_kept_and_shown(
    app: App, clock: FixedClock, course: tuple[dict[Role, Actor], int]
) -> None:
    team, course_id = course
    _give(app, team[Role.NURSE], course_id, 1, clock)  # 16:00 in clinic
    clock.now = clock.now.replace(day=8, hour=9)
    record_entry(app.services, team[Role.NURSE], course_id, _taken(2, "2026-12-07T22:00:00+00:00"))
    diary = course_diary(app.services, team[Role.PHYSICIAN], course_id)
    assert diary["too_soon"] == [{
        "cycle": 1, "dose_number": 2, "taken_at": "2026-12-07T22:00:00+00:00",
        "after": "2026-12-07T16:00:00+00:00", "hours": "6.0", "least_hours": 24,
    }]  # fmt: skip
