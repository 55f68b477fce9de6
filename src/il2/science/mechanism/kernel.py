"""The compiled population integrator of the cell-and-tumour model (`cells.py`).

Each virtual patient is integrated with an adaptive explicit Runge-Kutta method, Dormand-Prince
5(4) with local extrapolation, FSAL, an RMS error norm and the usual step-size controller, all
compiled with numba; patients run in parallel (`prange`). The inputs are piecewise constant, so
the integration stops exactly at every dosing-interval edge, SBRT fraction and output time; the
step-size proposal carries over (only the first stage is recomputed after an input change or a
jump). Time is in days.

Rules shared with `reference.py`:

- y0 is the state at t = 0; the run ends at the last output time.
- At each interval edge edges[k] (k < K) the dose of interval k is held when L > hold_above at
  that instant: the patient then gets signals_held[k] for the interval, otherwise
  signals_given[k] (and the dose counts in doses_given). An interval whose given and held
  signals are equal carries no dose (a gap between cycles): nothing is decided or counted.
  Outside [edges[0], edges[-1]) the signals are 0.
- At an SBRT time the fraction acts at once (T times the surviving share; A += A_RT).
- Events at one instant act in the order: SBRT fractions, interval decisions, outputs; an output
  therefore shows the state just after a fraction given at that same time.
- Extinction, per tumour compartment (x and z, `cells.py`): when one falls below 0 (fewer than
  1 cell) the crossing time is located (cubic Hermite interpolation over the step, then the step
  is redone to land on the earliest crossing), it is set to -1.0 and frozen; extinct_day records
  the time when the last of the two went (0 when y0 has both below 0).
- A frozen z (extinct) takes no part in the error norm or the first-step estimate, so with an
  excluded compartment empty from the start (rho = 0) the kernel does exactly the arithmetic of
  the one-compartment model.
- max_leak is the largest L at t = 0 and at the end of every accepted step.
- L feeds back into nothing; in pieces without NK signal its equation is linear with constant
  input and is advanced by its exact solution (not by the Runge-Kutta update, which would
  limit the step to the stability bound of its 1/day decay long after dosing).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit, prange
from numpy.typing import ArrayLike, NDArray

from il2.domain.errors import InvalidInputError
from il2.science.mechanism.cells import (
    EXTINCT_X,
    I_A,
    I_L,
    I_X,
    I_Z,
    P_A_RT,
    P_K_L,
    P_K_LR,
    P_W_A,
    PARAMETERS,
    POSITIVE,
    SHARES,
    SIGNALS,
    STATES,
    U_ENDO,
    U_NK,
    rhs,
    sbrt_log_factor,
)

_NS = len(STATES)
_NU = len(SIGNALS)
_MAX_STEPS = 1_000_000  # accepted + rejected steps per patient before the run is given up

# Dormand-Prince 5(4) tableau (Dormand & Prince 1980), 5th-order solution propagated.
_A21 = 1.0 / 5.0
_A31, _A32 = 3.0 / 40.0, 9.0 / 40.0
_A41, _A42, _A43 = 44.0 / 45.0, -56.0 / 15.0, 32.0 / 9.0
_A51, _A52, _A53, _A54 = 19372.0 / 6561.0, -25360.0 / 2187.0, 64448.0 / 6561.0, -212.0 / 729.0
_A61, _A62, _A63 = 9017.0 / 3168.0, -355.0 / 33.0, 46732.0 / 5247.0
_A64, _A65 = 49.0 / 176.0, -5103.0 / 18656.0
_B1, _B3, _B4 = 35.0 / 384.0, 500.0 / 1113.0, 125.0 / 192.0
_B5, _B6 = -2187.0 / 6784.0, 11.0 / 84.0
_E1, _E3, _E4 = 71.0 / 57600.0, -71.0 / 16695.0, 71.0 / 1920.0
_E5, _E6, _E7 = -17253.0 / 339200.0, 22.0 / 525.0, -1.0 / 40.0
_SAFETY, _FAC_MIN, _FAC_MAX = 0.9, 0.2, 10.0


class IntegrationError(ArithmeticError):
    """The integrator could not meet the tolerance (step size underflow or too many steps)."""


@dataclass(frozen=True, slots=True)
class Trajectories:
    """A population's simulated course.

    y            (n, M, 7) states at the output times (STATES order; x, z = -1.0 once extinct;
                 total tumour cells: cells.tumour_cells(y))
    doses_given  (n,) doses given (interval decisions not held), int64
    extinct_day  (n,) day the tumour fell below 1 cell, nan if never
    max_leak     (n,) largest capillary-leak proxy L over the run
    steps        (n,) accepted integration steps, int64
    """

    y: NDArray[np.float64]
    doses_given: NDArray[np.int64]
    extinct_day: NDArray[np.float64]
    max_leak: NDArray[np.float64]
    steps: NDArray[np.int64]


def _stages(  # noqa: PLR0917 - numba-compiled: plain positional arrays, no allocation
    t: float,
    y: NDArray[np.float64],
    h: float,
    p: NDArray[np.float64],
    u: NDArray[np.float64],
    k: NDArray[np.float64],
    tmp: NDArray[np.float64],
    ynew: NDArray[np.float64],
    rtol: float,
    atol: float,
    skip: int,
    frozen: int,
) -> float:
    """One Dormand-Prince step of `h` days from (t, y); k[0] must hold f(t, y).

    Writes the 5th-order solution into `ynew`, the stages into k[1..6] (k[6] = f(t+h, ynew))
    and returns the RMS norm of the embedded error estimate scaled by atol + rtol*|y|, over
    every component but `skip` (-1: none; a component solved exactly by the caller) and
    `frozen` (-1: none; a component held constant, left out of the mean too).
    """
    for j in range(_NS):
        tmp[j] = y[j] + h * _A21 * k[0, j]
    rhs(t + 0.2 * h, tmp, p, u, k[1])
    for j in range(_NS):
        tmp[j] = y[j] + h * (_A31 * k[0, j] + _A32 * k[1, j])
    rhs(t + 0.3 * h, tmp, p, u, k[2])
    for j in range(_NS):
        tmp[j] = y[j] + h * (_A41 * k[0, j] + _A42 * k[1, j] + _A43 * k[2, j])
    rhs(t + 0.8 * h, tmp, p, u, k[3])
    for j in range(_NS):
        tmp[j] = y[j] + h * (_A51 * k[0, j] + _A52 * k[1, j] + _A53 * k[2, j] + _A54 * k[3, j])
    rhs(t + h * 8.0 / 9.0, tmp, p, u, k[4])
    for j in range(_NS):
        tmp[j] = y[j] + h * (
            _A61 * k[0, j] + _A62 * k[1, j] + _A63 * k[2, j] + _A64 * k[3, j] + _A65 * k[4, j]
        )
    rhs(t + h, tmp, p, u, k[5])
    for j in range(_NS):
        ynew[j] = y[j] + h * (
            _B1 * k[0, j] + _B3 * k[2, j] + _B4 * k[3, j] + _B5 * k[4, j] + _B6 * k[5, j]
        )
    rhs(t + h, ynew, p, u, k[6])
    total = 0.0
    for j in range(_NS):
        if j == skip or j == frozen:  # noqa: PLR1714, SIM109 - numba: plain comparisons
            continue
        err = h * (
            _E1 * k[0, j]
            + _E3 * k[2, j]
            + _E4 * k[3, j]
            + _E5 * k[4, j]
            + _E6 * k[5, j]
            + _E7 * k[6, j]
        )
        scale = atol + rtol * max(abs(y[j]), abs(ynew[j]))
        total += (err / scale) ** 2
    return math.sqrt(total / (_NS if frozen < 0 else _NS - 1))


_stages_jit = njit(cache=True, error_model="numpy")(_stages)


def _first_step(  # noqa: PLR0917 - numba-compiled: plain positional arrays
    y: NDArray[np.float64],
    f0: NDArray[np.float64],
    p: NDArray[np.float64],
    u: NDArray[np.float64],
    tmp: NDArray[np.float64],
    f1: NDArray[np.float64],
    rtol: float,
    atol: float,
    frozen: int,
) -> float:
    """An initial step size (days) after Hairer, Norsett & Wanner (1993), section II.4, over
    every component but `frozen` (-1: none; a component held constant)."""
    count = _NS if frozen < 0 else _NS - 1
    d0 = 0.0
    d1 = 0.0
    for j in range(_NS):
        if j == frozen:
            continue
        scale = atol + rtol * abs(y[j])
        d0 += (y[j] / scale) ** 2
        d1 += (f0[j] / scale) ** 2
    d0 = math.sqrt(d0 / count)
    d1 = math.sqrt(d1 / count)
    h0 = 1e-6 if d0 < 1e-5 or d1 < 1e-5 else 0.01 * d0 / d1
    for j in range(_NS):
        tmp[j] = y[j] + h0 * f0[j]
    rhs(0.0, tmp, p, u, f1)
    d2 = 0.0
    for j in range(_NS):
        if j == frozen:
            continue
        scale = atol + rtol * abs(y[j])
        d2 += ((f1[j] - f0[j]) / scale) ** 2
    d2 = math.sqrt(d2 / count) / h0
    big = max(d1, d2)
    h1 = max(1e-6, h0 * 1e-3) if big <= 1e-15 else (0.01 / big) ** 0.2
    return min(100.0 * h0, h1)


_first_step_jit = njit(cache=True, error_model="numpy")(_first_step)


def _crossing(x0: float, x1: float, d0: float, d1: float) -> float:
    """The share theta in (0, 1] of a step where the cubic Hermite interpolant of x, with
    values x0 >= 0, x1 < 0 and step-scaled slopes d0, d1, crosses 0 (bisection)."""
    lo = 0.0
    hi = 1.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        m2 = mid * mid
        m3 = m2 * mid
        value = (
            (2.0 * m3 - 3.0 * m2 + 1.0) * x0
            + (m3 - 2.0 * m2 + mid) * d0
            + (-2.0 * m3 + 3.0 * m2) * x1
            + (m3 - m2) * d1
        )
        if value >= 0.0:
            lo = mid
        else:
            hi = mid
    return hi


_crossing_jit = njit(cache=True, error_model="numpy")(_crossing)


def _patient(  # noqa: PLR0912, PLR0915, PLR0917 - the compiled step loop stays in one frame
    p: NDArray[np.float64],
    y0: NDArray[np.float64],
    edges: NDArray[np.float64],
    given: NDArray[np.float64],
    held: NDArray[np.float64],
    hold_above: float,
    rt_t: NDArray[np.float64],
    rt_gy: NDArray[np.float64],
    t_out: NDArray[np.float64],
    rtol: float,
    atol: float,
    y_out: NDArray[np.float64],
) -> tuple[int, float, float, int]:
    """Integrate one patient; write states at t_out into y_out (M, 7).

    rt_t must be sorted with nan (no fraction) last. Returns (doses_given, extinct_day,
    max_leak, accepted steps); steps is -1 when the tolerance could not be met.
    """
    n_edges = edges.shape[0]
    n_out = t_out.shape[0]
    n_rt = 0
    while n_rt < rt_t.shape[0] and not math.isnan(rt_t[n_rt]):
        n_rt += 1
    y = np.empty(_NS)
    ynew = np.empty(_NS)
    tmp = np.empty(_NS)
    k = np.empty((7, _NS))
    u = np.zeros(_NU)
    for j in range(_NS):
        y[j] = y0[j]
    extinct_day = math.nan
    gone_x = y[I_X] < 0.0
    gone_z = y[I_Z] < 0.0
    if gone_x:
        y[I_X] = EXTINCT_X
    if gone_z:
        y[I_Z] = EXTINCT_X
    if gone_x and gone_z:
        extinct_day = 0.0
    max_leak = y[I_L]
    doses = 0
    steps = 0
    attempts = 0
    if n_out == 0:
        return doses, extinct_day, max_leak, steps
    t = 0.0
    ke = 0
    kr = 0
    ko = 0
    hp = -1.0
    stale = True  # k[0] must be recomputed (input changed or state jumped)
    while True:
        while kr < n_rt and rt_t[kr] <= t:
            survive = sbrt_log_factor(p, rt_gy[kr])
            if not gone_x:
                y[I_X] += survive
                if y[I_X] < 0.0:
                    y[I_X] = EXTINCT_X
                    gone_x = True
            if not gone_z:
                y[I_Z] += survive
                if y[I_Z] < 0.0:
                    y[I_Z] = EXTINCT_X
                    gone_z = True
            if gone_x and gone_z and math.isnan(extinct_day):
                extinct_day = t
            y[I_A] += p[P_A_RT]
            stale = True
            kr += 1
        while ke < n_edges and edges[ke] <= t:
            if ke < n_edges - 1:
                is_dose = False
                for j in range(_NU):
                    is_dose = is_dose or given[ke, j] != held[ke, j]
                if is_dose and y[I_L] > hold_above:
                    for j in range(_NU):
                        u[j] = held[ke, j]
                else:
                    for j in range(_NU):
                        u[j] = given[ke, j]
                    if is_dose:
                        doses += 1
            else:
                for j in range(_NU):
                    u[j] = 0.0
            stale = True
            ke += 1
        while ko < n_out and t_out[ko] <= t:
            for j in range(_NS):
                y_out[ko, j] = y[j]
            ko += 1
        if ko >= n_out:
            break
        t_next = t_out[ko]
        if ke < n_edges and edges[ke] < t_next:
            t_next = edges[ke]
        if kr < n_rt and rt_t[kr] < t_next:
            t_next = rt_t[kr]
        if stale:
            rhs(t, y, p, u, k[0])
            stale = False
        if hp <= 0.0:
            hp = _first_step_jit(y, k[0], p, u, tmp, k[1], rtol, atol, I_Z if gone_z else -1)
        # Without NK signal L obeys dL/dt = k_L*w_a*u_endo - k_Lr*L, which nothing else reads:
        # it is advanced exactly, so its fast decay does not bound the explicit step size.
        skip = I_L if u[U_NK] == 0.0 else -1
        leak = y[I_L]
        leak_target = p[P_K_L] * p[P_W_A] * u[U_ENDO] / p[P_K_LR]
        while t < t_next:
            attempts += 1
            if attempts > _MAX_STEPS:
                return doses, extinct_day, max_leak, -1
            span = t_next - t
            last = hp >= span
            h = span if last else hp
            frozen = I_Z if gone_z else -1
            err = _stages_jit(t, y, h, p, u, k, tmp, ynew, rtol, atol, skip, frozen)
            if err <= 1.0:
                fac = _FAC_MAX if err == 0.0 else min(_FAC_MAX, _SAFETY * err**-0.2)
                steps += 1
                # a step cut short to land on an event keeps the longer proposal
                hp = max(hp, h * fac) if fac >= 1.0 else h * fac
                cross_x = not gone_x and ynew[I_X] < 0.0
                cross_z = not gone_z and ynew[I_Z] < 0.0
                if cross_x or cross_z:
                    theta_x = 2.0
                    theta_z = 2.0
                    if cross_x:
                        theta_x = _crossing_jit(y[I_X], ynew[I_X], h * k[0, I_X], h * k[6, I_X])
                    if cross_z:
                        theta_z = _crossing_jit(y[I_Z], ynew[I_Z], h * k[0, I_Z], h * k[6, I_Z])
                    h = min(theta_x, theta_z) * h
                    _stages_jit(t, y, h, p, u, k, tmp, ynew, rtol, atol, skip, frozen)
                    t = t + h
                    for j in range(_NS):
                        y[j] = ynew[j]
                    # the earliest crossing lands here; a later one only if it is below 0 too
                    if not gone_x and (theta_x <= theta_z or y[I_X] < 0.0):
                        y[I_X] = EXTINCT_X
                        gone_x = True
                    if not gone_z and (theta_z <= theta_x or y[I_Z] < 0.0):
                        y[I_Z] = EXTINCT_X
                        gone_z = True
                    if gone_x and gone_z:
                        extinct_day = t
                    rhs(t, y, p, u, k[0])
                else:
                    t = t_next if last else t + h
                    for j in range(_NS):
                        y[j] = ynew[j]
                        k[0, j] = k[6, j]
                if skip == I_L:
                    decay = math.exp(-p[P_K_LR] * h)
                    leak = leak_target + (leak - leak_target) * decay
                    y[I_L] = leak
                max_leak = max(max_leak, y[I_L])
            else:
                hp = h * max(_FAC_MIN, _SAFETY * err**-0.2)
                if hp < 1e-13 * (1.0 + abs(t)):
                    return doses, extinct_day, max_leak, -1
    return doses, extinct_day, max_leak, steps


_patient_jit = njit(cache=True, error_model="numpy")(_patient)


def _population(  # noqa: PLR0917 - numba-compiled: outputs written in place
    params: NDArray[np.float64],
    y0: NDArray[np.float64],
    edges: NDArray[np.float64],
    given: NDArray[np.float64],
    held: NDArray[np.float64],
    hold_above: float,
    rt_t: NDArray[np.float64],
    rt_gy: NDArray[np.float64],
    t_out: NDArray[np.float64],
    rtol: float,
    atol: float,
    y_out: NDArray[np.float64],
    doses: NDArray[np.int64],
    extinct_day: NDArray[np.float64],
    max_leak: NDArray[np.float64],
    steps: NDArray[np.int64],
) -> None:
    """All patients in parallel, writing the per-patient outputs in place."""
    for i in prange(params.shape[0]):
        d, e, m, s = _patient_jit(
            params[i],
            y0[i],
            edges,
            given[i],
            held[i],
            hold_above,
            rt_t[i],
            rt_gy[i],
            t_out,
            rtol,
            atol,
            y_out[i],
        )
        doses[i] = d
        extinct_day[i] = e
        max_leak[i] = m
        steps[i] = s


_population_jit = njit(parallel=True, cache=True, error_model="numpy")(_population)


@dataclass(frozen=True, slots=True)
class Inputs:
    """Validated, C-contiguous float64 inputs shared by the kernel and the reference."""

    params: NDArray[np.float64]
    y0: NDArray[np.float64]
    edges: NDArray[np.float64]
    signals_given: NDArray[np.float64]
    signals_held: NDArray[np.float64]
    hold_above: float
    rt_days: NDArray[np.float64]  # sorted per patient, nan last
    rt_gy: NDArray[np.float64]  # in the order of rt_days
    t_out: NDArray[np.float64]
    rtol: float
    atol: float


def _array(name: str, value: ArrayLike, ndim: int) -> NDArray[np.float64]:
    try:
        array = np.ascontiguousarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidInputError(field=name, value=value, allowed="an array of numbers") from None
    if array.ndim != ndim:
        raise InvalidInputError(
            field=name, value=f"{array.ndim}-D shape {array.shape}", allowed=f"a {ndim}-D array"
        )
    return array


def _shape(name: str, array: NDArray[np.float64], shape: tuple[int, ...], text: str) -> None:
    if array.shape != shape:
        raise InvalidInputError(field=name, value=f"shape {array.shape}", allowed=text)


def _finite(name: str, array: NDArray[np.float64]) -> None:
    if not np.all(np.isfinite(array)):
        where = tuple(int(i) for i in np.argwhere(~np.isfinite(array))[0])
        raise InvalidInputError(
            field=f"{name}{list(where)}", value=float(array[where]), allowed="a finite number"
        )


def _increasing(name: str, array: NDArray[np.float64]) -> None:
    _finite(name, array)
    if array.size and array[0] < 0:
        raise InvalidInputError(field=f"{name}[0]", value=float(array[0]), allowed="days >= 0")
    steps = np.diff(array)
    if np.any(steps <= 0):
        at = int(np.argmax(steps <= 0)) + 1
        raise InvalidInputError(
            field=f"{name}[{at}]",
            value=float(array[at]),
            allowed=f"strictly more than {name}[{at - 1}] = {float(array[at - 1])}",
        )


def _tolerance(name: str, value: float) -> float:
    number = float(value)
    if not math.isfinite(number) or number <= 0:
        raise InvalidInputError(field=name, value=value, allowed="a finite number > 0")
    return number


def validate(  # noqa: PLR0915, PLR0917 - simulate_population's fixed signature, checked in order
    params: ArrayLike,
    y0: ArrayLike,
    edges: ArrayLike,
    signals_given: ArrayLike,
    signals_held: ArrayLike,
    hold_above: float,
    rt_days: ArrayLike,
    rt_gy: ArrayLike,
    t_out: ArrayLike,
    rtol: float,
    atol: float,
) -> Inputs:
    """Check the arguments of `simulate_population`; a bad one raises `InvalidInputError`
    naming the argument (and the offending element), the value and what is allowed."""
    n_par = len(PARAMETERS)
    p = _array("params", params, 2)
    n = p.shape[0]
    _shape("params", p, (n, n_par), f"(n, {n_par}) in PARAMETERS order")
    _finite("params", p)
    for column, name in enumerate(PARAMETERS):
        low = p[:, column]
        bad = low <= 0 if name in POSITIVE else low < 0
        if name in SHARES:
            bad = bad | (low > 1)
        if np.any(bad):
            i = int(np.argmax(bad))
            sign = "> 0" if name in POSITIVE else "in [0, 1]" if name in SHARES else ">= 0"
            raise InvalidInputError(
                field=f"params[{i}, {name}]", value=float(low[i]), allowed=f"a number {sign}"
            )
    y = _array("y0", y0, 2)
    _shape("y0", y, (n, _NS), f"(n, {_NS}) = ({n}, {_NS}) in STATES order")
    _finite("y0", y)
    for column, name in enumerate(STATES):
        if name not in ("x", "z") and np.any(y[:, column] < 0):
            i = int(np.argmax(y[:, column] < 0))
            raise InvalidInputError(
                field=f"y0[{i}, {name}]", value=float(y[i, column]), allowed="a number >= 0"
            )
    e = _array("edges", edges, 1)
    if e.size < 1:
        raise InvalidInputError(field="edges", value="empty", allowed="at least one edge")
    _increasing("edges", e)
    n_int = e.size - 1
    shape = (n, n_int, _NU)
    text = f"(n, K, {_NU}) = {shape} (K = len(edges) - 1, SIGNALS order)"
    signals: list[NDArray[np.float64]] = []
    for name, value in (("signals_given", signals_given), ("signals_held", signals_held)):
        s = _array(name, value, 3)
        _shape(name, s, shape, text)
        if not np.all((s >= 0) & (s <= 1)):  # also refuses nan
            where = tuple(int(i) for i in np.argwhere(~((s >= 0) & (s <= 1)))[0])
            raise InvalidInputError(
                field=f"{name}{list(where)}",
                value=float(s[where]),
                allowed="an occupancy in [0, 1]",
            )
        signals.append(s)
    hold = float(hold_above)
    if math.isnan(hold):
        raise InvalidInputError(field="hold_above", value=hold_above, allowed="a number or inf")
    days = _array("rt_days", rt_days, 2)
    if days.shape[0] != n:
        _shape("rt_days", days, (n, days.shape[1]), f"(n, J) with n = {n}")
    gy = _array("rt_gy", rt_gy, 2)
    _shape("rt_gy", gy, days.shape, f"{days.shape}, the shape of rt_days")
    planned = ~np.isnan(days)
    if np.any(planned & ~((days >= 0) & np.isfinite(days))):
        where = tuple(int(i) for i in np.argwhere(planned & ~(days >= 0))[0])
        raise InvalidInputError(
            field=f"rt_days{list(where)}", value=float(days[where]), allowed="days >= 0, or nan"
        )
    bad_gy = planned & ~(np.isfinite(gy) & (gy >= 0))
    if np.any(bad_gy):
        where = tuple(int(i) for i in np.argwhere(bad_gy)[0])
        raise InvalidInputError(
            field=f"rt_gy{list(where)}", value=float(gy[where]), allowed="a dose in Gy >= 0"
        )
    order = np.argsort(days, axis=1, kind="stable")  # nan (no fraction) sorts last
    days = np.ascontiguousarray(np.take_along_axis(days, order, axis=1))
    gy = np.ascontiguousarray(np.take_along_axis(np.where(planned, gy, 0.0), order, axis=1))
    out = _array("t_out", t_out, 1)
    _increasing("t_out", out)
    return Inputs(
        params=p,
        y0=y,
        edges=e,
        signals_given=signals[0],
        signals_held=signals[1],
        hold_above=hold,
        rt_days=days,
        rt_gy=gy,
        t_out=out,
        rtol=_tolerance("rtol", rtol),
        atol=_tolerance("atol", atol),
    )


def empty_result(inputs: Inputs) -> Trajectories:
    """Zeroed outputs of the right shapes for `inputs` (y nan until written)."""
    n = inputs.params.shape[0]
    return Trajectories(
        y=np.full((n, inputs.t_out.size, _NS), np.nan),
        doses_given=np.zeros(n, dtype=np.int64),
        extinct_day=np.full(n, np.nan),
        max_leak=np.zeros(n),
        steps=np.zeros(n, dtype=np.int64),
    )


def simulate_population(  # noqa: PLR0917 - the shared design fixes this positional signature
    params: ArrayLike,
    y0: ArrayLike,
    edges: ArrayLike,
    signals_given: ArrayLike,
    signals_held: ArrayLike,
    hold_above: float,
    rt_days: ArrayLike,
    rt_gy: ArrayLike,
    t_out: ArrayLike,
    rtol: float = 1e-6,
    atol: float = 1e-9,
) -> Trajectories:
    """Simulate n virtual patients of the cell-and-tumour model from day 0 to t_out[-1].

    params (n, P) in PARAMETERS order; y0 (n, 7) states at day 0; edges (K+1,) dosing-interval
    edges in days; signals_given / signals_held (n, K, 4) interval-mean occupancies if the
    interval's dose is given / held; hold_above the leak level above which a dose is held
    (math.inf: never); rt_days, rt_gy (n, J) SBRT fraction days (nan: none) and Gy per
    fraction; t_out (M,) output days, increasing, >= 0; rtol, atol the local error tolerances.
    See the module docstring for the event rules. Raises `InvalidInputError` for bad input and
    `IntegrationError` when a patient's tolerance cannot be met.
    """
    inputs = validate(
        params,
        y0,
        edges,
        signals_given,
        signals_held,
        hold_above,
        rt_days,
        rt_gy,
        t_out,
        rtol,
        atol,
    )
    result = empty_result(inputs)
    if inputs.params.shape[0] == 0:
        return result
    _population_jit(
        inputs.params,
        inputs.y0,
        inputs.edges,
        inputs.signals_given,
        inputs.signals_held,
        inputs.hold_above,
        inputs.rt_days,
        inputs.rt_gy,
        inputs.t_out,
        inputs.rtol,
        inputs.atol,
        result.y,
        result.doses_given,
        result.extinct_day,
        result.max_leak,
        result.steps,
    )
    failed = np.flatnonzero(result.steps < 0)
    if failed.size:
        raise IntegrationError(
            f"the tolerance rtol={inputs.rtol}, atol={inputs.atol} could not be met for "
            f"{failed.size} patient(s), first index {int(failed[0])}"
        )
    return result
