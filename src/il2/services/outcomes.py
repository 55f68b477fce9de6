"""Outcome analysis: read the whole program (outlines, not documents) as a de-identified Program.

Assumptions stated where the records are silent: a cycle's inpatient stay runs from its first
planned dose day to the day after its last recorded dose; a corrected entry is replaced by its
correction; a patient's best response is the best of their recorded response assessments.
"""

from __future__ import annotations

import gc
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, cast

from il2.domain.records import Actor, CourseOutline, CycleTally, EntryOutline, Referral
from il2.science.dataset import (
    BestResponse,
    Course,
    Cycle,
    Diagnosis,
    Patient,
    Program,
    Response,
    Toxicity,
)
from il2.science.html import render_report
from il2.science.report import summarize
from il2.services.context import Services, audit, require
from il2.services.outlines import course_outline, entry_outline

_RANK = {"CR": 0, "PR": 1, "SD": 2, "non-CR/non-PD": 2, "PD": 3, "NE": 4}


@contextmanager
def cycle_collection_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a program is read and reported on.

    A large program is a million small objects and no reference cycles; left on, the
    collector would scan them again and again (a third of the time). Reference counting
    still frees what is in no cycle at once; what is (a figure's artists) waits for the
    collector, which resumes as it was on leaving. The pause is process-wide, for seconds.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _current(entries: Sequence[EntryOutline]) -> dict[int, list[EntryOutline]]:
    """Each patient's entries that no other entry corrects, oldest first."""
    corrected = {e.corrects_id for e in entries if e.corrects_id is not None}
    mine: dict[int, list[EntryOutline]] = defaultdict(list)
    for entry in entries:
        if entry.id not in corrected:
            mine[entry.patient_id].append(entry)
    return mine


_DAY = timedelta(days=1)
_NONE: Mapping[int, CycleTally] = {}


def _day(iso: str) -> date:
    return datetime.fromisoformat(iso).date()


def _cycles(course: CourseOutline, tallies: Mapping[int, CycleTally], out: list[Cycle]) -> None:
    """The course's planned cycles that have doses recorded, in plan order."""
    for number, due_at in course.cycle_starts:
        tally = tallies.get(number)
        if tally is not None:
            admitted = _day(due_at)
            out.append(
                Cycle(
                    course.id,
                    number,
                    tally.given,
                    tally.held,
                    admitted,
                    (tally.last_given_on or admitted) + _DAY,
                )
            )


def _response(
    patient_id: int, entries: Sequence[EntryOutline], first_dose_on: date
) -> Response | None:
    assessed = [e.recist for e in entries if e.recist is not None and e.kind == "response"]
    if not assessed:
        return None
    best = min(assessed, key=lambda r: _RANK[r.best_overall_response])
    named = best.best_overall_response
    category = cast(BestResponse, "SD" if named == "non-CR/non-PD" else named)
    progression = min(
        (date.fromisoformat(r.progression_on) for r in assessed if r.progression_on),
        default=None,
    )
    response_on = (
        date.fromisoformat(best.response_on)
        if best.response_on and category in ("CR", "PR")
        else None
    )
    if response_on and progression and progression < response_on:
        progression = None
    return Response(
        patient_id=patient_id,
        best_overall_response=category,
        response_on=response_on,
        progression_on=progression,
        best_change_pct=best.best_change_from_baseline_pct,
        timepoints=tuple(
            (date.fromisoformat(day), change)
            for day, change in best.timepoints[1:]
            if change is not None
        ),
        first_dose_on=first_dose_on,
    )


@dataclass
class _Program:
    """The Program's records, gathered patient by patient."""

    patients: list[Patient] = field(default_factory=list)
    courses: list[Course] = field(default_factory=list)
    cycles: list[Cycle] = field(default_factory=list)
    toxicities: list[Toxicity] = field(default_factory=list)
    responses: list[Response] = field(default_factory=list)

    def add_courses(
        self,
        patient_id: int,
        mine: Sequence[CourseOutline],
        tallies: Mapping[int, Mapping[int, CycleTally]],
    ) -> list[date]:
        """The patient's courses and their cycles; returns each course's last dose day."""
        lasts = []
        for course in mine:
            counted = tallies.get(course.id, _NONE)
            days = [t.last_given_on for t in counted.values() if t.last_given_on]
            last = max(days) if days else course.first_dose_on
            lasts.append(last)
            self.courses.append(
                Course(
                    patient_id,
                    course.id,
                    course.number,
                    course.regimen_id,
                    course.first_dose_on,
                    last,
                    course.vials_per_dose,
                )
            )
            _cycles(course, counted, self.cycles)
        return lasts

    def add_entries(
        self, patient_id: int, current: Sequence[EntryOutline], first_dose: date | None
    ) -> tuple[date | None, date | None]:
        """The patient's toxicities and response; returns the death date and the latest date."""
        death = None
        for entry in current:
            if entry.kind == "toxicity" and entry.course_id is not None:
                self.toxicities.extend(
                    Toxicity(patient_id, entry.course_id, term, grade)
                    for term, grade in entry.grades
                    if grade > 0
                )
            elif death is None and entry.kind == "follow_up" and entry.status == "dead":
                death = entry.observed_on
        response = _response(patient_id, current, first_dose) if first_dose else None
        if response is None:
            return death, None
        self.responses.append(response)
        return death, response.latest_on

    def program(self, as_of: date) -> Program:
        """The Program."""
        return Program(
            patients=tuple(self.patients),
            courses=tuple(self.courses),
            cycles=tuple(self.cycles),
            toxicities=tuple(self.toxicities),
            responses=tuple(self.responses),
            as_of=as_of,
        )


def _assemble(
    patients: Sequence[Referral],
    courses: Mapping[int, list[CourseOutline]],
    tallies: Mapping[int, Mapping[int, CycleTally]],
    entries: Mapping[int, list[EntryOutline]],
    verdicts: Mapping[int, str],
) -> _Program:
    records = _Program()
    for patient in patients:
        mine = courses.get(patient.id, [])
        current = entries.get(patient.id, [])
        lasts = records.add_courses(patient.id, mine, tallies)
        first_dose = min(c.first_dose_on for c in mine) if mine else None
        death, latest = records.add_entries(patient.id, current, first_dose)
        dates = [e.observed_on for e in current]
        dates.append(patient.referred_on)
        dates.extend(lasts)
        if latest:
            dates.append(latest)
        records.patients.append(
            Patient(
                patient_id=patient.id,
                diagnosis=cast(Diagnosis, patient.diagnosis),
                referred_on=patient.referred_on,
                eligible=verdicts.get(patient.id) == "eligible",
                treated=bool(mine),
                death_on=death,
                last_contact_on=max(dates),
            )
        )
    return records


def program(services: Services, actor: Actor, *, as_of: date) -> Program:
    """Every patient's records, de-identified, as one Program for analysis.

    Reads outlines, not documents (outlining first any record still without one), and the
    ledger counted by cycle in the database.
    """
    require(services, actor, "outcomes.read")
    with cycle_collection_paused(), services.uow() as uow:
        uow.courses.add_outlines([course_outline(c) for c in uow.courses.without_outline()])
        uow.entries.add_outlines([entry_outline(e) for e in uow.entries.without_outline()])
        patients = uow.patients.referrals()
        courses: dict[int, list[CourseOutline]] = defaultdict(list)
        for course in uow.courses.outlines():
            courses[course.patient_id].append(course)
        tallies: dict[int, dict[int, CycleTally]] = defaultdict(dict)
        for tally in uow.doses.cycle_tallies():
            tallies[tally.course_id][tally.cycle] = tally
        entries = _current(uow.entries.outlines())
        verdicts = uow.screenings.latest_verdicts()
        audit(
            uow,
            services,
            actor,
            action="read_outcomes",
            entity="program",
            entity_id="*",
            patient_id=None,
            after={"patients": len(patients)},
        )
        uow.commit()
        return _assemble(patients, courses, tallies, entries, verdicts).program(as_of)


def report(
    services: Services, actor: Actor, *, as_of: date, price_per_vial: float | None = None
) -> tuple[dict[str, Any], str]:
    """The outcome summary document and the self-contained HTML report."""
    with cycle_collection_paused():
        data = program(services, actor, as_of=as_of)
        summary = summarize(data, price_per_vial=price_per_vial)
        return summary, render_report(data, summary)
