"""Receptor occupancy and its interval means: checked against scipy's adaptive quadrature, the
compiled population version against the numpy one, and the course's interpolation table against
the compiled population version (every mean within 1e-6; the same best responses)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import quad

from il2.domain.errors import InvalidInputError
from il2.science.mechanism.occupancy import (
    SIGNALS,
    TABLE_ORDER,
    TABLE_TOLERANCE,
    interval_signals,
    occupancy,
    population_signals,
    signal_table,
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


# --- the course's table (signal_table): interpolation against the exact population path -----------

CL_RANGE, V1_RANGE = (0.25, 4.0), (0.4, 2.5)  # data/population.toml [pk] bounds


def _schedule(regimen: str) -> dict[str, object]:
    """The dose schedule `population_signals` gets for a bundled regimen's course."""
    from il2.science.mechanism.trial import Arm, make_plan  # noqa: PLC0415 - heavier import

    course = make_plan([Arm(regimen)], "melanoma", 1, 0).arms[0].course
    return {
        "dose_min": course.dose_min,
        "dose_iu_per_kg": course.dose_iu_per_kg,
        "infusion_min": np.full(course.doses, course.infusion_min),
        "route": course.route,
        "edges_days": course.edges_days,
        "pk": PK,
    }


def _random_patients(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weights and factors spread uniformly in log over the table's range, corners included."""
    rng = np.random.default_rng(seed)
    cl = np.exp(rng.uniform(np.log(CL_RANGE[0]), np.log(CL_RANGE[1]), n))
    v1 = np.exp(rng.uniform(np.log(V1_RANGE[0]), np.log(V1_RANGE[1]), n))
    cl[:4], v1[:4] = np.array([*CL_RANGE, *CL_RANGE]), np.repeat(V1_RANGE, 2)
    return rng.uniform(40.0, 150.0, n), cl, v1


@pytest.mark.parametrize("regimen", ["hd-label", "ld-sc-nci", "ld-iv-nci"])
def test_the_table_reads_every_mean_within_its_tolerance(regimen: str) -> None:
    schedule = _schedule(regimen)
    table = signal_table(**schedule, cl_range=CL_RANGE, v1_range=V1_RANGE)  # type: ignore[arg-type]
    assert table.usable
    assert table.max_error <= TABLE_TOLERANCE / 4
    weight, cl, v1 = _random_patients(1500, seed=7)
    given_, held = table.signals(weight, cl, v1)
    exact_given, exact_held = population_signals(weight, cl, v1, **schedule)  # type: ignore[arg-type]
    assert given_.shape == exact_given.shape
    assert held.shape == exact_held.shape
    assert table.inside(cl, v1).all()
    np.testing.assert_allclose(given_, exact_given, rtol=0, atol=TABLE_TOLERANCE)
    np.testing.assert_allclose(held, exact_held, rtol=0, atol=TABLE_TOLERANCE)
    # the same arguments give the same (cached) table
    assert signal_table(**schedule, cl_range=CL_RANGE, v1_range=V1_RANGE) is table  # type: ignore[arg-type]


def test_the_table_is_exact_on_its_nodes() -> None:
    schedule = _schedule("hd-label")
    table = signal_table(**schedule, cl_range=CL_RANGE, v1_range=V1_RANGE)  # type: ignore[arg-type]
    margin = TABLE_ORDER // 2 - 1
    j_cl = np.array([margin, margin + 5, table.cl.count - 1 - margin])
    j_v1 = np.array([margin, margin + 3, table.v1.count - 1 - margin])
    cl = np.exp(table.cl.origin + table.cl.step * j_cl)
    v1 = np.exp(table.v1.origin + table.v1.step * j_v1)
    given_, held = table.signals(np.full(3, 70.0), cl, v1)
    width = table.intervals * len(SIGNALS)
    nodes = table.values[j_cl, j_v1]
    np.testing.assert_allclose(given_.reshape(3, width), nodes[:, :width], rtol=0, atol=1e-13)
    np.testing.assert_allclose(held.reshape(3, width), nodes[:, width:], rtol=0, atol=1e-13)


def test_patients_outside_the_table_are_computed_exactly() -> None:
    schedule = _schedule("hd-label")
    table = signal_table(**schedule, cl_range=CL_RANGE, v1_range=V1_RANGE)  # type: ignore[arg-type]
    weight = np.array([70.0, 55.0, 90.0, 120.0, 80.0])
    cl = np.array([1.0, 0.1, 4.0 * 1.001, 1.0, 6.0])
    v1 = np.array([1.0, 1.0, 1.0, 0.3, 3.0])
    np.testing.assert_array_equal(table.inside(cl, v1), [True, False, False, False, False])
    given_, held = table.signals(weight, cl, v1)
    exact_given, exact_held = population_signals(weight, cl, v1, **schedule)  # type: ignore[arg-type]
    # outside: the exact path itself (patients are independent: the same numbers)
    np.testing.assert_array_equal(given_[1:], exact_given[1:])
    np.testing.assert_array_equal(held[1:], exact_held[1:])
    np.testing.assert_allclose(given_[0], exact_given[0], rtol=0, atol=TABLE_TOLERANCE)


def test_a_table_that_cannot_reach_its_tolerance_leaves_every_patient_exact(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import il2.science.mechanism.occupancy as occ  # noqa: PLC0415 - to shrink its node budget

    monkeypatch.setattr(occ, "_MOST_NODES", 300)
    schedule = {
        "dose_min": [0.0, 480.0],
        "dose_iu_per_kg": [6e5, 6e5],
        "infusion_min": 15.0,
        "route": "iv",
        "edges_days": [0.0, 1 / 3, 2 / 3, 1.0],
        "pk": PK,
    }
    table = signal_table(**schedule, cl_range=(0.5, 2.0), v1_range=(0.8, 1.2), tolerance=1e-14)  # type: ignore[arg-type]
    assert not table.usable
    weight, cl, v1 = np.array([70.0, 80.0]), np.array([1.0, 1.5]), np.array([1.0, 0.9])
    assert not table.inside(cl, v1).any()
    got = table.signals(weight, cl, v1)
    exact = population_signals(weight, cl, v1, **schedule)  # type: ignore[arg-type]
    for ours, theirs in zip(got, exact, strict=True):
        np.testing.assert_array_equal(ours, theirs)


def test_bad_table_inputs_are_refused_naming_the_field() -> None:
    schedule = {
        "dose_min": [0.0],
        "dose_iu_per_kg": [6e5],
        "infusion_min": 15.0,
        "route": "iv",
        "edges_days": [0.0, 1.0],
        "pk": PK,
    }
    for key, bad in (("cl_range", (2.0, 1.0)), ("v1_range", (0.0, 1.0)), ("tolerance", -1e-6)):
        arguments = {"cl_range": (0.5, 2.0), "v1_range": (0.5, 2.0), key: bad}
        with pytest.raises(InvalidInputError) as error:
            signal_table(**schedule, **arguments)  # type: ignore[arg-type]
        assert error.value.field == key
    table = signal_table(**schedule, cl_range=(0.5, 2.0), v1_range=(0.5, 2.0))  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError) as error:
        table.signals([70.0], [1.0], [-1.0])
    assert error.value.field == "v1_scale"


@pytest.mark.parametrize("regimen", ["hd-label", "ld-sc-nci"])
def test_best_responses_from_the_table_equal_those_from_the_exact_signals(
    regimen: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from il2.science.mechanism import trial  # noqa: PLC0415 - heavier import
    from il2.science.mechanism.population import CellModel  # noqa: PLC0415

    plan = trial.make_plan([trial.Arm(regimen)], "melanoma", 4 * trial.BLOCK, 11)
    population = trial.draw_blocks(plan, 0, 4, CellModel.bundled())
    arm = plan.arms[0]
    table_best = trial.best_responses(arm, population, plan.readout, math.inf)

    def exact(course: object, patients: object) -> tuple[np.ndarray, np.ndarray]:
        c, p = arm.course, population
        assert course is c
        assert patients is p
        return population_signals(
            p.weight_kg, p.clearance_scale, p.volume_scale, dose_min=c.dose_min,
            dose_iu_per_kg=c.dose_iu_per_kg, infusion_min=np.full(c.doses, c.infusion_min),
            route=c.route, edges_days=c.edges_days, pk=PK,
        )  # fmt: skip

    monkeypatch.setattr(trial, "_signals", exact)
    exact_best = trial.best_responses(arm, population, plan.readout, math.inf)
    assert population.size == 2048
    assert np.count_nonzero(table_best != exact_best) == 0
    assert len(np.unique(exact_best)) > 1  # the comparison is not between constant read-outs
