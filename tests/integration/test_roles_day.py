"""Each role's day: the pharmacist's preparation list, plan verification and vial use; the
physician's and coordinator's pending decisions and admissions."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from il2.bootstrap import App
from il2.domain.errors import ConflictError, InvalidInputError, PermissionDeniedError
from il2.domain.records import Actor, DoseOutcome, Role
from il2.services.audit import export_audit
from il2.services.clinical import record_follow_up
from il2.services.courses import plan_course
from il2.services.doses import DoseSubmission, submit_dose
from il2.services.patients import create_patient
from il2.services.pharmacy import plan_verification, preparation_list, verify_plan, vial_use
from il2.services.schedule import schedule
from tests.integration.builders import PASSWORD, PATIENT, screen_eligible, stable_assessment, staff
from tests.integration.conftest import FixedClock


def _course(
    app: App, doctor: Actor, mrn: str, first_dose: str, regimen: str = "hd-label"
) -> tuple[int, int]:
    patient = create_patient(app.services, doctor, {**PATIENT, "mrn": mrn, "name": mrn}).id
    screen_eligible(app.services, doctor, patient)
    course = plan_course(
        app.services, doctor, patient, regimen=regimen, weight_kg=70,
        first_dose=first_dose, cycle_end_rule="dose_count",
    )  # fmt: skip
    return patient, course.id


def _named(app: App, action: str) -> list[object]:
    """The patients each audited read of this kind names."""
    with app.services.uow() as uow:
        return [e.after["patients"] for e in uow.audit.entries() if e.action == action and e.after]


def _give(app: App, nurse: Actor, course: int, number: int, clock: FixedClock) -> None:
    submit_dose(
        app.services,
        nurse,
        course,
        DoseSubmission(
            cycle=1,
            dose_number=number,
            assessment=stable_assessment(),
            outcome=DoseOutcome.GIVEN,
            given_at=clock.now,
            verified_by="nurse2",
            verifier_password=PASSWORD,
        ),
    )


def test_the_preparation_list_shows_the_next_24_hours_with_the_plans_figures(
    app: App, clock: FixedClock
) -> None:
    people = staff(app)
    _patient, course = _course(app, people[Role.PHYSICIAN], "A", clock.now.isoformat())
    _course(app, people[Role.PHYSICIAN], "LATER", (clock.now + timedelta(days=3)).isoformat())
    _give(app, people[Role.NURSE], course, 1, clock)
    found = preparation_list(app.services, people[Role.PHARMACIST])
    # doses 1.2, 1.3, 1.4 fall within 24 h (every 8 h from 16:00): 1.1 is given, LATER not due
    assert [(d.patient, d.cycle, d.dose_number) for d in found.doses] == [("A", 1, 2), ("A", 1, 3)]
    dose = found.doses[0]
    product = app.services.rules.product
    assert dose.dose_iu == 42_000_000  # 600,000 IU/kg x 70 kg
    assert dose.vials == 2  # 42 MIU from vials of 21.6 MIU drawn each (1.2 mL at 18 MIU/mL)
    assert dose.reconstitution_ml == str(product.reconstitution_ml)
    assert dose.reconstitution_diluent == "Sterile Water for Injection, USP"
    assert dose.diluent_ml == 50  # the label's band for >25.4 to 60 MIU
    assert dose.concentration_in_window
    assert dose.prepare_from == dose.due_at + timedelta(minutes=15) - timedelta(hours=48)
    assert dose.verified is None
    assert found.unverified == 2
    assert found.vials == 4


def test_a_subcutaneous_injection_is_listed_at_its_own_dose_undiluted(
    app: App, clock: FixedClock
) -> None:
    people = staff(app)
    # sc-eu: 18 MIU on days 1-5, then 18 MIU on days 8-9 and 9 MIU on days 10-12
    _course(app, people[Role.PHYSICIAN], "SC", clock.now.isoformat(), regimen="sc-eu")
    clock.now += timedelta(days=9, hours=-2)  # dose 8, day 10, is due in 2 h
    found = preparation_list(app.services, people[Role.PHARMACIST])
    due = [d for d in found.doses if d.due_at > clock.now]
    assert [(d.dose_number, d.dose_iu, d.vials) for d in due] == [(8, 9_000_000, 1)]
    dose = due[0]
    assert dose.drug_ml == "0.5"  # 9 MIU at 18 MIU/mL
    assert (dose.diluent, dose.diluent_ml, dose.concentration_in_window) == (None, None, None)
    assert dose.route == "subcutaneous"
    assert "no diluent" in dose.preparation_note


def test_a_verified_plan_says_who_and_when_once_and_is_audited(app: App, clock: FixedClock) -> None:
    people = staff(app)
    patient, course = _course(app, people[Role.PHYSICIAN], "A", clock.now.isoformat())
    with pytest.raises(PermissionDeniedError):
        verify_plan(app.services, people[Role.PHYSICIAN], course)
    done = verify_plan(app.services, people[Role.PHARMACIST], course)
    assert (done.verified_by, done.verified_at) == ("pharmacist", clock.now)
    assert plan_verification(app.services, people[Role.NURSE], course) == done
    with pytest.raises(ConflictError):
        verify_plan(app.services, people[Role.PHARMACIST], course)
    listed = preparation_list(app.services, people[Role.PHARMACIST])
    assert all(d.verified == done for d in listed.doses)
    assert listed.unverified == 0
    trail = export_audit(app.services, people[Role.ADMINISTRATOR])
    verified = [e for e in trail if e["action"] == "verify_plan"]
    assert [(e["username"], e["patient_id"], e["entity_id"]) for e in verified] == [
        ("pharmacist", patient, str(course))
    ]
    assert _named(app, "read_preparation_list") == [[patient]]


def test_a_stopped_cycle_leaves_nothing_to_prepare(app: App, clock: FixedClock) -> None:
    people = staff(app)
    _patient, course = _course(app, people[Role.PHYSICIAN], "A", clock.now.isoformat())
    submit_dose(
        app.services,
        people[Role.PHYSICIAN],
        course,
        DoseSubmission(
            cycle=1, dose_number=1, assessment=stable_assessment(), outcome=DoseOutcome.STOPPED
        ),
    )
    assert preparation_list(app.services, people[Role.PHARMACIST]).doses == ()


def test_vial_use_counts_the_vials_of_doses_given_by_day_and_course(
    app: App, clock: FixedClock
) -> None:
    people = staff(app)
    _patient, course = _course(app, people[Role.PHYSICIAN], "A", clock.now.isoformat())
    _give(app, people[Role.NURSE], course, 1, clock)
    clock.now += timedelta(hours=8)
    _give(app, people[Role.NURSE], course, 2, clock)
    used = vial_use(
        app.services, people[Role.PHARMACIST], start=date(2026, 12, 1), end=date(2026, 12, 31)
    )
    assert used.by_day == ((date(2026, 12, 7), 1, 2), (date(2026, 12, 8), 1, 2))
    assert used.by_course == ((course, "A", 1, 2, 4),)
    assert (used.doses, used.vials) == (2, 4)
    none = vial_use(
        app.services, people[Role.PHARMACIST], start=date(2026, 11, 1), end=date(2026, 11, 30)
    )
    assert none.vials == 0
    with pytest.raises(InvalidInputError):
        vial_use(
            app.services, people[Role.PHARMACIST], start=date(2026, 12, 2), end=date(2026, 12, 1)
        )
    with pytest.raises(PermissionDeniedError):
        vial_use(app.services, people[Role.NURSE], start=date(2026, 12, 1), end=date(2026, 12, 2))


def test_the_schedule_shows_held_doses_admissions_and_beds(app: App, clock: FixedClock) -> None:
    people = staff(app)
    doctor = people[Role.PHYSICIAN]
    patient, course = _course(app, doctor, "A", clock.now.isoformat())
    later, _ = _course(app, doctor, "B", (clock.now + timedelta(days=3)).isoformat())
    low = stable_assessment()
    low["vitals"]["sbp_mmhg"] = 85
    submit_dose(
        app.services,
        people[Role.NURSE],
        course,
        DoseSubmission(cycle=1, dose_number=1, assessment=low, outcome=DoseOutcome.HELD),
    )
    found = schedule(app.services, people[Role.COORDINATOR])
    assert [(h.patient, h.cycle, h.dose_number) for h in found.held] == [("A", 1, 1)]
    assert [(a.patient, a.cycle, a.day) for a in found.admissions] == [
        ("A", 1, date(2026, 12, 7)),
        ("B", 1, date(2026, 12, 10)),
        ("A", 2, date(2026, 12, 21)),
    ]
    beds = {day: (arriving, used) for day, arriving, used in found.beds}
    assert len(found.beds) == 15
    assert beds[date(2026, 12, 7)] == (1, 1)
    assert beds[date(2026, 12, 10)] == (1, 2)
    assert beds[date(2026, 12, 13)] == (0, 1)  # A's cycle 1 ended on day 6 (the 12th)
    with pytest.raises(PermissionDeniedError):
        schedule(app.services, people[Role.NURSE])
    assert _named(app, "read_schedule") == [sorted([patient, later])]


def test_a_response_scan_due_is_a_pending_decision(app: App, clock: FixedClock) -> None:
    people = staff(app)
    _patient, course = _course(app, people[Role.PHYSICIAN], "A", clock.now.isoformat())
    _give(app, people[Role.NURSE], course, 1, clock)
    clock.now += timedelta(days=60)
    found = schedule(app.services, people[Role.PHYSICIAN])
    kinds = {(d.patient, d.kind) for d in found.decisions}
    assert kinds
    assert all(patient == "A" for patient, _ in kinds)
    assert found.decisions[0].due_on is None or found.decisions[
        0
    ].due_on <= found.today + timedelta(days=14)


def test_a_patient_years_past_their_course_still_has_their_pending_decision(
    app: App, clock: FixedClock
) -> None:
    people = staff(app)
    doctor = people[Role.PHYSICIAN]
    patient, course = _course(app, doctor, "Long ago", clock.now.isoformat())
    _give(app, people[Role.NURSE], course, 1, clock)
    dead, dead_course = _course(app, doctor, "Died", clock.now.isoformat())
    _give(app, people[Role.NURSE], dead_course, 1, clock)
    clock.now += timedelta(days=3 * 365)
    record_follow_up(
        app.services, doctor, dead, observed_on=clock.now.date().isoformat(), status="dead"
    )
    found = schedule(app.services, people[Role.PHYSICIAN])
    mine = [d for d in found.decisions if d.patient_id == patient]
    assert [d.patient for d in mine] == ["Long ago"]
    assert mine[0].due_on is None or mine[0].due_on <= found.today + timedelta(days=14)
    assert all(d.patient_id != dead for d in found.decisions)
    assert _named(app, "read_schedule") == [[patient]]


def test_a_kept_pathway_answer_is_read_again_once_the_patients_records_change(
    app: App, clock: FixedClock
) -> None:
    """The schedule keeps each patient's pathway answer with their records' marks: a second
    view reads no records while none changed, and any new record (here a follow-up) or a new
    day makes it work the answer out again."""
    people = staff(app)
    doctor = people[Role.PHYSICIAN]
    patient, course = _course(app, doctor, "Kept", clock.now.isoformat())
    _give(app, people[Role.NURSE], course, 1, clock)
    clock.now += timedelta(days=60)
    first = schedule(app.services, doctor)
    (mine,) = [d for d in first.decisions if d.patient_id == patient]
    key = ("schedule", patient)
    marks, answer = app.services.answers[key]
    assert isinstance(answer, tuple)
    assert answer[0] == mine.kind
    planted = ("records", "planted to show the kept answer is read", None)
    app.services.answers[key] = (marks, planted)
    assert [d.words for d in schedule(app.services, doctor).decisions] == [planted[1]]
    record_follow_up(
        app.services, doctor, patient, observed_on=clock.now.date().isoformat(),
        status="alive_no_progression",
    )  # fmt: skip
    again = schedule(app.services, doctor)
    assert [d.words for d in again.decisions] == [mine.words]
    app.services.answers[key] = (app.services.answers[key][0], planted)
    clock.now += timedelta(days=1)
    assert [d.words for d in schedule(app.services, doctor).decisions] == [mine.words]
