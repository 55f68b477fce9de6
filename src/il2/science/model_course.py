"""Synthetic patients' tumour courses from the mechanistic model (il2.science.mechanism).

Each synthetic patient is given a virtual patient of its diagnosis: the first plausible draw of
the calibrated population (mechanism/population.py, data/population.toml: the c and k_E shifts
fitted to the label pools' ORR and CR) from a generator seeded by the patient's own draw, so a
patient's tumour depends on its seed only, never on the other patients it is simulated with.
One course of the simulated regimen (SIMULATED_REGIMEN, hd-label: the rule set's doses and
calendar, mechanism/schedule.py) is simulated for all of them in one call, through the model's
one composition (trial.course_tumour_cells): PK -> interval means of receptor occupancy ->
the cell-and-tumour ODE (kernel.simulate_population), doses given as planned (no hold rule: the
leak proxy has no published threshold), no SBRT. The tumour is the total of both compartments
(cells.tumour_cells), as the trials read it.

From the simulated tumour T(t) (cells) this module reads:
- the best overall response: the model's RECIST 1.1 read-out (mechanism/readout.py) on the
  population's scans (data/population.toml [assessment]: 4 weeks after the course, then every
  8 weeks, 4 scans), thresholds and confirmation from the rule set;
- the sum-of-diameters ratio to baseline on every day from the first dose (day 0) to
  `FOLLOW_DAYS`: (T/T0)^(1/3), the sphere-equivalent diameter's ratio, 0 once the tumour is below
  RECIST's smallest measurable lesion (the read-out's detection threshold).

What the model does not give stays as it was drawn (il2.science.simulation): not-evaluable
shares, toxicities, survival. A second or third course is not simulated: after day 0's course
the tumour follows the model untreated, so later scans read the same trajectory.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
from numpy.typing import NDArray

from il2.domain.errors import InvalidInputError
from il2.science.dataset import DIAGNOSES, Diagnosis
from il2.science.mechanism.population import (
    CellModel,
    Population,
    draw_population,
    join_populations,
    population_spec,
)
from il2.science.mechanism.readout import (
    CATEGORIES,
    ReadoutRules,
    best_overall_response,
    diameter_mm,
    time_point_responses,
)
from il2.science.mechanism.trial import (
    DAYS_PER_WEEK,
    Arm,
    ArmPlan,
    course_tumour_cells,
    plan_arm,
    readout_rules,
)

FOLLOW_DAYS = 400
"""Days from the first dose the size ratio is known for (a third course's scans, about day 330,
fit); a later day reads the last one."""
FEW = 64
"""Below this many patients the simulation runs on one thread."""
SEED_BITS = 53
"""A draw in [0, 1) of Python's `random` is k / 2**53: k seeds the patient's generator."""


@dataclass(frozen=True, slots=True)
class TumourCourse:
    """One synthetic patient's simulated tumour: the model's best overall response (CR, PR, SD
    or PD) and the sum-of-diameters ratio to baseline on each day from the first dose."""

    category: str
    ratios: tuple[float, ...]
    """ratios[d]: sum of diameters on day d after the first dose over the baseline sum."""
    scan_ratios: tuple[float, ...]
    """The same ratio at the read-out's scans (the ones `category` was read from)."""

    def ratio_on(self, day: int) -> float:
        """The sum-of-diameters ratio to baseline `day` days after the first dose (day 0: 1)."""
        if day < 0:
            raise InvalidInputError(field="day", value=day, allowed="0 or more days after dosing")
        return self.ratios[min(day, len(self.ratios) - 1)]

    @property
    def best_change_pct(self) -> float:
        """The smallest change of the sum from baseline at the read-out's scans, in percent."""
        return round(100.0 * (min(self.scan_ratios) - 1.0), 1)


def seed_of(draw: float) -> int:
    """The generator seed of a patient's draw in [0, 1) (its 53 random bits)."""
    if not 0.0 <= draw < 1.0:
        raise InvalidInputError(field="draw", value=draw, allowed="a number in [0, 1)")
    return int(draw * 2**SEED_BITS)


@cache
def _model() -> CellModel:
    return CellModel.bundled()


_PLANS: dict[tuple[int, str], tuple[Any, ArmPlan, ReadoutRules]] = {}


def _plan(rules: Any, regimen: str) -> tuple[ArmPlan, ReadoutRules]:
    """The regimen's simulated course and scans, and the read-out, of a rule set (kept while
    the rule set is the same object: the demo asks once a patient)."""
    key = (id(rules), regimen)
    known = _PLANS.get(key)
    if known is None or known[0] is not rules:
        spec = population_spec()
        plan = plan_arm(Arm(regimen, sbrt=False), rules.regimens, spec)
        known = _PLANS[key] = (rules, plan, readout_rules(rules, spec))
    return known[1], known[2]


def virtual_patients(draws: Sequence[float], diagnoses: Sequence[Diagnosis]) -> Population:
    """One virtual patient per draw, of its diagnosis, from a generator seeded by the draw."""
    if len(draws) != len(diagnoses):
        raise InvalidInputError(
            field="diagnoses", value=len(diagnoses), allowed=f"one per draw ({len(draws)})"
        )
    model, spec = _model(), population_spec()
    rows = []
    for draw, diagnosis in zip(draws, diagnoses, strict=True):
        if diagnosis not in DIAGNOSES:
            raise InvalidInputError(
                field="diagnosis", value=diagnosis, allowed=" or ".join(DIAGNOSES)
            )
        rng = np.random.default_rng(seed_of(draw))
        rows.append(draw_population(1, diagnosis, rng, model, spec=spec))
    return join_populations(rows)


def _cells(
    plan: ArmPlan, population: Population, t_out: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Total tumour cells (n, M) at `t_out` (days from the first dose): one course, doses as
    planned, no SBRT, through the model's one composition (trial.course_tumour_cells), with the
    exact PK signals (not the course's table: a patient's course is then the same whatever the
    patients simulated with it). A few patients (the demo's, one at a time) run on one thread."""
    import numba  # noqa: PLC0415 - only when simulating

    few = population.size < FEW
    threads = numba.get_num_threads()
    if few:  # waking the thread pool costs more than a few patients take
        numba.set_num_threads(1)
    try:
        return course_tumour_cells(plan.course, population, t_out, sbrt=False, exact_signals=True)
    finally:
        numba.set_num_threads(threads)


def tumour_courses(
    draws: Sequence[float], diagnoses: Sequence[Diagnosis], *, rules: Any, regimen: str
) -> list[TumourCourse]:
    """The simulated tumour course of each patient (a draw in [0, 1) and a diagnosis each),
    treated with one course of `regimen` of the rule set `rules`, all in one kernel call."""
    if not draws:
        return []
    plan, readout = _plan(rules, regimen)
    population = virtual_patients(draws, diagnoses)
    days = np.arange(FOLLOW_DAYS + 1, dtype=np.float64)
    t_out = np.union1d(days, plan.scan_days)
    cells = _cells(plan, population, t_out)
    baseline = population.baseline_cells
    scans = np.searchsorted(t_out, plan.scan_days)
    points = time_point_responses(cells[:, scans], baseline, readout)
    best = best_overall_response(points, plan.scan_days / DAYS_PER_WEEK, readout)
    ratios = diameter_mm(cells, readout) / diameter_mm(baseline, readout)[:, None]
    daily = np.searchsorted(t_out, days)
    return [
        TumourCourse(
            CATEGORIES[int(code)],
            tuple(float(r) for r in row[daily]),
            tuple(float(r) for r in row[scans]),
        )
        for code, row in zip(best, ratios, strict=True)
    ]
