"""The demo's outpatients: low-dose subcutaneous courses injected at home, with their diaries."""

from __future__ import annotations

from il2.bootstrap import App
from il2.domain.records import Role
from il2.services.demo import OUTPATIENT_COURSES, add_outpatients
from il2.services.diary import course_diary, record_entry
from il2.services.pharmacy import preparation_list
from il2.services.worklist import worklist
from tests.integration.builders import staff
from tests.integration.conftest import FixedClock


def test_the_outpatients_had_their_first_day_in_clinic_and_report_the_rest_in_a_diary(
    app: App, clock: FixedClock
) -> None:
    clinic = add_outpatients(app.services)
    assert len(clinic.mrns) == len(OUTPATIENT_COURSES)
    physician = staff(app)[Role.PHYSICIAN]
    with app.services.uow() as uow:
        found = [p for mrn in clinic.mrns for p in uow.patients.search(mrn, limit=5)]
        courses = [c for p in found for c in uow.courses.for_patient(p.id)]
        ledgers = {c.id: uow.doses.for_course(c.id) for c in courses}
    assert sorted(c.regimen_id for c in courses) == sorted(r for r, _, _ in OUTPATIENT_COURSES)
    reported = 0
    for course in courses:
        in_clinic = [d for d in course.plan["cycles"][0]["doses"] if d["day"] == 1]
        assert [(r.dose_number, r.outcome.value) for r in ledgers[course.id]] == [
            (d["number"], "given") for d in in_clinic
        ]
        diary = course_diary(app.services, physician, course.id)
        summary = diary["summary"]
        assert (
            summary["taken"] + summary["missed"] + summary["not_reported"]
            == (summary["planned_to_date"])
        )
        assert summary["in_clinic"] == len(in_clinic)
        assert summary["not_reported"] <= 3  # today's injections only: ld-sc-ifn gives 1 a day
        assert summary["missed"] >= 1 or len(diary["entries"]) < 5
        reported += len(diary["entries"])
    assert reported == clinic.diary_entries > 10


def test_doses_received_count_the_injections_taken_at_home(app: App, clock: FixedClock) -> None:
    clinic = add_outpatients(app.services)
    physician = staff(app)[Role.PHYSICIAN]
    with app.services.uow() as uow:
        found = [p for mrn in clinic.mrns for p in uow.patients.search(mrn, limit=5)]
        courses = [c for p in found for c in uow.courses.for_patient(p.id)]
        tallies = {(t.course_id, t.cycle): t for t in uow.doses.cycle_tallies()}
    for course in courses:
        summary = course_diary(app.services, physician, course.id)["summary"]
        tally = tallies[course.id, 1]
        assert tally.given == summary["in_clinic"] + summary["taken"]
        assert tally.last_given_on is not None


def test_an_injection_reported_in_the_diary_leaves_the_ward_list_and_the_pharmacy_list(
    app: App, clock: FixedClock
) -> None:
    clinic = add_outpatients(app.services)
    team = staff(app)
    with app.services.uow() as uow:
        found = [p for mrn in clinic.mrns for p in uow.patients.search(mrn, limit=5)]
        courses = [c for p in found for c in uow.courses.for_patient(p.id)]
    sc_eu = next(c for c in courses if c.regimen_id == "sc-eu")
    today = next(  # sc-eu's injection today, due at 09:00 (the demo's first dose 3 days ago)
        d for d in sc_eu.plan["cycles"][0]["doses"] if d["due_at"].startswith("2026-12-07")
    )

    def listed() -> tuple[bool, bool]:
        ward = worklist(app.services, team[Role.NURSE], limit=100).doses_today
        on_ward = any((d.course_id, d.dose_number) == (sc_eu.id, today["number"]) for d in ward)
        clock.now = clock.now.replace(hour=9, minute=30)  # inside the dose's late window
        prepared = preparation_list(app.services, team[Role.PHARMACIST]).doses
        clock.now = clock.now.replace(hour=16, minute=0)
        in_pharmacy = any((d.course_id, d.dose_number) == (sc_eu.id, today["number"])
                          for d in prepared)  # fmt: skip
        return on_ward, in_pharmacy

    assert listed() == (True, True)
    record_entry(app.services, team[Role.NURSE], sc_eu.id, {
        "cycle": 1, "dose_number": today["number"], "status": "taken",
        "taken_at": "2026-12-07T09:20:00+00:00", "reported_by": "patient", "side_effects": [],
    })  # fmt: skip
    assert listed() == (False, False)
