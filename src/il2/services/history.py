"""A patient's recorded history, read as the retreatment engine's input.

Retreatment runs on what the ward recorded, not on a hand-typed document: every before-dose
assessment of every earlier course gives its findings (and rhythm) as earlier toxicities, and
the longest intubation, dialysis and coma it reported. A duration no assessment recorded stays
missing, so the verdict is `incomplete` and a physician reviews the earlier course.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from il2.domain.records import Json
from il2.domain.retreatment import RetreatmentDecision
from il2.services.context import Services
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


def history_document(assessments: Iterable[Json], known_terms: frozenset[str]) -> Json:
    """The retreatment document the before-dose assessments make (terms the list knows)."""
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
    return {"earlier_toxicities": toxicities, **longest}


def retreatment_on(services: Services, assessments: Iterable[Json]) -> RetreatmentDecision:
    """The retreatment verdict on these before-dose assessments."""
    known = frozenset(services.rules.retreatment_fields["earlier_toxicities"].values)
    return judge_history(services.rules, history_document(assessments, known))


def recorded_retreatment(
    services: Services, uow: UnitOfWork, patient_id: int
) -> RetreatmentDecision:
    """The retreatment verdict on the patient's recorded courses."""
    courses = uow.courses.for_patient(patient_id)
    ledgers = uow.doses.for_courses([c.id for c in courses]) if courses else {}
    return retreatment_on(
        services, (dose.assessment for c in courses for dose in ledgers.get(c.id, ()))
    )
