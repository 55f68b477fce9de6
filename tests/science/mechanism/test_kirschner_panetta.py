"""Kirschner & Panetta 1998 (il2.science.mechanism.kirschner_panetta) against its published
results, closed forms and two independent scipy solvers."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from il2.domain.errors import InvalidInputError, RuleTableError
from il2.science.mechanism.kirschner_panetta import (
    KPParameters,
    critical_s1,
    il2_alone_threshold_s2,
    jacobian_linear,
    kp_data,
    kp_parameters,
    parse_kirschner_panetta,
    rhs_linear,
    simulate,
    tumour_free_point,
    with_values,
)


def test_the_data_file_is_the_original_dimensional_set() -> None:
    p = kp_parameters(0.02)
    assert (p.mu2, p.p1, p.g1, p.r2, p.b, p.a, p.g2, p.mu3, p.p2, p.g3) == (
        0.03,
        0.1245,
        2e7,
        0.18,
        1e-9,
        1.0,
        1e5,
        10.0,
        5.0,
        1e3,
    )
    assert (p.s1, p.s2, p.activation, p.extinction_cells) == (0.0, 0.0, "published", 1.0)
    assert kp_data().c_range == (0.0, 0.05)


def test_a_bad_data_file_is_refused_naming_the_field() -> None:
    from importlib import resources  # noqa: PLC0415

    text = resources.files("il2.science").joinpath("data", "kirschner_panetta.toml").read_text()
    with pytest.raises(RuleTableError, match=r"parameters\.g1\.value"):
        parse_kirschner_panetta(text.replace("value = 2e7", "value = -2e7"))
    with pytest.raises(RuleTableError, match="activation"):
        parse_kirschner_panetta(text.replace('activation = "published"', 'activation = "x"'))


def test_bad_input_is_refused_naming_the_field() -> None:
    with pytest.raises(InvalidInputError, match=r"^c: 0\.2 is not allowed; expected .*0\.05"):
        kp_parameters(0.2)
    with pytest.raises(InvalidInputError, match=r"^s1: -1 "):
        kp_parameters(0.02, s1=-1)
    with pytest.raises(InvalidInputError, match=r"^T0: nan "):
        simulate(kp_parameters(0.02), (1.0, math.nan, 1.0), [0.0, 1.0])
    with pytest.raises(InvalidInputError, match=r"^t_days: .*increasing"):
        simulate(kp_parameters(0.02), (1.0, 1.0, 1.0), [1.0, 0.5])


# ------------------------------------------------------------------------------ closed forms


def test_the_critical_adoptive_influx_is_540() -> None:
    assert critical_s1(kp_parameters(0.0)) == pytest.approx(540.0, rel=1e-12)


def test_the_il2_alone_threshold_is_mu3_mu2_g1_over_p1_minus_mu2() -> None:
    p = kp_parameters(0.02)
    assert il2_alone_threshold_s2(p) == pytest.approx(10 * 0.03 * 2e7 / (0.1245 - 0.03))
    assert il2_alone_threshold_s2(p) == pytest.approx(6.349206e7, rel=1e-6)
    quirk = replace(p, activation="biomodels")
    assert il2_alone_threshold_s2(quirk) == pytest.approx(10 * 0.03 * 2e7 / 0.1245)
    il = il2_alone_threshold_s2(p) / p.mu3  # at the threshold, growth balances death
    assert p.p1 * p.activation_of(il) == pytest.approx(p.mu2, rel=1e-12)


@pytest.mark.parametrize(("s1", "stable"), [(500.0, False), (550.0, True)])
def test_the_tumour_free_point_is_stable_only_above_s1_cr(s1: float, *, stable: bool) -> None:
    # arXiv 1806.04752 Case 1 (s1 = 500 < 540: unstable) and Case 2 (s1 = 550: stable).
    p = kp_parameters(0.025, s1=s1)
    point = tumour_free_point(p)
    assert point == pytest.approx((s1 / 0.03, 0.0, 0.0))
    assert point is not None
    jacobian = jacobian_linear(p, point)
    # the analytic Jacobian against central differences of the right-hand side
    numeric = np.empty((3, 3))
    for j, step in enumerate((1e-4 * point[0], 1e-3, 10.0)):  # IL's scale is g1 = 2e7
        up, down = list(point), list(point)
        up[j] += step
        down[j] -= step
        numeric[:, j] = (np.array(rhs_linear(p, up)) - np.array(rhs_linear(p, down))) / (2 * step)
    np.testing.assert_allclose(jacobian, numeric, rtol=1e-6, atol=1e-9)
    eigenvalues = np.linalg.eigvals(jacobian).real
    assert (eigenvalues.max() < 0) == stable
    assert sorted(eigenvalues) == pytest.approx(sorted([0.18 - s1 / 0.03 / 1e5, -0.03, -10.0]))


@pytest.mark.parametrize(("s1", "dies_out"), [(500.0, False), (550.0, True)])
def test_a_small_tumour_dies_out_only_above_s1_cr(s1: float, *, dies_out: bool) -> None:
    # From the tumour-free point with 10 tumour cells added (small T0, the Cases' setting).
    p = kp_parameters(0.025, s1=s1)
    run = simulate(p, (s1 / 0.03, 10.0, 0.0), np.linspace(0.0, 2000.0, 201))
    assert math.isfinite(run.extinct_day) == dies_out
    if dies_out:
        assert run.T[-1] == 0.0
        assert run.E[-1] == pytest.approx(s1 / 0.03, rel=1e-6)
    else:
        assert run.T[-1] > 100 * run.T[0]


@pytest.mark.parametrize("factor", [0.9, 0.99, 1.01, 1.1])
def test_il2_alone_effectors_grow_without_bound_only_above_the_threshold(factor: float) -> None:
    # No tumour (T0 = 0, extinct), s1 = 0, IL at its steady state s2/mu3: then E grows or decays
    # exactly as exp((p1*act(IL) - mu2)*t).
    p = kp_parameters(0.02)
    p = with_values(p, s2=factor * il2_alone_threshold_s2(p))
    il = p.s2 / p.mu3
    rate = p.p1 * p.activation_of(il) - p.mu2
    days = np.linspace(0.0, 2000.0, 21)
    run = simulate(p, (1.0, 0.0, il), days)
    assert run.extinct_day == 0.0
    np.testing.assert_allclose(run.E, np.exp(rate * days), rtol=1e-7)
    assert (run.E[-1] > 1.0) == (factor > 1)
    assert (tumour_free_point(p) is None) == (factor > 1)


# ------------------------------------------------------------------------- the two solvers


def test_lsoda_and_radau_agree() -> None:
    # The contract's example (c = 0.025, 120 days, initial 1, 1, 1) and a treated large tumour.
    cases = [
        (kp_parameters(0.025), (1.0, 1.0, 1.0), 120.0),
        (kp_parameters(0.03, s1=550.0), (1.0, 1e5, 1.0), 300.0),
    ]
    for p, initial, days in cases:
        t = np.linspace(0.0, days, 301)
        lsoda, radau = simulate(p, initial, t), simulate(p, initial, t, method="Radau")
        # relative 1e-6, with an absolute floor of 1e-9 of the peak (IL decays to ~0 once the
        # tumour is gone); measured: ~1e-8 relative on E, <=1.2e-6 on IL, <=6e-8 absolute on ln T
        for ours, theirs in ((lsoda.E, radau.E), (lsoda.IL, radau.IL)):
            np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-9 * np.abs(theirs).max())
        alive = np.isfinite(lsoda.x) & (lsoda.T > 0)
        np.testing.assert_allclose(lsoda.x[alive], radau.x[alive], rtol=0, atol=1e-6)
        if math.isfinite(lsoda.extinct_day):
            assert lsoda.extinct_day == pytest.approx(radau.extinct_day, abs=1e-6)


def test_the_biomodels_curated_sweep_survives_the_deep_troughs() -> None:
    # BIOMD0000000732's SED-ML: c from 5e-5 to 0.035, 10,000 days, T = 1, E = IL = 0. In log T
    # the troughs (down to T ~ exp(-30,000) without the extinction rule) stay finite.
    setup = kp_data().biomodels
    t = np.linspace(0.0, setup.days, setup.outputs)
    deepest = 0.0
    for c in setup.c_values:
        p = kp_parameters(c)
        for extinction in (True, False):
            run = simulate(
                p, setup.initial, t, rtol=setup.rtol, atol=setup.atol, extinction=extinction
            )
            assert np.all(np.isfinite(run.E))
            assert np.all(np.isfinite(run.IL))
            assert np.all(np.isfinite(run.x))
            assert np.all(run.T >= 0)
            if not extinction:
                deepest = min(deepest, float(run.x.min()))
    assert deepest < math.log(1e-300)  # far below what linear T could even represent


# ------------------------------------------------------------------------------ properties


@settings(max_examples=25, deadline=None)
@given(
    c=st.floats(0.0, 0.05),
    s1=st.floats(0.0, 1000.0),
    s2=st.floats(0.0, 1e8),
    e0=st.floats(0.0, 1e5),
    t0=st.floats(0.0, 1e9),
    il0=st.floats(0.0, 1e6),
)
def test_states_stay_non_negative(
    *, c: float, s1: float, s2: float, e0: float, t0: float, il0: float
) -> None:
    p: KPParameters = kp_parameters(c, s1=s1, s2=s2)
    run = simulate(p, (e0, t0, il0), np.linspace(0.0, 200.0, 41), rtol=1e-8, atol=1e-10)
    # non-negative up to the solver's absolute tolerance
    assert run.E.min() >= -1e-8
    assert run.IL.min() >= -1e-8
    assert run.T.min() >= 0.0
    gone = run.T == 0.0
    assert np.all(gone[np.argmax(gone) :]) or not gone.any()  # extinct stays extinct
