"""Override analytics read from the ledger: every dose the engine held, given against the hold
or not, and what followed, de-identified as the outcome summary is (science/overrides.py).

De-identified for whoever may read outcomes (`outcomes.read`, which permissions.toml grants
researchers as a de-identified view): patients by study number, each override's date as its year
and its day from the patient's day 0, its free-text reason withheld from a reader of de-
identified records only (domain/deidentify.py lists override reasons as free text; a reader of
identified records reads it in the patient's record anyway). Prescribers are shown by a code,
stable under the site's study key, never by username: a by-prescriber table of named physicians
would make the researcher's view a staff performance record no role was granted, and the code
still follows one prescriber across years and reports. Who overrode stays in the dose ledger and
the audit trail for those who may read them.
"""

from __future__ import annotations

import hashlib
import hmac
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import Any

from il2.domain.deidentify import WITHHELD, study_number
from il2.domain.records import (
    Actor,
    CourseDoseLine,
    CourseRecord,
    DoseOutcome,
    DoseRecord,
)
from il2.science.dataset import Program
from il2.science.overrides import (
    SEVERE_GRADE,
    Hold,
    NextDecision,
    analyse,
    cycle_completed,
    next_decision,
    within_48h,
)
from il2.services.auditing import audit
from il2.services.context import Services
from il2.services.doses import hold_rules
from il2.services.permissions import reads_identified, require
from il2.services.ports import UnitOfWork

PRESCRIBER_PREFIX = "prescriber-"
_CHUNK = 500


def prescriber_code(username: str, *, key: bytes) -> str:
    """A prescriber as the de-identified summary names them: a code from an HMAC-SHA-256 of
    the username under the site's study key (stable; tells nothing without the key)."""
    if not key:
        raise ValueError("the study key is empty: de-identified views need a site study key")
    digest = hmac.new(key, f"prescriber:{username}".encode(), hashlib.sha256).hexdigest()
    return PRESCRIBER_PREFIX + digest[:8]


def _planned_doses(course: CourseRecord) -> dict[int, int]:
    """Each planned cycle's number of dose slots."""
    return {c["cycle"]: len(c.get("doses", ())) for c in course.plan.get("cycles", ())}


class _Ledger:
    """The ledger's lines by course in dose order, and what follows a dose in its course."""

    def __init__(self, lines: Sequence[CourseDoseLine]) -> None:
        self.by_course: dict[int, list[CourseDoseLine]] = defaultdict(list)
        for line in sorted(lines, key=lambda x: (x.course_id, x.cycle, x.dose_number)):
            self.by_course[line.course_id].append(line)
        self._place = {
            (line.course_id, line.cycle, line.dose_number): n
            for lines_of in self.by_course.values()
            for n, line in enumerate(lines_of)
        }
        self._last_cycle = {c: lines_of[-1].cycle for c, lines_of in self.by_course.items()}

    def next_decision(self, dose: DoseRecord) -> NextDecision:
        lines = self.by_course[dose.course_id]
        after = self._place[(dose.course_id, dose.cycle, dose.dose_number)] + 1
        return next_decision(lines[after].decision_action if after < len(lines) else None)

    def completed(self, dose: DoseRecord, planned: Mapping[int, int]) -> bool | None:
        recorded = {
            line.dose_number: line.outcome.value
            for line in self.by_course[dose.course_id]
            if line.cycle == dose.cycle
        }
        later = self._last_cycle[dose.course_id] > dose.cycle
        return cycle_completed(planned.get(dose.cycle, 1), recorded, later_recorded=later)


def _severe_days(uow: UnitOfWork, patients: set[int]) -> dict[int, list[date]]:
    """The days each patient had a toxicity of grade SEVERE_GRADE or worse (current entries)."""
    outlines = uow.entries.outlines()
    corrected = {e.corrects_id for e in outlines if e.corrects_id is not None}
    days: dict[int, list[date]] = defaultdict(list)
    for entry in outlines:
        if (
            entry.kind == "toxicity"
            and entry.patient_id in patients
            and entry.id not in corrected
            and any(grade >= SEVERE_GRADE for _, grade in entry.grades)
        ):
            days[entry.patient_id].append(entry.observed_on)
    return days


def _courses(uow: UnitOfWork, patients: Sequence[int]) -> dict[int, CourseRecord]:
    found: dict[int, CourseRecord] = {}
    for start in range(0, len(patients), _CHUNK):
        for kept in uow.courses.for_patients(patients[start : start + _CHUNK]).values():
            found.update((c.id, c) for c in kept)
    return found


def _day_zero(courses: Sequence[CourseRecord], zone: tzinfo) -> date:
    """The patient's day 0 (as domain/deidentify.py): the local date of their first dose."""
    return min(c.first_dose_at.astimezone(zone).date() for c in courses)


def _decided_at(dose: DoseRecord) -> datetime:
    """When the dose was assessed: the decision's `assessed_at`, else when it was recorded."""
    kept = dose.decision.get("assessed_at")
    return datetime.fromisoformat(kept) if isinstance(kept, str) else dose.recorded_at


@dataclass(frozen=True, slots=True)
class _Read:
    """What the analysis reads of storage besides the holds."""

    ledger: _Ledger
    owner: Mapping[int, int]
    courses: Mapping[int, CourseRecord]
    day_zero: Mapping[int, date]
    severe: Mapping[int, Sequence[date]]


def _hold(
    services: Services, dose: DoseRecord, read: _Read, best: str | None, *, identified: bool
) -> Hold:
    """One analysable hold as the science reads it, de-identified (the free-text reason kept
    only for a reader of identified records, who may read it in the patient's record too)."""
    zone, key = services.rules.site.time_zone, services.study_key
    patient, course = read.owner[dose.course_id], read.courses[dose.course_id]
    decided = _decided_at(dose).astimezone(zone)
    overridden = dose.outcome is DoseOutcome.GIVEN and dose.override_by is not None
    return Hold(
        patient=study_number(patient, key=key),
        course=course.number,
        cycle=dose.cycle,
        dose_number=dose.dose_number,
        decided_at=decided,
        rules=hold_rules(dose.decision)[0],
        overridden=overridden,
        reason=(dose.override_reason if identified else WITHHELD)
        if overridden and dose.override_reason
        else None,
        prescriber=prescriber_code(str(dose.override_by), key=key) if overridden else None,
        next_decision=read.ledger.next_decision(dose),
        severe_toxicity_48h=any(
            within_48h(decided, day, zone) for day in read.severe.get(patient, ())
        ),
        cycle_completed=read.ledger.completed(dose, _planned_doses(course)),
        best_response=best,
        day=(decided.date() - read.day_zero[patient]).days,
    )


def override_summary(services: Services, actor: Actor, data: Program) -> dict[str, Any]:
    """The override analysis of the program's patients in `data` (the outcome summary's), de-
    identified and JSON-ready; the read is audited.

    A hold is analysed when every reason the engine held for may be overridden and the dose
    was given (with an override) or recorded held; the others are counted as `left_out`.
    """
    require(services, actor, "outcomes.read")
    zone = services.rules.site.time_zone
    kept = {p.patient_id for p in data.patients}
    responses = {r.patient_id: r.best_overall_response for r in data.responses}
    with services.uow() as uow:
        owner = {c.id: c.patient_id for c in uow.courses.outlines()}
        held = [d for d in uow.doses.engine_holds() if owner.get(d.course_id) in kept]
        patients = sorted({owner[d.course_id] for d in held})
        courses = _courses(uow, patients)
        by_patient: dict[int, list[CourseRecord]] = defaultdict(list)
        for course in courses.values():
            by_patient[course.patient_id].append(course)
        read = _Read(
            ledger=_Ledger(uow.doses.ledger_lines()),
            owner=owner,
            courses=courses,
            day_zero={p: _day_zero(mine, zone) for p, mine in by_patient.items()},
            severe=_severe_days(uow, set(patients)),
        )
        analysable = [
            d for d in held if hold_rules(d.decision)[1] and d.outcome is not DoseOutcome.STOPPED
        ]
        identified = reads_identified(services, actor)
        holds = [
            _hold(services, d, read, responses.get(owner[d.course_id]), identified=identified)
            for d in analysable
        ]
        audit(
            uow,
            services,
            actor,
            action="read_override_analysis",
            entity="program",
            entity_id="*",
            patient_id=None,
            after={"holds": len(holds), "overridden": sum(h.overridden for h in holds)},
        )
        uow.commit()
    return analyse(holds, left_out=len(held) - len(analysable))
