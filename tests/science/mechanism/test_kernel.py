"""The compiled population kernel against scipy, closed forms and provable properties.

Agreement tolerance with the scipy reference (LSODA, rtol 1e-10, atol 1e-12), the kernel at its
default rtol 1e-6 / atol 1e-9: 1e-3 relative on E, N, R and max_leak; on L and A 1e-3 relative
plus 1e-6 absolute (they decay to 0, where the kernel's atol leaves ~1e-9 noise); 1e-3 absolute
on x and z while the compartment lives; identical doses_given and extinction classification; extinction
days within 2e-4 days (taking the end of the step that fell below x = 0 would be off by up to
6e-4 days in this cohort: the crossing must be located).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from il2.domain.errors import InvalidInputError
from il2.science.mechanism.cells import (
    EXTINCT_X,
    PARAMETERS,
    STATES,
    default_parameters,
    initial_state,
    tumour_cells,
)
from il2.science.mechanism.kernel import Trajectories, simulate_population
from il2.science.mechanism.reference import simulate_reference

PI = {name: index for index, name in enumerate(PARAMETERS)}
X, Z = STATES.index("x"), STATES.index("z")
N = 7  # patients in the cohort
HIGH_DOSE = (0.9, 0.9, 1.0, 0.5)  # synthetic interval means: cd8, nk, treg, endothelium
# Two cycles of 14 q8h intervals (days 0-4.67 and 14-18.67); interval 14 is the gap between them.
EDGES = np.concatenate([np.arange(15) / 3, 14 + np.arange(15) / 3])
GAP = 14
OUT = np.array([0.5, 1.0, 2.0, 14.0, 20.0, 30.0, 60.0, 120.0, 240.0, 365.0])


def signals(n: int, level: tuple[float, ...] = HIGH_DOSE) -> tuple[np.ndarray, np.ndarray]:
    """Given and held (10 % residual) signals for n patients on EDGES; the gap carries no dose."""
    given_ = np.zeros((n, EDGES.size - 1, 4))
    given_[:, :, :] = level
    given_[:, GAP, :] = 0.0
    return given_, 0.1 * given_


def cohort() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Seven patients: default (cured by IL-2), weak immunity (grows), SBRT 2 x 20 Gy on half
    the burden, SBRT on all of a small tumour (extinct at once), a large tumour; then two with
    an immune-excluded compartment: 10% of the burden at 1% of the access (the accessible
    part is cleared, the excluded part shrinks and then regrows: a partial response), and half of a small
    tumour excluded, both compartments cleared by 2 x 20 Gy on the whole burden."""
    p = np.tile(default_parameters(), (N, 1))
    p[1, [PI["c"], PI["p_E"], PI["p_N"]]] = (1e3, 0.5, 0.3)
    p[2, PI["c"]] = 1e4
    p[3, PI["f_RT"]] = 1.0
    p[4, [PI["p_N"], PI["c"]]] = (0.6, 3e4)
    p[5, [PI["rho"], PI["phi"]]] = (0.1, 0.01)
    p[6, [PI["rho"], PI["phi"], PI["f_RT"]]] = (0.5, 0.0, 1.0)
    y0 = initial_state(p, [1e10, 1e10, 1e10, 1e6, 3e10, 1e10, 1e6])
    rt_days = np.full((N, 2), np.nan)
    rt_gy = np.zeros((N, 2))
    rt_days[6], rt_gy[6] = (30.0, 31.0), (20.0, 20.0)
    rt_days[2], rt_gy[2] = (2.0, 1.0), (20.0, 20.0)  # unsorted on purpose
    rt_days[3, 0], rt_gy[3, 0] = 0.5, 20.0  # at an output time
    return p, y0, rt_days, rt_gy


def assert_agree(kernel: Trajectories, reference: Trajectories) -> None:
    assert kernel.doses_given.tolist() == reference.doses_given.tolist()
    np.testing.assert_array_equal(np.isnan(kernel.extinct_day), np.isnan(reference.extinct_day))
    np.testing.assert_allclose(kernel.extinct_day, reference.extinct_day, atol=2e-4)
    np.testing.assert_allclose(kernel.max_leak, reference.max_leak, rtol=1e-3)
    k, r = kernel.y, reference.y
    np.testing.assert_allclose(k[:, :, :3], r[:, :, :3], rtol=1e-3)
    np.testing.assert_allclose(k[:, :, 4:6], r[:, :, 4:6], rtol=1e-3, atol=1e-6)
    for c in (X, Z):
        alive = r[:, :, c] >= 0
        np.testing.assert_array_equal(alive, k[:, :, c] >= 0)
        np.testing.assert_allclose(k[:, :, c][alive], r[:, :, c][alive], atol=1e-3)
        assert np.all(k[:, :, c][~alive] == EXTINCT_X)
        assert np.all(r[:, :, c][~alive] == EXTINCT_X)


@pytest.fixture(scope="module")
def runs() -> dict[float, tuple[Trajectories, Trajectories]]:
    p, y0, rt_days, rt_gy = cohort()
    given_, held = signals(N)
    out = {}
    for hold in (math.inf, 20.0):
        args = (p, y0, EDGES, given_, held, hold, rt_days, rt_gy, OUT)
        out[hold] = (simulate_population(*args), simulate_reference(*args))
    return out


@pytest.mark.parametrize("hold", [math.inf, 20.0])
def test_the_kernel_agrees_with_scipy(
    runs: dict[float, tuple[Trajectories, Trajectories]], hold: float
) -> None:
    assert_agree(*runs[hold])


def test_a_signal_without_nk_agrees_too() -> None:
    """No NK signal: the kernel advances L by its exact solution (endothelial input only)."""
    p, y0, rt_days, rt_gy = cohort()
    given_, held = signals(N, (0.6, 0.0, 0.8, 0.7))
    args = (p, y0, EDGES, given_, held, 0.66, rt_days, rt_gy, OUT)
    kernel, reference = simulate_population(*args), simulate_reference(*args)
    assert_agree(kernel, reference)
    assert 0 < kernel.doses_given.min() < 28  # L = 0.7 * (1 - exp(-t)) passes 0.66 on day 3
    assert kernel.max_leak == pytest.approx(np.full(N, reference.max_leak[0]), rel=1e-6)


def test_the_cohort_covers_what_it_should(
    runs: dict[float, tuple[Trajectories, Trajectories]],
) -> None:
    never, held = runs[math.inf][0], runs[20.0][0]
    assert never.doses_given.tolist() == [28] * N  # the gap is not a dose
    assert held.doses_given.min() < 28
    assert held.doses_given.max() == 28
    assert held.max_leak.max() > 20.0
    extinct = ~np.isnan(never.extinct_day)
    assert extinct.tolist() == [True, False, True, True, False, False, True]
    assert never.extinct_day[3] == 0.5  # the SBRT fraction itself
    # the excluded compartment outlives the accessible one: a partial response
    day30 = list(OUT).index(30.0)
    assert never.y[5, day30, X] == EXTINCT_X
    assert tumour_cells(never.y[5, day30]) < 0.343 * 1e10
    assert never.y[5, -1, Z] > never.y[5, day30, Z] > 0
    assert never.extinct_day[6] == 30.0  # the excluded half goes with the first fraction
    # the weak patient grows; the one whose doses were held keeps a tumour it lost without holds
    assert never.y[1, -1, 3] > never.y[1, 0, 3]
    assert np.isnan(held.extinct_day[0])


def test_a_zero_signal_homeostasis_stays_put() -> None:
    p = np.tile(default_parameters(), (3, 1))
    p[1] *= 2.0
    p[2, PI["k_sup"]] = 0.0
    p[:, PI["f_RT"]] = 0.5
    y0 = initial_state(p, 0.0)
    given_, held = signals(3, (0.0, 0.0, 0.0, 0.0))
    result = simulate_population(
        p, y0, EDGES, given_, held, math.inf, np.zeros((3, 0)), np.zeros((3, 0)), OUT
    )
    np.testing.assert_allclose(
        result.y, np.repeat(y0[:, None, :], OUT.size, axis=1), rtol=1e-9, atol=1e-12
    )
    assert result.doses_given.tolist() == [0, 0, 0]


@pytest.mark.parametrize(
    ("r", "k_cap", "t0"), [(0.012, 1e12, 1e9), (0.02, 1e11, 5e10), (0.005, 1e12, 1.0)]
)
def test_a_tumour_without_immune_kill_grows_logistically(r: float, k_cap: float, t0: float) -> None:
    p = default_parameters()
    p[[PI["k_E"], PI["k_N"], PI["r"], PI["K"]]] = (0.0, 0.0, r, k_cap)
    y0 = initial_state(p, t0)[None, :]
    given_, held = signals(1)
    t = np.linspace(10, 700, 12)
    result = simulate_population(
        p[None, :],
        y0,
        EDGES,
        given_,
        held,
        math.inf,
        np.zeros((1, 0)),
        np.zeros((1, 0)),
        t,
        rtol=1e-9,
        atol=1e-12,
    )
    logistic = np.log(k_cap * t0 * np.exp(r * t) / (k_cap + t0 * np.expm1(r * t)))
    np.testing.assert_allclose(result.y[0, :, 3], logistic, atol=1e-7)


def test_holding_every_dose_is_giving_the_residual() -> None:
    p, y0, rt_days, rt_gy = cohort()
    given_, held = signals(N)
    all_held = simulate_population(p, y0, EDGES, given_, held, -1.0, rt_days, rt_gy, OUT)
    as_given = simulate_population(p, y0, EDGES, held, held, math.inf, rt_days, rt_gy, OUT)
    assert all_held.doses_given.tolist() == [0] * N
    np.testing.assert_array_equal(all_held.y, as_given.y)


def test_no_patients_and_no_outputs() -> None:
    p, y0, rt_days, rt_gy = cohort()
    given_, held = signals(N)
    none = simulate_population(
        p[:0], y0[:0], EDGES, given_[:0], held[:0], math.inf, rt_days[:0], rt_gy[:0], OUT
    )
    assert none.y.shape == (0, OUT.size, 7)
    assert none.steps.shape == (0,)
    quiet = simulate_population(p, y0, EDGES, given_, held, math.inf, rt_days, rt_gy, np.zeros(0))
    assert quiet.y.shape == (N, 0, 7)
    assert quiet.doses_given.tolist() == [0] * N
    assert quiet.steps.tolist() == [0] * N
    np.testing.assert_array_equal(quiet.max_leak, y0[:, 4])
    reference = simulate_reference(
        p, y0, EDGES, given_, held, math.inf, rt_days, rt_gy, np.zeros(0)
    )
    assert reference.y.shape == (N, 0, 7)


def _bad(**change: object) -> dict[str, object]:
    p, y0, rt_days, rt_gy = cohort()
    given_, held = signals(N)
    args: dict[str, object] = {
        "params": p, "y0": y0, "edges": EDGES, "signals_given": given_, "signals_held": held,
        "hold_above": math.inf, "rt_days": rt_days, "rt_gy": rt_gy, "t_out": OUT,
    }  # fmt: skip
    args.update(change)
    return args


def _with(array: np.ndarray, index: tuple[int, ...], value: float) -> np.ndarray:
    copy = np.array(array, dtype=float)
    copy[index] = value
    return copy


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"params": np.ones((5, 3))}, "params"),
        ({"params": _with(cohort()[0], (1, PI["g"]), 0.0)}, "params[1, g]"),
        ({"params": _with(cohort()[0], (2, 0), math.nan)}, "params[2, 0]"),
        ({"params": _with(cohort()[0], (1, PI["rho"]), 1.5)}, "params[1, rho]"),
        ({"params": _with(cohort()[0], (3, PI["phi"]), -0.1)}, "params[3, phi]"),
        ({"y0": np.ones((4, 6))}, "y0"),
        ({"y0": _with(cohort()[1], (0, 0), -1.0)}, "y0[0, E]"),
        ({"y0": np.ones((N, 6))}, "y0"),
        ({"edges": np.array([0.0, 1.0, 1.0])}, "edges[2]"),
        ({"edges": np.array([-1.0, 1.0])}, "edges[0]"),
        ({"signals_given": np.zeros((5, 3, 4))}, "signals_given"),
        ({"signals_held": _with(signals(N)[1], (0, 0, 0), 1.5)}, "signals_held[0, 0, 0]"),
        ({"hold_above": math.nan}, "hold_above"),
        ({"rt_days": _with(cohort()[2], (0, 0), -2.0)}, "rt_days[0, 0]"),
        ({"rt_gy": np.zeros((5, 3))}, "rt_gy"),
        ({"rt_gy": _with(cohort()[3], (2, 0), math.inf)}, "rt_gy[2, 0]"),
        ({"t_out": np.array([1.0, 0.5])}, "t_out[1]"),
        ({"t_out": np.array([[1.0]])}, "t_out"),
        ({"rtol": 0.0}, "rtol"),
    ],
)
def test_bad_input_is_refused_naming_the_argument(change: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        simulate_population(**_bad(**change))  # type: ignore[arg-type]
    assert caught.value.field == field


@st.composite
def patients(draw: st.DrawFn) -> tuple[np.ndarray, ...]:
    """Three patients with parameters scaled 0.3-3x (shares at most 1), random signals, T0,
    excluded share rho and SBRT."""
    n = 3
    factors = draw(
        st.lists(st.floats(0.3, 3.0), min_size=n * len(PARAMETERS), max_size=n * len(PARAMETERS))
    )
    p = default_parameters() * np.array(factors).reshape(n, len(PARAMETERS))
    for name in ("f_RT", "phi"):
        p[:, PI[name]] = np.minimum(p[:, PI[name]], 1.0)
    p[:, PI["rho"]] = draw(st.lists(st.floats(0.0, 1.0), min_size=n, max_size=n))
    t0 = np.exp(draw(st.lists(st.floats(math.log(1e6), math.log(1e11)), min_size=n, max_size=n)))
    level = draw(st.lists(st.floats(0.0, 1.0), min_size=4, max_size=4))
    given_, held = signals(n, tuple(level))
    rt_days = np.array(
        draw(
            st.lists(
                st.one_of(st.just(math.nan), st.floats(0.0, 30.0)), min_size=n * 2, max_size=n * 2
            )
        )
    ).reshape(n, 2)
    rt_gy = np.full((n, 2), 20.0)
    return p, initial_state(p, t0), given_, held, rt_days, rt_gy


@settings(max_examples=15, deadline=None)
@given(patients(), st.sampled_from([math.inf, 2.0, 0.5]))
def test_states_stay_in_their_domains(case: tuple[np.ndarray, ...], hold: float) -> None:
    p, y0, given_, held, rt_days, rt_gy = case
    result = simulate_population(p, y0, EDGES, given_, held, hold, rt_days, rt_gy, OUT)
    assert np.all(result.y[:, :, :3] > 0)  # cells
    assert np.all(result.y[:, :, 4] >= -1e-8)  # leak (to the solver's atol)
    assert np.all(result.y[:, :, 5] >= -1e-8)  # radiation boost
    assert np.all((result.doses_given >= 0) & (result.doses_given <= EDGES.size - 2))
    assert np.all(result.max_leak >= result.y[:, :, 4].max(axis=1) - 1e-9)
    for c in (X, Z):
        x = result.y[:, :, c]
        assert np.all((x >= 0) | (x == EXTINCT_X))
        once_gone = np.maximum.accumulate(x == EXTINCT_X, axis=1)
        assert np.all(x[once_gone] == EXTINCT_X)  # extinction is for good
    both = (result.y[:, -1, X] == EXTINCT_X) & (result.y[:, -1, Z] == EXTINCT_X)
    np.testing.assert_array_equal(both, ~np.isnan(result.extinct_day))


@settings(max_examples=15, deadline=None)
@given(patients(), st.floats(1.05, 10.0), st.sampled_from([math.inf, 2.0]))
def test_more_kill_never_leaves_a_larger_tumour(
    case: tuple[np.ndarray, ...], more: float, hold: float
) -> None:
    """Without recruitment (c = 0) E, N, R and L do not depend on x, so dx/dt = F(t, x) -
    k_E*G(t, x) with G > 0: by the comparison principle x falls with k_E (SBRT shifts both by
    the same amount, extinction only lowers x). Likewise a larger T0 never gives a smaller one.
    One compartment (rho = 0): two compete through T, which the principle does not cover."""
    p, y0, given_, held, rt_days, rt_gy = case
    p[:, PI["c"]] = 0.0
    p[:, PI["rho"]] = 0.0
    y0 = initial_state(p, tumour_cells(y0))
    strong = p.copy()
    strong[:, PI["k_E"]] *= more
    args = (EDGES, given_, held, hold, rt_days, rt_gy, OUT)
    tight = {"rtol": 1e-8, "atol": 1e-10}
    base = simulate_population(p, y0, *args, **tight)
    killed = simulate_population(strong, y0, *args, **tight)
    assert np.all(killed.y[:, :, 3] <= base.y[:, :, 3] + 1e-6)
    assert killed.doses_given.tolist() == base.doses_given.tolist()
    bigger = y0.copy()
    bigger[:, 3] = np.where(y0[:, 3] >= 0, y0[:, 3] + math.log(more), y0[:, 3])
    grown = simulate_population(p, bigger, *args, **tight)
    assert np.all(grown.y[:, :, 3] >= base.y[:, :, 3] - 1e-6)


def test_two_compartments_without_kill_grow_logistically_together() -> None:
    """Both compartments grow at r*(1 - T/K): the total is the logistic, the split is kept."""
    r, k_cap, t0, rho = 0.02, 1e11, 5e9, 0.3
    p = default_parameters()
    p[[PI["k_E"], PI["k_N"], PI["r"], PI["K"], PI["rho"]]] = (0.0, 0.0, r, k_cap, rho)
    given_, held = signals(1)
    t = np.linspace(10, 700, 12)
    result = simulate_population(
        p[None, :], initial_state(p, t0)[None, :], EDGES, given_, held, math.inf,
        np.zeros((1, 0)), np.zeros((1, 0)), t, rtol=1e-9, atol=1e-12,
    )  # fmt: skip
    logistic = k_cap * t0 * np.exp(r * t) / (k_cap + t0 * np.expm1(r * t))
    np.testing.assert_allclose(tumour_cells(result.y[0]), logistic, rtol=1e-7)
    np.testing.assert_allclose(result.y[0, :, Z] - result.y[0, :, X], math.log(rho / (1 - rho)))


def test_all_excluded_with_full_access_is_the_one_compartment_model() -> None:
    """rho = 1 and phi = 1 put the whole tumour in z under x's equation: z then follows what x
    follows with rho = 0 (and the other states too), SBRT and extinction included."""
    p, _, rt_days, rt_gy = cohort()
    p[:, PI["rho"]] = 0.0
    swapped = p.copy()
    swapped[:, [PI["rho"], PI["phi"]]] = (1.0, 1.0)
    t0 = [1e10, 1e10, 1e10, 1e6, 3e10, 1e10, 1e6]
    given_, held = signals(N)
    tight = {"rtol": 1e-10, "atol": 1e-12}
    args = (EDGES, given_, held, math.inf, rt_days, rt_gy, OUT)
    one = simulate_population(p, initial_state(p, t0), *args, **tight)
    other = simulate_population(swapped, initial_state(swapped, t0), *args, **tight)
    assert np.all(one.y[:, :, Z] == EXTINCT_X)
    assert np.all(other.y[:, :, X] == EXTINCT_X)
    np.testing.assert_allclose(other.y[:, :, Z], one.y[:, :, X], atol=1e-6)
    np.testing.assert_allclose(other.y[:, :, :3], one.y[:, :, :3], rtol=1e-6)
    np.testing.assert_allclose(other.extinct_day, one.extinct_day, atol=1e-6)
