"""A patient's recorded history, read as the retreatment engine's input.

Retreatment runs on what the ward recorded, not on a hand-typed document: every before-dose
assessment of every earlier course gives its findings (and rhythm) as earlier toxicities, and
the longest intubation, dialysis and coma it reported. A duration no assessment recorded stays
missing, so the verdict is `incomplete` and a physician reviews the earlier course.

The CTCAE grades of the toxicity entries in force (not corrected since) that belong to a treated
course, or carry no course and were observed on or after the first dose given, are the history's
`earlier_grades`: the retreatment list says which of them a physician must review.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, tzinfo
from typing import Any

from il2.domain.records import Json
from il2.domain.retreatment import RetreatmentDecision
from il2.services.context import Services
from il2.services.parsing import plain
from il2.services.ports import UnitOfWork
from il2.services.retreatment import judge_history

_DURATIONS = {
    "intubated_hours_max": "intubated_hours",
    "dialysis_hours_max": "dialysis_hours",
    "coma_hours_max": "coma_hours",
}


def _terms(assessment: Json) -> list[str]:
    terms = [t for t in assessment.get("findings") or [] if isinstance(t, str)]
    vitals = assessment.get("vitals")
    rhythm = vitals.get("rhythm") if isinstance(vitals, dict) else None
    if isinstance(rhythm, str):
        terms.append(rhythm)
    return terms


def recorded_grades(doses: Sequence[Json], entries: Sequence[Json], zone: tzinfo) -> list[Json]:
    """The CTCAE grades recorded during treatment (plain doses and entries, as records give;
    the first dose's day is the site's calendar day, `zone`)."""
    given = [d for d in doses if d.get("outcome") == "given" and d.get("given_at")]
    if not given:
        return []
    courses = {d["course_id"] for d in given}
    first_day = min(_local_day(d["given_at"], zone) for d in given)
    replaced = {e.get("corrects_id") for e in entries if e.get("corrects_id")}
    grades: list[Json] = []
    for entry in entries:
        if entry.get("kind") != "toxicity" or entry.get("id") in replaced:
            continue
        course, observed = entry.get("course_id"), str(entry.get("observed_on") or "")
        if course not in courses and not (course is None and observed >= first_day):
            continue
        graded = (entry.get("content") or {}).get("grades") or {}
        for item in graded.get("grades") or []:
            if isinstance(item, dict) and item.get("grade"):
                grades.append(
                    {"term": item["term"], "grade": item["grade"], "observed_on": observed or None}
                )
    return grades


def _local_day(moment: object, zone: tzinfo) -> str:
    at = moment if isinstance(moment, datetime) else datetime.fromisoformat(str(moment))
    return at.astimezone(zone).date().isoformat()


def history_document(
    assessments: Iterable[Json], known_terms: frozenset[str], grades: Sequence[Json] = ()
) -> Json:
    """The retreatment document the before-dose assessments and recorded grades make (terms the
    list knows)."""
    toxicities: list[str] = []
    longest: dict[str, Any] = {}
    for assessment in assessments:
        for term in _terms(assessment):
            if term in known_terms and term not in toxicities:
                toxicities.append(term)
        for name, field in _DURATIONS.items():
            value = assessment.get(field)
            if isinstance(value, int | float) and not isinstance(value, bool):
                longest[name] = max(value, longest.get(name, value))
    extra = {"earlier_grades": list(grades)} if grades else {}
    return {"earlier_toxicities": toxicities, **longest, **extra}


def retreatment_on(
    services: Services, assessments: Iterable[Json], grades: Sequence[Json] = ()
) -> RetreatmentDecision:
    """The retreatment verdict on these before-dose assessments and recorded grades."""
    known = frozenset(services.rules.retreatment_fields["earlier_toxicities"].values)
    return judge_history(services.rules, history_document(assessments, known, grades))


def recorded_retreatment(
    services: Services, uow: UnitOfWork, patient_id: int
) -> RetreatmentDecision:
    """The retreatment verdict on the patient's recorded courses."""
    courses = uow.courses.for_patient(patient_id)
    ledgers = uow.doses.for_courses([c.id for c in courses], decisions=False) if courses else {}
    doses = [dose for c in courses for dose in ledgers.get(c.id, ())]
    entries = [plain(e) for e in uow.entries.for_patient(patient_id)]
    grades = recorded_grades([plain(d) for d in doses], entries, services.rules.site.time_zone)
    return retreatment_on(services, (dose.assessment for dose in doses), grades)
