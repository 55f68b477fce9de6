"""The worklist: each patient's stage and next action, and today's doses on the ward."""

from __future__ import annotations

import json
from datetime import timedelta

from il2.bootstrap import App
from il2.domain.records import DoseOutcome, Role
from il2.domain.worklist import Stage
from il2.services.clinical import record_follow_up
from il2.services.courses import DoseSubmission, plan_course, submit_dose
from il2.services.patients import create_patient, record_screening
from il2.services.worklist import worklist
from tests.integration.builders import (
    PASSWORD,
    PATIENT,
    ROOT,
    screen_eligible,
    stable_assessment,
    staff,
)
from tests.integration.conftest import FixedClock


def test_each_patient_is_shown_at_their_stage_with_the_next_action(
    app: App, clock: FixedClock
) -> None:
    people = staff(app)
    doctor = people[Role.PHYSICIAN]
    new = lambda mrn: create_patient(app.services, doctor, {**PATIENT, "mrn": mrn, "name": mrn}).id  # noqa: E731
    _referred, incomplete, admitted, later, dead = new("A"), new("B"), new("C"), new("D"), new("E")
    record_screening(
        app.services,
        doctor,
        incomplete,
        json.loads((ROOT / "examples/candidates/incomplete-melanoma.json").read_text()),
    )
    screen_eligible(app.services, doctor, admitted)
    screen_eligible(app.services, doctor, later)
    course = plan_course(
        app.services,
        doctor,
        admitted,
        regimen="hd-label",
        weight_kg=70,
        first_dose=clock.now.isoformat(),
        cycle_end_rule="dose_count",  # a 16:00 first dose: dose 14 falls on day 6
    ).id
    plan_course(
        app.services,
        doctor,
        later,
        regimen="hd-label",
        weight_kg=70,
        first_dose=(clock.now + timedelta(days=10)).isoformat(),
        cycle_end_rule="dose_count",
    )
    record_follow_up(app.services, doctor, dead, observed_on="2026-12-01", status="dead")
    submit_dose(
        app.services,
        people[Role.NURSE],
        course,
        DoseSubmission(
            cycle=1,
            dose_number=1,
            assessment=stable_assessment(),
            outcome=DoseOutcome.GIVEN,
            given_at=clock.now,
            verified_by="nurse2",
            verifier_password=PASSWORD,
        ),
    )
    clock.now += timedelta(hours=1)
    page = worklist(app.services, people[Role.NURSE])
    stages = {row.label: (row.stage, row.next_action) for row in page.rows}
    assert stages["A"] == (Stage.REFERRED, "screen")
    assert stages["B"] == (Stage.SCREENING, "obtain the missing work-up")
    assert stages["C"] == (Stage.IN_HOSPITAL, "dose 1.2")
    assert stages["D"][0] is Stage.SCHEDULED
    assert stages["E"][0] is Stage.DECEASED
    assert page.total == 5
    assert [(d.label, d.dose_number, d.status) for d in page.doses_today] == [("C", 1, "given")]
    clock.now += timedelta(hours=8)
    today = [
        (d.dose_number, d.status, d.window)
        for d in worklist(app.services, people[Role.NURSE]).doses_today
    ]
    # dose 2 is an hour past its planned time but inside its window: due now, not late
    assert today == [(2, "overdue", "open"), (3, "due", "not_yet"), (4, "due", "not_yet")]


def test_researchers_see_study_numbers_not_names(app: App) -> None:
    people = staff(app)
    create_patient(app.services, people[Role.PHYSICIAN], PATIENT)
    (row,) = worklist(app.services, people[Role.RESEARCHER]).rows
    assert row.label.startswith("S-")
