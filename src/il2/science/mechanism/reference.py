"""The cell-and-tumour model integrated with scipy, patient by patient: the kernel's reference.

Same arguments, rules and result as `kernel.simulate_population` (see its module docstring),
but each piece between events is integrated by `scipy.integrate.solve_ivp` (LSODA, rtol 1e-10,
atol 1e-12 by default) with a right-hand side written here again, by parameter name, in plain
Python: an independent transcription of the equations in `cells.py`. Extinction of each tumour
compartment is a terminal solver event on x = 0 (z = 0). Slow (a Python RHS); for tests and
benchmarks only. Time is in days.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.integrate import solve_ivp  # type: ignore[import-untyped]

from il2.science.mechanism.cells import EXTINCT_X, PARAMETERS, STATES
from il2.science.mechanism.kernel import Trajectories, empty_result, validate

_X = STATES.index("x")
_L = STATES.index("L")
_A = STATES.index("A")
_Z = STATES.index("z")


def _derivative(
    q: Mapping[str, float], u: NDArray[np.float64]
) -> Callable[[float, NDArray[np.float64]], list[float]]:
    """dy/dt (per day) of the model for parameters `q` (by name) and signals `u`."""
    u_cd8, u_nk, u_treg, u_endo = (float(v) for v in u)

    def f(_t: float, y: NDArray[np.float64]) -> list[float]:
        e, nk, treg, x, leak, boost, z = (float(v) for v in y)
        accessible = 0.0 if x <= EXTINCT_X else math.exp(x)
        excluded = 0.0 if z <= EXTINCT_X else math.exp(z)
        tumour = accessible + excluded
        d_e = (
            q["s_E"]
            + q["c"] * (1 + boost) * tumour / (q["h_T"] + tumour)
            + q["p_E"] * u_cd8 * e
            - q["d_E"] * e
            - q["k_sup"] * treg / (treg + q["K_R"]) * e
        )
        d_n = q["s_N"] + q["p_N"] * u_nk * nk - q["d_N"] * nk
        d_r = q["s_R"] + q["p_R"] * u_treg * treg - q["d_R"] * treg
        killing = (q["k_E"] * e + q["k_N"] * nk) / (q["g"] + tumour)
        killing /= 1 + treg / (q["q"] * e)
        logistic = q["r"] * (1 - tumour / q["K"])
        d_x = 0.0 if x <= EXTINCT_X else logistic - killing
        d_z = 0.0 if z <= EXTINCT_X else logistic - q["phi"] * killing
        d_l = q["k_L"] * (u_nk * nk / q["N_0"] + q["w_a"] * u_endo) - q["k_Lr"] * leak
        d_a = -boost / q["tau_RT"]
        return [d_e, d_n, d_r, d_x, d_l, d_a, d_z]

    return f


def _accessible_gone(_t: float, y: NDArray[np.float64]) -> float:
    return float(y[_X])


def _excluded_gone(_t: float, y: NDArray[np.float64]) -> float:
    return float(y[_Z])


for _event in (_accessible_gone, _excluded_gone):
    _event.terminal = True  # type: ignore[attr-defined]
    _event.direction = -1  # type: ignore[attr-defined]


def _sbrt(q: Mapping[str, float], gy: float) -> float:
    """ln of the surviving tumour share after one fraction of `gy` Gy (linear-quadratic)."""
    survive = math.exp(-(q["alpha"] * gy + q["beta"] * gy**2))
    return math.log(1 - q["f_RT"] + q["f_RT"] * survive) if q["f_RT"] < 1 else math.log(survive)


def simulate_reference(  # noqa: PLR0912, PLR0915, PLR0917 - the kernel's signature and event loop
    params: ArrayLike,
    y0: ArrayLike,
    edges: ArrayLike,
    signals_given: ArrayLike,
    signals_held: ArrayLike,
    hold_above: float,
    rt_days: ArrayLike,
    rt_gy: ArrayLike,
    t_out: ArrayLike,
    rtol: float = 1e-10,
    atol: float = 1e-12,
    method: str = "LSODA",
) -> Trajectories:
    """`simulate_population`'s result computed with scipy `solve_ivp` (`method`), one patient
    and one piece between events at a time. `steps` counts the solver's steps."""
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
    edge_list = [float(v) for v in inputs.edges]
    outs = [float(v) for v in inputs.t_out]
    for i in range(inputs.params.shape[0]):
        q = {name: float(v) for name, v in zip(PARAMETERS, inputs.params[i], strict=True)}
        fractions = [
            (float(day), float(gy))
            for day, gy in zip(inputs.rt_days[i], inputs.rt_gy[i], strict=True)
            if not math.isnan(day)
        ]
        y = inputs.y0[i].copy()
        extinct_day = math.nan
        for c in (_X, _Z):
            if y[c] < 0:
                y[c] = EXTINCT_X
        if y[_X] <= EXTINCT_X and y[_Z] <= EXTINCT_X:
            extinct_day = 0.0
        max_leak = float(y[_L])
        doses = 0
        steps = 0
        u = np.zeros(4)
        t = 0.0
        ke = kr = ko = 0
        while True:
            while kr < len(fractions) and fractions[kr][0] <= t:
                for c in (_X, _Z):
                    if y[c] > EXTINCT_X:
                        y[c] += _sbrt(q, fractions[kr][1])
                        if y[c] < 0:
                            y[c] = EXTINCT_X
                if math.isnan(extinct_day) and y[_X] <= EXTINCT_X and y[_Z] <= EXTINCT_X:
                    extinct_day = t
                y[_A] += q["A_RT"]
                kr += 1
            while ke < len(edge_list) and edge_list[ke] <= t:
                if ke < len(edge_list) - 1:
                    given = inputs.signals_given[i, ke]
                    held = inputs.signals_held[i, ke]
                    is_dose = bool(np.any(given != held))
                    if is_dose and y[_L] > inputs.hold_above:
                        u = held.copy()
                    else:
                        u = given.copy()
                        doses += int(is_dose)
                else:
                    u = np.zeros(4)
                ke += 1
            while ko < len(outs) and outs[ko] <= t:
                result.y[i, ko] = y
                ko += 1
            if ko >= len(outs):
                break
            t_next = min(
                outs[ko],
                edge_list[ke] if ke < len(edge_list) else math.inf,
                fractions[kr][0] if kr < len(fractions) else math.inf,
            )
            f = _derivative(q, u)
            while t < t_next:
                watch = [c for c in (_X, _Z) if y[c] > EXTINCT_X]
                events = [_accessible_gone if c == _X else _excluded_gone for c in watch]
                solution = solve_ivp(
                    f,
                    (t, t_next),
                    y,
                    method=method,
                    rtol=inputs.rtol,
                    atol=inputs.atol,
                    events=events or None,
                )
                if solution.status < 0:
                    raise ArithmeticError(f"patient {i}: {solution.message}")
                steps += solution.t.size - 1
                max_leak = max(max_leak, float(np.max(solution.y[_L])))
                if solution.status == 1:
                    hit = next(j for j, times in enumerate(solution.t_events) if times.size)
                    t = float(solution.t_events[hit][0])
                    y = np.array(solution.y_events[hit][0], dtype=np.float64)
                    y[watch[hit]] = EXTINCT_X
                    for c in watch:
                        if y[c] < 0:
                            y[c] = EXTINCT_X
                    if y[_X] <= EXTINCT_X and y[_Z] <= EXTINCT_X:
                        extinct_day = t
                else:
                    t = t_next
                    y = np.array(solution.y[:, -1], dtype=np.float64)
        result.doses_given[i] = doses
        result.extinct_day[i] = extinct_day
        result.max_leak[i] = max_leak
        result.steps[i] = steps
    return result
