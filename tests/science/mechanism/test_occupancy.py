"""Receptor occupancy and its interval means: checked against scipy's adaptive quadrature, and
the compiled population version against the numpy one."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import quad

from il2.domain.errors import InvalidInputError
from il2.science.mechanism.occupancy import (
    SIGNALS,
    interval_signals,
    occupancy,
    population_signals,
)
from il2.science.mechanism.pk import agent_pk, concentration, iu_per_ml_to_nm

PK = agent_pk()
QUAD_TOLERANCE = 1e-9  # absolute, on interval means of occupancy (a share in [0, 1])


def test_occupancy_is_half_at_the_dissociation_constant() -> None:
    kd = np.array(PK.kd_nm)
    np.testing.assert_allclose(occupancy(kd, kd), 0.5)
    np.testing.assert_allclose(occupancy(0.0, kd), 0.0)
    assert SIGNALS == ("cd8", "nk", "treg", "endothelium")


def _quad_means(
    *,
    dose_min: np.ndarray,
    dose_iu: np.ndarray,
    minutes: float,
    route: str,
    edges: np.ndarray,
    weight_kg: float,
) -> np.ndarray:
    """Interval means by scipy's adaptive quadrature, cut at every dose start and infusion end
    and graded towards each cut (an independent computation of the same integral)."""
    means = np.zeros((edges.size - 1, len(SIGNALS)))
    cuts = np.concatenate([dose_min, dose_min + minutes])
    for k, (low, high) in enumerate(itertools.pairwise(edges)):
        bounds = [low, *sorted({c for c in cuts if low < c < high}), high]
        for s, kd in enumerate(PK.kd_nm):

            def share(t: float, kd: float = kd) -> float:
                c = concentration(
                    t,
                    dose_min=dose_min,
                    dose_iu=dose_iu,
                    infusion_min=minutes,
                    route=route,
                    pk=PK,
                    weight_kg=weight_kg,
                )
                nm = float(iu_per_ml_to_nm(c, PK))
                return nm / (nm + kd)

            total = 0.0
            for a, b in itertools.pairwise(bounds):
                graded = [a + 1e-6 * 10**j for j in range(12) if a + 1e-6 * 10**j < b]
                value, _ = quad(
                    share, a, b, points=graded or None, epsabs=1e-14, epsrel=1e-13, limit=1000
                )
                total += value
            means[k, s] = total / (high - low)
    return means


@pytest.mark.parametrize(
    ("per_kg", "minutes", "route", "gap"),
    [
        (600_000.0, 15.0, "iv", 480.0),
        (72_000.0, 0.0, "iv", 480.0),
        (250_000.0, 0.0, "sc", 1440.0),
        (18e6 / 1.8 * 1.8 / 70, 1440.0, "iv", 1440.0),
    ],
    ids=["high-dose 15-min", "low-dose bolus", "subcutaneous", "continuous infusion"],
)
def test_interval_means_agree_with_scipy_quad(
    per_kg: float, minutes: float, route: str, gap: float
) -> None:
    weight = 70.0
    dose_min = np.arange(3) * gap
    dose_iu = np.full(3, per_kg * weight)
    # edges: an interval before the first dose, one per dose (one of them split), a long tail
    edges = np.array([-60.0, 0.0, gap, 1.5 * gap, 2 * gap, 3 * gap, 6 * gap])
    ours = interval_signals(dose_min, dose_iu, minutes, route, PK, weight, edges)
    reference = _quad_means(
        dose_min=dose_min,
        dose_iu=dose_iu,
        minutes=minutes,
        route=route,
        edges=edges,
        weight_kg=weight,
    )
    np.testing.assert_allclose(ours, reference, rtol=0, atol=QUAD_TOLERANCE)
    assert np.all(ours[0] == 0)  # before the first dose


def _held(
    *,
    k: int,
    dose_min: np.ndarray,
    per_kg: np.ndarray,
    minutes: float,
    route: str,
    edges_min: np.ndarray,
    weight: float,
    cl: float,
    v1: float,
) -> np.ndarray:
    own = (dose_min >= edges_min[k]) & (dose_min < edges_min[k + 1])
    return interval_signals(
        dose_min[~own],
        per_kg[~own] * weight,
        minutes,
        route,
        PK,
        weight,
        edges_min,
        cl_scale=cl,
        v1_scale=v1,
    )[k]


@pytest.mark.parametrize(
    ("minutes", "route"),
    [(15.0, "iv"), (0.0, "iv"), (0.0, "sc"), (1440.0, "iv")],
    ids=["15-min", "bolus", "subcutaneous", "24-h infusion"],
)
def test_the_compiled_population_equals_the_numpy_version(minutes: float, route: str) -> None:
    # doses every 8 h from day -0.5 (one before the first edge), one past the last edge
    dose_min = np.arange(-720.0, 8000.0, 480.0 if minutes < 1440 else 1440.0)
    per_kg = np.linspace(6e5, 3e5, dose_min.size)
    edges_days = np.array([0.0, 1 / 3, 2 / 3, 1.0, 1.2, 2.5, 4.0, 5.0])
    edges_min = edges_days * 1440.0
    weight = np.array([48.0, 70.0, 121.5])
    cl = np.array([0.6, 1.0, 1.7])
    v1 = np.array([1.3, 1.0, 0.8])
    given_, held = population_signals(
        weight,
        cl,
        v1,
        dose_min=dose_min,
        dose_iu_per_kg=per_kg,
        infusion_min=minutes,
        route=route,
        edges_days=edges_days,
        pk=PK,
    )
    assert given_.shape == held.shape == (3, edges_days.size - 1, 4)
    for i in range(3):
        numpy_given = interval_signals(
            dose_min,
            per_kg * weight[i],
            minutes,
            route,
            PK,
            weight[i],
            edges_min,
            cl_scale=cl[i],
            v1_scale=v1[i],
        )
        np.testing.assert_allclose(given_[i], numpy_given, rtol=1e-10, atol=1e-13)
        for k in range(edges_days.size - 1):
            expected = _held(
                k=k,
                dose_min=dose_min,
                per_kg=per_kg,
                minutes=minutes,
                route=route,
                edges_min=edges_min,
                weight=weight[i],
                cl=cl[i],
                v1=v1[i],
            )
            # the numpy version without the held doses lacks their cuts: other nodes, so the
            # two agree to the quadrature's accuracy, not to rounding
            np.testing.assert_allclose(held[i, k], expected, rtol=0, atol=QUAD_TOLERANCE / 10)
    assert np.all(held <= given_ + 1e-15)  # holding a dose never raises the signal


def test_an_interval_without_a_dose_has_the_same_signal_held_or_given() -> None:
    given_, held = population_signals(
        [70.0],
        [1.0],
        [1.0],
        dose_min=[0.0],
        dose_iu_per_kg=[6e5],
        infusion_min=15.0,
        route="iv",
        edges_days=[0.0, 1 / 3, 2 / 3],
        pk=PK,
    )
    np.testing.assert_array_equal(given_[0, 1], held[0, 1])
    assert np.all(held[0, 0] == 0)
    # high dose: the high-affinity Treg receptor is nearly saturated, the alpha-only endothelium
    # is not (peak ~42 nM against Kd 10 nM)
    treg, endothelium = given_[0, 0, 2], given_[0, 0, 3]
    assert treg > 0.9 > endothelium > 0


@settings(max_examples=25, deadline=None)
@given(
    per_kg=st.floats(1e3, 1e6),
    more=st.floats(1.01, 10),
    minutes=st.sampled_from([0.0, 15.0]),
    route=st.sampled_from(["iv", "sc"]),
)
def test_means_are_shares_and_grow_with_the_dose(
    per_kg: float, more: float, minutes: float, route: str
) -> None:
    minutes = 0.0 if route == "sc" else minutes
    dose_min = np.array([0.0, 480.0, 960.0])
    edges = np.array([0.0, 480.0, 960.0, 1440.0, 3000.0])
    low = interval_signals(dose_min, np.full(3, per_kg * 70), minutes, route, PK, 70.0, edges)
    high = interval_signals(
        dose_min, np.full(3, per_kg * 70 * more), minutes, route, PK, 70.0, edges
    )
    assert np.all((low >= 0) & (low <= 1))
    assert np.all(high >= low)


def test_bad_inputs_are_refused_naming_the_field() -> None:
    with pytest.raises(InvalidInputError) as error:
        interval_signals([0.0], [1e6], 0.0, "iv", PK, 70.0, [0.0, 10.0, 5.0])
    assert error.value.field == "edges_min"
    with pytest.raises(InvalidInputError) as error:
        interval_signals([0.0], [1e6], 0.0, "iv", PK, 70.0, [0.0, 10.0], kd_nm=[1.0, 2.0])
    assert error.value.field == "kd_nm"
    with pytest.raises(InvalidInputError) as error:
        population_signals(
            [70.0, 80.0],
            [1.0],
            [1.0],
            dose_min=[0.0],
            dose_iu_per_kg=[1.0],
            infusion_min=0.0,
            route="iv",
            edges_days=[0.0, 1.0],
            pk=PK,
        )
    assert error.value.field == "cl_scale"
