"""Kirschner & Panetta 1998: the published tumour-immune-IL-2 model, as a check of the simulator.

    dE/dt  = c*T - mu2*E + p1*E*IL/(g1 + IL) + s1
    dT/dt  = r2*T*(1 - b*T) - a*E*T/(g2 + T)
    dIL/dt = p2*E*T/(g3 + T) - mu3*IL + s2

E effector cells, T tumour cells, IL the model's IL-2 concentration; time in days. Parameters are
the original dimensional set (`data/kirschner_panetta.toml`, with sources and pitfalls).

The tumour is integrated as x = ln T, so trajectories that dip far below one cell neither go
negative nor blow up; a tumour below the extinction threshold (1 cell) is gone: from then on T = 0
(x is stored as ln(threshold) - 1, i.e. -1.0, and no longer changes) and only E and IL evolve.
The reference integrates with scipy's `solve_ivp` (LSODA or Radau, rtol 1e-10, atol 1e-12).
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace
from functools import cache
from importlib import resources
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from scipy.integrate import solve_ivp  # type: ignore[import-untyped]

from il2.domain.errors import InvalidInputError, RuleTableError
from il2.rules.reader import Node

_FILE = "kirschner_panetta.toml"
ACTIVATIONS = ("published", "biomodels")
METHODS = ("LSODA", "Radau")
PARAMETER_NAMES = ("c", "mu2", "p1", "g1", "s1", "r2", "b", "a", "g2", "mu3", "p2", "g3", "s2")
REFERENCE_RTOL = 1e-10
REFERENCE_ATOL = 1e-12

Activation = Literal["published", "biomodels"]
Method = Literal["LSODA", "Radau"]
Vector = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class KPParameters:
    """One parameter set of the model (units: rates per day; E, T in cells; IL in model units).

    `activation` is "published" (p1*E*IL/(g1 + IL)) or "biomodels" (p1*E*IL/g1, the curated
    BIOMD0000000732 quirk); `extinction_cells` is the tumour size below which it is gone.
    """

    c: float
    mu2: float
    p1: float
    g1: float
    s1: float
    r2: float
    b: float
    a: float
    g2: float
    mu3: float
    p2: float
    g3: float
    s2: float
    activation: Activation = "published"
    extinction_cells: float = 1.0

    def activation_of(self, il: float) -> float:
        """The IL-2 activation factor multiplying p1*E (dimensionless)."""
        return il / (self.g1 + il) if self.activation == "published" else il / self.g1

    def activation_slope(self, il: float) -> float:
        """d(activation)/d(IL), per IL-2 unit."""
        if self.activation == "published":
            return self.g1 / (self.g1 + il) ** 2
        return 1.0 / self.g1


@dataclass(frozen=True, slots=True)
class BiomodelsSimulation:
    """The curated BioModels simulation: a sweep of c, its horizon, initial state, tolerances."""

    c_values: tuple[float, ...]
    days: float
    outputs: int
    initial: tuple[float, float, float]
    rtol: float
    atol: float


@dataclass(frozen=True, slots=True)
class KPData:
    """What `data/kirschner_panetta.toml` holds: the defaults (c aside), c's range, the curated
    simulation and the antigenicity the SBML export uses when none is given."""

    defaults: dict[str, float]
    activation: Activation
    extinction_cells: float
    c_range: tuple[float, float]
    biomodels: BiomodelsSimulation
    export_c: float


def _positive(node: Node, key: str, *, zero: bool = False) -> float:
    value = float(node.number(key))
    if not math.isfinite(value) or value < 0 or (value == 0 and not zero):
        raise node.fail(key, f"{value} must be a finite number {'>= 0' if zero else '> 0'}")
    return value


def _cited(node: Node) -> None:
    node.text("source")
    node.choice("status", ("published", "derived", "assumption", "calibrated"))


def parse_kirschner_panetta(text: str, *, file: str = _FILE) -> KPData:
    """Validate the parameter file; a bad one raises `RuleTableError` naming the field."""
    try:
        root = Node(tomllib.loads(text), file)
    except tomllib.TOMLDecodeError as error:
        raise RuleTableError(file=file, field="(syntax)", problem=str(error)) from None
    root.only("meta", "model", "parameters", "biomodels_simulation", "export")
    root.table("meta").text("reference")
    model = root.table("model")
    model.only(
        "activation",
        "activation_source",
        "extinction_cells",
        "extinction_unit",
        "extinction_source",
        "extinction_status",
    )
    activation = model.choice("activation", ACTIVATIONS)
    model.text("activation_source")
    model.text("extinction_source")
    model.text("extinction_unit")
    model.choice("extinction_status", ("published", "derived", "assumption", "calibrated"))
    extinction = _positive(model, "extinction_cells")
    table = root.table("parameters")
    table.only(*PARAMETER_NAMES)
    defaults: dict[str, float] = {}
    c_range = (0.0, 0.0)
    for name in PARAMETER_NAMES:
        node = table.table(name)
        node.only("value", "minimum", "maximum", "unit", "meaning", "source", "status")
        node.text("unit")
        node.text("meaning")
        _cited(node)
        if name == "c":
            c_range = (_positive(node, "minimum", zero=True), _positive(node, "maximum"))
            if c_range[0] >= c_range[1]:
                raise node.fail("maximum", f"{c_range[1]} is not above the minimum")
            continue
        defaults[name] = _positive(node, "value", zero=name in {"s1", "s2"})
    sim = root.table("biomodels_simulation")
    sim.only(
        "c_start",
        "c_end",
        "c_steps",
        "days",
        "outputs",
        "initial_E",
        "initial_T",
        "initial_IL",
        "rtol",
        "atol",
        "source",
        "status",
    )
    _cited(sim)
    steps = sim.integer("c_steps", minimum=1)
    start, end = _positive(sim, "c_start", zero=True), _positive(sim, "c_end")
    biomodels = BiomodelsSimulation(
        c_values=tuple(start + (end - start) * i / steps for i in range(steps + 1)),
        days=_positive(sim, "days"),
        outputs=sim.integer("outputs", minimum=2),
        initial=(
            _positive(sim, "initial_E", zero=True),
            _positive(sim, "initial_T", zero=True),
            _positive(sim, "initial_IL", zero=True),
        ),
        rtol=_positive(sim, "rtol"),
        atol=_positive(sim, "atol"),
    )
    export = root.table("export")
    export.only("c", "unit", "source", "status")
    _cited(export)
    export_c = _positive(export, "c", zero=True)
    if not c_range[0] <= export_c <= c_range[1]:
        raise export.fail("c", f"{export_c} is outside the published range {c_range}")
    return KPData(
        defaults=defaults,
        activation="biomodels" if activation == "biomodels" else "published",
        extinction_cells=extinction,
        c_range=c_range,
        biomodels=biomodels,
        export_c=export_c,
    )


@cache
def kp_data() -> KPData:
    """The bundled parameter file (read once)."""
    text = resources.files("il2.science").joinpath("data", _FILE).read_text(encoding="utf-8")
    return parse_kirschner_panetta(text)


def _checked(field: str, value: float, *, low: float = 0.0, high: float = math.inf) -> float:
    number = float(value)
    if not (math.isfinite(number) and low <= number <= high):
        allowed = f"a finite number from {low:g} to {high:g}"
        raise InvalidInputError(field=field, value=value, allowed=allowed)
    return number


def kp_parameters(
    c: float,
    *,
    s1: float | None = None,
    s2: float | None = None,
    activation: Activation | None = None,
) -> KPParameters:
    """The original parameter set with antigenicity `c` (per day, within the published range)
    and, when given, the treatments s1 (cells/day) and s2 (IL-2 units/day)."""
    data = kp_data()
    values = dict(data.defaults)
    values["c"] = _checked("c", c, low=data.c_range[0], high=data.c_range[1])
    if s1 is not None:
        values["s1"] = _checked("s1", s1)
    if s2 is not None:
        values["s2"] = _checked("s2", s2)
    chosen = activation or data.activation
    if chosen not in ACTIVATIONS:
        raise InvalidInputError(field="activation", value=chosen, allowed=" or ".join(ACTIVATIONS))
    return KPParameters(**values, activation=chosen, extinction_cells=data.extinction_cells)


# ------------------------------------------------------------------------------- closed forms


def critical_s1(p: KPParameters) -> float:
    """The adoptive-cell influx (cells/day) above which the tumour-free point is stable without
    IL-2: s1_cr = r2*g2*mu2/a (540 for the original set)."""
    return p.r2 * p.g2 * p.mu2 / p.a


def il2_alone_threshold_s2(p: KPParameters) -> float:
    """The IL-2 input s2 (model units/day) above which, with no tumour, effectors grow without
    bound: at T = 0, IL settles at s2/mu3, and E grows when p1*act(IL) > mu2. Published
    activation IL/(g1 + IL): s2 > mu3*mu2*g1/(p1 - mu2) (infinite if p1 <= mu2); the BioModels
    quirk IL/g1: s2 > mu3*mu2*g1/p1."""
    if p.activation == "biomodels":
        return p.mu3 * p.mu2 * p.g1 / p.p1
    if p.p1 <= p.mu2:
        return math.inf
    return p.mu3 * p.mu2 * p.g1 / (p.p1 - p.mu2)


def tumour_free_point(p: KPParameters) -> tuple[float, float, float] | None:
    """The tumour-free equilibrium (E, T, IL) = (s1/(mu2 - p1*act(s2/mu3)), 0, s2/mu3), or None
    when effectors grow without bound there (s2 above the threshold)."""
    il = p.s2 / p.mu3
    net = p.mu2 - p.p1 * p.activation_of(il)
    if net <= 0:
        return None
    return p.s1 / net, 0.0, il


def rhs_linear(p: KPParameters, y: Sequence[float]) -> tuple[float, float, float]:
    """The model's right-hand side in linear T: (dE/dt, dT/dt, dIL/dt), per day."""
    e, t, il = y
    return (
        p.c * t - p.mu2 * e + p.p1 * e * p.activation_of(il) + p.s1,
        p.r2 * t * (1 - p.b * t) - p.a * e * t / (p.g2 + t),
        p.p2 * e * t / (p.g3 + t) - p.mu3 * il + p.s2,
    )


def jacobian_linear(p: KPParameters, y: Sequence[float]) -> Vector:
    """d(rhs_linear)/d(E, T, IL) at state y, a 3x3 array (per day, in the states' units)."""
    e, t, il = y
    return np.array(
        [
            [-p.mu2 + p.p1 * p.activation_of(il), p.c, p.p1 * e * p.activation_slope(il)],
            [
                -p.a * t / (p.g2 + t),
                p.r2 * (1 - 2 * p.b * t) - p.a * e * p.g2 / (p.g2 + t) ** 2,
                0.0,
            ],
            [p.p2 * t / (p.g3 + t), p.p2 * e * p.g3 / (p.g3 + t) ** 2, -p.mu3],
        ]
    )


# ---------------------------------------------------------------------------- the reference


def _rhs_log(p: KPParameters) -> Callable[[float, Vector], list[float]]:
    def rhs(_t: float, y: Vector) -> list[float]:
        e, x, il = float(y[0]), float(y[1]), float(y[2])
        t = math.exp(x)
        return [
            p.c * t - p.mu2 * e + p.p1 * e * p.activation_of(il) + p.s1,
            p.r2 * (1 - p.b * t) - p.a * e / (p.g2 + t),
            p.p2 * e * t / (p.g3 + t) - p.mu3 * il + p.s2,
        ]

    return rhs


def _jac_log(p: KPParameters) -> Callable[[float, Vector], Vector]:
    def jac(_t: float, y: Vector) -> Vector:
        e, x, il = float(y[0]), float(y[1]), float(y[2])
        t = math.exp(x)
        return np.array(
            [
                [-p.mu2 + p.p1 * p.activation_of(il), p.c * t, p.p1 * e * p.activation_slope(il)],
                [-p.a / (p.g2 + t), -p.r2 * p.b * t + p.a * e * t / (p.g2 + t) ** 2, 0.0],
                [p.p2 * t / (p.g3 + t), p.p2 * e * p.g3 * t / (p.g3 + t) ** 2, -p.mu3],
            ]
        )

    return jac


def _rhs_extinct(p: KPParameters) -> Callable[[float, Vector], list[float]]:
    def rhs(_t: float, y: Vector) -> list[float]:
        e, il = float(y[0]), float(y[1])
        return [-p.mu2 * e + p.p1 * e * p.activation_of(il) + p.s1, -p.mu3 * il + p.s2]

    return rhs


def _jac_extinct(p: KPParameters) -> Callable[[float, Vector], Vector]:
    def jac(_t: float, y: Vector) -> Vector:
        e, il = float(y[0]), float(y[1])
        return np.array(
            [
                [-p.mu2 + p.p1 * p.activation_of(il), p.p1 * e * p.activation_slope(il)],
                [0.0, -p.mu3],
            ]
        )

    return jac


@dataclass(frozen=True, slots=True)
class KPTrajectory:
    """The model at the requested times: t_days (days), E and T (cells), IL (model units), x
    (ln T; ln(threshold) - 1 once extinct), extinct_day (nan if the tumour never fell below the
    threshold), and the solver's right-hand-side evaluations."""

    t_days: Vector
    E: Vector
    T: Vector
    IL: Vector
    x: Vector
    extinct_day: float
    method: str
    evaluations: int


def _times(t_days: Sequence[float] | Vector) -> Vector:
    times = np.asarray(t_days, dtype=np.float64)
    if times.ndim != 1 or times.size < 1 or not np.all(np.isfinite(times)):
        raise InvalidInputError(field="t_days", value=t_days, allowed="a 1-d list of finite days")
    if times[0] < 0 or np.any(np.diff(times) <= 0):
        raise InvalidInputError(
            field="t_days", value=t_days, allowed="increasing days from 0 (0 is the start)"
        )
    return times


def simulate(
    p: KPParameters,
    initial: tuple[float, float, float],
    t_days: Sequence[float] | Vector,
    *,
    method: Method = "LSODA",
    rtol: float = REFERENCE_RTOL,
    atol: float = REFERENCE_ATOL,
    extinction: bool = True,
) -> KPTrajectory:
    """Integrate from day 0 with `initial` = (E0 cells, T0 cells, IL0 units) and return the state
    at the increasing days `t_days`. The tumour is integrated as ln T; with `extinction` (the
    model's rule) a tumour below `p.extinction_cells` is gone for good (T = 0); without it, x may
    fall arbitrarily low (T underflows to 0 in the output, x stays exact)."""
    if method not in METHODS:
        raise InvalidInputError(field="method", value=method, allowed=" or ".join(METHODS))
    names = ("E0", "T0", "IL0")
    e0, t0, il0 = (_checked(name, value) for name, value in zip(names, initial, strict=True))
    times = _times(t_days)
    n = times.size
    e_out, x_out, il_out = np.empty(n), np.empty(n), np.empty(n)
    threshold = math.log(p.extinction_cells)
    gone = threshold - 1.0
    extinct_day = math.nan
    evaluations = 0
    done = 0
    start = 0.0
    state = [e0, il0]
    if not extinction or t0 >= p.extinction_cells:

        def below(_t: float, y: Vector) -> float:
            return float(y[1]) - threshold

        below.terminal = True  # type: ignore[attr-defined]
        below.direction = -1  # type: ignore[attr-defined]
        y0 = [e0, math.log(t0) if t0 > 0 else -math.inf, il0]
        if not math.isfinite(y0[1]):
            raise InvalidInputError(field="T0", value=t0, allowed="> 0 without extinction")
        sol = solve_ivp(
            _rhs_log(p),
            (0.0, float(times[-1])),
            y0,
            method=method,
            t_eval=times,
            events=[below] if extinction else None,
            rtol=rtol,
            atol=atol,
            jac=_jac_log(p),
        )
        if sol.status == -1:
            raise RuntimeError(f"Kirschner-Panetta integration failed: {sol.message}")
        evaluations += int(sol.nfev)
        done = sol.t.size
        e_out[:done], x_out[:done], il_out[:done] = sol.y
        if sol.status == 1:
            extinct_day = float(sol.t_events[0][0])
            start = extinct_day
            state = [float(sol.y_events[0][0][0]), float(sol.y_events[0][0][2])]
    else:
        extinct_day = 0.0
    if done < n:
        rest = times[done:]
        if rest[-1] > start:
            sol = solve_ivp(
                _rhs_extinct(p),
                (start, float(rest[-1])),
                state,
                method=method,
                t_eval=rest[rest >= start],
                rtol=rtol,
                atol=atol,
                jac=_jac_extinct(p),
            )
            if sol.status == -1:
                raise RuntimeError(f"Kirschner-Panetta integration failed: {sol.message}")
            evaluations += int(sol.nfev)
            e_out[done:], il_out[done:] = sol.y
        else:
            e_out[done:], il_out[done:] = state
        x_out[done:] = gone
    tumour = np.exp(x_out)
    tumour[done:] = 0.0
    return KPTrajectory(
        t_days=times,
        E=e_out,
        T=tumour,
        IL=il_out,
        x=x_out,
        extinct_day=extinct_day,
        method=method,
        evaluations=evaluations,
    )


def with_values(p: KPParameters, **changes: float) -> KPParameters:
    """`p` with some values changed (names from PARAMETER_NAMES), each checked to be >= 0."""
    known = {f.name for f in fields(p)} - {"activation", "extinction_cells"}
    for name, value in changes.items():
        if name not in known:
            allowed = ", ".join(PARAMETER_NAMES)
            raise InvalidInputError(field=name, value=value, allowed=f"one of {allowed}")
        _checked(name, value)
    return replace(p, **changes)  # type: ignore[arg-type]
