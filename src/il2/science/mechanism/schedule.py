"""A regimen of the rule set as the simulator's dosing: dose times, doses, intervals, SBRT.

Time runs from the simulated baseline scan (t = 0). A course starts at `lead_days`: 0 for
aldesleukin alone; after SBRT, the first dose follows the last fraction by the regimen's anchor
(`sbrt-hd`: 3 days) and fractions are spaced as `data/population.toml` says, so every patient of
an arm shares one dosing calendar whatever their number of fractions (the kernel's interval edges
are shared by all patients).

Interval edges (days): each dose opens an interval that lasts until the next dose or, when the
next dose is further away than the regimen's dosing interval, for one dosing interval; a gap
before the next dose is an interval of its own without a dose (a "rest"), and one rest interval
of `tail_days` closes the course so the last dose's residual is not cut off. The kernel gets the
edges; `interval_dose` says which dose (or -1) opens each interval.

Supported: the interval (q8h) IV bolus regimens dosed per kg (hd-label, hd-nci-720, ld-iv-nci,
hd-cwg-q12w, sbrt-hd) and stepped regimens dosed per kg by subcutaneous injection (ld-sc-nci) or
continuous infusion. Refused, with an error that says why: doses per m2 (no height is
simulated), per lesion or flat, companion agents other than SBRT (chemotherapy, interferon,
TIL are not in the model), intralesional injection.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from il2.domain.errors import InvalidInputError
from il2.domain.regimen import DoseBasis, Regimen, Route

MIN_PER_DAY = 1440.0
MIN_PER_H = 60.0
SBRT_EVENT = "sbrt_fraction"

# The pk layer's route names (pk.ROUTES): intravenous over `infusion_min` (0 = bolus; a
# continuous infusion is one long infusion per bag), or subcutaneous.
PK_ROUTES = {
    Route.IV_BOLUS: "iv",
    Route.SUBCUTANEOUS: "sc",
    Route.CONTINUOUS_INFUSION: "iv",
}


@dataclass(frozen=True, slots=True)
class SbrtPlan:
    """SBRT before the first dose: Gy per fraction, the most fractions, their spacing (days),
    and the days from the last fraction to the first dose when the regimen has no SBRT anchor
    of its own."""

    gy_per_fraction: float
    max_fractions: int
    spacing_days: float
    days_before_first_dose: float


@dataclass(frozen=True, slots=True)
class Course:
    """One simulated course of a regimen: doses (minutes from baseline, IU/kg), the kernel's
    interval edges (days), and SBRT fraction times for the most fractions (days)."""

    regimen_id: str
    route: str
    infusion_min: float
    dose_min: NDArray[np.float64]
    dose_iu_per_kg: NDArray[np.float64]
    edges_days: NDArray[np.float64]
    interval_dose: NDArray[np.int64]
    lead_days: float
    last_dose_day: float
    sbrt_days: NDArray[np.float64]
    sbrt_gy: float

    @property
    def doses(self) -> int:
        """How many doses the course plans."""
        return int(self.dose_min.size)

    @property
    def edges_min(self) -> NDArray[np.float64]:
        """The interval edges in minutes (the pk layer's clock)."""
        return self.edges_days * MIN_PER_DAY

    def sbrt_for(
        self, fractions: NDArray[np.int64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Per patient SBRT times (days, nan = none) and Gy for `fractions` (0..max) each: a
        patient with fewer fractions than the most has the latest ones (the last fraction always
        `anchor` days before the first dose)."""
        n, j = fractions.size, self.sbrt_days.size
        days = np.full((n, max(j, 1)), np.nan)
        gy = np.zeros((n, max(j, 1)))
        for k in range(j):
            given = fractions >= j - k
            days[given, k] = self.sbrt_days[k]
            gy[given, k] = self.sbrt_gy
        return days, gy


def _refuse(regimen: Regimen, why: str) -> InvalidInputError:
    return InvalidInputError(
        field="regimen",
        value=regimen.id,
        allowed=f"a regimen the simulator models ({why}); supported: IV bolus q8h dosed per kg, "
        "subcutaneous or continuous infusion dosed per kg, optionally after SBRT",
    )


def _interval_doses(regimen: Regimen) -> tuple[list[float], list[float], float]:
    """Dose start times (minutes from the first cycle's day 1, 00:00) and IU/kg."""
    if regimen.dose_iu_per_kg is None:
        raise _refuse(regimen, "no dose_iu_per_kg")
    times: list[float] = []
    per_course = regimen.max_doses_per_course or regimen.max_doses_per_cycle * len(
        regimen.cycle_start_days
    )
    for start in regimen.cycle_start_days:
        first = (start - 1 + regimen.first_dose_day - 1) * MIN_PER_DAY
        limit = math.inf
        if regimen.dosing_days_per_cycle is not None:
            limit = first + regimen.dosing_days_per_cycle * MIN_PER_DAY
        for k in range(regimen.max_doses_per_cycle):
            at = first + k * regimen.interval_h * MIN_PER_H
            if at >= limit or len(times) >= per_course:
                break
            times.append(at)
    return times, [float(regimen.dose_iu_per_kg)] * len(times), float(regimen.infusion_min)


def _stepped_doses(regimen: Regimen) -> tuple[list[float], list[float], float, float]:
    """Dose times (minutes), IU/kg, infusion minutes and the dosing interval (hours)."""
    found: list[tuple[float, float]] = []
    infusion = 0.0
    interval_h = 24.0
    for step in regimen.steps:
        if step.dose.basis is not DoseBasis.PER_KG or not step.dose.unit.is_units:
            raise _refuse(regimen, f"a dose of {step.dose.words}: only IU per kg is simulated")
        every = float(step.every_h or 24 // step.doses_per_day)
        interval_h = min(interval_h, every)
        if step.duration_h is not None:
            infusion = float(step.duration_h) * MIN_PER_H
        for start in regimen.cycle_start_days:
            for day in step.days:
                for k in range(step.doses_per_day):
                    at = ((start - 1) + (day - 1)) * MIN_PER_DAY + k * every * MIN_PER_H
                    found.append((at, float(step.dose.per_unit_iu)))
    found.sort()
    return [t for t, _ in found], [d for _, d in found], infusion, interval_h


def course_of(
    regimen: Regimen,
    *,
    sbrt: SbrtPlan | None = None,
    tail_days: float = 1.0,
) -> Course:
    """The simulated course of `regimen` (one course), after SBRT when `sbrt` is given.

    Raises InvalidInputError naming the regimen when the model cannot simulate it."""
    if regimen.route not in PK_ROUTES:
        raise _refuse(regimen, f"route {regimen.route.value} is not modelled")
    others = [a.agent for a in regimen.agents]
    if others:
        raise _refuse(regimen, f"companion agents {', '.join(others)} are not modelled")
    if regimen.anchor is not None and regimen.anchor.event != SBRT_EVENT:
        raise _refuse(regimen, f"it follows {regimen.anchor.event}, which is not modelled")
    if regimen.steps:
        times, doses, infusion, interval_h = _stepped_doses(regimen)
    else:
        times, doses, infusion = _interval_doses(regimen)
        interval_h = float(regimen.interval_h)
    if not times:
        raise _refuse(regimen, "it plans no dose")
    if tail_days <= 0:
        raise InvalidInputError(field="tail_days", value=tail_days, allowed="above 0 days")
    sbrt_days: list[float] = []
    sbrt_gy = 0.0
    lead = 0.0
    if sbrt is not None:
        if sbrt.max_fractions < 1:
            raise InvalidInputError(
                field="sbrt.max_fractions", value=sbrt.max_fractions, allowed="1 or more"
            )
        gap_days = sbrt.days_before_first_dose
        if regimen.anchor is not None:
            gap_days = regimen.anchor.min_h / 24.0
        lead = gap_days + (sbrt.max_fractions - 1) * sbrt.spacing_days
        sbrt_days = [k * sbrt.spacing_days for k in range(sbrt.max_fractions)]
        sbrt_gy = sbrt.gy_per_fraction
    dose_min = np.asarray(times, dtype=np.float64) + lead * MIN_PER_DAY
    step_min = interval_h * MIN_PER_H
    edges: list[float] = []
    owner: list[int] = []
    for k, at in enumerate(dose_min):
        edges.append(at)
        owner.append(k)
        end = at + step_min
        following = dose_min[k + 1] if k + 1 < dose_min.size else math.inf
        if following > end:
            edges.append(end)
            owner.append(-1)
    edges.append(edges[-1] + tail_days * MIN_PER_DAY)  # closes the last rest interval
    return Course(
        regimen_id=regimen.id,
        route=PK_ROUTES[regimen.route],
        infusion_min=infusion,
        dose_min=dose_min,
        dose_iu_per_kg=np.asarray(doses, dtype=np.float64),
        edges_days=np.asarray(edges, dtype=np.float64) / MIN_PER_DAY,
        interval_dose=np.asarray(owner, dtype=np.int64),
        lead_days=lead,
        last_dose_day=float(dose_min[-1]) / MIN_PER_DAY,
        sbrt_days=np.asarray(sbrt_days, dtype=np.float64),
        sbrt_gy=sbrt_gy,
    )
