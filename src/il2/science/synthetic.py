"""A synthetic program built in memory, for benchmarks and the science tests.

Nothing here is a patient. The regimen (its cycles, doses and dose per kilogram) and the vial
come from the rule set; the simulation (il2.science.simulation) is the demo's: each treated
patient's best response and best change of the sum of diameters are the mechanistic model's
(a virtual patient of the diagnosis's calibrated population under one hd-label course, read out
by RECIST), the not-evaluable share and the toxicities (the label's commonest adverse reactions
at their incidence) are drawn from cited data. Progression and death times are drawn as before:
the model does not give them. Each treated patient has a baseline of prognostic factors
(simulation.prognostic_findings): one factor per diagnosis is drawn by the model's response as a
publication counted it (simulation.known_dependence), the rest independent of it.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
from numpy.typing import NDArray

from il2.domain.findings import read_findings
from il2.domain.regimen import Regimen
from il2.rules.loader import RuleSet, load_rules
from il2.science.dataset import (
    BEST_RESPONSES,
    DIAGNOSES,
    RESPONDERS,
    Baseline,
    Course,
    Cycle,
    Patient,
    Program,
    Response,
    Toxicity,
)
from il2.science.simulation import (
    SIMULATED_REGIMEN,
    prognostic_findings,
    proportions,
    tumour_courses,
)


@dataclass(frozen=True, slots=True)
class _Patient:
    """One simulated patient's latent history (days from referral; inf: never)."""

    diagnosis: str
    referred_on: date
    treated: bool
    eligible: bool
    start: int
    best: int
    best_change: float
    assessed_on: int
    progression: float
    death: float
    lost: float
    vials_per_dose: int
    second_course: bool
    responder: bool
    """The model's response was CR or PR (even if the record says not evaluable)."""
    factors_seed: int
    """Seeds the patient's baseline prognostic factors (the bits of its tumour draw)."""


def _days(start: date, offset: float) -> date:
    return start + timedelta(days=int(offset))


def _latent(  # noqa: PLR0917 - one draw per argument the program needs
    rng: np.random.Generator,
    patients: int,
    as_of: date,
    years: int,
    regimen: Regimen,
    rules: RuleSet,
) -> list[_Patient]:
    product = rules.product
    diagnosis = np.where(rng.random(patients) < 0.55, 0, 1)
    referred = rng.integers(0, years * 365 - 120, patients)
    eligible = rng.random(patients) < 0.6
    treated = eligible & (rng.random(patients) < 0.9)
    start = rng.integers(14, 61, patients)
    # CR, PR, SD or PD and the best change of the sum of diameters: the mechanistic model's
    # (simulation.tumour_courses, one draw per patient seeding its virtual patient; only the
    # treated are simulated, the others' PD is never recorded); then a share is not evaluable
    draws = rng.random(patients)
    best = np.full(patients, 3)
    change = np.full(patients, np.nan)
    responder = np.zeros(patients, dtype=bool)
    simulated = np.flatnonzero(treated)
    courses = tumour_courses(
        [float(draws[i]) for i in simulated],
        [DIAGNOSES[diagnosis[i]] for i in simulated],
        rules=rules,
    )
    for i, course in zip(simulated, courses, strict=True):
        best[i] = BEST_RESPONSES.index(course.category)
        change[i] = course.best_change_pct
        responder[i] = course.category in RESPONDERS
    best = np.where(rng.random(patients) < proportions().not_evaluable, 4, best)
    change = np.where(best == 4, np.nan, change)
    assessed_on = start + rng.integers(56, 85, patients)
    cured = rng.random(patients) < 0.6
    after = np.select(
        [best == 0, best == 1, best == 2, best == 3],
        [
            np.where(cured, np.inf, rng.exponential(600, patients)),
            rng.exponential(400, patients),
            28 + rng.exponential(220, patients),
            np.zeros(patients),
        ],
        rng.exponential(120, patients),
    )
    progression = assessed_on + after
    death = np.where(
        treated,
        np.where(
            np.isfinite(progression),
            progression + rng.exponential(450, patients),
            start + rng.exponential(10_000, patients),
        ),
        rng.exponential(350, patients),
    )
    death = np.maximum(death, start + 30)
    lost = np.where(rng.random(patients) < 0.05, start + rng.uniform(120, 3000, patients), np.inf)
    weight_kg = np.clip(rng.normal(80, 16, patients), 45, 150)
    per_kg = regimen.dose_iu_per_kg
    if per_kg is None:  # the synthetic program is of interval, per-kg (high-dose) regimens
        raise ValueError(f"regimen {regimen.id} is not dosed in IU per kg every few hours")
    vials = np.ceil(per_kg * weight_kg / product.vial_iu).astype(int)
    second = (best <= 2) & (rng.random(patients) < 0.7)
    origin = as_of - timedelta(days=years * 365)
    return [
        _Patient(
            diagnosis=DIAGNOSES[diagnosis[i]],
            referred_on=_days(origin, referred[i]),
            treated=bool(treated[i]),
            eligible=bool(eligible[i]),
            start=int(start[i]),
            best=int(best[i]),
            best_change=float(change[i]),
            assessed_on=int(assessed_on[i]),
            progression=float(progression[i]),
            death=float(death[i]),
            lost=float(lost[i]),
            vials_per_dose=int(vials[i]),
            second_course=bool(second[i]),
            responder=bool(responder[i]),
            factors_seed=int(draws[i] * 2**53),
        )
        for i in range(patients)
    ]


class _Builder:
    """Turns latent histories into the records a program would hold at `as_of`."""

    def __init__(self, rng: np.random.Generator, as_of: date, regimen: Regimen) -> None:
        self.rng = rng
        self.as_of = as_of
        self.regimen = regimen
        rates = proportions().toxicities
        self.terms = tuple(rate.term for rate in rates)
        self.incidence = np.array([rate.incidence for rate in rates])
        self.grade_cdf = np.cumsum([rate.grades for rate in rates], axis=1)
        self.patients: list[Patient] = []
        self.courses: list[Course] = []
        self.cycles: list[Cycle] = []
        self.toxicities: list[Toxicity] = []
        self.responses: list[Response] = []

    def add(self, patient_id: int, latent: _Patient, doses: NDArray[np.float64]) -> None:
        """Add one patient's records, known up to the end of their follow-up."""
        cut = (self.as_of - latent.referred_on).days
        end = min(cut, latent.lost, latent.death)
        dead = latent.death <= min(cut, latent.lost)
        if latent.treated:
            self._course(patient_id, latent, number=1, start=latent.start, doses=doses[:2])
            second = latent.start + 91
            if latent.second_course and second + 20 <= min(end, latent.progression):
                self._course(patient_id, latent, number=2, start=second, doses=doses[2:])
            if latent.assessed_on <= end:
                self._response(patient_id, latent, end)
        self.patients.append(
            Patient(
                patient_id=patient_id,
                diagnosis=latent.diagnosis,  # type: ignore[arg-type]
                referred_on=latent.referred_on,
                eligible=latent.eligible,
                treated=latent.treated,
                death_on=_days(latent.referred_on, latent.death) if dead else None,
                last_contact_on=_days(latent.referred_on, end),
            )
        )

    def _course(
        self,
        patient_id: int,
        latent: _Patient,
        *,
        number: int,
        start: int,
        doses: NDArray[np.float64],
    ) -> None:
        course_id = len(self.courses) + 1
        first = _days(latent.referred_on, start)
        regimen = self.regimen
        admissions = tuple(first + timedelta(days=day - 1) for day in regimen.cycle_start_days)
        per_day = 24 // regimen.interval_h
        for cycle, (admitted, given) in enumerate(zip(admissions, doses, strict=True), start=1):
            self.cycles.append(
                Cycle(
                    course_id=course_id,
                    cycle=cycle,
                    doses_given=int(given),
                    doses_held=regimen.max_doses_per_cycle - int(given),
                    admitted_on=admitted,
                    discharged_on=admitted + timedelta(days=math.ceil(given / per_day) + 1),
                )
            )
        last = admissions[-1] + timedelta(days=max(math.ceil(doses[-1] / per_day) - 1, 0))
        self.courses.append(
            Course(patient_id, course_id, number, regimen.id, first, last, latent.vials_per_dose)
        )
        scale = 1.0 if number == 1 else 0.8
        hits = self.rng.random(len(self.terms)) < self.incidence * scale
        draws = self.rng.random(len(self.terms))
        for index in np.flatnonzero(hits):
            grade = int(np.searchsorted(self.grade_cdf[index], draws[index], side="right")) + 1
            self.toxicities.append(
                Toxicity(patient_id, course_id, self.terms[index], min(grade, 5))
            )

    def _response(self, patient_id: int, latent: _Patient, end: float) -> None:
        best = BEST_RESPONSES[latent.best]
        if best == "NE":
            points: list[tuple[date, float]] = []
        else:
            points = self._timepoints(latent, end)
        progressed = latent.progression <= end
        self.responses.append(
            Response(
                patient_id=patient_id,
                best_overall_response=best,
                response_on=points[0][0] if best in {"CR", "PR"} else None,
                progression_on=_days(latent.referred_on, latent.progression)
                if progressed
                else None,
                best_change_pct=min(change for _, change in points) if points else None,
                timepoints=tuple(points),
                first_dose_on=_days(latent.referred_on, latent.start),
            )
        )

    def _timepoints(self, latent: _Patient, end: float) -> list[tuple[date, float]]:
        best = latent.best_change
        first = best if best > -30 else min(-30.0, round(best * 0.8, 1))
        points = [(_days(latent.referred_on, latent.assessed_on), first)]
        day = latent.assessed_on + 84
        while day <= end and day < latent.progression and len(points) < 8:
            points.append((_days(latent.referred_on, day), best))
            day += 84
        if latent.assessed_on < latent.progression <= end:
            nadir = min(change for _, change in points)
            progressed = round(nadir + 0.2 * (100 + nadir) + 5, 1)
            points.append((_days(latent.referred_on, latent.progression), progressed))
        return points


def _baseline(patient_id: int, latent: _Patient, rules: RuleSet) -> Baseline:
    """The work-up's prognostic factors three days before the first dose, checked as the
    screening checks them; drawn from the patient's own generator, so the program's draws
    stay where they were."""
    factors = random.Random(f"baseline-{latent.factors_seed}")  # noqa: S311 - a simulation
    document = prognostic_findings(
        factors,
        latent.diagnosis,  # type: ignore[arg-type]
        responder=latent.responder,
    )
    return Baseline(
        patient_id=patient_id,
        screened_on=_days(latent.referred_on, latent.start - 3),
        findings=read_findings(document, rules.screening_fields),
    )


def synthetic_program(
    *,
    patients: int,
    rng: np.random.Generator,
    rules: RuleSet | None = None,
    as_of: date = date(2025, 6, 30),
    years: int = 10,
) -> Program:
    """A program of `patients` referrals over the `years` before `as_of`, drawn from `rng`.

    The regimen and the vial are `rules`' (default: the bundled rule files).
    """
    rules = rules or load_rules()
    regimen = rules.regimens[SIMULATED_REGIMEN]
    latent = _latent(rng, patients, as_of, years, regimen, rules)
    # doses given in each cycle of a first and a second course (most are held towards the end)
    means = [9.5, 8.0, 9.0, 7.5]
    doses = np.clip(np.rint(rng.normal(means, 2.5, (patients, 4))), 1, regimen.max_doses_per_cycle)
    builder = _Builder(rng, as_of, regimen)
    for index, history in enumerate(latent):
        builder.add(index + 1, history, doses[index])
    return Program(
        patients=tuple(builder.patients),
        courses=tuple(builder.courses),
        cycles=tuple(builder.cycles),
        toxicities=tuple(builder.toxicities),
        responses=tuple(builder.responses),
        as_of=as_of,
        baselines=tuple(
            _baseline(index + 1, history, rules)
            for index, history in enumerate(latent)
            if history.treated
        ),
    )
