"""Receptor occupancy and its interval means: the cell model's inputs (modelling reference, (a)
layer 2).

At equilibrium a cell type's receptor is occupied in the share S = C / (C + Kd), C and Kd in nM,
one Kd per signal (`SIGNALS`: cd8 and nk on the intermediate-affinity beta-gamma receptor, treg
on the high-affinity alpha-beta-gamma receptor, endothelium on IL-2R alpha; `data/pk.toml`).
The cell model, in days, is driven by the mean of S over each interval between `edges`.

S is a smooth function of time except where a dose starts or an infusion ends, so each interval
is cut at those times and every piece is integrated by Gauss-Legendre panels that widen
geometrically from the piece's start: 8 nodes a panel, the first 1e-3 min wide, each next three
times as wide but at most 120 min (~1/beta) for the first 5 days of a piece. The grading matters:
from zero, an infusion raises S over Kd / (dC/dt), a fraction of a second for the
high-affinity receptor, and the fast alpha phase follows every dose.
tests/science/mechanism/test_occupancy.py checks the means against scipy.integrate.quad to 1e-9
(measured: within 2e-11 for bolus, infusion, continuous infusion and SC schedules).

`population_signals` computes the same means for many patients at once, in numba: it carries
each patient's modal amplitudes (alpha and beta parts of the concentration, and the SC depot)
from piece to piece in closed form, so its cost does not grow with the number of doses.

`signal_table` makes trials cheap: with doses per kg a patient's signals depend only on the
clearance and volume factors, so a course's signals are computed once on a grid over
(ln cl_scale, ln v1_scale) and read per patient by tensor-product Lagrange interpolation, 8 points
an axis. The grid is refined until the error at every cell centre is below tolerance / 4 (default
tolerance 1e-6 absolute); patients outside the grid's range are computed exactly. Measured
(benchmarks/trial.py, hd-label, load ~7 on 2 cores): 12 us a patient against 218 us exact, the
table built in 0.8 s once per course and process; largest error over 16,384 drawn patients
8e-8, the same best responses for all of them in six regimens (tests/science/mechanism/
test_occupancy.py checks 1e-6 and the best responses of 2,048 patients).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np
from numba import njit, prange
from numpy.typing import ArrayLike, NDArray

from il2.domain.errors import InvalidInputError
from il2.science.mechanism.pk import (
    SIGNALS,
    AgentPK,
    FloatArray,
    check_doses,
    concentration,
    iu_per_ml_to_nm,
)

__all__ = [
    "SIGNALS",
    "TABLE_ORDER",
    "TABLE_TOLERANCE",
    "SignalTable",
    "interval_signals",
    "occupancy",
    "population_signals",
    "signal_table",
]

MIN_PER_DAY = 1440.0
_NODES = 8
_FIRST_PANEL_MIN = 1e-3
_PANEL_GROWTH = 3.0
_WIDEST_PANEL_MIN = 120.0  # ~1/beta: resolves S crossing a Kd in the beta phase
_CAPPED_FOR_MIN = 7200.0  # 5 days: beyond, any dose's concentration has decayed away
_GL_X, _GL_W = np.polynomial.legendre.leggauss(_NODES)


def occupancy(concentration_nm: ArrayLike, kd_nm: ArrayLike) -> FloatArray:
    """Equilibrium receptor occupancy C / (C + Kd) (both nM); broadcasts, so a trailing axis of
    four Kd gives the four signals."""
    c = np.asarray(concentration_nm, dtype=np.float64)
    kd = np.asarray(kd_nm, dtype=np.float64)
    result: FloatArray = c / (c + kd)
    return result


def _kd(pk: AgentPK, kd_nm: ArrayLike | None) -> FloatArray:
    kd = np.asarray(pk.kd_nm if kd_nm is None else kd_nm, dtype=np.float64)
    if kd.shape != (len(SIGNALS),) or not np.all(np.isfinite(kd)) or np.any(kd <= 0):
        raise InvalidInputError(
            field="kd_nm",
            value=kd.tolist(),
            allowed=f"{len(SIGNALS)} finite Kd above 0 in nM, in the order {', '.join(SIGNALS)}",
        )
    return kd


def _edges(edges: ArrayLike, field: str) -> FloatArray:
    values = np.asarray(edges, dtype=np.float64)
    if (
        values.ndim != 1
        or values.size < 2
        or not np.all(np.isfinite(values))
        or np.any(np.diff(values) <= 0)
    ):
        raise InvalidInputError(
            field=field, value=values.tolist(), allowed="at least 2 increasing finite times"
        )
    return values


@dataclass(frozen=True, slots=True)
class _Pieces:
    """The pieces every interval is cut into, and their quadrature nodes.

    A piece starts at `start` (min), lasts `length` and lies in interval `interval` (-1 before
    the first edge: carried, not integrated). Its nodes are `tau[ptr[j]:ptr[j+1]]` minutes from
    its start, weighted by `weight` (already divided by the interval's length).
    """

    start: FloatArray
    length: FloatArray
    interval: NDArray[np.int64]
    ptr: NDArray[np.int64]
    tau: FloatArray
    weight: FloatArray


def _panel_nodes(length: float) -> tuple[FloatArray, FloatArray]:
    """Gauss-Legendre nodes and weights over [0, length], panels widening from 0."""
    bounds = [0.0]
    width = _FIRST_PANEL_MIN
    while bounds[-1] < length:
        step = width if bounds[-1] >= _CAPPED_FOR_MIN else min(width, _WIDEST_PANEL_MIN)
        bounds.append(min(bounds[-1] + step, length))
        width *= _PANEL_GROWTH
    lows, highs = np.array(bounds[:-1]), np.array(bounds[1:])
    half = 0.5 * (highs - lows)
    tau = (lows + half)[:, None] + half[:, None] * _GL_X[None, :]
    weight = half[:, None] * _GL_W[None, :]
    return tau.ravel(), weight.ravel()


def _pieces(dose_min: FloatArray, infusion_min: FloatArray, edges_min: FloatArray) -> _Pieces:
    first = min(edges_min[0], float(dose_min.min())) if dose_min.size else edges_min[0]
    cuts = np.concatenate([edges_min, dose_min, dose_min + infusion_min])
    cuts = np.unique(cuts[(cuts >= first) & (cuts <= edges_min[-1])])
    start, end = cuts[:-1], cuts[1:]
    interval = np.searchsorted(edges_min, start, side="right") - 1
    span = np.diff(edges_min)
    taus, weights, ptr = [], [], [0]
    for begin, stop, k in zip(start, end, interval, strict=True):
        if k < 0:
            ptr.append(ptr[-1])
            continue
        tau, weight = _panel_nodes(float(stop - begin))
        taus.append(tau)
        weights.append(weight / span[k])
        ptr.append(ptr[-1] + tau.size)
    return _Pieces(
        start=start,
        length=end - start,
        interval=interval.astype(np.int64),
        ptr=np.asarray(ptr, dtype=np.int64),
        tau=np.concatenate(taus) if taus else np.zeros(0),
        weight=np.concatenate(weights) if weights else np.zeros(0),
    )


def interval_signals(  # noqa: PLR0917 - the signature sim-spec fixes
    dose_min: ArrayLike,
    dose_iu: ArrayLike,
    infusion_min: ArrayLike,
    route: str,
    pk: AgentPK,
    weight_kg: float,
    edges_min: ArrayLike,
    kd_nm: ArrayLike | None = None,
    *,
    cl_scale: float = 1.0,
    v1_scale: float = 1.0,
) -> FloatArray:
    """Mean occupancy of each signal over each interval between `edges_min` (minutes):
    an array (K, 4) in `SIGNALS` order, every dose given (see `pk.concentration` for the dose
    arguments). `kd_nm` defaults to the agent's affinities.
    """
    times, amounts, infusion = check_doses(dose_min, dose_iu, infusion_min, route)
    edges = _edges(edges_min, "edges_min")
    kd = _kd(pk, kd_nm)
    pieces = _pieces(times, infusion, edges)
    counts = np.diff(pieces.ptr)
    at = np.repeat(pieces.start, counts) + pieces.tau
    interval = np.repeat(pieces.interval, counts)
    c = concentration(
        at,
        dose_min=times,
        dose_iu=amounts,
        infusion_min=infusion,
        route=route,
        pk=pk,
        weight_kg=weight_kg,
        cl_scale=cl_scale,
        v1_scale=v1_scale,
    )
    signal = occupancy(iu_per_ml_to_nm(c, pk)[:, None], kd[None, :]) * pieces.weight[:, None]
    means = np.zeros((edges.size - 1, len(SIGNALS)))
    np.add.at(means, interval, signal)
    return means


# ------------------------------------------------------------------------------ the population
@njit(cache=True, inline="always")
def _phi(x: float) -> float:  # pragma: no cover - compiled
    """(1 - exp(-x)) / x for x >= 0, 1 at 0."""
    if x > 1e-12:
        return -math.expm1(-x) / x
    return 1.0 - 0.5 * x


@njit(cache=True, inline="always")
def _mode(  # noqa: PLR0917 - compiled: positional arguments only
    amplitude: float,
    rate: float,
    coefficient: float,
    infusion: float,
    ka: float,
    depot: float,
    tau: float,
) -> float:  # pragma: no cover - compiled
    """One mode's concentration tau minutes into a piece that starts at `amplitude`, with an
    infusion of `infusion` IU/min and a depot of `depot` IU absorbed at `ka` (coefficient:
    the mode's share divided by V1)."""
    decay = math.exp(-rate * tau)
    value = amplitude * decay
    if infusion != 0.0:
        # tau * phi(rate tau) = (1 - decay) / rate; the series near 0 avoids cancellation
        x = rate * tau
        gained = tau * (1.0 - 0.5 * x) if x < 1e-8 else (1.0 - decay) / rate
        value += coefficient * infusion * gained
    if depot != 0.0:
        slow = min(rate, ka)
        value += coefficient * ka * depot * tau * math.exp(-slow * tau) * _phi(abs(ka - rate) * tau)
    return value


@njit(parallel=True, cache=True)
def _population_kernel(  # noqa: PLR0915, PLR0917 - one compiled loop
    v1_ml: FloatArray,
    k10: FloatArray,
    dose_scale: FloatArray,
    k12: float,
    k21: float,
    ka: float,
    bioavailability: float,
    nm_per_iu_ml: float,
    kd: FloatArray,
    length: FloatArray,
    interval: NDArray[np.int64],
    impulse_all: FloatArray,
    impulse_other: FloatArray,
    rate_all: FloatArray,
    rate_other: FloatArray,
    has_own: NDArray[np.bool_],
    sc: bool,  # noqa: FBT001 - compiled: positional arguments only
    ptr: NDArray[np.int64],
    tau: FloatArray,
    weight: FloatArray,
    n_intervals: int,
) -> tuple[FloatArray, FloatArray]:  # pragma: no cover - compiled
    n = v1_ml.size
    n_signals = kd.size
    given = np.zeros((n, n_intervals, n_signals))
    held = np.zeros((n, n_intervals, n_signals))
    for i in prange(n):
        total = k10[i] + k12 + k21
        alpha = 0.5 * (total + math.sqrt(total * total - 4.0 * k10[i] * k21))
        beta = k10[i] * k21 / alpha
        share_a = (alpha - k21) / (alpha - beta)
        ca = share_a / v1_ml[i]
        cb = (1.0 - share_a) / v1_ml[i]
        scale = dose_scale[i]
        ma = 0.0
        mb = 0.0
        depot = 0.0
        ha = 0.0
        hb = 0.0
        hdepot = 0.0
        previous = -2
        for j in range(length.size):
            k = interval[j]
            if k != previous:  # a new interval: the held path starts from all earlier doses
                ha, hb, hdepot = ma, mb, depot
                previous = k
            dose_all = impulse_all[j] * scale
            dose_other = impulse_other[j] * scale
            if sc:
                depot += bioavailability * dose_all
                hdepot += bioavailability * dose_other
            else:
                ma += ca * dose_all
                mb += cb * dose_all
                ha += ca * dose_other
                hb += cb * dose_other
            r_all = rate_all[j] * scale
            r_other = rate_other[j] * scale
            own = k >= 0 and has_own[k]  # else the held path is the given one
            if k >= 0:
                for p in range(ptr[j], ptr[j + 1]):
                    t = tau[p]
                    c_all = _mode(ma, alpha, ca, r_all, ka, depot, t)
                    c_all += _mode(mb, beta, cb, r_all, ka, depot, t)
                    c_all *= nm_per_iu_ml
                    c_held = c_all
                    if own:
                        c_held = _mode(ha, alpha, ca, r_other, ka, hdepot, t)
                        c_held += _mode(hb, beta, cb, r_other, ka, hdepot, t)
                        c_held *= nm_per_iu_ml
                    for s in range(n_signals):
                        given[i, k, s] += weight[p] * c_all / (c_all + kd[s])
                        held[i, k, s] += weight[p] * c_held / (c_held + kd[s])
            h = length[j]
            ma, mb = (
                _mode(ma, alpha, ca, r_all, ka, depot, h),
                _mode(mb, beta, cb, r_all, ka, depot, h),
            )
            ha, hb = (
                _mode(ha, alpha, ca, r_other, ka, hdepot, h),
                _mode(hb, beta, cb, r_other, ka, hdepot, h),
            )
            depot *= math.exp(-ka * h)
            hdepot *= math.exp(-ka * h)
    return given, held


def population_signals(
    weight_kg: ArrayLike,
    cl_scale: ArrayLike,
    v1_scale: ArrayLike,
    *,
    dose_min: ArrayLike,
    dose_iu_per_kg: ArrayLike,
    infusion_min: ArrayLike,
    route: str,
    edges_days: ArrayLike,
    pk: AgentPK,
    kd_nm: ArrayLike | None = None,
) -> tuple[FloatArray, FloatArray]:
    """Interval means of occupancy for n patients sharing one dose schedule.

    `weight_kg`, `cl_scale` and `v1_scale` are per patient (n,); the doses start at `dose_min`
    (minutes), are `dose_iu_per_kg` IU/kg each, given over `infusion_min` (0 = bolus) or
    subcutaneously (route "sc"). `edges_days` (K+1,) are the cell model's interval edges in
    days (the same clock as `dose_min` / 1440). A dose belongs to the interval it starts in.

    Returns (signals_given, signals_held), each (n, K, 4) in `SIGNALS` order: the interval mean
    with the interval's own doses given, and with them held (only the doses of earlier
    intervals, all taken as given).

    With doses per kg, weight cancels (V1 scales with it): a patient's signals depend only on
    `cl_scale / v1_scale` (through k10) and `v1_scale` (the concentration scale).
    """
    times, per_kg, infusion = check_doses(dose_min, dose_iu_per_kg, infusion_min, route)
    edges = _edges(edges_days, "edges_days") * MIN_PER_DAY
    kd = _kd(pk, kd_nm)
    weight, cl, v1 = (
        np.atleast_1d(np.asarray(v, dtype=np.float64)) for v in (weight_kg, cl_scale, v1_scale)
    )
    for field, values in (("weight_kg", weight), ("cl_scale", cl), ("v1_scale", v1)):
        if values.shape != weight.shape or not np.all(np.isfinite(values)) or np.any(values <= 0):
            raise InvalidInputError(
                field=field, value=values.tolist(), allowed="one finite number above 0 a patient"
            )
    pieces = _pieces(times, infusion, edges)
    count = pieces.start.size
    own = np.searchsorted(edges, times, side="right") - 1
    impulse_all, impulse_other = np.zeros(count), np.zeros(count)
    rate_all, rate_other = np.zeros(count), np.zeros(count)
    for when, amount, minutes, k in zip(times, per_kg, infusion, own, strict=True):
        first = int(np.searchsorted(pieces.start, when))
        if first >= count or pieces.start[first] != when:
            continue  # after the last edge: outside the simulated span
        if minutes == 0:
            impulse_all[first] += amount
            impulse_other[first] += np.where(pieces.interval[first] == k, 0.0, amount)
            continue
        last = int(np.searchsorted(pieces.start, when + minutes))
        rate_all[first:last] += amount / minutes
        rate_other[first:last] += np.where(pieces.interval[first:last] == k, 0.0, amount / minutes)
    has_own = np.zeros(edges.size - 1, dtype=np.bool_)
    has_own[own[(own >= 0) & (own < edges.size - 1)]] = True
    given, held = _population_kernel(
        pk.v1_ml_per_kg * weight * v1,
        pk.k10_per_min * cl / v1,
        weight,
        pk.k12_per_min,
        pk.k21_per_min,
        pk.sc_ka_per_min,
        pk.sc_bioavailability,
        pk.nm_per_iu_per_ml,
        kd,
        pieces.length,
        pieces.interval,
        impulse_all,
        impulse_other,
        rate_all,
        rate_other,
        has_own,
        route == "sc",
        pieces.ptr,
        pieces.tau,
        pieces.weight,
        edges.size - 1,
    )
    return given, held


# ------------------------------------------------------------------------ the population's table
# With doses per kg a patient's signals depend on two numbers only, the clearance and volume
# factors (weight cancels: see `population_signals`). A course's signals are therefore tabulated
# once on a grid over (ln cl_scale, ln v1_scale) and read per patient by tensor-product Lagrange
# interpolation of `TABLE_ORDER` points an axis.
TABLE_ORDER = 8
"""Points per axis of the interpolation stencil (degree 7 in each of ln cl and ln v1)."""
TABLE_TOLERANCE = 1e-6
"""Default bound on the absolute interpolation error of any interval mean (a share in [0, 1])."""
_SAFETY = 4.0  # the grid is refined until the error at every cell centre is below tolerance / 4
_FIRST_STEP = 0.06  # ln units; measured enough for the supported courses (one check, no refining)
_REFINE = 0.8  # each refinement shrinks the step to 80 % (error ~ step^8: about 6x smaller)
_MOST_NODES = 40_000  # beyond, the table is given up and every patient is computed exactly


@njit(cache=True, inline="always")
def _stencil(u: float, count: int, order: int, out: FloatArray) -> int:  # pragma: no cover
    """First node of the `order`-point stencil around grid coordinate `u` (in steps from node
    0, of `count` nodes) and its Lagrange weights written to `out`."""
    start = math.floor(u) - order // 2 + 1
    start = min(max(start, 0), count - order)
    t = u - start
    for a in range(order):
        w = 1.0
        for b in range(order):
            if b != a:
                w *= (t - b) / (a - b)
        out[a] = w
    return start


@njit(parallel=True, cache=True)
def _interpolate(  # noqa: PLR0917 - compiled: positional arguments only
    table: FloatArray,
    origin_cl: float,
    step_cl: float,
    origin_v1: float,
    step_v1: float,
    order: int,
    log_cl: FloatArray,
    log_v1: FloatArray,
    rows: NDArray[np.int64],
    given: FloatArray,
    held: FloatArray,
) -> None:  # pragma: no cover - compiled
    """Add to the patients `rows` of given and held (n, M) their means read from `table`
    (cl nodes, v1 nodes, 2 M: the given then the held means).

    Patients are visited in the order of their stencil's first node so that neighbours reuse
    the table rows in cache (the table is megabytes; one patient reads order^2 rows of it)."""
    n_cl, n_v1, _ = table.shape
    width = given.shape[1]
    n = rows.size
    first_cl = np.empty(n, dtype=np.int64)
    first_v1 = np.empty(n, dtype=np.int64)
    weights = np.empty((n, 2, order))
    for r in prange(n):
        i = rows[r]
        first_cl[r] = _stencil((log_cl[i] - origin_cl) / step_cl, n_cl, order, weights[r, 0])
        first_v1[r] = _stencil((log_v1[i] - origin_v1) / step_v1, n_v1, order, weights[r, 1])
    visit = np.argsort(first_cl * n_v1 + first_v1, kind="mergesort")
    for q in prange(n):
        r = visit[q]
        i = rows[r]
        for a in range(order):
            for b in range(order):
                w = weights[r, 0, a] * weights[r, 1, b]
                row = table[first_cl[r] + a, first_v1[r] + b]
                for m in range(width):
                    given[i, m] += w * row[m]
                for m in range(width):
                    held[i, m] += w * row[width + m]


@dataclass(frozen=True, slots=True)
class _Axis:
    """Grid nodes origin + step * j (j = 0..count-1) in ln units; the table is valid over
    [ln low, ln high], which the nodes overrun by order/2 - 1 steps on each side so every patient
    in range has a centred stencil."""

    low: float
    high: float
    origin: float
    step: float
    count: int
    cells: int

    @classmethod
    def over(cls, low: float, high: float, step: float) -> _Axis:
        """An axis over [ln low, ln high] with a step of at most `step`."""
        lo, hi = math.log(low), math.log(high)
        cells = max(1, math.ceil((hi - lo) / step))
        exact = (hi - lo) / cells
        margin = TABLE_ORDER // 2 - 1
        return cls(low, high, lo - margin * exact, exact, cells + 2 * margin + 1, cells)

    def nodes(self) -> FloatArray:
        """The nodes, ln units."""
        nodes: FloatArray = self.origin + self.step * np.arange(self.count, dtype=np.float64)
        return nodes

    def centres(self) -> FloatArray:
        """The centres of the cells within [ln low, ln high], ln units."""
        margin = TABLE_ORDER // 2 - 1
        centres: FloatArray = self.origin + self.step * (
            margin + 0.5 + np.arange(self.cells, dtype=np.float64)
        )
        return centres


@dataclass(frozen=True, slots=True, eq=False)
class SignalTable:
    """A course's interval signals tabulated over the clearance and volume factors.

    `values` is (cl nodes, v1 nodes, 2 K 4): the given then the held means; `max_error` is the
    largest absolute difference from `population_signals` found at the centres of the grid's
    cells (where a centred Lagrange stencil errs most); the grid was refined until it was below
    `tolerance` / 4. `usable` is False when that needed more than 40,000 nodes: then every
    patient is computed exactly.
    """

    schedule: Mapping[str, Any] = dataclasses.field(repr=False)
    cl: _Axis
    v1: _Axis
    values: FloatArray = dataclasses.field(repr=False)
    intervals: int
    tolerance: float
    max_error: float
    usable: bool

    def inside(self, cl_scale: FloatArray, v1_scale: FloatArray) -> NDArray[np.bool_]:
        """Which patients the table covers (the others are computed exactly)."""
        covered: NDArray[np.bool_] = (
            (cl_scale >= self.cl.low)
            & (cl_scale <= self.cl.high)
            & (v1_scale >= self.v1.low)
            & (v1_scale <= self.v1.high)
        )
        if not self.usable:
            covered[:] = False
        return covered

    def signals(
        self, weight_kg: ArrayLike, cl_scale: ArrayLike, v1_scale: ArrayLike
    ) -> tuple[FloatArray, FloatArray]:
        """(signals_given, signals_held), each (n, K, 4), as `population_signals` gives them for
        these patients: interpolated inside the table's range (absolute error below
        `tolerance`, clipped to [0, 1]), computed exactly outside it."""
        weight, cl, v1 = _patients(weight_kg, cl_scale, v1_scale)
        n = weight.size
        width = self.intervals * len(SIGNALS)
        given = np.zeros((n, width))
        held = np.zeros((n, width))
        covered = self.inside(cl, v1)
        rows = np.flatnonzero(covered).astype(np.int64)
        if rows.size:
            _interpolate(
                self.values, self.cl.origin, self.cl.step, self.v1.origin, self.v1.step,
                TABLE_ORDER, np.log(cl), np.log(v1), rows, given, held,
            )  # fmt: skip
            # a share is in [0, 1]: clipping a mean read near 0 or 1 only brings it closer
            np.clip(given, 0.0, 1.0, out=given)
            np.clip(held, 0.0, 1.0, out=held)
        outside = np.flatnonzero(~covered)
        if outside.size:
            exact_given, exact_held = population_signals(
                weight[outside], cl[outside], v1[outside], **self.schedule
            )
            given[outside] = exact_given.reshape(outside.size, width)
            held[outside] = exact_held.reshape(outside.size, width)
        shape = (n, self.intervals, len(SIGNALS))
        return given.reshape(shape), held.reshape(shape)


def _patients(
    weight_kg: ArrayLike, cl_scale: ArrayLike, v1_scale: ArrayLike
) -> tuple[FloatArray, FloatArray, FloatArray]:
    weight, cl, v1 = (
        np.atleast_1d(np.asarray(v, dtype=np.float64)) for v in (weight_kg, cl_scale, v1_scale)
    )
    for name, values in (("weight_kg", weight), ("cl_scale", cl), ("v1_scale", v1)):
        if values.shape != weight.shape or not np.all(np.isfinite(values)) or np.any(values <= 0):
            raise InvalidInputError(
                field=name, value=values.tolist(), allowed="one finite number above 0 a patient"
            )
    return weight, cl, v1


def _range(values: tuple[float, float], name: str) -> tuple[float, float]:
    low, high = (float(v) for v in values)
    if not (math.isfinite(low) and math.isfinite(high) and 0 < low < high):
        raise InvalidInputError(
            field=name, value=[low, high], allowed="(low, high) with 0 < low < high, finite"
        )
    return low, high


def _build(
    schedule: Mapping[str, Any],
    cl_range: tuple[float, float],
    v1_range: tuple[float, float],
    tolerance: float,
) -> SignalTable:
    step = _FIRST_STEP
    intervals = int(np.asarray(schedule["edges_days"]).size) - 1
    while True:
        cl = _Axis.over(*cl_range, step)
        v1 = _Axis.over(*v1_range, step)
        if cl.count * v1.count > _MOST_NODES:
            return SignalTable(
                schedule,
                cl,
                v1,
                np.zeros((0, 0, 0)),
                intervals,
                tolerance,
                math.inf,
                usable=False,
            )
        grid_cl, grid_v1 = np.meshgrid(np.exp(cl.nodes()), np.exp(v1.nodes()), indexing="ij")
        given, held = population_signals(
            np.ones(grid_cl.size), grid_cl.ravel(), grid_v1.ravel(), **schedule
        )
        shape = (cl.count, v1.count, intervals * len(SIGNALS))
        values = np.concatenate([given.reshape(shape), held.reshape(shape)], axis=2)
        table = SignalTable(schedule, cl, v1, values, intervals, tolerance, math.inf, usable=True)
        mid_cl, mid_v1 = np.meshgrid(np.exp(cl.centres()), np.exp(v1.centres()), indexing="ij")
        probe = (np.ones(mid_cl.size), mid_cl.ravel(), mid_v1.ravel())
        exact = population_signals(*probe, **schedule)
        read = table.signals(*probe)
        error = max(float(np.abs(read[j] - exact[j]).max(initial=0.0)) for j in (0, 1))
        if error <= tolerance / _SAFETY:
            return SignalTable(schedule, cl, v1, values, intervals, tolerance, error, usable=True)
        step *= _REFINE


_TABLES: dict[tuple[Any, ...], SignalTable] = {}
_MOST_TABLES = 32


def signal_table(
    *,
    dose_min: ArrayLike,
    dose_iu_per_kg: ArrayLike,
    infusion_min: ArrayLike,
    route: str,
    edges_days: ArrayLike,
    pk: AgentPK,
    cl_range: tuple[float, float],
    v1_range: tuple[float, float],
    kd_nm: ArrayLike | None = None,
    tolerance: float = TABLE_TOLERANCE,
) -> SignalTable:
    """The signals of one dose schedule (the arguments of `population_signals`) tabulated for
    clearance factors in `cl_range` and volume factors in `v1_range` (both (low, high)), with an
    absolute interpolation error below `tolerance` on every interval mean.

    Built once per schedule and process (kept for later calls with the same arguments): a grid
    uniform in ln cl_scale and ln v1_scale, first with steps of at most 0.06, refined until the
    interpolation differs from `population_signals` by at most tolerance / 4 at every cell
    centre (the worst place of a centred stencil, so the bound holds between the checks with
    a margin).
    """
    times, per_kg, infusion = check_doses(dose_min, dose_iu_per_kg, infusion_min, route)
    edges = _edges(edges_days, "edges_days")
    kd = _kd(pk, kd_nm)
    cl = _range(cl_range, "cl_range")
    v1 = _range(v1_range, "v1_range")
    if not (math.isfinite(tolerance) and tolerance > 0):
        raise InvalidInputError(field="tolerance", value=tolerance, allowed="a number above 0")
    key = (
        route, times.tobytes(), per_kg.tobytes(), infusion.tobytes(), edges.tobytes(), pk,
        kd.tobytes(), cl, v1, tolerance,
    )  # fmt: skip
    found = _TABLES.get(key)
    if found is None:
        schedule = MappingProxyType({
            "dose_min": times, "dose_iu_per_kg": per_kg, "infusion_min": infusion,
            "route": route, "edges_days": edges, "pk": pk, "kd_nm": kd,
        })  # fmt: skip
        found = _build(schedule, cl, v1, tolerance)
        if len(_TABLES) >= _MOST_TABLES:
            _TABLES.pop(next(iter(_TABLES)))
        _TABLES[key] = found
    return found
