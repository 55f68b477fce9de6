"""Who responds: the program's own responder and survival models, read from its screenings.

Each treated patient's baseline is the last screening recorded on or before the first dose
(the work-up that let the patient start). The analysis is advice beside the outcome report;
no eligibility verdict ever reads it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, date
from typing import Any

import numpy as np

from il2.domain.errors import InvalidInputError
from il2.domain.findings import read_findings
from il2.domain.prognosis import assess_prognosis
from il2.domain.records import ScreeningRecord
from il2.science.dataset import Baseline, Program
from il2.science.prediction import analyse, prediction_spec, sample_patients
from il2.services.context import Services

SEED = 20261208
"""The analysis's fixed seed: the same records give the same numbers on every page load."""
_CHUNK = 500  # patient ids per query: well under every database's limit on bound parameters


def first_doses(data: Program) -> dict[int, date]:
    """Each treated patient's first dose day."""
    first: dict[int, date] = {}
    for course in data.courses:
        known = first.get(course.patient_id)
        if known is None or course.first_dose_on < known:
            first[course.patient_id] = course.first_dose_on
    return first


def baseline_of(
    patient_id: int,
    screenings: Sequence[ScreeningRecord],
    first_dose_on: date,
    services: Services,
) -> Baseline | None:
    """The last screening on or before the first dose, as a Baseline (None without one, or
    when its stored findings no longer read under the current fields)."""
    before = [s for s in screenings if s.recorded_at.astimezone(UTC).date() <= first_dose_on]
    if not before:
        return None
    last = max(before, key=lambda s: (s.recorded_at, s.id))
    try:
        findings = read_findings(last.findings, services.rules.screening_fields)
    except InvalidInputError:
        return None
    return Baseline(patient_id, last.recorded_at.astimezone(UTC).date(), findings)


def baselines(
    services: Services, data: Program, *, limit: int | None = None, seed: int = SEED
) -> tuple[Baseline, ...]:
    """The baselines of the program's treated patients (of at most `limit` of them, a seeded
    random sample, when given), by patient id."""
    first = first_doses(data)
    ids = sorted(first) if limit is None else sample_patients(list(first), limit=limit, seed=seed)
    found: list[Baseline] = []
    with services.uow() as uow:
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            screenings = uow.screenings.for_patients(chunk)
            for patient_id in chunk:
                baseline = baseline_of(
                    patient_id, screenings.get(patient_id, ()), first[patient_id], services
                )
                if baseline is not None:
                    found.append(baseline)
    return tuple(found)


def prediction_summary(
    data: Program,
    *,
    seed: int = SEED,
    scores: Mapping[str, Mapping[int, int | float]] | None = None,
) -> dict[str, Any]:
    """The prediction section (JSON-ready) of a program whose baselines are filled:
    `response`, `survival`, `verdict`, `method`, `select_trial`, `advice`, `sources`..."""
    summary = analyse(data, rng=np.random.default_rng(seed), scores=scores)
    summary["seed"] = seed
    return summary


def published_scores(services: Services, data: Program) -> dict[str, dict[int, int]]:
    """Each published score's factor count per patient whose baseline settles it (a score with
    an unknown factor is left out for that patient), keyed by the score's name."""
    table = services.rules.prognostic_scores
    diagnosis = {p.patient_id: p.diagnosis for p in data.patients}
    found: dict[str, dict[int, int]] = {}
    for baseline in data.baselines:
        assessed = assess_prognosis(
            baseline.findings, diagnosis=diagnosis[baseline.patient_id], table=table
        )
        for score in assessed:
            if score.count_low == score.count_high:
                found.setdefault(score.name, {})[baseline.patient_id] = score.count_low
    return found


def prediction_section(services: Services, data: Program) -> dict[str, Any]:
    """The prediction section of the outcome summary: baselines read, then the analysis beside
    the published scores computed from the same baselines."""
    limit = prediction_spec().validation.max_patients
    based = replace(data, baselines=baselines(services, data, limit=limit))
    return prediction_summary(based, scores=published_scores(services, based))
