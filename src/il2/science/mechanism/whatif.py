"""What if: a real course's dose ledger, and other schedules, given to the patient's virtual twins.

A patient's course is what its ledger says: the doses given (at the minute they were given), the
doses held, and those never given because the cycle was stopped or the drug discontinued (or
not recorded). The simulator (PK -> receptor signals -> cell-and-tumour ODE -> RECIST 1.1) gives
that course, and each alternative schedule, to the same cohort of virtual twins: virtual
patients drawn from the calibrated population of the patient's diagnosis
(data/population.toml), each with the patient's own body weight. Every schedule sees the same
twins (common random numbers): twin i is patient i of a virtual trial (mechanism/trial.py) with
the same seed, whatever the schedules asked for.

Schedules:
- `actual`: the doses the ledger records given, at the times they were given;
- `as_planned`: every planned dose of the course given at its due time;
- `label`: the regimen's full course as the rule set defines it (schedule.course_of);
- a regimen id of the rule set (e.g. `ld-iv-nci`, `hd-nci-720`): that regimen's course.

Time: day 0 of the simulation is the baseline scan, `ORIGIN_DAYS` before the first planned dose
(after SBRT's lead time for a regimen that follows SBRT), so that a dose given within its window
before the due time is still after baseline; every schedule has the same origin. RECIST scans
follow the schedule's last dose given (with none given, its first planned dose) by the
regimen's assessment delay, as in a virtual trial (trial.plan_arm). Doses are given as the
schedule says: no "as tolerated" hold is simulated (hold_above = inf, as trials default to).

Nothing here decides clinical care. The result is a model's what-if: the figures are those of a
virtual cohort whose calibration (to the label pool's ORR and CR) is reported beside them, and
the 95% intervals are the cohort's binomial (Monte Carlo) uncertainty only, not the model's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from il2.domain.errors import InvalidInputError
from il2.domain.regimen import Regimen
from il2.science.dataset import DIAGNOSES, Diagnosis
from il2.science.mechanism.population import (
    CellModel,
    Population,
    PopulationSpec,
    population_spec,
)
from il2.science.mechanism.readout import (
    CATEGORIES,
    CR,
    PR,
    ReadoutRules,
    best_overall_response,
    diameter_mm,
    time_point_responses,
)
from il2.science.mechanism.schedule import MIN_PER_DAY, MIN_PER_H, Course, SbrtPlan, course_of
from il2.science.mechanism.trial import (
    BLOCK,
    DAYS_PER_WEEK,
    TrialPlan,
    course_tumour_cells,
    draw_blocks,
    readout_rules,
)
from il2.science.stats import Proportion, proportion

ACTUAL = "actual"
AS_PLANNED = "as_planned"
LABEL = "label"
NAMED = (ACTUAL, AS_PLANNED, LABEL)
OUTCOMES = ("given", "held", "stopped", "not_given")
"""A planned dose in the ledger: given, held, stopped (the cycle stopped or the drug
discontinued at it), or not given (no record: after a stop, or never recorded)."""

DEFAULT_TWINS = 1000
DEFAULT_SEED = 20
"""The seed of the calibration runs (data/population.toml [calibrated]); fixed and reported."""
MAX_TWINS = 100_000
ORIGIN_DAYS = 1.0
"""Days from the simulated baseline to the first planned dose (a dose given early in its
window stays after baseline). A convention of this module, not a clinical figure."""
BAND_STEP_DAYS = 3.5
"""Spacing of the days at which the tumour-size band is reported."""
TAIL_DAYS = 1.0
BAND = (10.0, 50.0, 90.0)

DISCLAIMER = (
    "A model's what-if, not advice: virtual twins of the patient (the calibrated virtual "
    "population of the diagnosis, with the patient's weight) under each schedule. Nothing "
    "here decides clinical care. The 95% intervals are the virtual cohort's sampling "
    "uncertainty only; the model's own uncertainty (its structure, its assumed parameters and "
    "its calibration, below) is not in them."
)


@dataclass(frozen=True, slots=True)
class LedgerDose:
    """One planned dose of the course and what the ledger says of it.

    `due_min` and `given_min` are minutes from the course's first planned dose; `given_min` is
    set only for a dose given. `dose_iu` is the planned amount (IU)."""

    cycle: int
    number: int
    due_min: float
    outcome: str
    dose_iu: float
    given_min: float | None = None


@dataclass(frozen=True, slots=True)
class CourseLedger:
    """A course as recorded: its regimen, the patient's weight (kg) and diagnosis, its doses."""

    regimen: str
    diagnosis: str
    weight_kg: float
    doses: tuple[LedgerDose, ...]

    def counts(self) -> dict[str, int]:
        """Planned doses by ledger outcome."""
        return {o: sum(d.outcome == o for d in self.doses) for o in OUTCOMES}


@dataclass(frozen=True, slots=True)
class Band:
    """Tumour size change (% of the baseline sum of diameters) over days: 10th, 50th, 90th
    percentiles of the twins."""

    days: tuple[float, ...]
    p10: tuple[float, ...]
    median: tuple[float, ...]
    p90: tuple[float, ...]

    def as_json(self) -> dict[str, object]:
        """The band as a JSON-ready mapping."""
        return {
            "day": list(self.days),
            "p10_pct": list(self.p10),
            "median_pct": list(self.median),
            "p90_pct": list(self.p90),
        }


@dataclass(frozen=True, slots=True)
class ScheduleResult:
    """One schedule given to the twins: its doses, best overall responses, band."""

    name: str
    label: str
    regimen: str
    doses_given: int
    dose_hours: tuple[float, ...]
    """Each dose's start, hours from the first planned dose."""
    scan_days: tuple[float, ...]
    best: NDArray[np.int8]
    """Each twin's best overall response (CR 0, PR 1, SD 2, PD 3)."""
    band: Band

    @property
    def twins(self) -> int:
        """How many twins."""
        return int(self.best.size)

    @property
    def counts(self) -> dict[str, int]:
        """Twins by best overall response."""
        found = np.bincount(self.best, minlength=len(CATEGORIES))
        return {c: int(found[k]) for k, c in enumerate(CATEGORIES)}

    @property
    def orr(self) -> Proportion:
        """Objective response (CR + PR) with its exact 95% interval."""
        return _rate(int(np.count_nonzero(self.best <= PR)), self.twins)

    @property
    def cr_rate(self) -> Proportion:
        """Complete response with its exact 95% interval."""
        return _rate(int(np.count_nonzero(self.best == CR)), self.twins)

    def as_json(self) -> dict[str, object]:
        """The schedule's result as a JSON-ready mapping."""
        return {
            "name": self.name,
            "label": self.label,
            "regimen": self.regimen,
            "doses_given": self.doses_given,
            "dose_hours": list(self.dose_hours),
            "scan_days": list(self.scan_days),
            "counts": self.counts,
            "orr": self.orr.as_json(),
            "cr_rate": self.cr_rate.as_json(),
            "tumour_size_change": self.band.as_json(),
        }


@dataclass(frozen=True, slots=True)
class WhatIf:
    """The what-if of one course: the twins, the seed, each schedule's result, the calibration."""

    regimen: str
    diagnosis: Diagnosis
    weight_kg: float
    twins: int
    seed: int
    ledger: Mapping[str, int]
    schedules: tuple[ScheduleResult, ...]
    calibration: Mapping[str, object]
    population: Population

    def as_json(self) -> dict[str, object]:
        """The what-if as a JSON-ready mapping (the twins themselves left out)."""
        return {
            "kind": "model what-if",
            "disclaimer": DISCLAIMER,
            "regimen": self.regimen,
            "diagnosis": self.diagnosis,
            "weight_kg": self.weight_kg,
            "twins": self.twins,
            "seed": self.seed,
            "ledger": dict(self.ledger),
            "schedules": [s.as_json() for s in self.schedules],
            "calibration": dict(self.calibration),
        }


def _rate(count: int, total: int) -> Proportion:
    found = proportion(count, total)
    if found is None:  # pragma: no cover - a cohort has twins
        raise InvalidInputError(field="twins", value=total, allowed="1 or more")
    return found


# --- checking the input --------------------------------------------------------------------------


def _finite(value: object, field: str, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInputError(field=field, value=value, allowed="a finite number")
    if positive and value <= 0:
        raise InvalidInputError(field=field, value=value, allowed="a number above 0")
    return float(value)


def check_ledger(ledger: CourseLedger, regimens: Mapping[str, Regimen]) -> Diagnosis:
    """Refuse a ledger the simulator cannot read, naming the field; the diagnosis as typed."""
    if ledger.regimen not in regimens:
        raise InvalidInputError(
            field="regimen", value=ledger.regimen, allowed="a regimen id: " + ", ".join(regimens)
        )
    if ledger.diagnosis not in DIAGNOSES:
        raise InvalidInputError(
            field="diagnosis", value=ledger.diagnosis, allowed=" or ".join(DIAGNOSES)
        )
    _finite(ledger.weight_kg, "weight_kg", positive=True)
    if not ledger.doses:
        raise InvalidInputError(field="doses", value=[], allowed="the course's planned doses")
    for i, dose in enumerate(ledger.doses):
        where = f"doses[{i}]"
        if dose.outcome not in OUTCOMES:
            raise InvalidInputError(
                field=f"{where}.outcome", value=dose.outcome, allowed=", ".join(OUTCOMES)
            )
        _finite(dose.due_min, f"{where}.due_min")
        _finite(dose.dose_iu, f"{where}.dose_iu", positive=True)
        if dose.outcome == "given":
            if dose.given_min is None:
                raise InvalidInputError(
                    field=f"{where}.given_min", value=None, allowed="the minute a given dose began"
                )
            at = _finite(dose.given_min, f"{where}.given_min")
            if at < -ORIGIN_DAYS * MIN_PER_DAY:
                raise InvalidInputError(
                    field=f"{where}.given_min", value=at,
                    allowed=f"no earlier than {ORIGIN_DAYS:g} day before the first planned dose",
                )  # fmt: skip
        elif dose.given_min is not None:
            raise InvalidInputError(
                field=f"{where}.given_min", value=dose.given_min,
                allowed=f"nothing for a dose {dose.outcome.replace('_', ' ')}",
            )  # fmt: skip
    return ledger.diagnosis


# --- schedules as the simulator's dosing ---------------------------------------------------------


def _interval_h(regimen: Regimen) -> float:
    """The dosing interval (h) an interval opened by a dose lasts at most (as course_of)."""
    if not regimen.steps:
        return float(regimen.interval_h)
    return min(float(s.every_h or 24 // s.doses_per_day) for s in regimen.steps)


def _sbrt(regimen: Regimen, spec: PopulationSpec) -> SbrtPlan | None:
    if regimen.anchor is None:
        return None
    return SbrtPlan(
        spec.sbrt_gy, spec.sbrt_max_fractions, spec.sbrt_spacing_days,
        spec.sbrt_days_before_first_dose,
    )  # fmt: skip


def dosing(
    regimen: Regimen,
    dose_min: ArrayLike,
    dose_iu_per_kg: ArrayLike,
    spec: PopulationSpec,
) -> Course:
    """The simulator's course for doses of `regimen` starting at `dose_min` (minutes from the
    first planned dose), `dose_iu_per_kg` IU/kg each; day 0 is ORIGIN_DAYS before the first
    planned dose (after SBRT's lead time when the regimen follows SBRT).

    Interval edges as schedule.course_of lays them out; with no dose, one empty interval."""
    template = course_of(regimen, sbrt=_sbrt(regimen, spec), tail_days=TAIL_DAYS)
    start_min = (template.lead_days + ORIGIN_DAYS) * MIN_PER_DAY
    times = np.asarray(dose_min, dtype=np.float64) + start_min
    order = np.argsort(times, kind="stable")
    times = times[order]
    per_kg = np.asarray(dose_iu_per_kg, dtype=np.float64)[order]
    if np.any(np.diff(times) <= 0):
        raise InvalidInputError(
            field="doses", value=(times / MIN_PER_H).tolist(), allowed="one dose at a time"
        )
    step = _interval_h(regimen) * MIN_PER_H
    edges: list[float] = []
    owner: list[int] = []
    for k, at in enumerate(times):
        edges.append(float(at))
        owner.append(k)
        following = times[k + 1] if k + 1 < times.size else math.inf
        if following > at + step:
            edges.append(float(at + step))
            owner.append(-1)
    if not edges:  # nothing given: one rest interval from the first planned dose
        edges, owner = [start_min], [-1]
    edges.append(edges[-1] + TAIL_DAYS * MIN_PER_DAY)
    last = float(times[-1]) if times.size else start_min
    return Course(
        regimen_id=regimen.id,
        route=template.route,
        infusion_min=template.infusion_min,
        dose_min=times,
        dose_iu_per_kg=per_kg,
        edges_days=np.asarray(edges, dtype=np.float64) / MIN_PER_DAY,
        interval_dose=np.asarray(owner, dtype=np.int64),
        lead_days=template.lead_days + ORIGIN_DAYS,
        last_dose_day=last / MIN_PER_DAY,
        sbrt_days=template.sbrt_days + ORIGIN_DAYS,
        sbrt_gy=template.sbrt_gy,
    )


@dataclass(frozen=True, slots=True)
class _Schedule:
    name: str
    label: str
    regimen: Regimen
    course: Course
    scan_days: NDArray[np.float64]


def _scans(regimen: Regimen, course: Course, spec: PopulationSpec) -> NDArray[np.float64]:
    """Scan days: the regimen's assessment delay after the last dose, then every interval."""
    first = regimen.response_assessment_weeks_after_course or spec.first_after_course_weeks
    start = course.last_dose_day + first * DAYS_PER_WEEK
    scans = start + spec.every_weeks * DAYS_PER_WEEK * np.arange(spec.assessments)
    return np.asarray(scans, dtype=np.float64)


def _schedule(
    name: str, ledger: CourseLedger, regimens: Mapping[str, Regimen], spec: PopulationSpec
) -> _Schedule:
    own = regimens[ledger.regimen]
    if name in (ACTUAL, AS_PLANNED):
        doses = [d for d in ledger.doses if name == AS_PLANNED or d.outcome == "given"]
        times = [
            float(d.due_min if name == AS_PLANNED or d.given_min is None else d.given_min)
            for d in doses
        ]
        per_kg = [d.dose_iu / ledger.weight_kg for d in doses]
        course = dosing(own, times, per_kg, spec)
        label = "as given (the ledger)" if name == ACTUAL else "as planned (every planned dose)"
        return _Schedule(name, label, own, course, _scans(own, course, spec))
    regimen = own if name == LABEL else regimens.get(name)
    if regimen is None:
        raise InvalidInputError(
            field="alternatives", value=name,
            allowed=f"{AS_PLANNED}, {LABEL} or a regimen id: " + ", ".join(regimens),
        )  # fmt: skip
    full = course_of(regimen, sbrt=_sbrt(regimen, spec))
    course = dosing(
        regimen, full.dose_min - full.lead_days * MIN_PER_DAY, full.dose_iu_per_kg, spec
    )
    label = f"{regimen.id}: the full label course" if name == LABEL else f"{regimen.id} course"
    return _Schedule(name, label, regimen, course, _scans(regimen, course, spec))


# --- the twins -----------------------------------------------------------------------------------


def draw_twins(
    diagnosis: Diagnosis,
    weight_kg: float,
    twins: int,
    seed: int,
    *,
    readout: ReadoutRules,
    spec: PopulationSpec | None = None,
) -> Population:
    """`twins` virtual patients of `diagnosis` (the calibrated population), each weighing
    `weight_kg`: patients 0..twins-1 of a virtual trial with `seed` (trial.draw_blocks)."""
    spec = spec or population_spec()
    plan = TrialPlan(
        arms=(), diagnosis=diagnosis, seed=seed, patients=twins, readout=readout,
        shifts=None, hold_above=None, spec=spec,
    )  # fmt: skip
    drawn = draw_blocks(plan, 0, -(-twins // BLOCK), CellModel.bundled())
    return replace(drawn, weight_kg=np.full(drawn.size, float(weight_kg)))


def tumour_cells(
    course: Course, twins: Population, t_out: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Tumour cells (twins, M) at days `t_out` under `course` (0 once extinct); exact PK
    signals, since a real course's schedule is simulated once."""
    return course_tumour_cells(
        course, twins, t_out, sbrt=bool(course.sbrt_days.size), exact_signals=True
    )


def _band(
    days: NDArray[np.float64], cells: NDArray[np.float64], twins: Population, rules: ReadoutRules
) -> Band:
    """Percentiles of the change of the sphere-equivalent diameter from baseline (%)."""
    base = diameter_mm(twins.baseline_cells, rules)
    change = 100.0 * (diameter_mm(cells, rules) / base[:, None] - 1.0)
    p10, p50, p90 = np.percentile(change, BAND, axis=0)
    return Band(
        tuple(round(float(d), 3) for d in days),
        tuple(round(float(v), 2) for v in p10),
        tuple(round(float(v), 2) for v in p50),
        tuple(round(float(v), 2) for v in p90),
    )


def _run(
    schedule: _Schedule, twins: Population, rules: ReadoutRules, band_days: NDArray[np.float64]
) -> ScheduleResult:
    t_out = np.unique(np.concatenate([band_days, schedule.scan_days]))
    cells = tumour_cells(schedule.course, twins, t_out)
    at_scans = cells[:, np.searchsorted(t_out, schedule.scan_days)]
    points = time_point_responses(at_scans, twins.baseline_cells, rules)
    best = best_overall_response(points, schedule.scan_days / DAYS_PER_WEEK, rules)
    on_band = cells[:, np.searchsorted(t_out, band_days)]
    start = schedule.course.lead_days * MIN_PER_DAY
    return ScheduleResult(
        name=schedule.name,
        label=schedule.label,
        regimen=schedule.regimen.id,
        doses_given=schedule.course.doses,
        dose_hours=tuple(round(float(m - start) / MIN_PER_H, 3) for m in schedule.course.dose_min),
        scan_days=tuple(round(float(d), 3) for d in schedule.scan_days),
        best=best,
        band=_band(band_days, on_band, twins, rules),
    )


def _calibration(diagnosis: Diagnosis, spec: PopulationSpec) -> dict[str, object]:
    """What the population of `diagnosis` was calibrated to, and how close it came."""
    from il2.science.label import label_efficacy  # noqa: PLC0415 - read once, cached

    label = label_efficacy()[diagnosis]
    found = spec.calibrated.get(diagnosis)
    out: dict[str, object] = {
        "diagnosis": diagnosis,
        "regimen": spec.calibration_regimen,
        "target_orr": _rate(label.objective, label.patients).as_json(),
        "target_cr_rate": _rate(label.complete, label.patients).as_json(),
    }
    if found is None:
        out["calibrated"] = False
        out["note"] = "this diagnosis has no calibrated population: uncalibrated defaults"
        return out
    out |= {
        "calibrated": True,
        "shifts": dict(found.shifts),
        "seed": found.seed,
        "patients": found.patients,
        "achieved_orr": _rate(found.objective, found.patients).as_json(),
        "achieved_cr_rate": _rate(found.complete, found.patients).as_json(),
        "note": "the virtual population was fitted to the label pool's ORR and CR on "
        f"{spec.calibration_regimen} (data/population.toml [calibrated]); compare the achieved "
        "rates with the targets' exact 95% intervals",
    }
    return out


def what_if(
    ledger: CourseLedger,
    alternatives: Sequence[str] = (AS_PLANNED, LABEL),
    *,
    twins: int = DEFAULT_TWINS,
    seed: int = DEFAULT_SEED,
    rules: Any = None,
) -> WhatIf:
    """The course as recorded (`actual`) and each of `alternatives` (AS_PLANNED, LABEL or a
    regimen id) given to the same `twins` virtual twins drawn with `seed`.

    Raises InvalidInputError naming the field for a bad ledger, an unknown or unmodelled
    regimen, or a bad cohort size or seed."""
    if isinstance(twins, bool) or not isinstance(twins, int) or not 1 <= twins <= MAX_TWINS:
        raise InvalidInputError(field="twins", value=twins, allowed=f"1 to {MAX_TWINS:,}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InvalidInputError(field="seed", value=seed, allowed="an integer, 0 or more")
    if rules is None:
        from il2.rules.loader import load_rules  # noqa: PLC0415 - only when not given

        rules = load_rules()
    diagnosis = check_ledger(ledger, rules.regimens)
    names = [ACTUAL, *(a for a in dict.fromkeys(alternatives) if a != ACTUAL)]
    spec = population_spec()
    schedules = [_schedule(name, ledger, rules.regimens, spec) for name in names]
    readout = readout_rules(rules, spec)
    horizon = max(float(s.scan_days[-1]) for s in schedules)
    band_days = np.arange(0.0, horizon + BAND_STEP_DAYS, BAND_STEP_DAYS)
    population = draw_twins(diagnosis, ledger.weight_kg, twins, seed, readout=readout, spec=spec)
    return WhatIf(
        regimen=ledger.regimen,
        diagnosis=diagnosis,
        weight_kg=float(ledger.weight_kg),
        twins=twins,
        seed=seed,
        ledger=ledger.counts(),
        schedules=tuple(_run(s, population, readout, band_days) for s in schedules),
        calibration=_calibration(diagnosis, spec),
        population=population,
    )


def band_figure(result: WhatIf) -> str:
    """The median tumour-size change (% of the baseline sum of diameters) over days for each
    schedule, its 10-90% band shaded, as SVG (il2.science.plots style)."""
    from il2.science import plots  # noqa: PLC0415 - matplotlib, when drawing

    palette = ("#1a1a1a", "#0b5cad", "#d1495b", "#2a9d8f", "#edae49", "#6d597a")

    def draw(axes: Any) -> None:
        for k, schedule in enumerate(result.schedules):
            colour = palette[k % len(palette)]
            band = schedule.band
            days = np.asarray(band.days) / DAYS_PER_WEEK
            axes.fill_between(days, band.p10, band.p90, color=colour, alpha=0.12, linewidth=0)
            axes.plot(days, band.median, color=colour, linewidth=1.6, label=schedule.label)
        axes.axhline(0.0, color=plots.INK, linewidth=0.6)
        axes.legend(frameon=False, fontsize=8, loc="best")

    frame = plots.Frame(
        title=f"Virtual twins ({result.twins}): median and 10-90% band",
        xlabel="Weeks from baseline",
        ylabel="Tumour size change (%)",
        size=(6.4, 3.6),
    )
    return plots._drawn(frame, draw)
