"""Outcomes side by side: the arms of a study, and the regimens given, each a group of patients.

Every figure is one the report already computes (science/stats.py, science/survival.py),
taken over the group's patients: no statistics of its own. Arms are intention to treat: a
patient assigned and never treated counts in their arm's denominator, and in its survival,
which counts from the arm assignment (randomisation) as trials do; a regimen's survival counts
from the first dose.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np

from il2.science.dataset import Program, restricted
from il2.science.stats import ANY_TERM, proportion, toxicity_incidence
from il2.science.survival import (
    DAYS_PER_MONTH,
    FIRST_DOSE,
    Durations,
    TimeOrigin,
    fit,
    from_assignment,
    overall_survival,
    progression_free_survival,
)

SEVERE_GRADE = 3
METHOD = (
    "Each group's patients: by arm, every patient assigned to the arm (intention to treat: the "
    "last arm assigned, a correction replacing a wrong one, whether or not the patient was "
    "treated or later withdrawn); by regimen, every treated patient, by the regimen of their "
    "first course. ORR and CR rate = (CR + PR) and CR / every patient of the group (a patient "
    "never treated, or treated and never assessed, counts as a non-responder); exact "
    "Clopper-Pearson 95% CIs. Median overall and progression-free survival: Kaplan-Meier; by "
    "arm from the date the patient was assigned to the arm (randomisation; a correction keeps "
    "the date of the assignment it corrects), over every patient of the arm, treated or not "
    "(time_origin 'assignment'; a patient never treated is followed to death, a progression a "
    "follow-up recorded, or the last contact); by regimen from the first dose, over the "
    "group's treated patients, as in the report (time_origin 'first_dose'). Grade >= 3 "
    "toxicity: treated patients of the group with an event of any term at CTCAE grade 3 or "
    "worse / treated patients of the group. Doses received: IL-2 doses given to each patient of "
    "the group over every course (0 for a patient never treated), median and range. A patient "
    "left out of the analysis for a data-quality problem is counted apart (not analysed)."
)


@dataclass(frozen=True, slots=True)
class Group:
    """A named group of patients to compare: an arm (`key` its short id) or a regimen.

    `assigned_on` is each patient's arm assignment date (an arm's survival counts from it);
    None for a regimen, whose survival counts from the first dose.
    """

    key: str
    name: str
    patient_ids: AbstractSet[int]
    assigned_on: Mapping[int, date] | None = None

    @property
    def time_origin(self) -> TimeOrigin:
        """Where the group's survival counts from."""
        return FIRST_DOSE if self.assigned_on is None else from_assignment(self.assigned_on)


def first_regimens(program: Program) -> dict[str, set[int]]:
    """Each regimen given first: the treated patients whose first course was of it."""
    first: dict[int, tuple[int, str]] = {}
    for course in program.courses:
        known = first.get(course.patient_id)
        if known is None or course.number < known[0]:
            first[course.patient_id] = (course.number, course.regimen_id)
    groups: dict[str, set[int]] = {}
    for patient_id, (_, regimen) in first.items():
        groups.setdefault(regimen, set()).add(patient_id)
    return dict(sorted(groups.items()))


def _json(value: object) -> Any:
    if value is None:
        return None
    as_json = getattr(value, "as_json", None)
    if as_json is None:  # pragma: no cover - only proportions come here
        return value
    document = as_json()
    return {
        **document,
        "value": round(float(document["value"]), 4),
        "ci95": [round(float(x), 4) for x in document["ci95"]],
    }


def _median(durations: Mapping[Any, Durations], origin: TimeOrigin) -> dict[str, Any]:
    days = np.concatenate([d.days for d in durations.values()])
    events = np.concatenate([d.events for d in durations.values()])
    estimate = fit(Durations(days, events))

    def _m(value: float | None) -> float | None:
        return None if value is None else round(value / DAYS_PER_MONTH, 2)

    return {
        "time_origin": origin.name,
        "patients": estimate.n_,
        "events": estimate.events_,
        "median_months": _m(estimate.median_),
        "median_ci95_months": [_m(estimate.median_ci_[0]), _m(estimate.median_ci_[1])],
    }


def group_outcome(program: Program, group: Group) -> dict[str, Any]:
    """One group's outcomes, as a JSON-ready document (see METHOD)."""
    mine = restricted(program, group.patient_ids)
    origin = group.time_origin
    analysed = len(mine.patients)
    treated_ids = {p.patient_id for p in mine.patients if p.treated}
    treated = len(treated_ids)
    best = Counter(r.best_overall_response for r in mine.responses if r.patient_id in treated_ids)
    severe = next((row for row in toxicity_incidence(mine) if row.term == ANY_TERM), None)
    course_of = {c.course_id: c.patient_id for c in mine.courses}
    given: Counter[int] = Counter({p.patient_id: 0 for p in mine.patients})
    for cycle in mine.cycles:
        given[course_of[cycle.course_id]] += cycle.doses_given
    doses = list(given.values())
    return {
        "id": group.key,
        "name": group.name,
        "patients": analysed,
        "not_analysed": len(group.patient_ids) - analysed,
        "treated": treated,
        "best_overall_response": {k: best[k] for k in ("CR", "PR", "SD", "PD", "NE")},
        "orr": _json(proportion(best["CR"] + best["PR"], analysed)),
        "cr_rate": _json(proportion(best["CR"], analysed)),
        "overall_survival": _median(overall_survival(mine, origin=origin), origin),
        "progression_free_survival": _median(
            progression_free_survival(mine, origin=origin), origin
        ),
        "grade_3_or_worse_toxicity": _json(
            proportion(severe.patients_at_least(SEVERE_GRADE) if severe else 0, treated)
        ),
        "doses_received": {
            "median": float(np.median(doses)) if doses else None,
            "min": min(doses, default=None),
            "max": max(doses, default=None),
        },
    }


def compare(program: Program, groups: Sequence[Group]) -> list[dict[str, Any]]:
    """Each group's outcomes, in the order given."""
    return [group_outcome(program, group) for group in groups]
