"""What each figure shows, computed apart from drawing: changes, lanes and trajectories.

Large programs are thinned for display by keeping patients at evenly spaced ranks of the
figure's sort order (no randomness), so the shape of the whole cohort is kept; `total` says how
many patients the full figure would have shown.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

import numpy as np
from numpy.typing import NDArray

from il2.science.dataset import BestResponse, Patient, Program, Response
from il2.science.survival import DAYS_PER_MONTH, first_doses

DAYS_PER_WEEK = 7.0


def evenly_spaced(count: int, limit: int) -> NDArray[np.int64]:
    """Indices of at most `limit` of `count` sorted items, at evenly spaced ranks, ends kept."""
    if count <= limit:
        return np.arange(count, dtype=np.int64)
    return np.unique(np.linspace(0, count - 1, limit).round().astype(np.int64))


@dataclass(frozen=True, slots=True)
class Waterfall:
    """Best % change per patient, largest increase first, with each patient's best response."""

    change_pct: NDArray[np.float64]
    best: tuple[BestResponse, ...]
    total: int


def waterfall(program: Program, *, limit: int) -> Waterfall:
    """Treated patients with a best % change, sorted for a waterfall plot."""
    treated = {p.patient_id for p in program.patients if p.treated}
    rows = sorted(
        (
            (r.best_change_pct, r.best_overall_response)
            for r in program.responses
            if r.patient_id in treated and r.best_change_pct is not None
        ),
        key=lambda row: -row[0],
    )
    keep = evenly_spaced(len(rows), limit)
    return Waterfall(
        change_pct=np.array([rows[i][0] for i in keep], dtype=np.float64),
        best=tuple(rows[i][1] for i in keep),
        total=len(rows),
    )


@dataclass(frozen=True, slots=True)
class Lane:
    """One patient's time on study (months from first dose) and what happened on it."""

    months: float
    best: BestResponse | None
    response_months: float | None
    progression_months: float | None
    died: bool


@dataclass(frozen=True, slots=True)
class Swimmer:
    """Lanes, longest first."""

    lanes: tuple[Lane, ...]
    total: int


def _months_between(start: date, end: date | None) -> float | None:
    return None if end is None else (end - start).days / DAYS_PER_MONTH


def _progressed(patient: Patient, response: Response | None) -> date | None:
    """The first progression: RECIST's, or one a follow-up contact recorded."""
    days = [d for d in (response.progression_on if response else None, patient.progression_on) if d]
    return min(days) if days else None


def swimmer(program: Program, *, limit: int) -> Swimmer:
    """Every treated patient's follow-up from first dose to death, last contact or cut-off."""
    first = first_doses(program)
    responses = {r.patient_id: r for r in program.responses}
    followed = []  # (days on study, first dose, patient): lanes are made only for those shown
    for patient in program.patients:
        start = first.get(patient.patient_id)
        if (
            not patient.treated
            or start is None
            or start > program.as_of
            or patient.patient_id in program.unfollowed
            or patient.patient_id in program.unprogressed
        ):
            continue
        end = min(patient.followed_to, program.as_of)
        followed.append((max((end - start).days, 0), start, patient))
    followed.sort(key=lambda row: -row[0])
    lanes = []
    for i in evenly_spaced(len(followed), limit):
        days, start, patient = followed[i]
        response = responses.get(patient.patient_id)
        lanes.append(
            Lane(
                months=days / DAYS_PER_MONTH,
                best=response.best_overall_response if response else None,
                response_months=_months_between(start, response.response_on) if response else None,
                progression_months=_months_between(start, _progressed(patient, response)),
                died=patient.death_on is not None and patient.death_on <= program.as_of,
            )
        )
    return Swimmer(tuple(lanes), len(followed))


@dataclass(frozen=True, slots=True)
class Trajectory:
    """One patient's % change from baseline (0 at first dose) against weeks from first dose."""

    weeks: NDArray[np.float64]
    change_pct: NDArray[np.float64]
    best: BestResponse


@dataclass(frozen=True, slots=True)
class Spider:
    """Trajectories, ordered by best % change."""

    trajectories: tuple[Trajectory, ...]
    total: int


def _lowest(changes: list[float]) -> float:
    """The lowest change of a path that starts at 0 (NaN if any is NaN, as numpy's min)."""
    return math.nan if any(map(math.isnan, changes)) else min([0.0, *changes])


def spider(program: Program, *, limit: int) -> Spider:
    """Treated patients' assessments over time, each starting from baseline."""
    treated = {p.patient_id for p in program.patients if p.treated}
    paths = []  # (lowest change, response, its points): trajectories only for those shown
    for response in program.responses:
        if response.patient_id not in treated or not response.timepoints:
            continue
        points = sorted(response.timepoints)
        paths.append((_lowest([float(c) for _, c in points]), response, points))
    paths.sort(key=lambda path: path[0])
    trajectories = []
    for i in evenly_spaced(len(paths), limit):
        _, response, points = paths[i]
        weeks = [0.0] + [(d - response.first_dose_on).days / DAYS_PER_WEEK for d, _ in points]
        change = [0.0] + [float(c) for _, c in points]
        trajectories.append(
            Trajectory(
                np.array(weeks, dtype=np.float64),
                np.array(change, dtype=np.float64),
                response.best_overall_response,
            )
        )
    return Spider(tuple(trajectories), len(paths))
