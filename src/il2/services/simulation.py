"""Virtual trials and virtual patients of the mechanistic IL-2 simulator, for the research page.

Two use cases: run a virtual trial of chosen arms (regimens of the rule set) for a diagnosis,
with n virtual patients and a seed; and follow one virtual patient's course for its first hours
(serum concentration and receptor occupancy). Both check the permission `simulation.run`.

No patient record is read or written: the virtual patients are drawn from the model's own cited
data (science/data/population.toml), so a run leaves no audit entry (the audit trail records
writes and reads of patient records; a refusal is still audited where every refusal is).

The model (numba) is imported when a run starts, never when the app starts.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from il2.domain.errors import InvalidInputError
from il2.domain.records import Actor
from il2.science.dataset import DIAGNOSES, Diagnosis
from il2.science.label import label_efficacy
from il2.science.mechanism.plots import (
    TRAJECTORY_LIMIT,
    ArmRates,
    Drawn,
    label_rates,
    occupancy_plot,
    rates_plot,
    trajectories_plot,
    waterfall_plot,
)
from il2.science.plots import Thresholds
from il2.science.stats import Proportion, proportion
from il2.services.context import Services
from il2.services.permissions import require

if TYPE_CHECKING:
    from il2.science.mechanism.population import Population
    from il2.science.mechanism.trial import ArmPlan, TrialPlan

ACTION = "simulation.run"
MAX_PATIENTS = 20_000
"""The most virtual patients a run in the app may have (the command line `il2 trial` runs
millions, on a Dask cluster)."""
DEFAULT_PATIENTS = 2_000
MAX_SEED = 2**63 - 1
COURSE_HOURS = 48.0
COURSE_POINTS = 577  # every 5 minutes over 48 h
TRAJECTORY_POINTS = 97
DAYS_PER_WEEK = 7.0
CHUNK_BLOCKS = 16
CATEGORIES = ("CR", "PR", "SD", "PD")


@dataclass(frozen=True, slots=True)
class ArmSummary:
    """One virtual arm: the regimen, its name, patients, best-response counts and rates."""

    regimen: str
    name: str
    patients: int
    counts: Mapping[str, int]
    orr: Proportion
    cr: Proportion
    pr: Proportion


@dataclass(frozen=True, slots=True)
class CourseProfile:
    """One virtual patient's first hours of a course: hours from the first dose, serum
    concentration (IU/mL) and equilibrium receptor occupancy (hours, 4) in SIGNALS order."""

    regimen: str
    diagnosis: Diagnosis
    seed: int
    patient: int
    weight_kg: float
    hours: NDArray[np.float64]
    concentration_iu_ml: NDArray[np.float64]
    occupancy: NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class ArmFigures:
    """An arm's trajectories and waterfall."""

    name: str
    trajectories: Drawn
    waterfall: Drawn


@dataclass(frozen=True, slots=True)
class VirtualTrial:
    """A virtual trial's arms, figures, methods (sentences) and wall time in seconds."""

    diagnosis: Diagnosis
    patients: int
    seed: int
    arms: tuple[ArmSummary, ...]
    arm_figures: tuple[ArmFigures, ...]
    occupancy: Drawn
    rates: Drawn
    methods: tuple[str, ...]
    seconds: float


def simulated_regimens(services: Services) -> list[tuple[str, str]]:
    """(id, name) of each regimen of the rule set the simulator can run, in rule-set order."""
    from il2.science.mechanism.schedule import course_of  # noqa: PLC0415 - numpy only

    found = []
    for regimen_id, regimen in services.rules.regimens.items():
        try:
            course_of(regimen)
        except InvalidInputError:
            continue
        found.append((regimen_id, regimen.name))
    return found


def _checked(
    services: Services, regimens: Sequence[str], diagnosis: str, patients: int, seed: int
) -> Diagnosis:
    supported = [r for r, _ in simulated_regimens(services)]
    if not regimens:
        raise InvalidInputError(
            field="arms", value="", allowed="at least one regimen: " + ", ".join(supported)
        )
    for regimen in regimens:
        if regimen not in supported:
            raise InvalidInputError(
                field="arms",
                value=regimen,
                allowed="regimens the simulator models: " + ", ".join(supported),
            )
    if len(set(regimens)) != len(regimens):
        raise InvalidInputError(field="arms", value=list(regimens), allowed="each regimen once")
    return _checked_case(diagnosis, patients, seed)


def _checked_case(diagnosis: str, patients: int, seed: int) -> Diagnosis:
    if diagnosis not in DIAGNOSES:
        raise InvalidInputError(field="diagnosis", value=diagnosis, allowed=" or ".join(DIAGNOSES))
    if not 1 <= patients <= MAX_PATIENTS:
        raise InvalidInputError(
            field="patients",
            value=patients,
            allowed=f"1 to {MAX_PATIENTS:,} virtual patients here (il2 trial runs millions)",
        )
    if not 0 <= seed <= MAX_SEED:
        raise InvalidInputError(field="seed", value=seed, allowed=f"a whole number 0 to {MAX_SEED}")
    return next(d for d in DIAGNOSES if d == diagnosis)


# --- the model, composed from science/mechanism ---------------------------------------------


def _tumour_cells(
    arm: ArmPlan, population: Population, t_out: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Tumour cells (n, len(t_out)) of `population` in `arm`, doses given as planned (as a
    trial gives them: no hold threshold of the leak proxy is published)."""
    from il2.science.mechanism.trial import course_tumour_cells  # noqa: PLC0415 - numba

    return course_tumour_cells(arm.course, population, t_out, sbrt=bool(arm.arm.sbrt))


def _change_pct(
    cells: NDArray[np.float64], baseline: NDArray[np.float64], plan: TrialPlan
) -> NDArray[np.float64]:
    """% change of the sphere-equivalent sum of diameters from baseline (-100: not detected)."""
    from il2.science.mechanism.readout import diameter_mm  # noqa: PLC0415 - numpy only

    d0 = diameter_mm(baseline, plan.readout)
    d = diameter_mm(cells, plan.readout)
    return np.asarray(100.0 * (d / d0[:, None] - 1.0), dtype=np.float64)


@dataclass(slots=True)
class _ArmRun:
    best: list[NDArray[np.int8]]
    best_change: list[NDArray[np.float64]]


def _scanned(
    plan: TrialPlan, arm: ArmPlan, population: Population
) -> tuple[NDArray[np.int8], NDArray[np.float64]]:
    """Best overall responses (codes CR 0 .. PD 3) and best % change at the arm's scans."""
    from il2.science.mechanism.readout import (  # noqa: PLC0415 - numpy only
        best_overall_response,
        time_point_responses,
    )

    cells = _tumour_cells(arm, population, arm.scan_days)
    points = time_point_responses(cells, population.baseline_cells, plan.readout)
    best = best_overall_response(points, arm.scan_days / DAYS_PER_WEEK, plan.readout)
    change = _change_pct(cells, population.baseline_cells, plan)
    return best, change.min(axis=1)


def _trajectories(
    plan: TrialPlan, arm: ArmPlan, population: Population
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Weeks from baseline and % change (n, weeks) from baseline to the last scan."""
    days = np.unique(
        np.concatenate([np.linspace(0.0, float(arm.scan_days[-1]), TRAJECTORY_POINTS),
                        arm.scan_days])
    )  # fmt: skip
    cells = _tumour_cells(arm, population, days)
    return days / DAYS_PER_WEEK, _change_pct(cells, population.baseline_cells, plan)


def _rate(count: int, total: int) -> Proportion:
    found = proportion(count, total)
    if found is None:  # pragma: no cover - a run has patients
        raise InvalidInputError(field="patients", value=total, allowed="1 or more")
    return found


def _summary(name: str, regimen: str, best: NDArray[np.int8]) -> ArmSummary:
    counts = np.bincount(best, minlength=len(CATEGORIES))
    n = int(best.size)
    return ArmSummary(
        regimen=regimen,
        name=name,
        patients=n,
        counts={c: int(counts[k]) for k, c in enumerate(CATEGORIES)},
        orr=_rate(int(counts[0] + counts[1]), n),
        cr=_rate(int(counts[0]), n),
        pr=_rate(int(counts[1]), n),
    )


def _arm_name(services: Services, arm: ArmPlan) -> str:
    regimen = services.rules.regimens[arm.arm.regimen]
    return f"{regimen.name} ({arm.arm.regimen})"


def _methods(plan: TrialPlan) -> tuple[str, ...]:
    """The methods in three sentences: the model, its calibration, the held-out comparisons."""
    spec = plan.spec
    disease = plan.diagnosis.replace("_", " ")
    calibrated = spec.calibrated.get(plan.diagnosis)
    model = (
        "Model: closed-form two-compartment pharmacokinetics of aldesleukin and equilibrium "
        "IL-2 receptor occupancy per cell type drive, per dosing interval, a cell-and-tumour "
        "ODE (CD8 effector, NK and regulatory T cells, tumour, capillary-leak proxy, radiation "
        "antigenicity) integrated by a compiled adaptive Runge-Kutta method; each virtual "
        "patient gets one course, doses given as planned, and is read out by RECIST 1.1 from "
        "the simulated tumour size (sphere-equivalent diameter) at the scans."
    )
    if calibrated is None:
        calibration = f"Calibration: none for {disease}; parameters are the cited defaults."
    else:
        shifts = ", ".join(f"{k} {v:+.2f}" for k, v in calibrated.shifts.items())
        calibration = (
            f"Calibration: the population's log-scale shifts ({shifts}) were fitted on "
            f"{spec.calibration_regimen} to the label pool's ORR and CR for {disease} "
            f"({calibrated.patients:,} virtual patients, seed {calibrated.seed}: "
            f"{calibrated.objective} responses, {calibrated.complete} complete)."
        )
    chosen = {a.arm.regimen for a in plan.arms}
    held = [
        h
        for h in spec.held_out
        if h.diagnosis == plan.diagnosis and chosen & {h.experimental, h.control}
    ]
    if held:
        names = "; ".join(
            f"{h.name} ({h.experimental} vs {h.control}, {h.source.split(':')[0]})"
            + (f"; caveat: {h.caveat}" if h.caveat else "")
            for h in held
        )
        held_out = (
            f"Held out: these published comparisons were never used to calibrate, so arms of "
            f"them test the model: {names}."
        )
    else:
        every = "; ".join(f"{h.name} ({h.experimental} vs {h.control})" for h in spec.held_out)
        held_out = (
            f"Held out (never used to calibrate): {every}. None of them is among these arms "
            "for this diagnosis."
        )
    return model, calibration, held_out


# --- use cases -------------------------------------------------------------------------------


def virtual_course(
    services: Services,
    actor: Actor,
    *,
    regimen: str,
    diagnosis: str,
    seed: int,
    patient: int = 0,
    hours: float = COURSE_HOURS,
) -> CourseProfile:
    """Virtual patient `patient` (0-based: the trial's patient of that number for this seed)
    on `regimen`: serum concentration (IU/mL) and receptor occupancy per cell type over the
    first `hours` hours from the first dose. Reads no patient record (no audit entry)."""
    require(services, actor, ACTION)
    chosen = _checked_case(diagnosis, 1, seed)
    supported = [r for r, _ in simulated_regimens(services)]
    if regimen not in supported:
        raise InvalidInputError(
            field="arms", value=regimen, allowed="regimens the simulator models: "
            + ", ".join(supported),
        )  # fmt: skip
    if not 0 <= patient < MAX_PATIENTS:
        raise InvalidInputError(field="patient", value=patient, allowed=f"0 to {MAX_PATIENTS - 1}")
    if not 0 < hours <= 24 * 28:
        raise InvalidInputError(field="hours", value=hours, allowed="above 0, at most 672 h")
    from il2.science.mechanism import occupancy, pk  # noqa: PLC0415 - numba
    from il2.science.mechanism.population import CellModel  # noqa: PLC0415 - numba
    from il2.science.mechanism.trial import (  # noqa: PLC0415 - numba
        BLOCK,
        Arm,
        draw_blocks,
        make_plan,
    )

    plan = make_plan([Arm(regimen)], chosen, patient + 1, seed, rules=services.rules)
    block = patient // BLOCK
    population = draw_blocks(plan, block, block + 1, CellModel.bundled())
    at = patient - block * BLOCK
    course = plan.arms[0].course
    agent = pk.agent_pk("aldesleukin")
    weight = float(population.weight_kg[at])
    span = np.linspace(0.0, hours * 60.0, COURSE_POINTS)
    concentration = pk.concentration(
        float(course.dose_min[0]) + span, dose_min=course.dose_min,
        dose_iu=course.dose_iu_per_kg * weight,
        infusion_min=np.full(course.doses, course.infusion_min), route=course.route, pk=agent,
        weight_kg=weight, cl_scale=float(population.clearance_scale[at]),
        v1_scale=float(population.volume_scale[at]),
    )  # fmt: skip
    bound = occupancy.occupancy(pk.iu_per_ml_to_nm(concentration, agent)[:, None], agent.kd_nm)
    return CourseProfile(
        regimen=regimen,
        diagnosis=chosen,
        seed=seed,
        patient=patient,
        weight_kg=weight,
        hours=span / 60.0,
        concentration_iu_ml=concentration,
        occupancy=np.asarray(bound, dtype=np.float64),
    )


def run_virtual_trial(
    services: Services,
    actor: Actor,
    *,
    regimens: Sequence[str],
    diagnosis: str,
    patients: int,
    seed: int,
) -> VirtualTrial:
    """A virtual trial: the same `patients` virtual patients of `diagnosis` (drawn for `seed`)
    in each arm, read out by RECIST 1.1, with the figures and the methods. The counts are those
    `il2 trial` gives for the same regimen, diagnosis, patients and seed. Reads no patient
    record (no audit entry)."""
    start = time.perf_counter()
    require(services, actor, ACTION)
    chosen = _checked(services, regimens, diagnosis, patients, seed)
    from il2.science.mechanism.population import CellModel  # noqa: PLC0415 - numba
    from il2.science.mechanism.trial import (  # noqa: PLC0415 - numba
        Arm,
        chunks_of,
        draw_blocks,
        make_plan,
    )

    plan = make_plan([Arm(r) for r in regimens], chosen, patients, seed, rules=services.rules)
    model = CellModel.bundled()
    runs = [_ArmRun([], []) for _ in plan.arms]
    first_block: Population | None = None
    for first, stop in chunks_of(patients, CHUNK_BLOCKS):
        population = draw_blocks(plan, first, stop, model)
        if first_block is None:
            first_block = population.take(min(TRAJECTORY_LIMIT, population.size))
        for arm, run in zip(plan.arms, runs, strict=True):
            best, change = _scanned(plan, arm, population)
            run.best.append(best)
            run.best_change.append(change)
    if first_block is None:  # pragma: no cover - patients >= 1
        raise InvalidInputError(field="patients", value=patients, allowed="1 or more")
    thresholds = Thresholds.of(services.rules.recist)
    summaries, figures = [], []
    for number, (arm, run) in enumerate(zip(plan.arms, runs, strict=True), start=1):
        name = _arm_name(services, arm)
        best = np.concatenate(run.best)
        words = [CATEGORIES[int(b)] for b in best]
        summaries.append(_summary(name, arm.arm.regimen, best))
        weeks, change = _trajectories(plan, arm, first_block)
        lines = trajectories_plot(
            weeks, change, words[: first_block.size], thresholds,
            arm=arm.arm.label, prefix=f"trajectories{number}",
        )  # fmt: skip
        bars = waterfall_plot(
            np.concatenate(run.best_change), words, thresholds,
            arm=arm.arm.label, prefix=f"waterfall{number}",
        )  # fmt: skip
        figures.append(ArmFigures(name=name, trajectories=lines, waterfall=bars))
    course = virtual_course(
        services, actor, regimen=plan.arms[0].arm.regimen, diagnosis=chosen, seed=seed
    )
    occupancy = occupancy_plot(
        course.hours, course.concentration_iu_ml, course.occupancy,
        title=f"Virtual patient 1 ({course.weight_kg:.0f} kg), first {COURSE_HOURS:.0f} h of "
        f"{plan.arms[0].arm.label}",
    )  # fmt: skip
    published = label_rates(label_efficacy()[chosen])
    rates = rates_plot([ArmRates(s.regimen, s.orr, s.cr) for s in summaries], published)
    return VirtualTrial(
        diagnosis=chosen,
        patients=patients,
        seed=seed,
        arms=tuple(summaries),
        arm_figures=tuple(figures),
        occupancy=occupancy,
        rates=rates,
        methods=_methods(plan),
        seconds=time.perf_counter() - start,
    )
