"""The outcome reader picks fields out of the documents in the database; the Program it builds
is the one the record-by-record reader (every record and document loaded) built before it."""

from __future__ import annotations

import gc
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

import pytest

from il2.bootstrap import App
from il2.domain.records import Actor, ClinicalEntry, CourseRecord, DoseOutcome, DoseRecord
from il2.science.dataset import BestResponse, Course, Cycle, Patient, Program, Response, Toxicity
from il2.services.accounts import actor_for_username
from il2.services.bulk import BulkWriter
from il2.services.clinical import correct_entry
from il2.services.courses import plan_course
from il2.services.demo import build_demo
from il2.services.doses import DoseSubmission, submit_dose
from il2.services.outcomes import cycle_collection_paused, program
from il2.services.patients import create_patient
from tests.integration.builders import screen_eligible, stable_assessment
from tests.integration.conftest import FixedClock

UNTIL = date(2026, 11, 1)

# ---- the reader as it was: every record of every patient loaded, documents and all ----------

_RANK = {"CR": 0, "PR": 1, "SD": 2, "non-CR/non-PD": 2, "PD": 3, "NE": 4}


def _current(entries: Sequence[ClinicalEntry]) -> list[ClinicalEntry]:
    corrected = {e.corrects_id for e in entries if e.corrects_id is not None}
    return [e for e in entries if e.id not in corrected]


def _day(iso: str) -> date:
    return datetime.fromisoformat(iso).date()


def _cycles(course: CourseRecord, ledger: Sequence[DoseRecord]) -> list[Cycle]:
    cycles = []
    for planned in course.plan["cycles"]:
        recorded = [r for r in ledger if r.cycle == planned["cycle"]]
        if not recorded:
            continue
        last_given = max((r.given_at.date() for r in recorded if r.given_at), default=None)
        last = last_given or _day(planned["doses"][0]["due_at"])
        cycles.append(
            Cycle(
                course_id=course.id,
                cycle=planned["cycle"],
                doses_given=sum(1 for r in recorded if r.outcome is DoseOutcome.GIVEN),
                doses_held=sum(1 for r in recorded if r.outcome is DoseOutcome.HELD),
                admitted_on=_day(planned["doses"][0]["due_at"]),
                discharged_on=last + timedelta(days=1),
            )
        )
    return cycles


def _response(
    patient_id: int, entries: Sequence[ClinicalEntry], first_dose_on: date
) -> Response | None:
    assessed = [
        e.content["recist"] for e in entries if e.kind == "response" and "recist" in e.content
    ]
    if not assessed:
        return None
    best = min(assessed, key=lambda r: _RANK[r["best_overall_response"]])
    named = best["best_overall_response"]
    category: BestResponse = "SD" if named == "non-CR/non-PD" else named
    progression = min(
        (date.fromisoformat(r["progression_on"]) for r in assessed if r["progression_on"]),
        default=None,
    )
    response_on = (
        date.fromisoformat(best["response_on"])
        if best["response_on"] and category in ("CR", "PR")
        else None
    )
    if response_on and progression and progression < response_on:
        progression = None
    return Response(
        patient_id=patient_id,
        best_overall_response=category,
        response_on=response_on,
        progression_on=progression,
        best_change_pct=best["best_change_from_baseline_pct"],
        timepoints=tuple(
            (date.fromisoformat(t["date"]), t["change_from_baseline_pct"])
            for t in best["timepoints"][1:]
            if t["change_from_baseline_pct"] is not None
        ),
        first_dose_on=first_dose_on,
    )


def _patient_records(uow: Any, patients: Sequence[Any]) -> dict[str, list[Any]]:
    ids = [p.id for p in patients]
    courses = uow.courses.for_patients(ids)
    ledgers = uow.doses.for_courses([c.id for cs in courses.values() for c in cs])
    screenings = uow.screenings.for_patients(ids)
    entries = uow.entries.for_patients(ids)
    out: dict[str, list[Any]] = {
        key: [] for key in ("patients", "courses", "cycles", "toxicities", "responses")
    }
    for patient in patients:
        mine = courses.get(patient.id, [])
        current = _current(entries.get(patient.id, []))
        first_dose = min((c.first_dose_at.date() for c in mine), default=None)
        dates = [e.observed_on for e in current] + [patient.referred_on]
        for course in mine:
            ledger = ledgers.get(course.id, [])
            given = [r.given_at.date() for r in ledger if r.given_at]
            last = max(given, default=course.first_dose_at.date())
            dates.append(last)
            out["courses"].append(
                Course(patient.id, course.id, course.number, course.regimen_id,
                       course.first_dose_at.date(), last, int(course.plan["vials_per_dose"]))
            )  # fmt: skip
            out["cycles"].extend(_cycles(course, ledger))
        for entry in current:
            if entry.kind == "toxicity" and entry.course_id is not None:
                out["toxicities"].extend(
                    Toxicity(patient.id, entry.course_id, g["term"], g["grade"])
                    for g in entry.content.get("grades", {}).get("grades", [])
                    if g["grade"] > 0
                )
        response = _response(patient.id, current, first_dose) if first_dose else None
        if response:
            out["responses"].append(response)
            dates.append(response.latest_on)
        death = next(
            (e.observed_on for e in current
             if e.kind == "follow_up" and e.content.get("status") == "dead"),
            None,
        )  # fmt: skip
        progressed = [
            e.observed_on
            for e in current
            if e.kind == "follow_up" and e.content.get("status") == "alive_progression"
            and first_dose is not None and e.observed_on >= first_dose
        ]  # fmt: skip
        verdicts = screenings.get(patient.id, [])
        out["patients"].append(
            Patient(
                patient_id=patient.id,
                diagnosis=patient.diagnosis,
                referred_on=patient.referred_on,
                eligible=bool(verdicts) and verdicts[-1].verdict == "eligible",
                treated=bool(mine),
                death_on=death,
                last_contact_on=max(dates),
                progression_on=min(progressed, default=None),
            )
        )
    return out


def record_by_record(app: App, as_of: date) -> Program:
    """The Program as the reader before outlines built it (pages of 7 patients)."""
    collected: dict[str, list[Any]] = {
        key: [] for key in ("patients", "courses", "cycles", "toxicities", "responses")
    }
    with app.services.uow() as uow:
        offset = 0
        while page := uow.patients.page(limit=7, offset=offset):
            for key, values in _patient_records(uow, page).items():
                collected[key].extend(values)
            offset += 7
    return Program(**{key: tuple(values) for key, values in collected.items()}, as_of=as_of)


# ---- the tests --------------------------------------------------------------------------------


def _corrections(app: App, physician: Actor) -> None:
    """Correct a toxicity, a response and a death; a late course with one dose, held."""
    with app.services.uow() as uow:
        entries = [
            e
            for p in uow.patients.page(limit=1000, offset=0)
            for e in uow.entries.for_patient(p.id)
        ]
    toxicity = next(e for e in entries if e.kind == "toxicity")
    findings = {
        **toxicity.content["findings"],
        "findings": [{"term": "confusion", "clinical_grade": 3}],
    }
    correct_entry(
        app.services,
        physician,
        toxicity.patient_id,
        toxicity.id,
        content=findings,
        reason="wrong patient chart",
    )
    response = next(
        e
        for e in entries
        if e.kind == "response" and e.content["recist"]["best_overall_response"] == "PR"
    )
    measurements = response.content["measurements"]
    baseline = measurements["assessments"][0]
    grown = [
        {**lesion, "diameter_mm": lesion["diameter_mm"] * 2}
        for lesion in baseline["target_lesions"]
    ]
    later = {**measurements["assessments"][1], "target_lesions": grown}
    correct_entry(app.services, physician, response.patient_id, response.id,
                  content={**measurements, "assessments": [baseline, later]}, reason="misread scan")  # fmt: skip
    death = next(e for e in entries if e.kind == "follow_up" and e.content["status"] == "dead")
    correct_entry(app.services, physician, death.patient_id, death.id,
                  content={"status": "alive_progression", "notes": "seen in clinic"}, reason="wrong patient")  # fmt: skip
    patient = create_patient(app.services, physician, {
        "mrn": "LATE-1", "name": "Late Referral", "birth_date": "1960-05-05", "sex": "male",
        "diagnosis": "melanoma", "referred_on": "2026-12-01"})  # fmt: skip
    screen_eligible(app.services, physician, patient.id)
    course = plan_course(app.services, physician, patient.id, regimen="hd-label", weight_kg=80,
                         first_dose="2026-12-14T08:00:00-08:00")  # fmt: skip
    held = DoseSubmission(cycle=1, dose_number=1, assessment=stable_assessment(),
                          outcome=DoseOutcome.HELD)  # fmt: skip
    clock = app.services.clock
    assert isinstance(clock, FixedClock)
    clock.now = course.first_dose_at  # a dose is recorded once it is due
    submit_dose(app.services, actor_for_username(app.services, "demo-nurse"), course.id, held)


def test_the_outline_reader_builds_the_program_the_record_by_record_reader_built(app: App) -> None:
    build_demo(app.services, seed=7, years=2, until=UNTIL, patients=60,
               writer=lambda services: BulkWriter(services, batch=25))  # fmt: skip
    researcher = actor_for_username(app.services, "demo-researcher")
    before = record_by_record(app, UNTIL)
    assert program(app.services, researcher, as_of=UNTIL) == before
    _corrections(app, actor_for_username(app.services, "demo-physician"))
    after = record_by_record(app, date(2026, 12, 31))
    assert after != before
    assert program(app.services, researcher, as_of=date(2026, 12, 31)) == after
    assert len(after.patients) == 61
    assert len(after.cycles) > 60
    assert any(t.term == "confusion" and t.grade == 3 for t in after.toxicities)
    assert any(c.doses_given == 0 and c.doses_held == 1 for c in after.cycles)


def test_reading_the_program_is_audited_once(app: App) -> None:
    build_demo(app.services, seed=8, years=1, until=UNTIL, patients=5, writer=BulkWriter)
    researcher = actor_for_username(app.services, "demo-researcher")
    with app.services.uow() as uow:
        since = len(uow.audit.entries())
    program(app.services, researcher, as_of=UNTIL)
    with app.services.uow() as uow:
        added = uow.audit.entries()[since:]
    assert [(e.action, e.entity, e.username, e.after) for e in added] == [
        ("read_outcomes", "program", "demo-researcher", {"patients": 5})
    ]


def test_the_cycle_collector_is_paused_while_reading_and_left_as_it_was() -> None:
    assert gc.isenabled()
    with cycle_collection_paused():
        assert not gc.isenabled()
        with cycle_collection_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError), cycle_collection_paused():
        raise RuntimeError
    assert gc.isenabled()
