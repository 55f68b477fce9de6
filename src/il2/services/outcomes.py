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
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, cast

from il2.domain.errors import InvalidInputError
from il2.domain.records import Actor, CourseOutline, CycleTally, EntryOutline, Referral
from il2.science.comparison import METHOD as COMPARISON_METHOD
from il2.science.comparison import Group, compare, first_regimens
from il2.science.dataset import (
    BestResponse,
    Course,
    Cycle,
    Diagnosis,
    Patient,
    Program,
    Response,
    Toxicity,
    restricted,
)
from il2.science.plots import ReportFigures, Thresholds, report_figures
from il2.science.report import summarize
from il2.services import quality
from il2.services.auditing import audit
from il2.services.context import Services
from il2.services.outlines import course_outline, entry_outline
from il2.services.override_analysis import override_summary
from il2.services.permissions import require
from il2.services.prediction import prediction_section
from il2.services.studies import arms_by_patient

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


def _cycles(
    course: CourseOutline, tallies: Mapping[int, CycleTally], bad: set[int], out: list[Cycle]
) -> None:
    """The course's planned cycles that have doses recorded, in plan order (not the `bad`)."""
    for number, due_at in course.cycle_starts:
        tally = tallies.get(number)
        if tally is not None and number not in bad:
            admitted = quality.iso_day(due_at)
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


def _clinical_progression(entries: Sequence[EntryOutline], first_dose: date | None) -> date | None:
    """The first follow-up contact that found the patient alive with progression, on or after
    the first dose (progression before treatment is not an event of any endpoint)."""
    if first_dose is None:
        return None
    return min(
        (
            e.observed_on
            for e in entries
            if e.kind == "follow_up"
            and e.status == "alive_progression"
            and e.observed_on >= first_dose
        ),
        default=None,
    )


_ENTRY_WORDS = {"toxicity": "a toxicity", "response": "a response assessment"}


@dataclass
class _Program:
    """The Program's records, gathered patient by patient, and the records left out."""

    patients: list[Patient] = field(default_factory=list)
    courses: list[Course] = field(default_factory=list)
    cycles: list[Cycle] = field(default_factory=list)
    toxicities: list[Toxicity] = field(default_factory=list)
    responses: list[Response] = field(default_factory=list)
    problems: list[quality.Problem] = field(default_factory=list)
    unfollowed: set[int] = field(default_factory=set)
    unprogressed: set[int] = field(default_factory=set)

    def _lists(self) -> tuple[list[Any], ...]:
        return (self.patients, self.courses, self.cycles, self.toxicities, self.responses)

    def mark(self) -> tuple[int, ...]:
        """Where each list ends now (to take a patient's records back)."""
        return tuple(len(records) for records in self._lists())

    def take_back(self, patient_id: int, mark: tuple[int, ...]) -> None:
        """Remove every record added since `mark` (one patient's)."""
        for records, length in zip(self._lists(), mark, strict=True):
            del records[length:]
        self.unfollowed.discard(patient_id)
        self.unprogressed.discard(patient_id)

    def add_courses(
        self,
        patient_id: int,
        mine: Sequence[CourseOutline],
        tallies: Mapping[int, Mapping[int, CycleTally]],
        untimed: Mapping[tuple[int, int], int],
    ) -> list[tuple[date, str]]:
        """The patient's courses and their cycles; returns each course's last dose day."""
        lasts = []
        for course in mine:
            counted = tallies.get(course.id, _NONE)
            problems, bad = quality.cycle_problems(course, counted, untimed)
            self.problems.extend(problems)
            days = [
                t.last_given_on
                for number, t in counted.items()
                if t.last_given_on and number not in bad
            ]
            last = max(days) if days else course.first_dose_on
            lasts.append((last, f"a dose of course {course.number}"))
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
            _cycles(course, counted, bad, self.cycles)
        return lasts

    def _toxicity(self, patient_id: int, entry: EntryOutline, course_ids: set[int]) -> None:
        grades = entry.grades
        if entry.course_id not in course_ids or any(g not in range(6) for _, g in grades):
            problems, grades = quality.toxicity_problems(patient_id, entry, course_ids)
            self.problems.extend(problems)
        if entry.course_id is not None:
            self.toxicities.extend(
                Toxicity(patient_id, entry.course_id, term, grade)
                for term, grade in grades
                if grade > 0
            )

    def add_entries(
        self,
        patient_id: int,
        current: Sequence[EntryOutline],
        first_dose: date | None,
        course_ids: set[int],
    ) -> tuple[EntryOutline | None, date | None]:
        """The patient's toxicities and response; returns the death entry and the latest date."""
        death = None
        for entry in current:
            if entry.kind == "toxicity" and entry.course_id is not None:
                self._toxicity(patient_id, entry, course_ids)
            elif death is None and entry.kind == "follow_up" and entry.status == "dead":
                death = entry
        if first_dose is None:
            return death, None
        problems = quality.response_problems(patient_id, current, first_dose)
        if problems:
            self.problems.extend(problems)
            self.unprogressed.add(patient_id)
            return death, None
        response = _response(patient_id, current, first_dose)
        if response is None:
            return death, None
        self.responses.append(response)
        return death, response.latest_on

    def add_patient(
        self,
        patient: Referral,
        mine: Sequence[CourseOutline],
        records: tuple[
            Mapping[int, Mapping[int, CycleTally]],
            Sequence[EntryOutline],
            Mapping[tuple[int, int], int],
            str | None,
        ],
    ) -> None:
        """One patient's records, with the records that do not fit left out and listed."""
        tallies, current, untimed, verdict = records
        lasts = self.add_courses(patient.id, mine, tallies, untimed)
        first_dose = min(c.first_dose_on for c in mine) if mine else None
        died, latest = self.add_entries(patient.id, current, first_dose, {c.id for c in mine})
        dates = [e.observed_on for e in current]
        dates.append(patient.referred_on)
        dates.extend(day for day, _ in lasts)
        if latest:
            dates.append(latest)
        death = died.observed_on if died else None
        if death is not None and max(dates) > death:
            later = [
                (e.observed_on, _ENTRY_WORDS.get(e.kind, "a follow-up"))
                for e in current
                if e is not died
            ]
            later.extend(lasts)
            later.append((patient.referred_on, "the referral"))
            if latest:
                later.append((latest, "a response or progression"))
            problem = quality.death_problem(patient.id, death, later)
            if problem is not None:
                self.problems.append(problem)
                self.unfollowed.add(patient.id)
                death = None
        self.patients.append(
            Patient(
                patient_id=patient.id,
                diagnosis=cast(Diagnosis, patient.diagnosis),
                referred_on=patient.referred_on,
                eligible=verdict == "eligible",
                treated=bool(mine),
                death_on=death,
                last_contact_on=max(dates),
                progression_on=_clinical_progression(current, first_dose),
            )
        )

    def program(self, as_of: date) -> Program:
        """The Program."""
        return Program(
            patients=tuple(self.patients),
            courses=tuple(self.courses),
            cycles=tuple(self.cycles),
            toxicities=tuple(self.toxicities),
            responses=tuple(self.responses),
            as_of=as_of,
            unfollowed=frozenset(self.unfollowed),
            unprogressed=frozenset(self.unprogressed),
        )


def assemble(
    patients: Sequence[Referral],
    courses: Mapping[int, list[CourseOutline]],
    tallies: Mapping[int, Mapping[int, CycleTally]],
    entries: Mapping[int, list[EntryOutline]],
    *,
    verdicts: Mapping[int, str],
    untimed: Mapping[tuple[int, int], int],
    as_of: date,
) -> tuple[Program, list[quality.Problem]]:
    """The Program from records already read, and the records left out of it (never fails on
    a record: whatever does not fit is listed instead)."""
    records = _Program()
    for patient in patients:
        wrong = quality.diagnosis_problem(patient.id, patient.diagnosis)
        if wrong is not None:
            records.problems.append(wrong)
            continue
        mark = records.mark()
        listed = len(records.problems)
        try:
            records.add_patient(
                patient,
                courses.get(patient.id, []),
                (tallies, entries.get(patient.id, []), untimed, verdicts.get(patient.id)),
            )
        except (InvalidInputError, ValueError, KeyError, TypeError) as error:
            # A record no check names: the patient leaves the analysis, the rest goes on.
            records.take_back(patient.id, mark)
            del records.problems[listed:]
            records.problems.append(quality.unusable(patient.id, error))
    records.problems.sort(key=lambda p: p.patient_id)
    return records.program(as_of), records.problems


def examined(
    services: Services, actor: Actor, *, as_of: date
) -> tuple[Program, list[quality.Problem]]:
    """Every patient's records, de-identified, as one Program for analysis, and the records
    that do not fit (each patient left out of the figures such a record would corrupt).

    Reads outlines, not documents (outlining first any record still without one), and the
    ledger counted by cycle in the database. Each patient left out of a figure is audited.
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
        untimed = uow.doses.untimed_given()
        data, problems = assemble(
            patients, courses, tallies, entries, verdicts=verdicts, untimed=untimed, as_of=as_of
        )
        zeros = {
            p.id: min((c.first_dose_on for c in courses.get(p.id, ())), default=p.referred_on)
            for p in patients
        }
        problems = [replace(p, day_zero=zeros.get(p.patient_id)) for p in problems]
        left_out: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for problem in problems:
            left_out[problem.patient_id].append(problem.document(services.study_key))
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
        for patient_id, documents in left_out.items():
            audit(
                uow,
                services,
                actor,
                action="leave_out_of_outcomes",
                entity="patient",
                entity_id=patient_id,
                patient_id=patient_id,
                after={"problems": documents},
            )
        uow.commit()
        return data, problems


@dataclass(frozen=True, slots=True)
class Filters:
    """Which patients an outcome analysis takes: referred in these years (inclusive), with this
    diagnosis, given at least one course of this regimen; None takes every one."""

    year_from: int | None = None
    year_to: int | None = None
    diagnosis: str | None = None
    regimen_id: str | None = None
    study_id: int | None = None
    """Not a filter: the study whose arms the analysis compares (None: the newest study)."""

    @property
    def any(self) -> bool:
        """Whether any filter is set."""
        return any(v is not None for v in (self.year_from, self.year_to, self.diagnosis,
                                            self.regimen_id))  # fmt: skip


def filtered(data: Program, filters: Filters) -> Program:
    """The program's records of the patients the filters take, and nothing else of anyone."""
    with_regimen = {c.patient_id for c in data.courses if c.regimen_id == filters.regimen_id}
    kept = {
        p.patient_id
        for p in data.patients
        if (filters.year_from is None or p.referred_on.year >= filters.year_from)
        and (filters.year_to is None or p.referred_on.year <= filters.year_to)
        and (filters.diagnosis is None or p.diagnosis == filters.diagnosis)
        and (filters.regimen_id is None or p.patient_id in with_regimen)
    }
    return restricted(data, kept)


def program(services: Services, actor: Actor, *, as_of: date) -> Program:
    """Every patient's records, de-identified, as one Program for analysis (see `examined`)."""
    return examined(services, actor, as_of=as_of)[0]


def _summarized(
    services: Services,
    actor: Actor,
    *,
    as_of: date,
    price_per_vial: Decimal | float | None,
    filters: Filters,
) -> tuple[Program, dict[str, Any]]:
    """The program of the patients the filters take and its summary, with the `data_quality`
    block of the whole program (the collector paused by the caller)."""
    data, problems = examined(services, actor, as_of=as_of)
    if filters.any:
        data = filtered(data, filters)
    summary = summarize(data, price_per_vial=price_per_vial)
    summary["comparison"] = comparison(services, data, filters.study_id)
    summary["prediction"] = prediction_section(services, data)
    summary["data_quality"] = quality.summary(problems, key=services.study_key)
    summary["overrides"] = override_summary(services, actor, data)
    return data, summary


def comparison(services: Services, data: Program, study_id: int | None) -> dict[str, Any]:
    """The program's patients compared by arm of a study (intention to treat; `study_id`, else
    the newest study; none while the program has no study) and by first regimen."""
    with services.uow() as uow:
        studies = uow.studies.all()
    known = {s.id: s for s in studies}
    if study_id is not None and study_id not in known:
        raise InvalidInputError(
            field="study",
            value=study_id,
            allowed="a study of the program: " + (", ".join(map(str, known)) or "none yet"),
        )
    chosen = known.get(study_id) if study_id is not None else (studies[-1] if studies else None)
    by_arm: list[dict[str, Any]] = []
    if chosen is not None:
        _, arm_of, assigned_on = arms_by_patient(services, chosen.id)
        groups = []
        for arm in chosen.arms:
            members = {p for p, code in arm_of.items() if code == arm.code}
            dates = {p: assigned_on[p] for p in members}
            groups.append(Group(arm.code, arm.name, members, assigned_on=dates))
        by_arm = compare(data, groups)
    by_regimen = compare(data, [Group(r, r, ids) for r, ids in first_regimens(data).items()])
    return {
        "study": None
        if chosen is None
        else {"id": chosen.id, "name": chosen.name, "registry_id": chosen.registry_id},
        "studies": [{"id": s.id, "name": s.name, "registry_id": s.registry_id} for s in studies],
        "by_arm": by_arm,
        "by_regimen": by_regimen,
        "method": COMPARISON_METHOD,
    }


def outcome_summary(
    services: Services,
    actor: Actor,
    *,
    as_of: date,
    price_per_vial: Decimal | float | None = None,
    filters: Filters | None = None,
) -> dict[str, Any]:
    """The outcome summary document, with its `data_quality` block (no HTML, no plots), of the
    patients the filters take (every one without)."""
    with cycle_collection_paused():
        chosen = filters or Filters()
        return _summarized(
            services, actor, as_of=as_of, price_per_vial=price_per_vial, filters=chosen
        )[1]


def report(
    services: Services,
    actor: Actor,
    *,
    as_of: date,
    price_per_vial: Decimal | float | None = None,
    filters: Filters | None = None,
) -> tuple[dict[str, Any], ReportFigures]:
    """The outcome summary document (with its `data_quality` block) and the report's figures,
    of the patients the filters take (every one without); cost only with a price per vial.
    The edges render them (`il2.web.report`); the RECIST lines are the loaded rules'."""
    with cycle_collection_paused():
        chosen = filters or Filters()
        data, summary = _summarized(
            services, actor, as_of=as_of, price_per_vial=price_per_vial, filters=chosen
        )
        return summary, report_figures(data, Thresholds.of(services.rules.recist))
