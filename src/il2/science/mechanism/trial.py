"""Virtual trials: arms of regimens given to the same virtual patients, read out by RECIST 1.1.

Patients are drawn in fixed blocks of `BLOCK` patients; block b draws with its own generator,
`SeedSequence(seed, spawn_key=(b,))` (the b-th child that `SeedSequence(seed).spawn` gives), so
patient i is the same whatever the chunking, the number of workers or the number of patients
asked for. A chunk is a run of whole blocks; every arm of a trial sees the same patients (common
random numbers). Per chunk and arm: PK -> interval signals (read from the course's table over
clearance and volume, occupancy.signal_table; exact outside its bounds), the
cell-and-tumour ODE (kernel.simulate_population), tumour size at the scans -> RECIST best
overall response. Chunks return counts, which add up: the result is the same in one process, on
a local Dask cluster (`distributed.LocalCluster`, processes) or on a running scheduler.
"""

from __future__ import annotations

import importlib
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from il2.domain.errors import InvalidInputError
from il2.domain.regimen import Regimen
from il2.science.dataset import DIAGNOSES, Diagnosis
from il2.science.mechanism.cells import tumour_cells
from il2.science.mechanism.population import (
    CellModel,
    HeldOut,
    Population,
    PopulationSpec,
    draw_population,
    join_populations,
    population_spec,
)
from il2.science.mechanism.readout import (
    CATEGORIES,
    ReadoutRules,
    best_overall_response,
    time_point_responses,
)
from il2.science.mechanism.schedule import Course, SbrtPlan, course_of
from il2.science.stats import Proportion, proportion

BLOCK = 512
"""Patients per generator block (the unit of chunking)."""
DAYS_PER_WEEK = 7.0

T = TypeVar("T")
R = TypeVar("R")
Progress = Callable[[int, int], None]
"""Called with (patients done, patients in all) as chunks finish."""


@dataclass(frozen=True, slots=True)
class Arm:
    """A trial arm: a regimen, after SBRT or not (None: as the regimen says, i.e. SBRT when the
    regimen follows an SBRT fraction)."""

    regimen: str
    sbrt: bool | None = None

    @property
    def label(self) -> str:
        """The arm as a short name."""
        return self.regimen + (" with SBRT" if self.sbrt else "")


@dataclass(frozen=True, slots=True)
class ArmPlan:
    """An arm resolved against the rule set: its course and scan times (days from baseline)."""

    arm: Arm
    course: Course
    scan_days: NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class TrialPlan:
    """Everything a chunk needs, picklable: arms, the diagnosis, seed, read-out, calibration."""

    arms: tuple[ArmPlan, ...]
    diagnosis: Diagnosis
    seed: int
    patients: int
    readout: ReadoutRules
    shifts: Mapping[str, float] | None
    hold_above: float | None
    spec: PopulationSpec = field(repr=False)


@dataclass(frozen=True, slots=True)
class ArmResult:
    """One arm's best overall responses: counts per category and rates with exact 95% CIs."""

    arm: Arm
    counts: Mapping[str, int]
    patients: int

    @property
    def orr(self) -> Proportion:
        """Objective response (CR + PR)."""
        return _rate(self.counts["CR"] + self.counts["PR"], self.patients)

    @property
    def cr_rate(self) -> Proportion:
        """Complete response."""
        return _rate(self.counts["CR"], self.patients)

    @property
    def pr_rate(self) -> Proportion:
        """Partial response."""
        return _rate(self.counts["PR"], self.patients)

    def as_json(self) -> dict[str, object]:
        """The arm as a JSON-ready mapping."""
        return {
            "regimen": self.arm.regimen,
            "sbrt": bool(self.arm.sbrt),
            "patients": self.patients,
            "counts": dict(self.counts),
            "orr": self.orr.as_json(),
            "cr_rate": self.cr_rate.as_json(),
            "pr_rate": self.pr_rate.as_json(),
        }


def _rate(count: int, total: int) -> Proportion:
    found = proportion(count, total)
    if found is None:  # pragma: no cover - a trial has patients
        raise InvalidInputError(field="patients", value=total, allowed="1 or more")
    return found


@dataclass(frozen=True, slots=True)
class TrialResult:
    """A trial: its arms' results, the patients, the seed and the wall time (s)."""

    diagnosis: Diagnosis
    patients: int
    seed: int
    arms: tuple[ArmResult, ...]
    seconds: float


# --- the model, from the other mechanism modules -------------------------------------------------


def _signals(
    course: Course, population: Population
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Per patient interval means of receptor occupancy if each dose is given / held: read from
    the course's table over the population's clearance and volume bounds (occupancy.signal_table,
    built once per course and process, error below 1e-6), exact for a patient outside them."""
    from il2.science.mechanism import occupancy, pk  # noqa: PLC0415 - numba, when simulating

    spec = population_spec()
    table = occupancy.signal_table(
        dose_min=course.dose_min, dose_iu_per_kg=course.dose_iu_per_kg,
        infusion_min=np.full(course.doses, course.infusion_min), route=course.route,
        edges_days=course.edges_days, pk=pk.agent_pk("aldesleukin"),
        cl_range=(spec.clearance_scale.low, spec.clearance_scale.high),
        v1_range=(spec.volume_scale.low, spec.volume_scale.high),
    )  # fmt: skip
    return table.signals(population.weight_kg, population.clearance_scale, population.volume_scale)


def course_tumour_cells(
    course: Course,
    population: Population,
    t_out: NDArray[np.float64],
    *,
    sbrt: bool,
    hold_above: float = math.inf,
    exact_signals: bool = False,
) -> NDArray[np.float64]:
    """Total tumour cells (n, len(t_out)) of `population` given `course` (cells.tumour_cells).

    The one composition of the model every caller shares (trials, the research page, the what-if
    of a real course): PK signals, SBRT fractions when `sbrt`, the kernel. Signals come from the
    course's table (`_signals`), or with `exact_signals` straight from
    occupancy.population_signals (cheaper for a course simulated once, such as a real ledger).
    """
    from il2.science.mechanism import occupancy, pk  # noqa: PLC0415 - numba, when simulating
    from il2.science.mechanism.kernel import simulate_population  # noqa: PLC0415 - numba

    intervals = course.edges_days.size - 1
    if course.doses == 0:
        given = np.zeros((population.size, intervals, 4))
        held = given.copy()
    elif exact_signals:
        given, held = occupancy.population_signals(
            population.weight_kg, population.clearance_scale, population.volume_scale,
            dose_min=course.dose_min, dose_iu_per_kg=course.dose_iu_per_kg,
            infusion_min=np.full(course.doses, course.infusion_min), route=course.route,
            edges_days=course.edges_days, pk=pk.agent_pk("aldesleukin"),
        )  # fmt: skip
    else:
        given, held = _signals(course, population)
    rt_days, rt_gy = course.sbrt_for(
        population.sbrt_fractions if sbrt else np.zeros(population.size, np.int64)
    )
    result = simulate_population(
        population.params, population.y0, course.edges_days, given, held,
        hold_above, rt_days, rt_gy, t_out,
    )  # fmt: skip
    return tumour_cells(result.y)


def _simulate(plan: ArmPlan, population: Population, hold_above: float) -> NDArray[np.float64]:
    """Tumour cells (n, scans) at the arm's scan times."""
    return course_tumour_cells(
        plan.course, population, plan.scan_days, sbrt=bool(plan.arm.sbrt), hold_above=hold_above
    )


def best_responses(
    plan: ArmPlan, population: Population, readout: ReadoutRules, hold_above: float
) -> NDArray[np.int8]:
    """Best overall responses (CR 0, PR 1, SD 2, PD 3) of `population` in the arm `plan`."""
    cells = _simulate(plan, population, hold_above)
    weeks = plan.scan_days / DAYS_PER_WEEK
    points = time_point_responses(cells, population.baseline_cells, readout)
    return best_overall_response(points, weeks, readout)


# --- plans ---------------------------------------------------------------------------------------


def plan_arm(arm: Arm, regimens: Mapping[str, Regimen], spec: PopulationSpec) -> ArmPlan:
    """The arm's course and scan times; refuses an unknown or unmodelled regimen by name."""
    regimen = regimens.get(arm.regimen)
    if regimen is None:
        raise InvalidInputError(
            field="regimen",
            value=arm.regimen,
            allowed="a regimen id: " + ", ".join(sorted(regimens)),
        )
    sbrt = arm.sbrt if arm.sbrt is not None else regimen.anchor is not None
    plan = None
    if sbrt:
        plan = SbrtPlan(
            spec.sbrt_gy, spec.sbrt_max_fractions, spec.sbrt_spacing_days,
            spec.sbrt_days_before_first_dose,
        )  # fmt: skip
    course = course_of(regimen, sbrt=plan)
    first = regimen.response_assessment_weeks_after_course or spec.first_after_course_weeks
    start = course.last_dose_day + first * DAYS_PER_WEEK
    scans = start + spec.every_weeks * DAYS_PER_WEEK * np.arange(spec.assessments)
    return ArmPlan(Arm(arm.regimen, sbrt), course, scans.astype(np.float64))


def readout_rules(rules: Any, spec: PopulationSpec) -> ReadoutRules:
    """The read-out from a rule set (RECIST thresholds, confirmation and SD policies)."""
    policies = {p.name: p for p in rules.policies}
    weeks = float(policies["recist_confirmation_weeks"].value)
    return ReadoutRules.from_criteria(
        rules.recist,
        cells_per_cm3=spec.cells_per_cm3,
        confirmation_weeks=weeks if spec.confirmation_required else None,
        min_sd_weeks=float(policies["recist_min_sd_weeks"].value),
    )


def make_plan(
    arms: Sequence[Arm],
    diagnosis: str,
    patients: int,
    seed: int,
    *,
    rules: Any = None,
    shifts: Mapping[str, float] | None = None,
    hold_above: float | None = None,
) -> TrialPlan:
    """Resolve a trial against the rule set (bundled rules when `rules` is None)."""
    if diagnosis not in DIAGNOSES:
        raise InvalidInputError(field="diagnosis", value=diagnosis, allowed=" or ".join(DIAGNOSES))
    if patients < 1:
        raise InvalidInputError(field="patients", value=patients, allowed="1 or more")
    if seed < 0:
        raise InvalidInputError(field="seed", value=seed, allowed="0 or more")
    if not arms:
        raise InvalidInputError(field="arms", value=[], allowed="at least one arm")
    if rules is None:
        from il2.rules.loader import load_rules  # noqa: PLC0415 - only when not given

        rules = load_rules()
    spec = population_spec()
    return TrialPlan(
        arms=tuple(plan_arm(arm, rules.regimens, spec) for arm in arms),
        diagnosis=diagnosis,
        seed=seed,
        patients=patients,
        readout=readout_rules(rules, spec),
        shifts=shifts,
        hold_above=hold_above,
        spec=spec,
    )


# --- chunks --------------------------------------------------------------------------------------


def block_generator(seed: int, block: int) -> np.random.Generator:
    """The generator of patient block `block` (the `block`-th child of SeedSequence(seed))."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(block,)))


def draw_blocks(plan: TrialPlan, first: int, stop: int, model: CellModel) -> Population:
    """Patients of blocks first..stop-1 (the last block cut at the trial's patients)."""
    parts = []
    for block in range(first, stop):
        size = min(BLOCK, plan.patients - block * BLOCK)
        drawn = draw_population(
            BLOCK, plan.diagnosis, block_generator(plan.seed, block), model,
            spec=plan.spec, shifts=plan.shifts,
        )  # fmt: skip
        parts.append(drawn.take(size))

    return join_populations(parts)


def run_chunk(plan: TrialPlan, first: int, stop: int) -> NDArray[np.int64]:
    """Counts (arms, 4) of best overall responses (CR, PR, SD, PD) for blocks first..stop-1."""
    model = CellModel.bundled()
    population = draw_blocks(plan, first, stop, model)
    hold = math.inf if plan.hold_above is None else plan.hold_above
    counts = np.zeros((len(plan.arms), len(CATEGORIES)), dtype=np.int64)
    for a, arm in enumerate(plan.arms):
        best = best_responses(arm, population, plan.readout, hold)
        counts[a] = np.bincount(best, minlength=len(CATEGORIES))
    return counts


def _run_chunk_task(args: tuple[TrialPlan, int, int]) -> NDArray[np.int64]:
    """run_chunk on a worker, with numba on one thread (each worker is one process)."""
    import numba  # noqa: PLC0415 - worker side

    numba.set_num_threads(1)
    return run_chunk(*args)


def map_chunks(
    fn: Callable[[T], R],
    items: Sequence[T],
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    on_done: Callable[[int], None] | None = None,
) -> list[R]:
    """fn over items, in order: in this process (workers None or 1, no scheduler), on a local
    Dask cluster of `workers` processes, or on the Dask scheduler at `scheduler`.
    `on_done(index)` is called as each item finishes."""
    if workers is not None and workers < 1:
        raise InvalidInputError(field="workers", value=workers, allowed="1 or more")
    if scheduler is not None and workers is not None:
        raise InvalidInputError(
            field="workers", value=workers, allowed="nothing when a scheduler address is given"
        )
    if scheduler is None and (workers is None or workers == 1):
        out = []
        for index, item in enumerate(items):
            out.append(fn(item))
            if on_done is not None:
                on_done(index)
        return out
    # distributed has no type hints: held as Any, imported only when a cluster is used
    dask: Any = importlib.import_module("distributed")
    cluster = None
    if scheduler is None:
        cluster = dask.LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True,
            dashboard_address=":0", env={"NUMBA_NUM_THREADS": "1"},
        )  # fmt: skip
    try:
        client = dask.Client(cluster if cluster is not None else scheduler)
        try:
            futures = client.map(fn, list(items), pure=False)
            position = {f.key: i for i, f in enumerate(futures)}
            for done in dask.as_completed(futures):
                if on_done is not None:
                    on_done(position[done.key])
            return list(client.gather(futures))
        finally:
            client.close()
    finally:
        if cluster is not None:
            cluster.close()


def chunks_of(patients: int, chunk_blocks: int) -> list[tuple[int, int]]:
    """Block ranges [first, stop) of at most `chunk_blocks` blocks covering `patients`."""
    if chunk_blocks < 1:
        raise InvalidInputError(field="chunk_blocks", value=chunk_blocks, allowed="1 or more")
    blocks = -(-patients // BLOCK)
    return [(b, min(b + chunk_blocks, blocks)) for b in range(0, blocks, chunk_blocks)]


def run_trial(
    arms: Sequence[Arm] | Sequence[str],
    diagnosis: str,
    patients: int,
    seed: int,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: Progress | None = None,
    rules: Any = None,
    shifts: Mapping[str, float] | None = None,
    hold_above: float | None = None,
    chunk_blocks: int | None = None,
) -> TrialResult:
    """A virtual trial of `patients` patients of `diagnosis` in each arm (the same patients in
    every arm), deterministic for `seed` whatever the chunking or the workers.

    `shifts` override the calibrated log-scale shifts (calibration only); `hold_above` is the
    leak level above which a dose is held (default never: no published threshold of the leak
    proxy exists, so doses are given as planned)."""
    start = time.perf_counter()
    arm_list = [a if isinstance(a, Arm) else Arm(a) for a in arms]
    plan = make_plan(
        arm_list, diagnosis, patients, seed, rules=rules, shifts=shifts, hold_above=hold_above
    )
    parallel = scheduler is not None or (workers or 1) > 1
    if chunk_blocks is None:
        blocks = -(-patients // BLOCK)
        chunk_blocks = max(1, min(32, -(-blocks // (4 * (workers or 2))))) if parallel else 16
    chunks = chunks_of(patients, chunk_blocks)
    sizes = [min(stop * BLOCK, patients) - first * BLOCK for first, stop in chunks]
    done = [0]

    def tick(index: int) -> None:
        done[0] += sizes[index]
        if progress is not None:
            progress(done[0], patients)

    fn: Callable[[tuple[TrialPlan, int, int]], NDArray[np.int64]] = (
        _run_chunk_task if parallel else lambda args: run_chunk(*args)
    )
    results = map_chunks(
        fn, [(plan, first, stop) for first, stop in chunks],
        workers=workers, scheduler=scheduler, on_done=tick,
    )  # fmt: skip
    total = np.sum(results, axis=0)
    return TrialResult(
        diagnosis=plan.diagnosis,
        patients=patients,
        seed=seed,
        arms=tuple(
            ArmResult(arm.arm, {c: int(total[a, k]) for k, c in enumerate(CATEGORIES)}, patients)
            for a, arm in enumerate(plan.arms)
        ),
        seconds=time.perf_counter() - start,
    )


# --- held-out arms -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HeldOutComparison:
    """A held-out published comparison beside its simulation."""

    published: HeldOut
    simulated: tuple[ArmResult, ArmResult]
    published_orr: tuple[Proportion, Proportion]
    published_cr: tuple[Proportion, Proportion] | None

    @property
    def orr_within(self) -> tuple[bool, bool]:
        """Whether each simulated ORR lies in the published arm's exact 95% interval."""
        return _within(self.simulated, self.published_orr, "orr")

    @property
    def cr_within(self) -> tuple[bool, bool] | None:
        """Whether each simulated CR rate lies in the published arm's exact 95% interval."""
        if self.published_cr is None:
            return None
        return _within(self.simulated, self.published_cr, "cr_rate")

    @property
    def same_direction(self) -> bool:
        """Whether the simulated ORR difference has the published difference's sign."""
        published = self.published_orr[0].value - self.published_orr[1].value
        simulated = self.simulated[0].orr.value - self.simulated[1].orr.value
        return bool(np.sign(published) == np.sign(simulated))

    def as_json(self) -> dict[str, object]:
        """The comparison as a JSON-ready mapping."""
        return {
            "name": self.published.name,
            "diagnosis": self.published.diagnosis,
            "source": self.published.source,
            "caveat": self.published.caveat,
            "arms": [
                {
                    "regimen": sim.arm.regimen,
                    "simulated": sim.as_json(),
                    "published_orr": self.published_orr[i].as_json(),
                    "published_cr": None
                    if self.published_cr is None
                    else self.published_cr[i].as_json(),
                    "orr_within_published_ci": self.orr_within[i],
                }
                for i, sim in enumerate(self.simulated)
            ],
            "same_direction": self.same_direction,
        }


def _within(
    simulated: tuple[ArmResult, ArmResult], published: tuple[Proportion, Proportion], what: str
) -> tuple[bool, bool]:
    flags = []
    for sim, pub in zip(simulated, published, strict=True):
        value = getattr(sim, what).value
        flags.append(bool(pub.ci95[0] <= value <= pub.ci95[1]))
    return flags[0], flags[1]


def held_out_trials(
    patients: int,
    seed: int,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    rules: Any = None,
) -> list[HeldOutComparison]:
    """Run every held-out comparison of data/population.toml with `patients` virtual patients
    per arm and put it beside the published figures (whatever they show)."""
    out = []
    for held in population_spec().held_out:
        result = run_trial(
            [Arm(held.experimental), Arm(held.control)], held.diagnosis, patients, seed,
            workers=workers, scheduler=scheduler, rules=rules,
        )  # fmt: skip
        orr = tuple(_rate(k, n) for k, n in zip(held.objective, held.patients, strict=True))
        cr = None
        if held.complete is not None:
            cr = tuple(_rate(k, n) for k, n in zip(held.complete, held.patients, strict=True))
        out.append(
            HeldOutComparison(
                held,
                (result.arms[0], result.arms[1]),
                (orr[0], orr[1]),
                None if cr is None else (cr[0], cr[1]),
            )
        )
    return out


def arm_counts(results: Iterable[ArmResult]) -> dict[str, dict[str, int]]:
    """Counts per arm label (for reports)."""
    return {r.arm.label: dict(r.counts) for r in results}
