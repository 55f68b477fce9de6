"""Response rates with exact intervals, doses per cycle, toxicity incidence, and use per year."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.stats import beta  # type: ignore[import-untyped]

from il2.domain.errors import InvalidInputError
from il2.science.dataset import (
    BEST_RESPONSES,
    CTCAE_GRADES,
    DIAGNOSES,
    BestResponse,
    Diagnosis,
    Program,
)

CONFIDENCE = 0.95
ANY_TERM = "any"
"""The incidence row counting a patient's worst event of any term."""


def clopper_pearson_arrays(
    counts: ArrayLike, totals: ArrayLike, *, confidence: float = CONFIDENCE
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Exact (Clopper-Pearson) two-sided intervals for many binomial proportions at once."""
    k = np.asarray(counts, dtype=np.float64)
    n = np.asarray(totals, dtype=np.float64)
    if not 0.0 < confidence < 1.0:
        raise InvalidInputError(field="confidence", value=confidence, allowed="between 0 and 1")
    if np.any(n <= 0) or np.any(k < 0) or np.any(k > n) or np.any(k != np.floor(k)):
        raise InvalidInputError(
            field="counts", value="a count outside 0..total", allowed="whole counts in 0..total"
        )
    tail = (1.0 - confidence) / 2.0
    with np.errstate(invalid="ignore", divide="ignore"):
        lower = np.where(k > 0, beta.ppf(tail, k, n - k + 1.0), 0.0)
        upper = np.where(k < n, beta.ppf(1.0 - tail, k + 1.0, n - k), 1.0)
    return lower.astype(np.float64), upper.astype(np.float64)


def clopper_pearson(
    count: int, total: int, *, confidence: float = CONFIDENCE
) -> tuple[float, float]:
    """The exact (Clopper-Pearson) interval for `count` successes in `total` trials."""
    lower, upper = clopper_pearson_arrays([count], [total], confidence=confidence)
    return float(lower[0]), float(upper[0])


@dataclass(frozen=True, slots=True)
class Proportion:
    """`count` of `total`, with its exact 95% interval."""

    count: int
    total: int
    value: float
    ci95: tuple[float, float]

    def as_json(self) -> dict[str, object]:
        """The proportion as a JSON-ready mapping."""
        return {
            "count": self.count,
            "total": self.total,
            "value": self.value,
            "ci95": list(self.ci95),
        }


def proportion(count: int, total: int) -> Proportion | None:
    """`count` of `total` with its Clopper-Pearson 95% interval; None when `total` is 0."""
    if total == 0:
        return None
    return Proportion(count, total, count / total, clopper_pearson(count, total))


@dataclass(frozen=True, slots=True)
class ResponseRates:
    """Who was referred, treated and assessed with one diagnosis, and how they responded.

    The rates count treated patients with a response record (best overall response of any
    category, NE included, as in an intention-to-treat table) in the denominator.
    """

    diagnosis: Diagnosis
    referred: int
    eligible: int
    treated: int
    assessed: int
    best: Mapping[BestResponse, int]
    orr: Proportion | None
    cr_rate: Proportion | None
    pr_rate: Proportion | None


def response_rates(program: Program) -> dict[Diagnosis, ResponseRates]:
    """Objective (CR + PR), complete and partial response rates, by diagnosis."""
    patients = {p.patient_id: p for p in program.patients}
    referred = Counter(p.diagnosis for p in program.patients)
    eligible = Counter(p.diagnosis for p in program.patients if p.eligible)
    treated = Counter(p.diagnosis for p in program.patients if p.treated)
    best: dict[Diagnosis, Counter[BestResponse]] = {d: Counter() for d in DIAGNOSES}
    for response in program.responses:
        patient = patients[response.patient_id]
        if patient.treated:
            best[patient.diagnosis][response.best_overall_response] += 1
    rates = {}
    for diagnosis in DIAGNOSES:
        counts = best[diagnosis]
        assessed = sum(counts.values())
        rates[diagnosis] = ResponseRates(
            diagnosis=diagnosis,
            referred=referred[diagnosis],
            eligible=eligible[diagnosis],
            treated=treated[diagnosis],
            assessed=assessed,
            best={category: counts[category] for category in BEST_RESPONSES},
            orr=proportion(counts["CR"] + counts["PR"], assessed),
            cr_rate=proportion(counts["CR"], assessed),
            pr_rate=proportion(counts["PR"], assessed),
        )
    return rates


def course_diagnoses(program: Program) -> dict[int, Diagnosis]:
    """Each course's diagnosis, by course id."""
    diagnosis = {p.patient_id: p.diagnosis for p in program.patients}
    return {c.course_id: diagnosis[c.patient_id] for c in program.courses}


def median_doses_per_cycle(program: Program) -> dict[Diagnosis, float | None]:
    """The median number of doses given per cycle, by diagnosis (None without cycles)."""
    of_course = course_diagnoses(program)
    doses: dict[Diagnosis, list[int]] = {d: [] for d in DIAGNOSES}
    for cycle in program.cycles:
        doses[of_course[cycle.course_id]].append(cycle.doses_given)
    return {d: float(np.median(doses[d])) if doses[d] else None for d in DIAGNOSES}


@dataclass(frozen=True, slots=True)
class Incidence:
    """How many treated patients had an event of a term at each CTCAE grade or worse."""

    term: str
    treated: int
    at_least: tuple[int, ...]
    """`at_least[g - 1]`: patients with at least one event of grade g or worse."""

    def patients_at_least(self, grade: int) -> int:
        """Patients with at least one event of `grade` or worse."""
        return self.at_least[grade - 1]


def toxicity_incidence(program: Program) -> tuple[Incidence, ...]:
    """Incidence by term and grade among treated patients, the any-term row first.

    A patient counts once per term, at their worst grade of that term; events recorded for
    patients not marked treated are left out. Terms are ordered by any-grade incidence.
    """
    treated = {p.patient_id for p in program.patients if p.treated}
    worst: defaultdict[str, dict[int, int]] = defaultdict(dict)  # term: {patient: worst grade}
    worst_any = worst[ANY_TERM]
    for event in program.toxicities:
        patient, grade = event.patient_id, event.grade
        if patient in treated:
            of_term = worst[event.term]
            if of_term.get(patient, 0) < grade:
                of_term[patient] = grade
            if worst_any.get(patient, 0) < grade:
                worst_any[patient] = grade
    grades = {term: Counter(of_term.values()) for term, of_term in worst.items() if of_term}
    rows = [
        Incidence(
            term=term,
            treated=len(treated),
            at_least=tuple(
                sum(n for grade, n in counts.items() if grade >= g) for g in CTCAE_GRADES
            ),
        )
        for term, counts in grades.items()
    ]
    rows.sort(key=lambda row: (row.term != ANY_TERM, -row.at_least[0], row.term))
    return tuple(rows)


@dataclass(frozen=True, slots=True)
class YearUse:
    """What the program used in one calendar year."""

    year: int
    cycles: int
    inpatient_days: int
    doses_given: int
    vials: int

    def cost(self, price_per_vial: Decimal) -> Decimal:
        """The cost of this year's vials at `price_per_vial`."""
        return self.vials * price_per_vial


def nights_by_year(admitted_on: date, discharged_on: date) -> dict[int, int]:
    """Inpatient days of one stay (nights, as a midnight census counts them), by year."""
    nights = (discharged_on - admitted_on).days
    if nights == 0:
        return {}
    last_night = discharged_on - timedelta(days=1)
    if last_night.year == admitted_on.year:
        return {admitted_on.year: nights}
    split = {}
    for year in range(admitted_on.year, last_night.year + 1):
        start = max(admitted_on, date(year, 1, 1))
        end = min(discharged_on, date(year + 1, 1, 1))
        split[year] = (end - start).days
    return split


def use_by_year(program: Program) -> tuple[YearUse, ...]:
    """Cycles, inpatient days, doses and vials for every year from the first cycle to the last.

    A cycle, its doses and its vials count in the year of admission; inpatient days count in
    the year of each night, so a stay over New Year is split.
    """
    vials_per_dose = {c.course_id: c.vials_per_dose for c in program.courses}
    cycles: Counter[int] = Counter()
    days: Counter[int] = Counter()
    doses: Counter[int] = Counter()
    vials: Counter[int] = Counter()
    for cycle in program.cycles:
        admitted, discharged = cycle.admitted_on, cycle.discharged_on
        year = admitted.year
        cycles[year] += 1
        doses[year] += cycle.doses_given
        vials[year] += cycle.doses_given * vials_per_dose[cycle.course_id]
        if discharged.year == year or discharged == date(year + 1, 1, 1):
            if discharged > admitted:  # all the nights in the year of admission (most stays)
                days[year] += (discharged - admitted).days
        else:
            days.update(nights_by_year(admitted, discharged))
    years = _span(cycles.keys() | days.keys())
    return tuple(YearUse(y, cycles[y], days[y], doses[y], vials[y]) for y in years)


def _span(years: Iterable[int]) -> range:
    present = sorted(years)
    return range(present[0], present[-1] + 1) if present else range(0)
