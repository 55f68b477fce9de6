"""The two-compartment PK layer: its constants reproduce Konrad 1990, and its closed forms agree
with an independent ODE solution."""

from __future__ import annotations

import itertools
import math
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import solve_ivp
from scipy.optimize import brentq

from il2.domain.errors import InvalidInputError, RuleTableError
from il2.science.mechanism.pk import (
    SIGNALS,
    AgentPK,
    agent_pk,
    concentration,
    half_lives_min,
    iu_per_ml_to_nm,
    macro_rates,
    nm_to_iu_per_ml,
    parse_pk,
)

PK = agent_pk()
REFERENCE_KG = PK.reference_weight_kg


def test_the_micro_constants_give_konrads_half_lives() -> None:
    alpha, beta = half_lives_min(PK.k10_per_min, PK.k12_per_min, PK.k21_per_min)
    # 12.92 and 85.03 min from the rounded constants (Konrad 1990: 12.9 and 85 min)
    assert alpha == pytest.approx(PK.half_life_alpha_min, abs=0.05)
    assert beta == pytest.approx(PK.half_life_beta_min, abs=0.1)


def test_the_constants_are_derived_from_konrads_published_figures() -> None:
    """V1 = dose / serum level; k10 = CL / V1; alpha*beta = k10*k21; alpha+beta = sum of k."""
    v1 = 1e6 * PK.reference_bsa_m2 / PK.konrad_bolus_peak_u_per_ml
    k10 = PK.clearance_ml_per_min / v1
    alpha = math.log(2) / PK.half_life_alpha_min
    beta = math.log(2) / PK.half_life_beta_min
    k21 = alpha * beta / k10
    k12 = alpha + beta - k10 - k21
    assert v1 == pytest.approx(PK.v1_ml, rel=2e-3)  # 2769 mL
    assert k10 == pytest.approx(PK.k10_per_min, rel=2e-3)  # 0.04333
    assert k21 == pytest.approx(PK.k21_per_min, rel=2e-3)  # 0.01012
    assert k12 == pytest.approx(PK.k12_per_min, rel=1e-2)  # 0.00844
    assert PK.k10_per_min * PK.v1_ml == pytest.approx(PK.clearance_ml_per_min, rel=1e-3)


def test_a_bolus_of_1e6_units_per_m2_peaks_at_konrads_650_units_per_ml() -> None:
    """Konrad 1990: serum level = dose / plasma volume, 650 U/mL (body surface 1.8 m², 70 kg)."""
    dose = 1e6 * PK.reference_bsa_m2
    peak = concentration(
        0.0,
        dose_min=[0.0],
        dose_iu=[dose],
        infusion_min=0.0,
        route="iv",
        pk=PK,
        weight_kg=REFERENCE_KG,
    )
    assert float(peak) == pytest.approx(PK.konrad_bolus_peak_u_per_ml, rel=2e-3)  # 649.8


def test_a_six_hour_infusion_of_1e6_units_per_m2_nears_konrads_41_units_per_ml() -> None:
    minutes = PK.konrad_infusion_h * 60
    dose = 1e6 * PK.reference_bsa_m2
    css = dose / minutes / PK.clearance_ml_per_min  # R0 / CL = 41.7 U/mL
    assert css == pytest.approx(PK.konrad_infusion_css_u_per_ml, rel=0.03)
    end = concentration(
        minutes,
        dose_min=[0.0],
        dose_iu=[dose],
        infusion_min=minutes,
        route="iv",
        pk=PK,
        weight_kg=REFERENCE_KG,
    )
    assert float(end) == pytest.approx(PK.konrad_infusion_css_u_per_ml, rel=0.03)  # 41.2
    later = concentration(
        1e5,
        dose_min=[0.0],
        dose_iu=[dose * 1e5 / minutes],
        infusion_min=1e5,
        route="iv",
        pk=PK,
        weight_kg=REFERENCE_KG,
    )
    model_clearance = PK.k10_per_min * PK.v1_ml  # 119.94 mL/min from the rounded constants
    steady = dose / minutes / model_clearance
    assert float(later) == pytest.approx(steady, rel=1e-9)  # a long infusion reaches R0 / CL


def test_the_sc_absorption_rate_is_the_one_whose_peak_is_konrads_2_percent() -> None:
    t = np.linspace(0, 3000, 30001)

    def peak_share(ka: float) -> float:
        trial = replace(PK, sc_ka_per_min=ka)
        c = concentration(
            t,
            dose_min=[0.0],
            dose_iu=[PK.v1_ml],
            infusion_min=0.0,
            route="sc",
            pk=trial,
            weight_kg=REFERENCE_KG,
        )
        return float(c.max())  # a dose of V1 IU: a bolus would peak at 1 IU/mL

    ka = brentq(lambda k: peak_share(k) - PK.konrad_sc_plateau_fraction, 1e-4, 0.02, xtol=1e-9)
    assert ka == pytest.approx(PK.sc_ka_per_min, rel=1e-3)  # 0.004144 /min


def _ode(
    t_end: float, doses: list[tuple[float, float, float]], route: str, scale: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """The two-compartment model as ODEs (amounts in IU), integrated dose by dose."""
    body = PK.disposition(weight_kg=REFERENCE_KG, cl_scale=scale)
    k10 = PK.k10_per_min * scale
    k12, k21, ka, f = PK.k12_per_min, PK.k21_per_min, PK.sc_ka_per_min, PK.sc_bioavailability

    def rhs(_: float, y: np.ndarray, rate: float) -> list[float]:
        depot, central, peripheral = y
        return [
            -ka * depot,
            rate + ka * depot - (k10 + k12) * central + k21 * peripheral,
            k12 * central - k21 * peripheral,
        ]

    cuts = sorted({0.0, t_end, *(s for s, _, _ in doses), *(s + m for s, _, m in doses)})
    y = np.zeros(3)
    times: list[float] = []
    values: list[float] = []
    for a, b in itertools.pairwise(cuts):
        for start, amount, minutes in doses:
            if start == a and minutes == 0:
                y[0 if route == "sc" else 1] += amount * (f if route == "sc" else 1.0)
        middle = 0.5 * (a + b)  # each infusion runs through whole pieces: a constant rate
        rate = sum(x / m for start, x, m in doses if m > 0 and start < middle < start + m)
        grid = np.linspace(a, b, 8)
        solution = solve_ivp(
            rhs,
            (a, b),
            y,
            method="Radau",
            rtol=1e-11,
            atol=1e-9,
            dense_output=True,
            first_step=1e-4,
            args=(rate,),
        )
        assert solution.success, solution.message
        times.extend(grid[1:-1])  # inside the piece: a dose at b is not yet given
        values.extend(solution.sol(grid[1:-1])[1] / body.v1_ml)
        y = solution.y[:, -1].copy()
    return np.array(times), np.array(values)


@pytest.mark.parametrize(
    ("route", "minutes", "gap"),
    [("iv", 0.0, 480.0), ("iv", 15.0, 480.0), ("iv", 1440.0, 1440.0), ("sc", 0.0, 1440.0)],
    ids=["bolus", "15-min infusion", "continuous infusion", "subcutaneous"],
)
def test_the_closed_form_agrees_with_the_ode_solved_by_scipy(
    route: str, minutes: float, gap: float
) -> None:
    doses = [(i * gap, 4.2e7 - 5e6 * i, minutes) for i in range(3)]
    t, reference = _ode(4 * gap, doses, route, scale=1.3)
    closed = concentration(
        t,
        dose_min=[d[0] for d in doses],
        dose_iu=[d[1] for d in doses],
        infusion_min=minutes,
        route=route,
        pk=PK,
        weight_kg=REFERENCE_KG,
        cl_scale=1.3,
    )
    scale = float(np.abs(reference).max())
    np.testing.assert_allclose(closed, reference, rtol=1e-7, atol=1e-9 * scale)


def test_a_dose_per_kg_gives_the_same_concentration_at_any_weight() -> None:
    t = np.linspace(0, 600, 61)
    curves = [
        concentration(
            t, dose_min=[0.0], dose_iu=[6e5 * w], infusion_min=15.0, route="iv", pk=PK, weight_kg=w
        )
        for w in (45.0, 70.0, 130.0)
    ]
    np.testing.assert_allclose(curves[0], curves[1], rtol=1e-12)
    np.testing.assert_allclose(curves[2], curves[1], rtol=1e-12)


def test_iu_per_ml_and_nanomolar_convert_through_the_label_activity_and_mass() -> None:
    # 1 nM = 15.3 kDa x 1e-9 mol/L = 15.3 ug/L = 15.3e-6 mg/mL x 16.4e6 IU/mg = 250.9 IU/mL
    assert float(nm_to_iu_per_ml(1.0, PK)) == pytest.approx(250.92, rel=1e-4)
    values = np.array([0.0, 1.0, 650.0, 1.5e4])
    np.testing.assert_allclose(nm_to_iu_per_ml(iu_per_ml_to_nm(values, PK), PK), values)


def test_the_macro_rates_are_the_roots_of_the_characteristic_polynomial() -> None:
    k10, k12, k21 = 0.05, 0.02, 0.01
    alpha, beta = macro_rates(k10, k12, k21)
    roots = np.sort(np.roots([1, k10 + k12 + k21, k10 * k21]))
    np.testing.assert_allclose([-alpha, -beta], roots, rtol=1e-12)


def test_the_affinities_follow_the_signal_order_and_keep_their_published_range() -> None:
    assert dict(zip(SIGNALS, PK.kd_nm, strict=True)) == {
        "cd8": 1.0,
        "nk": 1.0,
        "treg": 0.01,
        "endothelium": 10.0,
    }
    assert PK.kd_range_nm[0] == (0.133, 1.0)


_dose_lists = st.lists(st.tuples(st.floats(0, 3000), st.floats(0, 5e7)), min_size=1, max_size=5)


@settings(max_examples=40, deadline=None)
@given(
    first=_dose_lists,
    second=_dose_lists,
    factor=st.floats(0, 100),
    minutes=st.sampled_from([0.0, 15.0, 360.0]),
    route=st.sampled_from(["iv", "sc"]),
)
def test_doses_superpose_and_scale_linearly_and_never_go_negative(
    first: list[tuple[float, float]],
    second: list[tuple[float, float]],
    factor: float,
    minutes: float,
    route: str,
) -> None:
    minutes = 0.0 if route == "sc" else minutes
    t = np.linspace(-60, 5000, 257)

    def c(doses: list[tuple[float, float]], times: np.ndarray = t) -> np.ndarray:
        return concentration(
            times,
            dose_min=[d[0] for d in doses],
            dose_iu=[d[1] for d in doses],
            infusion_min=minutes,
            route=route,
            pk=PK,
            weight_kg=80.0,
        )

    both, one, other = c(first + second), c(first), c(second)
    assert np.all(one >= 0)
    np.testing.assert_allclose(both, one + other, rtol=1e-12, atol=1e-9)
    scaled = c([(when, amount * factor) for when, amount in first])
    np.testing.assert_allclose(scaled, factor * one, rtol=1e-12, atol=1e-9)
    assert np.all(c(first, t - 1e5) == 0)  # nothing before the first dose


def test_bad_doses_are_refused_naming_the_field() -> None:
    with pytest.raises(InvalidInputError) as error:
        concentration(
            0.0, dose_min=[0.0], dose_iu=[-1.0], infusion_min=0.0, route="iv", pk=PK, weight_kg=70.0
        )
    assert error.value.field == "dose_iu"
    with pytest.raises(InvalidInputError) as error:
        concentration(
            0.0, dose_min=[0.0], dose_iu=[1.0], infusion_min=0.0, route="im", pk=PK, weight_kg=70.0
        )
    assert error.value.field == "route"
    with pytest.raises(InvalidInputError) as error:
        concentration(
            0.0, dose_min=[0.0], dose_iu=[1.0], infusion_min=0.0, route="iv", pk=PK, weight_kg=0.0
        )
    assert error.value.field == "weight_kg"


def test_a_bad_data_file_is_refused_naming_the_file_and_field() -> None:
    from importlib import resources  # noqa: PLC0415

    text = resources.files("il2.science").joinpath("data", "pk.toml").read_text(encoding="utf-8")
    broken = text.replace('status = "derived"', 'status = "guessed"', 1)
    with pytest.raises(RuleTableError) as error:
        parse_pk(broken)
    assert error.value.file == "pk.toml"
    assert error.value.field == "agents.aldesleukin.v1_l.status"
    with pytest.raises(RuleTableError) as error:
        parse_pk(text.replace("value = 2.77", "value = -2.77"))
    assert error.value.field == "agents.aldesleukin.v1_l.value"


def test_the_central_volume_scales_per_kg_from_the_reference_adult() -> None:
    assert isinstance(PK, AgentPK)
    assert PK.v1_ml_per_kg == pytest.approx(2770 / 70, rel=1e-12)  # 39.6 mL/kg (~40: ref. (a))
    assert PK.disposition(weight_kg=35.0).v1_ml == pytest.approx(PK.v1_ml / 2)


def test_the_unconfirmed_and_assumed_figures_still_say_so() -> None:
    import tomllib  # noqa: PLC0415
    from importlib import resources  # noqa: PLC0415

    text = resources.files("il2.science").joinpath("data", "pk.toml").read_text(encoding="utf-8")
    agent = tomllib.loads(text)["agents"]["aldesleukin"]
    assert agent["clearance_cv"]["status"] == "assumption"
    assert "UNCONFIRMED" in agent["clearance_cv"]["source"]
    assert agent["kd_nm"]["endothelium"]["status"] == "assumption"
    assert agent["sc_bioavailability"]["status"] == "assumption"  # published for IM only
    derived = ("v1_l", "k10_per_min", "k12_per_min", "k21_per_min", "sc_ka_per_min")
    assert all(agent[key]["status"] == "derived" for key in derived)
