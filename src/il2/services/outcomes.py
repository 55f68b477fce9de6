"""Outcome analysis: read every record into a de-identified Program and summarize it.

Assumptions stated where the records are silent: a cycle's inpatient stay runs from its first
planned dose day to the day after its last recorded dose; a corrected entry is replaced by its
correction; a patient's best response is the best of their recorded response assessments.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from il2.domain.records import Actor, ClinicalEntry, CourseRecord, DoseOutcome, DoseRecord
from il2.science.dataset import BestResponse, Course, Cycle, Patient, Program, Response, Toxicity
from il2.science.html import render_report
from il2.science.report import summarize
from il2.services.context import Services, audit, require

_RANK = {"CR": 0, "PR": 1, "SD": 2, "non-CR/non-PD": 2, "PD": 3, "NE": 4}
_PAGE = 2000


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


def _patient_records(uow: Any, patients: Sequence[Any], as_of: date) -> dict[str, list[Any]]:
    ids = [p.id for p in patients]
    courses = uow.courses.for_patients(ids)
    ledgers = uow.doses.for_courses([c.id for cs in courses.values() for c in cs])
    screenings = uow.screenings.for_patients(ids)
    entries = uow.entries.for_patients(ids)
    out: dict[str, list[Any]] = {
        "patients": [],
        "courses": [],
        "cycles": [],
        "toxicities": [],
        "responses": [],
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
                Course(
                    patient.id,
                    course.id,
                    course.number,
                    course.regimen_id,
                    course.first_dose_at.date(),
                    last,
                    int(course.plan["vials_per_dose"]),
                )
            )
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
            (
                e.observed_on
                for e in current
                if e.kind == "follow_up" and e.content.get("status") == "dead"
            ),
            None,
        )
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
            )
        )
    return out


def program(services: Services, actor: Actor, *, as_of: date) -> Program:
    """Every patient's records, de-identified, as one Program for analysis."""
    require(services, actor, "outcomes.read")
    collected: dict[str, list[Any]] = {
        "patients": [],
        "courses": [],
        "cycles": [],
        "toxicities": [],
        "responses": [],
    }
    with services.uow() as uow:
        offset = 0
        while page := uow.patients.page(limit=_PAGE, offset=offset):
            for key, values in _patient_records(uow, page, as_of).items():
                collected[key].extend(values)
            offset += _PAGE
        audit(
            uow,
            services,
            actor,
            action="read_outcomes",
            entity="program",
            entity_id="*",
            patient_id=None,
            after={"patients": len(collected["patients"])},
        )
        uow.commit()
    return Program(
        patients=tuple(collected["patients"]),
        courses=tuple(collected["courses"]),
        cycles=tuple(collected["cycles"]),
        toxicities=tuple(collected["toxicities"]),
        responses=tuple(collected["responses"]),
        as_of=as_of,
    )


def report(
    services: Services, actor: Actor, *, as_of: date, price_per_vial: float | None = None
) -> tuple[dict[str, Any], str]:
    """The outcome summary document and the self-contained HTML report."""
    data = program(services, actor, as_of=as_of)
    summary = summarize(data, price_per_vial=price_per_vial)
    return summary, render_report(data, summary)
