"""The cell-and-tumour model of the IL-2 simulator (modeling reference, section (a), layer 3).

Time is in days. States, in the order of `STATES`:

    E  tumour-reactive effector CD8 T cells (cells)
    N  circulating NK cells (cells)
    R  regulatory T cells, on the scale of E (cells)
    x  ln of the immune-accessible tumour compartment (cells; -1.0 exactly once it is extinct)
    L  capillary-leak proxy (dimensionless)
    A  radiation antigenicity boost (dimensionless, decays)
    z  ln of the immune-excluded tumour compartment (cells; -1.0 exactly once it is extinct)

The tumour has two compartments: T = e^x + e^z (`tumour_cells`), each counted 0 once extinct.
The excluded compartment z stands for the tumour regions (or lesions) that effectors reach
poorly - the "immune-excluded" phenotype (Tiwari et al. 2023, Front Immunol 14:1084887) - so one
patient can have regressing and growing disease at once (a mixed response: 22% of 292 melanoma
patients on checkpoint inhibitors, Rauwerdink et al. 2020, Ann Surg Oncol 27:3488). Its structure
here (a relative effector access `phi` and a baseline share `rho`) is an assumption: no published
two-compartment IL-2 model was found. With rho = 0 the z compartment is extinct from the start
and the model is exactly the one-compartment model of the shared design.

Inputs, in the order of `SIGNALS`, are the interval means of receptor occupancy (0-1) of CD8 T
cells, NK cells, Tregs and endothelium: piecewise constant over dosing intervals.

    dE/dt = s_E + c*(1 + A)*T/(h_T + T) + p_E*u_cd8*E - d_E*E - k_sup*R/(R + K_R)*E
    dN/dt = s_N + p_N*u_nk*N - d_N*N
    dR/dt = s_R + p_R*u_treg*R - d_R*R
    dx/dt = r*(1 - T/K) - kill,   kill = (k_E*E + k_N*N)/(g + T) / (1 + R/(q*E))
    dL/dt = k_L*(u_nk*N/N_0 + w_a*u_endothelium) - k_Lr*L
    dA/dt = -A/tau_RT
    dz/dt = r*(1 - T/K) - phi*kill

Both compartments grow logistically against the total T and share the saturating kill
denominator g + T; the excluded one sees the kill scaled by its relative effector access phi
(0-1). Initial state: a share rho of the baseline tumour is in z (`initial_state`).

An SBRT fraction of D Gy multiplies each compartment by 1 - f_RT + f_RT*exp(-(alpha*D +
beta*D^2)) and adds A_RT to A. With f_RT = 1 this is the shared design's x -= alpha*D + beta*D^2;
f_RT, the share of the burden inside the field, is this module's addition (see data/cells.toml).

Extinction, per compartment: once a compartment has fewer than 1 cell (x < 0, or z < 0) it is
gone for good: it is stored as -1.0 and stays there; the RHS reads any x (z) <= -1 as "no cells"
(0 cells, derivative 0). Between 0 and -1 it continues the smooth equations, so a Runge-Kutta
stage that overshoots slightly below 0 sees no jump. The tumour is extinct when both are.

The parameters are cited data (`data/cells.toml`); this module only interprets them.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from types import MappingProxyType

import numpy as np
from numba import njit
from numpy.typing import ArrayLike, NDArray

from il2.domain.errors import InvalidInputError, RuleTableError
from il2.rules.reader import Node
from il2.science.mechanism.pk import SIGNALS as PK_SIGNALS

_FILE = "cells.toml"

STATES: tuple[str, ...] = ("E", "N", "R", "x", "L", "A", "z")
SIGNALS: tuple[str, ...] = PK_SIGNALS  # the occupancy layer's order: one source
PARAMETERS: tuple[str, ...] = (
    "s_E", "c", "h_T", "p_E", "d_E", "k_sup", "K_R",
    "s_N", "p_N", "d_N",
    "s_R", "p_R", "d_R",
    "r", "K", "k_E", "k_N", "g", "q",
    "k_L", "N_0", "w_a", "k_Lr",
    "tau_RT", "A_RT", "alpha", "beta", "f_RT",
    "phi", "rho",
)  # fmt: skip
STATUSES = ("published", "derived", "assumption", "calibrated")
# Virtual-population axes that are not parameters but shape the initial state.
STATE_AXES = ("T0", "treg_teff_ratio")
EXTINCT_X = -1.0
"""The stored value of x once the tumour is extinct (T < 1 cell)."""

# Column indices (module constants: numba freezes them into the compiled code).
I_E, I_N, I_R, I_X, I_L, I_A, I_Z = range(7)
(
    P_S_E, P_C, P_H_T, P_P_E, P_D_E, P_K_SUP, P_K_R,
    P_S_N, P_P_N, P_D_N,
    P_S_R, P_P_R, P_D_R,
    P_R, P_K, P_K_E, P_K_N, P_G, P_Q,
    P_K_L, P_N_0, P_W_A, P_K_LR,
    P_TAU_RT, P_A_RT, P_ALPHA, P_BETA, P_F_RT,
    P_PHI, P_RHO,
) = range(30)  # fmt: skip
U_CD8, U_NK, U_TREG, U_ENDO = range(4)

# Parameters that must be strictly positive (they divide, or are rates of loss or scales).
POSITIVE = ("h_T", "d_E", "K_R", "d_N", "d_R", "K", "g", "q", "N_0", "k_Lr", "tau_RT")
# Parameters that are shares (0 to 1).
SHARES = ("f_RT", "phi", "rho")


@dataclass(frozen=True, slots=True)
class Parameter:
    """One parameter of the model: its default value, unit, source and status."""

    name: str
    value: float
    unit: str
    source: str
    status: str


@dataclass(frozen=True, slots=True)
class Range:
    """What a virtual population may vary a parameter (or a state axis) within, and why."""

    name: str
    low: float
    high: float
    scale: str  # "log" (log-uniform) or "linear" (uniform)
    unit: str
    basis: str


@dataclass(frozen=True, slots=True)
class CellModelData:
    """The contents of data/cells.toml."""

    parameters: Mapping[str, Parameter]
    ranges: Mapping[str, Range]

    def defaults(self) -> NDArray[np.float64]:
        """The default parameter values, in `PARAMETERS` order (a fresh array)."""
        return np.array([self.parameters[name].value for name in PARAMETERS], dtype=np.float64)


def _parameter(name: str, node: Node) -> Parameter:
    node.only("value", "unit", "source", "status")
    value = float(node.number("value"))
    if not math.isfinite(value) or value < 0:
        raise node.fail("value", f"{value} is not a finite, non-negative number")
    if name in SHARES and value > 1:
        raise node.fail("value", f"{value} must be a share between 0 and 1")
    if name in POSITIVE and value <= 0:
        raise node.fail("value", f"{value} must be positive (it divides or is a loss rate)")
    return Parameter(
        name=name,
        value=value,
        unit=node.text("unit"),
        source=node.text("source"),
        status=node.choice("status", STATUSES),
    )


def _range(name: str, node: Node) -> Range:
    node.only("low", "high", "scale", "unit", "basis")
    low, high = float(node.number("low")), float(node.number("high"))
    scale = node.choice("scale", ("log", "linear"))
    if not low <= high:
        raise node.fail("high", f"{high} is below low {low}")
    if scale == "log" and low <= 0:
        raise node.fail("low", f"{low} must be positive on a log scale")
    return Range(name, low, high, scale, node.text("unit"), node.text("basis"))


def parse_cells(text: str, *, file: str = _FILE) -> CellModelData:
    """Validate a cells file; a bad one raises `RuleTableError` naming the field."""
    try:
        root = Node(tomllib.loads(text), file)
    except tomllib.TOMLDecodeError as error:
        raise RuleTableError(file=file, field="(syntax)", problem=str(error)) from None
    root.only("meta", "parameters", "ranges")
    root.table("meta").text("reference")
    table = root.table("parameters")
    table.only(*PARAMETERS)
    parameters = {name: _parameter(name, table.table(name)) for name in PARAMETERS}
    ranges_node = root.table("ranges")
    ranges_node.only(*PARAMETERS, *STATE_AXES)
    ranges = {name: _range(name, node) for name, node in ranges_node.children()}
    return CellModelData(MappingProxyType(parameters), MappingProxyType(ranges))


@cache
def cell_model_data() -> CellModelData:
    """The bundled data/cells.toml (read once)."""
    text = resources.files("il2.science").joinpath("data", _FILE).read_text(encoding="utf-8")
    return parse_cells(text)


def default_parameters() -> NDArray[np.float64]:
    """The default parameters from data/cells.toml, shape (len(PARAMETERS),), PARAMETERS order."""
    return cell_model_data().defaults()


def _rhs(
    t: float,
    y: NDArray[np.float64],
    p: NDArray[np.float64],
    u: NDArray[np.float64],
    out: NDArray[np.float64],
) -> None:
    """Write dy/dt (per day) at state `y` under parameters `p` and signals `u` into `out`.

    `t` (days) is unused (the model is autonomous between input changes) but kept so that the
    signature is the usual one of an ODE right-hand side. Allocates nothing.
    """
    e = y[I_E]
    n = y[I_N]
    reg = y[I_R]
    gone_x = y[I_X] <= EXTINCT_X
    gone_z = y[I_Z] <= EXTINCT_X
    tumour = (0.0 if gone_x else math.exp(y[I_X])) + (0.0 if gone_z else math.exp(y[I_Z]))
    out[I_E] = (
        p[P_S_E]
        + p[P_C] * (1.0 + y[I_A]) * tumour / (p[P_H_T] + tumour)
        + (p[P_P_E] * u[U_CD8] - p[P_D_E]) * e
        - p[P_K_SUP] * reg / (reg + p[P_K_R]) * e
    )
    out[I_N] = p[P_S_N] + (p[P_P_N] * u[U_NK] - p[P_D_N]) * n
    out[I_R] = p[P_S_R] + (p[P_P_R] * u[U_TREG] - p[P_D_R]) * reg
    # 1/(1 + R/(q E)) written as qE/(qE + R), finite when E = 0
    qe = p[P_Q] * e
    shield = qe + reg
    free = qe / shield if shield != 0.0 else 0.0
    kill = (p[P_K_E] * e + p[P_K_N] * n) / (p[P_G] + tumour) * free
    growth = p[P_R] * (1.0 - tumour / p[P_K])
    out[I_X] = 0.0 if gone_x else growth - kill
    out[I_Z] = 0.0 if gone_z else growth - p[P_PHI] * kill
    out[I_L] = p[P_K_L] * (u[U_NK] * n / p[P_N_0] + p[P_W_A] * u[U_ENDO]) - p[P_K_LR] * y[I_L]
    out[I_A] = -y[I_A] / p[P_TAU_RT]


rhs = njit(cache=True, error_model="numpy")(_rhs)
"""The compiled right-hand side `rhs(t, y, p, u, out)` (see `_rhs`)."""


def _sbrt_log_factor(p: NDArray[np.float64], gy: float) -> float:
    """ln of the share of tumour cells surviving one SBRT fraction of `gy` Gy (<= 0).

    Linear-quadratic kill exp(-(alpha*D + beta*D^2)) on the share f_RT inside the field.
    """
    lq = float(p[P_ALPHA]) * gy + float(p[P_BETA]) * gy * gy
    f = float(p[P_F_RT])
    if f >= 1.0:
        return -lq
    return math.log1p(f * math.expm1(-lq))


sbrt_log_factor = njit(cache=True, error_model="numpy")(_sbrt_log_factor)
"""Compiled `_sbrt_log_factor(p, gy)`: ln of the surviving share after one SBRT fraction."""


def tumour_cells(y: ArrayLike) -> NDArray[np.float64]:
    """Total tumour cells e^x + e^z of states `y` (..., len(STATES)), a compartment counting 0
    once extinct (x or z <= -1; below 0 it has fewer than 1 cell). Shape `y.shape[:-1]`."""
    s = np.asarray(y, dtype=np.float64)
    if s.ndim < 1 or s.shape[-1] != len(STATES):
        raise InvalidInputError(
            field="y", value=f"shape {s.shape}", allowed=f"(..., {len(STATES)}) in STATES order"
        )
    out = np.zeros(s.shape[:-1])
    for index in (I_X, I_Z):
        v = s[..., index]
        out += np.where(v <= EXTINCT_X, 0.0, np.exp(np.maximum(v, EXTINCT_X)))
    return out


def initial_state(params: ArrayLike, t0_cells: ArrayLike) -> NDArray[np.float64]:
    """The homeostatic initial state for a tumour of `t0_cells` cells.

    N = s_N/d_N and R = s_R/d_R (their resting steady states); E is the steady state of its
    equation with the tumour held at T0 and no IL-2 signal,
    E = (s_E + c*T/(h_T + T)) / (d_E + k_sup*R/(R + K_R)); the tumour is split by the
    parameter rho: x = ln((1 - rho)*T0), z = ln(rho*T0), a compartment of fewer than 1 cell
    (or a tumour T0 < 1) stored as -1.0 (extinct), and T the cells kept (T0 but for such a
    compartment); L = A = 0. `params` is (n, P) or (P,);
    `t0_cells` broadcasts to (n,). Returns (n, 7), or (7,) for 1-D `params`.
    """
    p = np.asarray(params, dtype=np.float64)
    single = p.ndim == 1
    p2 = np.atleast_2d(p)
    if p2.ndim != 2 or p2.shape[1] != len(PARAMETERS):
        raise InvalidInputError(
            field="params", value=f"shape {p.shape}", allowed=f"(n, {len(PARAMETERS)})"
        )
    if not np.all(np.isfinite(p2)):
        raise InvalidInputError(field="params", value="non-finite", allowed="finite numbers")
    t0 = np.broadcast_to(np.asarray(t0_cells, dtype=np.float64), (p2.shape[0],))
    if not np.all(np.isfinite(t0)) or np.any(t0 < 0):
        raise InvalidInputError(field="t0_cells", value=t0_cells, allowed="finite cells >= 0")
    col = {name: p2[:, index] for index, name in enumerate(PARAMETERS)}
    n0 = col["s_N"] / col["d_N"]
    r0 = col["s_R"] / col["d_R"]
    present = t0 >= 1.0
    tumour = np.where(present, t0, 0.0)
    rho = col["rho"]
    if np.any((rho < 0) | (rho > 1)):
        i = int(np.argmax((rho < 0) | (rho > 1)))
        raise InvalidInputError(
            field=f"params[{i}, rho]", value=float(rho[i]), allowed="a share between 0 and 1"
        )
    accessible = (1.0 - rho) * tumour
    excluded = rho * tumour
    alive_x = present & (accessible >= 1.0)
    alive_z = present & (excluded >= 1.0)
    x0 = np.where(alive_x, np.log(np.maximum(accessible, 1.0)), EXTINCT_X)
    z0 = np.where(alive_z, np.log(np.maximum(excluded, 1.0)), EXTINCT_X)
    # the cells kept (a compartment of fewer than 1 cell is extinct from the start)
    kept = np.where(alive_x, accessible, 0.0) + np.where(alive_z, excluded, 0.0)
    e0 = (col["s_E"] + col["c"] * kept / (col["h_T"] + kept)) / (
        col["d_E"] + col["k_sup"] * r0 / (r0 + col["K_R"])
    )
    zero = np.zeros_like(e0)
    y0 = np.ascontiguousarray(np.stack([e0, n0, r0, x0, zero, zero, z0], axis=1))
    return y0[0] if single else y0
