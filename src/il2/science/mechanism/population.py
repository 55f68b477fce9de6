"""Virtual patients: draws over the cell model's parameters and PK, a plausibility filter, and
the calibration of the population to the label pools.

A patient is a row of the cell model's parameter matrix (cells.PARAMETERS order), an initial
state, a body weight, factors on the aldesleukin clearance and central volume, and a number of
SBRT fractions. Each varying parameter is default * exp(shift + sd_log * z) with z standard normal
(data/population.toml [parameters]); `shift` is 0 but on the calibrated axes.

Plausibility (Allen et al. 2016, CPT Pharmacometrics Syst Pharmacol 5:140, step 1): a drawn
patient is kept only when its observables lie in their ranges (the untreated net tumour doubling
time at baseline within the published range for the diagnosis; weight, PK factors and baseline
tumour within their bounds); rejected draws are replaced by the next ones of the same generator,
so a generator gives one population.

Initial state: cells.initial_state with the drawn baseline tumour (immune cells at their
untreated steady state with the tumour held at that size). A varied parameter must also lie in
the cell model's virtual-population range (data/cells.toml [ranges]).
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from types import MappingProxyType

import numpy as np
from numpy.typing import NDArray

from il2.domain.errors import InvalidInputError, RuleTableError
from il2.rules.reader import Node
from il2.science.dataset import DIAGNOSES, Diagnosis
from il2.science.mechanism import cells

_FILE = "population.toml"
STATES = cells.STATES
STATUSES = ("published", "derived", "assumption", "calibrated")


@dataclass(frozen=True, slots=True)
class Bounded:
    """A lognormal quantity with its median, log-scale spread and the bounds a patient must
    lie within."""

    median: float
    sd_log: float
    low: float
    high: float


@dataclass(frozen=True, slots=True)
class Calibrated:
    """The calibrated log-scale shifts of a diagnosis, with the run that found them."""

    shifts: Mapping[str, float]
    seed: int
    patients: int
    objective: int
    complete: int


@dataclass(frozen=True, slots=True)
class HeldOut:
    """A published two-arm comparison kept out of calibration."""

    name: str
    diagnosis: Diagnosis
    experimental: str
    control: str
    patients: tuple[int, int]
    objective: tuple[int, int]
    complete: tuple[int, int] | None
    source: str
    caveat: str = ""


@dataclass(frozen=True, slots=True)
class PopulationSpec:
    """Everything data/population.toml says (read once)."""

    cells_per_cm3: float
    baseline_diameter_mm: Bounded
    first_after_course_weeks: float
    every_weeks: float
    assessments: int
    confirmation_required: bool
    sbrt_gy: float
    sbrt_max_fractions: int
    sbrt_share_two: float
    sbrt_spacing_days: float
    sbrt_days_before_first_dose: float
    weight_kg: Bounded
    clearance_scale: Bounded
    volume_scale: Bounded
    sd_log: Mapping[str, float]
    medians: Mapping[Diagnosis, Mapping[str, float]]
    doubling_days: Mapping[Diagnosis, tuple[float, float]]
    calibration_regimen: str
    calibration_axes: tuple[str, ...]
    first_bracket: tuple[float, float]
    grid_step: float
    axis_values: Mapping[str, tuple[float, ...]]
    """The shifts tried on every calibration axis but the first (which is gridded)."""
    tolerance: float
    calibrated: Mapping[Diagnosis, Calibrated]
    held_out: tuple[HeldOut, ...]


def _status(node: Node) -> None:
    node.choice("status", STATUSES)
    node.text("source")


def _value(node: Node, key: str) -> float:
    item = node.table(key)
    _status(item)
    return float(item.number("value"))


def _bounded(node: Node, key: str) -> Bounded:
    item = node.table(key)
    item.only("distribution", "median", "sd_log", "low", "high", "unit", "source", "status")
    _status(item)
    item.choice("distribution", ("lognormal",))
    b = Bounded(
        float(item.number("median")),
        float(item.number("sd_log")),
        float(item.number("low")),
        float(item.number("high")),
    )
    if not (0 < b.low <= b.median <= b.high) or b.sd_log < 0:
        raise item.fail("median", "needs 0 < low <= median <= high and sd_log >= 0")
    return b


def _pair(node: Node, key: str) -> tuple[float, float]:
    raw = node.raw(key)
    if not (
        isinstance(raw, list) and len(raw) == 2 and all(isinstance(v, int | float) for v in raw)
    ):
        raise node.fail(key, f"must be [low, high], not {raw!r}")
    low, high = float(raw[0]), float(raw[1])
    if low >= high:
        raise node.fail(key, f"must be [low, high] with low < high, not {raw!r}")
    return low, high


def _numbers(node: Node, key: str) -> tuple[float, ...]:
    raw = node.raw(key)
    if not (isinstance(raw, list) and raw and all(isinstance(v, int | float) for v in raw)):
        raise node.fail(key, f"must be a list of numbers, not {raw!r}")
    return tuple(float(v) for v in raw)


def _calibrated(node: Node, axes: tuple[str, ...]) -> Calibrated:
    node.only("shifts", "seed", "patients", "objective", "complete", "source", "status")
    if node.choice("status", ("calibrated",)) != "calibrated":  # pragma: no cover - choice
        raise node.fail("status", "must be calibrated")
    node.text("source")
    shifts = node.table("shifts")
    shifts.only(*axes)
    return Calibrated(
        shifts=MappingProxyType({axis: float(shifts.number(axis)) for axis in axes}),
        seed=node.integer("seed"),
        patients=node.integer("patients", minimum=1),
        objective=node.integer("objective"),
        complete=node.integer("complete"),
    )


def _held_out(node: Node) -> HeldOut:
    node.only(
        "name", "diagnosis", "experimental", "control", "experimental_patients",
        "experimental_objective", "experimental_complete", "control_patients",
        "control_objective", "control_complete", "source", "status", "caveat",
    )  # fmt: skip
    _status(node)
    diagnosis = node.choice("diagnosis", DIAGNOSES)
    complete = None
    if node.has("experimental_complete"):
        complete = (node.integer("experimental_complete"), node.integer("control_complete"))
    return HeldOut(
        name=node.text("name"),
        diagnosis=diagnosis,  # type: ignore[arg-type]
        experimental=node.text("experimental"),
        control=node.text("control"),
        patients=(
            node.integer("experimental_patients", minimum=1),
            node.integer("control_patients", minimum=1),
        ),
        objective=(node.integer("experimental_objective"), node.integer("control_objective")),
        complete=complete,
        source=node.text("source"),
        caveat=node.text("caveat", default=""),
    )


def parse_population(text: str, *, file: str = _FILE) -> PopulationSpec:
    """Validate a population file; a bad one raises `RuleTableError` naming the field."""
    try:
        root = Node(tomllib.loads(text), file)
    except tomllib.TOMLDecodeError as error:
        raise RuleTableError(file=file, field="(syntax)", problem=str(error)) from None
    root.only(
        "meta", "tumour", "assessment", "sbrt", "pk", "parameters", "diagnosis",
        "plausibility", "calibration", "calibrated", "held_out",
    )  # fmt: skip
    tumour, assess, sbrt, pk = (root.table(k) for k in ("tumour", "assessment", "sbrt", "pk"))
    _status(tumour.table("geometry"))
    confirmation = assess.table("confirmation_required")
    _status(confirmation)
    sd_log: dict[str, float] = {}
    for name, item in root.table("parameters").children():
        _status(item)
        sd_log[name] = float(item.number("sd_log"))
        if sd_log[name] < 0:
            raise item.fail("sd_log", "must be 0 or more")
    medians: dict[Diagnosis, Mapping[str, float]] = {}
    doubling: dict[Diagnosis, tuple[float, float]] = {}
    for diagnosis in DIAGNOSES:
        found: dict[str, float] = {}
        for name, item in root.table("diagnosis").table(diagnosis).children():
            _status(item)
            found[name] = float(item.number("median"))
        medians[diagnosis] = MappingProxyType(found)
        limits = root.table("plausibility").table(diagnosis).table("doubling_time_days")
        _status(limits)
        doubling[diagnosis] = (float(limits.number("low")), float(limits.number("high")))
    calibration = root.table("calibration")
    _status(calibration)
    axes = tuple(calibration.texts("axes"))
    if len(axes) < 2 or len(set(axes)) != len(axes):
        raise calibration.fail("axes", f"must name two or more parameters, not {list(axes)}")
    unknown = [axis for axis in axes if axis not in sd_log]
    if unknown:
        raise calibration.fail("axes", f"{unknown} do not vary ([parameters] has no sd_log)")
    values_node = calibration.table("values")
    values_node.only(*axes[1:])
    axis_values = {axis: _numbers(values_node, axis) for axis in axes[1:]}
    calibrated: dict[Diagnosis, Calibrated] = {}
    if root.has("calibrated"):
        for name, item in root.table("calibrated").children():
            if name not in DIAGNOSES:
                raise root.fail(f"calibrated.{name}", f"is not one of {DIAGNOSES}")
            calibrated[name] = _calibrated(item, axes)
    held = tuple(_held_out(item) for item in root.tables("held_out"))
    share_two = _value(sbrt, "share_two_fractions")
    if not 0 <= share_two <= 1:
        raise sbrt.fail("share_two_fractions.value", "must be a share between 0 and 1")
    return PopulationSpec(
        cells_per_cm3=_value(tumour, "cells_per_cm3"),
        baseline_diameter_mm=_bounded(tumour, "baseline_diameter_mm"),
        first_after_course_weeks=_value(assess, "first_after_course_weeks"),
        every_weeks=_value(assess, "every_weeks"),
        assessments=int(_value(assess, "count")),
        confirmation_required=confirmation.flag("value"),
        sbrt_gy=_value(sbrt, "gy_per_fraction"),
        sbrt_max_fractions=int(_value(sbrt, "max_fractions")),
        sbrt_share_two=share_two,
        sbrt_spacing_days=_value(sbrt, "spacing_days"),
        sbrt_days_before_first_dose=_value(sbrt, "days_before_first_dose"),
        weight_kg=_bounded(pk, "weight_kg"),
        clearance_scale=_bounded(pk, "clearance_scale"),
        volume_scale=_bounded(pk, "volume_scale"),
        sd_log=MappingProxyType(sd_log),
        medians=MappingProxyType(medians),
        doubling_days=MappingProxyType(doubling),
        calibration_regimen=calibration.text("regimen"),
        calibration_axes=axes,
        first_bracket=_pair(calibration, "first_bracket"),
        grid_step=float(calibration.number("grid_step")),
        axis_values=MappingProxyType(axis_values),
        tolerance=float(calibration.number("tolerance")),
        calibrated=MappingProxyType(calibrated),
        held_out=held,
    )


@cache
def population_spec() -> PopulationSpec:
    """The bundled population data (read once)."""
    text = resources.files("il2.science").joinpath("data", _FILE).read_text(encoding="utf-8")
    return parse_population(text)


@dataclass(frozen=True, slots=True)
class CellModel:
    """The cell model's parameter names (matrix columns), default values and the bounds a
    virtual patient's parameter must lie within (data/cells.toml [ranges])."""

    names: tuple[str, ...]
    defaults: Mapping[str, float]
    bounds: Mapping[str, tuple[float, float]]

    def column(self, name: str) -> int:
        """The matrix column of parameter `name`."""
        return self.names.index(name)

    @classmethod
    def bundled(cls) -> CellModel:
        """The model of il2.science.mechanism.cells and data/cells.toml."""
        data = cells.cell_model_data()
        defaults = cells.default_parameters()
        return cls(
            tuple(cells.PARAMETERS),
            MappingProxyType(dict(zip(cells.PARAMETERS, map(float, defaults), strict=True))),
            MappingProxyType({
                name: (r.low, r.high) for name, r in data.ranges.items() if name in cells.PARAMETERS
            }),
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Population:
    """n virtual patients: parameters (n, P), initial states (n, 7), PK covariates (n,) and
    SBRT fractions (n,)."""

    params: NDArray[np.float64]
    y0: NDArray[np.float64]
    weight_kg: NDArray[np.float64]
    clearance_scale: NDArray[np.float64]
    volume_scale: NDArray[np.float64]
    sbrt_fractions: NDArray[np.int64]
    doubling_days: NDArray[np.float64] = field(repr=False)

    @property
    def size(self) -> int:
        """How many patients."""
        return int(self.params.shape[0])

    @property
    def baseline_cells(self) -> NDArray[np.float64]:
        """Tumour cells at baseline (both compartments)."""
        return cells.tumour_cells(self.y0)

    def take(self, count: int) -> Population:
        """The first `count` patients."""
        return Population(
            self.params[:count].copy(), self.y0[:count].copy(), self.weight_kg[:count].copy(),
            self.clearance_scale[:count].copy(), self.volume_scale[:count].copy(),
            self.sbrt_fractions[:count].copy(), self.doubling_days[:count].copy(),
        )  # fmt: skip


def _col(params: NDArray[np.float64], model: CellModel, name: str) -> NDArray[np.float64]:
    return params[:, model.column(name)]


def net_growth_rate(
    params: NDArray[np.float64], model: CellModel, y0: NDArray[np.float64]
) -> NDArray[np.float64]:
    """d ln T / dt (1/day) of the total tumour T = e^x + e^z at the initial state without
    treatment (cells.py's tumour equations): each compartment's rate weighted by its cells."""
    e, nk, reg = (y0[:, STATES.index(name)] for name in ("E", "N", "R"))
    t = cells.tumour_cells(y0)
    share_z = np.divide(cells.tumour_cells(_only(y0, "z")), t, out=np.zeros_like(t), where=t > 0)
    r, k_cap = _col(params, model, "r"), _col(params, model, "K")
    kill = (_col(params, model, "k_E") * e + _col(params, model, "k_N") * nk) / (
        _col(params, model, "g") + t
    )
    shield = 1.0 + reg / (_col(params, model, "q") * e)
    access = 1.0 - share_z + share_z * _col(params, model, "phi")
    return np.asarray(r * (1.0 - t / k_cap) - access * kill / shield, dtype=np.float64)


def _only(y0: NDArray[np.float64], compartment: str) -> NDArray[np.float64]:
    """States `y0` with every tumour compartment but `compartment` emptied (-1: extinct)."""
    out = y0.copy()
    for name in ("x", "z"):
        if name != compartment:
            out[:, STATES.index(name)] = cells.EXTINCT_X
    return out


def _lognormal(b: Bounded, z: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    v = b.median * np.exp(b.sd_log * z)
    return v, (v >= b.low) & (v <= b.high)


def _candidates(  # noqa: PLR0917 - the draw's inputs, in one private call
    count: int,
    diagnosis: Diagnosis,
    rng: np.random.Generator,
    model: CellModel,
    spec: PopulationSpec,
    shifts: Mapping[str, float],
) -> tuple[Population, NDArray[np.bool_]]:
    """`count` drawn patients and which of them are plausible (draw order fixed)."""
    varying = [name for name in model.names if name in spec.sd_log]
    z = rng.standard_normal((count, len(varying)))
    covariates = rng.standard_normal((count, 4))
    uniform = rng.random(count)
    params = np.empty((count, len(model.names)))
    medians = spec.medians[diagnosis]
    for j, name in enumerate(model.names):
        params[:, j] = medians.get(name, model.defaults[name])
    ok = np.ones(count, dtype=bool)
    for k, name in enumerate(varying):
        j = model.column(name)
        params[:, j] *= np.exp(shifts.get(name, 0.0) + spec.sd_log[name] * z[:, k])
        if name in model.bounds:
            low, high = model.bounds[name]
            ok &= (params[:, j] >= low) & (params[:, j] <= high)
    weight, ok_w = _lognormal(spec.weight_kg, covariates[:, 0])
    cl, ok_cl = _lognormal(spec.clearance_scale, covariates[:, 1])
    v1, ok_v = _lognormal(spec.volume_scale, covariates[:, 2])
    diameter, ok_d = _lognormal(spec.baseline_diameter_mm, covariates[:, 3])
    tumour = spec.cells_per_cm3 * math.pi / 6.0 * (diameter / 10.0) ** 3
    fractions = np.where(uniform < spec.sbrt_share_two, 2, 1).astype(np.int64)
    fractions = np.minimum(fractions, spec.sbrt_max_fractions)
    # a share drawn above 1 is refused by its range (ok above); clipped only to compute a state
    shares = params.copy()
    for name in cells.SHARES:
        shares[:, model.column(name)] = np.clip(shares[:, model.column(name)], 0.0, 1.0)
    y0 = cells.initial_state(shares, tumour)
    growth = net_growth_rate(params, model, y0)
    with np.errstate(divide="ignore"):
        doubling = np.where(growth > 0, math.log(2.0) / np.maximum(growth, 1e-300), np.inf)
    low, high = spec.doubling_days[diagnosis]
    ok &= ok_w & ok_cl & ok_v & ok_d & (doubling >= low) & (doubling <= high)
    ok &= np.all(np.isfinite(y0), axis=1) & np.all(y0[:, :3] > 0, axis=1)
    return Population(params, y0, weight, cl, v1, fractions, doubling), ok


def draw_population(
    count: int,
    diagnosis: Diagnosis,
    rng: np.random.Generator,
    model: CellModel,
    *,
    spec: PopulationSpec | None = None,
    shifts: Mapping[str, float] | None = None,
    max_rounds: int = 50,
) -> Population:
    """`count` plausible virtual patients of `diagnosis`, drawn with `rng`.

    `shifts` (log scale, per parameter) default to the calibrated ones of the diagnosis (none
    when it is not calibrated). Raises InvalidInputError when almost no draw is plausible."""
    if diagnosis not in DIAGNOSES:
        raise InvalidInputError(field="diagnosis", value=diagnosis, allowed=" or ".join(DIAGNOSES))
    if count < 1:
        raise InvalidInputError(field="patients", value=count, allowed="1 or more")
    spec = spec or population_spec()
    missing = [name for name in spec.sd_log if name not in model.names]
    if missing:
        raise InvalidInputError(
            field="population.toml [parameters]", value=missing,
            allowed=f"parameters of the cell model: {', '.join(model.names)}",
        )  # fmt: skip
    if shifts is None:
        known = spec.calibrated.get(diagnosis)
        shifts = known.shifts if known is not None else {}
    parts: list[Population] = []
    kept = 0
    batch = max(count, 64)
    for _ in range(max_rounds):
        drawn, ok = _candidates(batch, diagnosis, rng, model, spec, shifts)
        index = np.flatnonzero(ok)[: count - kept]
        parts.append(_select(drawn, index))
        kept += index.size
        if kept == count:
            return join_populations(parts)
    raise InvalidInputError(
        field="population", value=f"{kept} of {count} plausible after {max_rounds} rounds",
        allowed="distributions that give plausible patients (population.toml [plausibility])",
    )  # fmt: skip


def _select(p: Population, index: NDArray[np.int64]) -> Population:
    return Population(
        p.params[index], p.y0[index], p.weight_kg[index], p.clearance_scale[index],
        p.volume_scale[index], p.sbrt_fractions[index], p.doubling_days[index],
    )  # fmt: skip


def join_populations(parts: Sequence[Population]) -> Population:
    """The patients of `parts`, in order, as one population."""
    return Population(
        np.ascontiguousarray(np.concatenate([p.params for p in parts])),
        np.ascontiguousarray(np.concatenate([p.y0 for p in parts])),
        np.concatenate([p.weight_kg for p in parts]),
        np.concatenate([p.clearance_scale for p in parts]),
        np.concatenate([p.volume_scale for p in parts]),
        np.concatenate([p.sbrt_fractions for p in parts]),
        np.concatenate([p.doubling_days for p in parts]),
    )


# --- calibration ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CalibrationResult:
    """Calibrated shifts of one diagnosis with the run's seed, size and achieved counts."""

    diagnosis: Diagnosis
    shifts: Mapping[str, float]
    seed: int
    patients: int
    objective: int
    complete: int
    target_objective: float
    target_complete: float
    evaluations: int

    def as_toml(self) -> str:
        """The [calibrated.<diagnosis>] table to store in data/population.toml."""
        shifts = "\n".join(f"{k} = {v!r}" for k, v in self.shifts.items())
        return (
            f"[calibrated.{self.diagnosis}]\n"
            f"seed = {self.seed}\npatients = {self.patients}\n"
            f"objective = {self.objective}\ncomplete = {self.complete}\n"
            f'source = "population.calibrate on hd-label against label_efficacy.toml '
            f"(target ORR {self.target_objective:.4f}, CR {self.target_complete:.4f}); "
            f'{self.evaluations} simulated trials"\n'
            f'status = "calibrated"\n\n'
            f"[calibrated.{self.diagnosis}.shifts]\n{shifts}\n"
        )


def calibrate(
    diagnosis: Diagnosis,
    patients: int,
    seed: int,
    *,
    rules: object = None,
    workers: int | None = None,
) -> CalibrationResult:
    """Tune the log-scale shifts of the calibration axes so the high-dose label regimen
    reproduces the label pool's ORR and CR (data/label_efficacy.toml).

    A minimax fit with common random numbers (the same seed, so the same draws, at every trial
    value): the objective is the larger of |simulated - published| / SE over ORR and CR, SE the
    binomial standard error of the label pool's rate, so the worse-fitted target is as close as
    it can be. The first axis (antigenicity) is searched on a grid (`grid_step` over
    `first_bracket`) for every combination of the other axes' values (`axis_values`: the kill
    rate, which moves ORR, and the excluded share rho, which moves CR within it), then refined
    around the best point with steps of `tolerance`. A grid, not a gradient: the simulated rates
    are step functions of the shifts. A point whose draws are almost never plausible (the
    population cannot be drawn) counts as an infinite miss."""
    import itertools  # noqa: PLC0415

    from il2.science.label import label_efficacy  # noqa: PLC0415
    from il2.science.mechanism.trial import Arm, run_trial  # noqa: PLC0415 - trial uses this

    spec = population_spec()
    label = label_efficacy()[diagnosis]
    target = np.array([label.objective, label.complete], dtype=np.float64) / label.patients
    se = np.sqrt(target * (1.0 - target) / label.patients)
    other_axes = spec.calibration_axes[1:]
    runs: dict[tuple[float, ...], tuple[int, int] | None] = {}

    def counts(point: tuple[float, ...]) -> tuple[int, int] | None:
        key = tuple(round(v, 9) for v in point)
        if key not in runs:
            shifts = dict(zip(spec.calibration_axes, point, strict=True))
            try:
                result = run_trial(
                    [Arm(spec.calibration_regimen)], diagnosis, patients, seed,
                    rules=rules, workers=workers, shifts=shifts,
                )  # fmt: skip
            except InvalidInputError:  # no plausible population at these shifts
                runs[key] = None
            else:
                arm = result.arms[0]
                runs[key] = (arm.counts["CR"] + arm.counts["PR"], arm.counts["CR"])
        return runs[key]

    def loss(point: tuple[float, ...]) -> float:
        found = counts(point)
        if found is None:
            return math.inf
        simulated = np.array(found, dtype=np.float64) / patients
        return float(np.max(np.abs(simulated - target) / se))

    low, high = spec.first_bracket
    grid = np.arange(low, high + 1e-9, spec.grid_step)
    others = list(itertools.product(*(spec.axis_values[axis] for axis in other_axes)))
    best = min((loss((float(a), *rest)), (float(a), *rest)) for rest in others for a in grid)
    _, (a0, *rest0) = best
    fine = np.arange(a0 - spec.grid_step, a0 + spec.grid_step + 1e-9, spec.tolerance)
    _, point = min(best, *((loss((float(a), *rest0)), (float(a), *rest0)) for a in fine))
    found = counts(point)
    if found is None:  # pragma: no cover - the best point was drawn
        raise InvalidInputError(field="calibration", value=point, allowed="a plausible point")
    return CalibrationResult(
        diagnosis,
        MappingProxyType(dict(zip(spec.calibration_axes, map(float, point), strict=True))),
        seed, patients, found[0], found[1], float(target[0]), float(target[1]), len(runs),
    )  # fmt: skip
