"""The worklist: each patient's stage and next action, and today's doses on the ward."""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta

from il2.bootstrap import App
from il2.domain.records import Actor, DoseOutcome, Role
from il2.domain.worklist import Stage
from il2.services.clinical import record_follow_up
from il2.services.courses import plan_course
from il2.services.doses import DoseSubmission, submit_dose
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


def _mixed_ward(app: App, clock: FixedClock) -> Actor:
    """Patients at most stages: referred, screening, scheduled, in hospital, a course long
    past awaiting scans, one long past followed up, and a death; the nurse who reads them."""
    people = staff(app)
    doctor = people[Role.PHYSICIAN]
    new = lambda mrn: create_patient(app.services, doctor, {**PATIENT, "mrn": mrn, "name": mrn}).id  # noqa: E731
    for mrn in ("REF-1", "REF-2", "REF-3"):
        new(mrn)
    incomplete = new("SCR-1")
    record_screening(
        app.services,
        doctor,
        incomplete,
        json.loads((ROOT / "examples/candidates/incomplete-melanoma.json").read_text()),
    )
    starts = {"SCH-1": 10, "HOS-1": 0, "OLD-1": -90, "OLD-2": -120, "OLD-3": -200}
    ids = {}
    today = clock.now
    for mrn, days in starts.items():
        ids[mrn] = new(mrn)
        clock.now = today + min(timedelta(days=days), timedelta(0))  # a past course, then
        screen_eligible(app.services, doctor, ids[mrn])
        plan_course(
            app.services,
            doctor,
            ids[mrn],
            regimen="hd-label",
            weight_kg=70,
            first_dose=(today + timedelta(days=days)).isoformat(),
            cycle_end_rule="dose_count",
        )
        clock.now = today
    followed = (clock.now - timedelta(days=30)).date().isoformat()
    record_follow_up(
        app.services, doctor, ids["OLD-2"], observed_on=followed, status="alive_no_progression"
    )
    record_follow_up(app.services, doctor, new("DEAD-1"), observed_on=followed, status="dead")
    return people[Role.NURSE]


def test_stage_totals_count_every_page_as_the_rows_place_them(app: App, clock: FixedClock) -> None:
    nurse = _mixed_ward(app, clock)
    everyone = worklist(app.services, nurse, limit=100)
    expected = Counter(row.stage for row in everyone.rows)
    assert expected[Stage.FOLLOW_UP] == 1
    assert expected[Stage.AWAITING_SCANS] == 2
    assert expected[Stage.IN_HOSPITAL] == 1
    for offset in (0, 2, 8):
        page = worklist(app.services, nurse, limit=2, offset=offset)
        assert len(page.rows) <= 2
        assert page.total == len(everyone.rows) == 10
        assert dict(page.by_stage) == dict(expected)
        assert sum(n for _, n in page.by_stage) == page.total


def test_stage_totals_and_rows_follow_the_search(app: App, clock: FixedClock) -> None:
    nurse = _mixed_ward(app, clock)
    page = worklist(app.services, nurse, limit=1, matching="old-")
    assert page.total == 3
    assert [row.label[:4] for row in page.rows] == ["OLD-"]
    assert dict(page.by_stage) == {Stage.AWAITING_SCANS: 2, Stage.FOLLOW_UP: 1}
    assert dict(worklist(app.services, nurse, matching="ref").by_stage) == {Stage.REFERRED: 3}
    assert worklist(app.services, nurse, matching="nobody").by_stage == ()
