"""Courses that must not start, don't: planning on the patient's records, SQLite and PostgreSQL.

Each refusal stores no course and leaves exactly one `refuse_plan_course` audit entry; a
physician's override of relative reasons stores the course with the reason in its plan.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest

from il2.bootstrap import App
from il2.domain.errors import Il2Error, InvalidInputError, RefusedError
from il2.domain.records import Actor, DoseOutcome, Role
from il2.services.clinical import (
    correct_entry,
    record_discharge,
    record_follow_up,
    record_response,
    record_toxicity,
)
from il2.services.courses import plan_course
from il2.services.doses import DoseSubmission, submit_dose
from il2.services.outcomes import program
from il2.services.patient_pathway import next_for_patient
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

TOMORROW = "2026-12-08T08:00:00+00:00"


def _plan(app: App, doctor: Actor, patient_id: int, first_dose: str, **extra: Any) -> Any:
    return plan_course(app.services, doctor, patient_id, regimen="hd-label", weight_kg=70,
                       first_dose=first_dose, cycle_end_rule="dose_count", **extra)  # fmt: skip


def _refusals(app: App, patient_id: int) -> list[dict[str, Any]]:
    with app.services.uow() as uow:
        return [
            e.after or {}
            for e in uow.audit.entries()
            if e.action == "refuse_plan_course" and e.patient_id == patient_id
        ]


def _one_dose_given(app: App, clock: FixedClock) -> tuple[dict[Role, Actor], int, Any]:
    """Staff, and a screened patient whose hd-label course had its first dose given now."""
    people = staff(app)
    doctor = people[Role.PHYSICIAN]
    patient_id = create_patient(app.services, doctor, PATIENT).id
    screen_eligible(app.services, doctor, patient_id)
    course = _plan(app, doctor, patient_id, clock.now.isoformat())
    given = DoseSubmission(cycle=1, dose_number=1, assessment=stable_assessment(),
                           outcome=DoseOutcome.GIVEN, given_at=clock.now, verified_by="nurse2",
                           verifier_password=PASSWORD)  # fmt: skip
    submit_dose(app.services, people[Role.NURSE], course.id, given)
    return people, patient_id, course


def _courses(app: App, patient_id: int) -> int:
    with app.services.uow() as uow:
        return len(uow.courses.for_patient(patient_id))


def _never_screened(app: App, people: dict[Role, Actor], patient_id: int, clock: FixedClock) -> str:
    return TOMORROW


def _not_eligible(app: App, people: dict[Role, Actor], patient_id: int, clock: FixedClock) -> str:
    findings = json.loads((ROOT / "examples/candidates/ineligible-melanoma.json").read_text())
    record_screening(app.services, people[Role.PHYSICIAN], patient_id, findings)
    return TOMORROW


def _outdated(app: App, people: dict[Role, Actor], patient_id: int, clock: FixedClock) -> str:
    clock.now -= timedelta(days=29)
    screen_eligible(app.services, people[Role.PHYSICIAN], patient_id)
    clock.now += timedelta(days=29)
    return TOMORROW


def _overlap(app: App, people: dict[Role, Actor], patient_id: int, clock: FixedClock) -> str:
    screen_eligible(app.services, people[Role.PHYSICIAN], patient_id)
    _plan(app, people[Role.PHYSICIAN], patient_id, clock.now.isoformat())
    return TOMORROW


def _discontinued(app: App, people: dict[Role, Actor], patient_id: int, clock: FixedClock) -> str:
    screen_eligible(app.services, people[Role.PHYSICIAN], patient_id)
    course = _plan(app, people[Role.PHYSICIAN], patient_id, clock.now.isoformat())
    infarction = stable_assessment() | {"findings": ["myocardial_infarction"]}
    stop = DoseSubmission(cycle=1, dose_number=1, assessment=infarction)
    assert (
        submit_dose(app.services, people[Role.NURSE], course.id, stop).record.outcome
        is DoseOutcome.STOPPED
    )
    return "2027-02-15T08:00:00+00:00"


def _years_ahead(app: App, people: dict[Role, Actor], patient_id: int, clock: FixedClock) -> str:
    screen_eligible(app.services, people[Role.PHYSICIAN], patient_id)
    return "2035-01-06T08:00:00+00:00"


def _in_the_past(app: App, people: dict[Role, Actor], patient_id: int, clock: FixedClock) -> str:
    screen_eligible(app.services, people[Role.PHYSICIAN], patient_id)
    return "2020-01-06T08:00:00+00:00"


Setup = Callable[[App, dict[Role, Actor], int, FixedClock], str]
CASES: list[tuple[str, Setup, str]] = [
    ("never screened (D8)", _never_screened, "screening-missing"),
    ("not eligible", _not_eligible, "screening-not-eligible"),
    ("screening 29 days old", _outdated, "screening-outdated"),
    ("a course running (D9)", _overlap, "course-overlap"),
    ("after a discontinue (D10)", _discontinued, "earlier-discontinue"),
]


@pytest.mark.parametrize(("setup", "code"), [pytest.param(s, c, id=n) for n, s, c in CASES])
def test_a_refused_plan_stores_no_course_and_is_audited_once(
    app: App, clock: FixedClock, setup: Setup, code: str
) -> None:
    people = staff(app)
    doctor = people[Role.PHYSICIAN]
    patient_id = create_patient(app.services, doctor, PATIENT).id
    first_dose = setup(app, people, patient_id, clock)
    before = _courses(app, patient_id)
    with pytest.raises(RefusedError) as refused:
        _plan(app, doctor, patient_id, first_dose, override_reason="the team agreed")
    assert code in [r.code for r in refused.value.reasons]
    assert not refused.value.overridable
    assert _courses(app, patient_id) == before
    (entry,) = _refusals(app, patient_id)
    assert code in entry["reasons"]


@pytest.mark.parametrize("setup", [_years_ahead, _in_the_past], ids=["2035", "2020"])
def test_an_implausible_first_dose_names_the_field_and_is_audited(
    app: App, clock: FixedClock, setup: Setup
) -> None:
    people = staff(app)
    doctor = people[Role.PHYSICIAN]
    patient_id = create_patient(app.services, doctor, PATIENT).id
    with pytest.raises(InvalidInputError) as refused:
        _plan(app, doctor, patient_id, setup(app, people, patient_id, clock))
    assert refused.value.field == "first_dose"
    assert _courses(app, patient_id) == 0
    (entry,) = _refusals(app, patient_id)
    assert entry["field"] == "first_dose"


def test_a_short_rest_needs_a_reason_and_the_course_keeps_it(app: App, clock: FixedClock) -> None:
    people = staff(app)
    doctor = people[Role.PHYSICIAN]
    patient_id = create_patient(app.services, doctor, PATIENT).id
    screen_eligible(app.services, doctor, patient_id)
    _plan(app, doctor, patient_id, clock.now.isoformat())
    early = "2027-01-20T08:00:00+00:00"
    with pytest.raises(RefusedError) as refused:
        _plan(app, doctor, patient_id, early)
    assert [(r.code, r.overridable) for r in refused.value.reasons] == [("rest-too-short", True)]
    with pytest.raises(Il2Error):
        _plan(app, doctor, patient_id, early, override_reason="   ")
    assert _courses(app, patient_id) == 1
    assert len(_refusals(app, patient_id)) == 2
    course = _plan(app, doctor, patient_id, early, override_reason="tumour board agreed")
    override = course.plan["admission_override"]
    assert (override["reason"], override["by"]) == ("tumour board agreed", "physician")
    assert [o["code"] for o in override["overrides"]] == ["rest-too-short"]
    assert course.number == 2


def test_the_pathway_runs_on_the_patients_own_records(app: App, clock: FixedClock) -> None:
    people = staff(app)
    doctor = people[Role.PHYSICIAN]
    patient_id = create_patient(app.services, doctor, PATIENT).id
    screen_eligible(app.services, doctor, patient_id)
    assert next_for_patient(app.services, doctor, patient_id) is None
    course = _plan(app, doctor, patient_id, clock.now.isoformat())
    given = DoseSubmission(cycle=1, dose_number=1, assessment=stable_assessment(),
                           outcome=DoseOutcome.GIVEN, given_at=clock.now, verified_by="nurse2",
                           verifier_password=PASSWORD)  # fmt: skip
    submit_dose(app.services, people[Role.NURSE], course.id, given)
    clock.now += timedelta(days=40)
    answer = next_for_patient(app.services, doctor, patient_id)
    assert answer is not None
    assert answer["next"] == "response_scan"
    assert answer["reasons"][0]["finding"] == (
        "no response scan since course 1 (last dose 2026-12-07)"
    )
    (row,) = [r for r in worklist(app.services, doctor).rows if r.patient_id == patient_id]
    assert row.pathway == f"response scan due (not before {answer['earliest_on']})"


def test_a_missing_first_dose_is_refused_in_words_a_physician_reads(app: App) -> None:
    """Ward walkthrough D11: an empty first dose named a date-time format."""
    people = staff(app)
    doctor = people[Role.PHYSICIAN]
    patient_id = create_patient(app.services, doctor, PATIENT).id
    screen_eligible(app.services, doctor, patient_id)
    with pytest.raises(InvalidInputError) as refused:
        _plan(app, doctor, patient_id, "")
    assert refused.value.field == "first_dose"
    assert refused.value.allowed.startswith("the date and time of the first dose, such as")
    assert "ISO" not in refused.value.allowed


def _treated_with(app: App, clock: FixedClock, term: str, grade: int) -> tuple[Actor, int, int]:
    """A patient given one dose, with a toxicity graded on the flowsheet during that course."""
    people, patient_id, course = _one_dose_given(app, clock)
    doctor = people[Role.PHYSICIAN]
    findings = {"ctcae_version": "5.0", "findings": [{"term": term, "clinical_grade": grade}]}
    entry = record_toxicity(app.services, people[Role.NURSE], patient_id,
                            observed_on=clock.now.date().isoformat(), course_id=course.id,
                            findings=findings)  # fmt: skip
    clock.now += timedelta(weeks=10)
    screen_eligible(app.services, doctor, patient_id)
    return doctor, patient_id, entry.id


def test_a_rhythm_graded_on_the_flowsheet_asks_a_physician_before_another_course(
    app: App, clock: FixedClock
) -> None:
    """Retreatment reads the CTCAE grades recorded during the earlier course, not a typed list."""
    doctor, patient_id, _ = _treated_with(app, clock, "atrial_fibrillation", 2)
    first_dose = (clock.now + timedelta(days=1)).isoformat()
    with pytest.raises(RefusedError) as refused:
        _plan(app, doctor, patient_id, first_dose)
    (reason,) = refused.value.reasons
    assert (reason.code, reason.overridable) == ("retreatment-incomplete", True)
    assert "Atrial fibrillation grade 2 on 2026-12-07" in reason.message
    assert "whether it was controlled and responded to management" in reason.message
    assert _courses(app, patient_id) == 1
    course = _plan(app, doctor, patient_id, first_dose, override_reason="rate controlled in 2 h")
    override = course.plan["admission_override"]
    assert [o["code"] for o in override["overrides"]] == ["retreatment-incomplete"]
    answer = next_for_patient(app.services, doctor, patient_id)
    assert answer is not None
    assert any(
        r["outcome"] == "incomplete" and r["finding"].startswith("Atrial fibrillation grade 2")
        for r in answer["reasons"]
    )


def test_a_grade_corrected_away_or_below_the_review_grade_asks_nothing(
    app: App, clock: FixedClock
) -> None:
    doctor, patient_id, entry_id = _treated_with(app, clock, "hypoxia", 4)
    first_dose = (clock.now + timedelta(days=1)).isoformat()
    with pytest.raises(RefusedError) as refused:
        _plan(app, doctor, patient_id, first_dose)
    assert "Hypoxia grade 4" in refused.value.reasons[0].message
    assert "how long the patient was intubated" in refused.value.reasons[0].message
    correct_entry(app.services, doctor, patient_id, entry_id,
                  content={"ctcae_version": "5.0", "findings": [{"term": "hypoxia", "clinical_grade": 3}]},
                  reason="never intubated: grade 3 on oxygen at rest")  # fmt: skip
    assert _plan(app, doctor, patient_id, first_dose).number == 2


def test_progression_found_at_a_follow_up_is_a_progression_of_the_outcomes(
    app: App, clock: FixedClock
) -> None:
    """The first "alive with progression" on or after the first dose feeds progression-free
    survival; one recorded before treatment does not."""
    doctor, patient_id, _ = _treated_with(app, clock, "fever", 1)
    record_follow_up(app.services, doctor, patient_id, observed_on="2026-12-01",
                     status="alive_progression")  # fmt: skip
    for on in ("2027-01-20", "2027-02-01"):
        record_follow_up(app.services, doctor, patient_id, observed_on=on,
                         status="alive_progression")  # fmt: skip
    data = program(app.services, doctor, as_of=clock.now.date())
    (mine,) = [p for p in data.patients if p.treated]
    assert mine.progression_on == date(2027, 1, 20)


def test_the_rest_counts_from_the_recorded_discharge(app: App, clock: FixedClock) -> None:
    """Label: at least 7 weeks between courses, counted from the date of hospital discharge."""
    people, patient_id, course = _one_dose_given(app, clock)
    doctor = people[Role.PHYSICIAN]
    clock.now += timedelta(weeks=4)  # past course 1's last planned dose
    screen_eligible(app.services, doctor, patient_id)
    scans = json.loads((ROOT / "examples/recist/partial-response.json").read_text())
    baseline, shrunk = scans["assessments"][:2]
    scans["assessments"] = [baseline, {**shrunk, "date": "2027-01-04"}]
    record_response(app.services, doctor, patient_id, course_id=course.id, measurements=scans)
    before = next_for_patient(app.services, doctor, patient_id)
    assert before is not None
    assert before["next"] == "another_course"
    assert before["earliest_on"] == "2027-01-25"  # 7 weeks from the last dose, 2026-12-07
    record_discharge(app.services, people[Role.NURSE], patient_id, course_id=course.id,
                     discharged_on="2026-12-10")  # fmt: skip
    after = next_for_patient(app.services, doctor, patient_id)
    assert after is not None
    assert after["earliest_on"] == "2027-01-28"  # 7 weeks from discharge, 2026-12-10
    with pytest.raises(RefusedError) as refused:
        _plan(app, doctor, patient_id, "2027-01-27T08:00:00+00:00")
    (reason,) = refused.value.reasons
    assert (reason.code, reason.overridable) == ("rest-too-short", True)
    assert reason.message.startswith("The rest since discharge (2026-12-10) is shorter")
    assert _plan(app, doctor, patient_id, "2027-01-28T08:00:00+00:00").number == 2


def test_without_a_discharge_the_refusal_says_none_is_recorded(app: App, clock: FixedClock) -> None:
    people, patient_id, _ = _one_dose_given(app, clock)
    doctor = people[Role.PHYSICIAN]
    clock.now += timedelta(weeks=4)
    screen_eligible(app.services, doctor, patient_id)
    with pytest.raises(RefusedError) as refused:
        _plan(app, doctor, patient_id, "2027-01-24T08:00:00+00:00")
    (reason,) = refused.value.reasons
    assert reason.message.startswith(
        "The rest since the last dose (2026-12-07; no discharge recorded) is shorter"
    )
    assert _plan(app, doctor, patient_id, "2027-01-26T08:00:00+00:00").number == 2
