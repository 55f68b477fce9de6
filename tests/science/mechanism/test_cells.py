"""The cell-and-tumour model: its cited data, its right-hand side, its initial state."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from il2.domain.errors import InvalidInputError, RuleTableError
from il2.science.mechanism import cells
from il2.science.mechanism.cells import (
    PARAMETERS,
    SIGNALS,
    STATES,
    cell_model_data,
    default_parameters,
    initial_state,
    parse_cells,
    rhs,
    sbrt_log_factor,
    tumour_cells,
)
from il2.science.mechanism.reference import _derivative

DATA = cell_model_data()
P = {name: DATA.parameters[name].value for name in PARAMETERS}


def test_the_fixed_names_are_the_shared_designs() -> None:
    # the shared design's six states, then the immune-excluded tumour compartment appended
    assert STATES == ("E", "N", "R", "x", "L", "A", "z")
    assert SIGNALS == ("cd8", "nk", "treg", "endothelium")
    spec = "s_E c h_T p_E d_E k_sup K_R s_N p_N d_N s_R p_R d_R r K k_E k_N g q k_L N_0 w_a k_Lr tau_RT A_RT alpha beta"
    assert set(spec.split()) <= set(PARAMETERS)
    assert PARAMETERS[-2:] == ("phi", "rho")  # appended: earlier columns keep their index
    assert len(set(PARAMETERS)) == len(PARAMETERS)
    assert default_parameters().shape == (len(PARAMETERS),)


def test_every_parameter_is_cited_with_a_status() -> None:
    for name, parameter in DATA.parameters.items():
        assert parameter.status in cells.STATUSES, name
        assert parameter.unit
        assert len(parameter.source) > 20, name
        if parameter.status == "assumption":
            assert (
                "no published" in parameter.source.lower()
                or "assumption" in parameter.source.lower()
            ), name


def test_published_values_are_the_sources_figures() -> None:
    # KP 1998 (modeling.md 1.1): a = 1/day, g2 = 1e5 cells, mu2 = 0.03/day
    assert (P["k_E"], P["g"], P["d_E"]) == (1.0, 1e5, 0.03)
    # Zhang 2007: NK loss 6.9 %/day
    assert P["d_N"] == 0.069
    # LQ: alpha 0.3/Gy, alpha/beta 10 Gy, still unconfirmed in modeling.md
    assert P["alpha"] == 0.3
    assert P["beta"] == pytest.approx(P["alpha"] / 10)
    for name in ("alpha", "beta"):
        assert "UNCONFIRMED" in DATA.parameters[name].source
    assert 0.005 <= P["r"] <= 0.02
    assert 1e9 <= P["K"] <= 1e12


def test_derived_values_follow_from_what_they_say() -> None:
    # Vukmanovic-Stejic 2006: Tregs double every 8 days
    assert P["d_R"] == pytest.approx(math.log(2) / 8, rel=2e-3)
    # Zhang 2007: 15e6 NK/L/day over 5 L, and the resting count that balances it
    assert P["s_N"] == pytest.approx(15e6 * 5)
    assert P["N_0"] == pytest.approx(P["s_N"] / P["d_N"], rel=1e-7)
    assert 78 <= P["N_0"] / 5e6 <= 470  # ARUP adult interval, cells/uL
    # homeostatic sources s = d * X0 with E0 = 1e6 and R0 = 0.2 * E0 (assumptions)
    assert P["s_E"] == pytest.approx(P["d_E"] * 1e6)
    assert P["s_R"] == pytest.approx(P["d_R"] * 2e5)
    assert P["K_R"] == pytest.approx(2e5)


def test_ranges_cover_the_virtual_population_axes() -> None:
    for axis in ("c", "r", "k_E", "T0", "treg_teff_ratio"):
        assert axis in DATA.ranges
    for name, entry in DATA.ranges.items():
        assert entry.low <= entry.high
        assert entry.basis
        if name in P:
            assert entry.low <= P[name] <= entry.high, name


TEXT = """
[meta]
reference = "x"
[parameters]
{body}
[ranges]
"""


def _file(skip: str = "", extra: str = "") -> str:
    lines = []
    for name in PARAMETERS:
        if name == skip:
            continue
        lines.append(
            f'[parameters.{name}]\nvalue = 1.0\nunit = "u"\nsource = "s"\nstatus = "assumption"\n{extra if name == "c" else ""}'
        )
    return '[meta]\nreference = "x"\n' + "\n".join(lines) + "\n[ranges]\n"


def test_a_well_formed_file_parses() -> None:
    data = parse_cells(_file())
    assert data.defaults().tolist() == [1.0] * len(PARAMETERS)


@pytest.mark.parametrize(
    ("text", "field"),
    [
        (_file(skip="k_E"), "parameters.k_E"),
        (_file(extra="colour = 1\n"), "parameters.c.colour"),
        (_file().replace('status = "assumption"', 'status = "guess"', 1), "parameters.s_E.status"),
        (_file().replace("value = 1.0", "value = -1.0", 1), "parameters.s_E.value"),
        (_file() + "[ranges.zeta]\nlow = 1\nhigh = 2\n", "ranges.zeta"),
        (
            _file() + '[ranges.c]\nlow = 0\nhigh = 2\nscale = "log"\nunit = "u"\nbasis = "b"\n',
            "ranges.c.low",
        ),
        ("[meta", "(syntax)"),
    ],
)
def test_a_bad_file_names_the_field(text: str, field: str) -> None:
    with pytest.raises(RuleTableError) as caught:
        parse_cells(text)
    assert caught.value.field == field


@st.composite
def parameter_rows(draw: st.DrawFn) -> np.ndarray:
    """Defaults, each scaled by a factor in [0.2, 5] (f_RT and phi kept at most 1), with a share
    rho in [0, 1] of the tumour in the excluded compartment."""
    factors = draw(
        st.lists(st.floats(0.2, 5.0), min_size=len(PARAMETERS), max_size=len(PARAMETERS))
    )
    row = default_parameters() * np.array(factors)
    for name in ("f_RT", "phi"):
        row[PARAMETERS.index(name)] = min(row[PARAMETERS.index(name)], 1.0)
    row[PARAMETERS.index("rho")] = draw(st.sampled_from([0.0, 1.0]) | st.floats(0.0, 1.0))
    return row


@settings(max_examples=40, deadline=None)
@given(parameter_rows())
def test_the_homeostatic_state_is_a_fixed_point_without_signal_or_tumour(p: np.ndarray) -> None:
    y0 = initial_state(p, 0.0)
    assert y0[3] == y0[6] == cells.EXTINCT_X
    out = np.empty(len(STATES))
    rhs(0.0, y0, p, np.zeros(4), out)
    for j, name in enumerate(("E", "N", "R")):
        assert abs(out[j]) <= 1e-12 * p[PARAMETERS.index(f"s_{name}")], name
    assert out[3:].tolist() == [0.0, 0.0, 0.0, 0.0]


@settings(max_examples=40, deadline=None)
@given(parameter_rows(), st.floats(0.0, 30.0))
def test_effectors_start_at_their_steady_state_for_the_tumour(p: np.ndarray, x: float) -> None:
    t0 = math.exp(x)
    y0 = initial_state(p, t0)
    out = np.empty(len(STATES))
    rhs(0.0, y0, p, np.zeros(4), out)
    assert abs(out[0]) <= 1e-9 * y0[0] * p[PARAMETERS.index("d_E")]
    rho = p[PARAMETERS.index("rho")]
    for index, share in ((3, 1.0 - rho), (6, rho)):
        if share * t0 >= 1.0:
            assert y0[index] == pytest.approx(math.log(share * t0))
        else:
            assert y0[index] == cells.EXTINCT_X
    if t0 >= 2.0:  # at most one compartment can hold a share below one cell
        assert float(tumour_cells(y0)) == pytest.approx(t0, rel=1e-9, abs=1.0)


@settings(max_examples=60, deadline=None)
@given(
    parameter_rows(),
    st.lists(st.floats(1e2, 1e12), min_size=3, max_size=3),
    st.floats(-0.999, 30.0),
    st.lists(st.floats(0.0, 50.0), min_size=2, max_size=2),
    st.lists(st.floats(0.0, 1.0), min_size=4, max_size=4),
    st.sampled_from([cells.EXTINCT_X]) | st.floats(-0.999, 30.0),
)
def test_the_compiled_rhs_matches_the_independent_transcription(  # noqa: PLR0917 - hypothesis
    p: np.ndarray,
    cells_: list[float],
    x: float,
    leak_boost: list[float],
    u: list[float],
    z: float,
) -> None:
    y = np.array([*cells_, x, *leak_boost, z])
    signals = np.array(u)
    out = np.empty(len(STATES))
    rhs(0.0, y, p, signals, out)
    expected = _derivative(dict(zip(PARAMETERS, p.tolist(), strict=True)), signals)(0.0, y)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12 * max(map(abs, expected)))


def test_an_extinct_tumour_is_frozen_and_recruits_nothing() -> None:
    p = default_parameters()
    y = np.array([1e6, 1e9, 2e5, cells.EXTINCT_X, 0.0, 3.0, cells.EXTINCT_X])
    out = np.empty(len(STATES))
    rhs(0.0, y, p, np.zeros(4), out)
    assert out[3] == out[6] == 0.0
    e, _, r = y[:3]
    k_sup, k_r = p[PARAMETERS.index("k_sup")], p[PARAMETERS.index("K_R")]
    assert out[0] == pytest.approx(
        p[0] - p[PARAMETERS.index("d_E")] * e - k_sup * r / (r + k_r) * e
    )


@pytest.mark.parametrize(
    ("f", "gy"), [(1.0, 20.0), (0.5, 20.0), (0.25, 8.0), (0.0, 20.0), (1.0, 0.0)]
)
def test_an_sbrt_fraction_kills_the_irradiated_share(f: float, gy: float) -> None:
    p = default_parameters()
    p[PARAMETERS.index("f_RT")] = f
    survive = math.exp(-(0.3 * gy + 0.03 * gy**2))
    assert sbrt_log_factor(p, gy) == pytest.approx(math.log(1 - f + f * survive), abs=1e-12)


def test_initial_state_shapes_and_errors() -> None:
    p = np.tile(default_parameters(), (3, 1))
    y0 = initial_state(p, [1e9, 0.5, 1e10])
    assert y0.shape == (3, 7)
    assert y0[1, 3] == y0[1, 6] == cells.EXTINCT_X  # below one cell: no tumour
    assert y0[0, 0] < y0[2, 0]  # a larger tumour has recruited more effectors
    with pytest.raises(InvalidInputError, match="params"):
        initial_state(np.ones((3, 4)), 1e9)
    with pytest.raises(InvalidInputError, match="t0_cells"):
        initial_state(p, -1.0)
    p[1, PARAMETERS.index("rho")] = 1.5
    with pytest.raises(InvalidInputError, match=r"params\[1, rho\]"):
        initial_state(p, 1e9)


def test_tumour_cells_adds_the_living_compartments() -> None:
    gone = cells.EXTINCT_X
    y = np.zeros((2, 3, len(STATES)))
    y[..., 3] = [[math.log(1e9), gone, math.log(5.0)], [gone, gone, 0.0]]
    y[..., 6] = [[gone, math.log(2e8), math.log(3.0)], [gone, math.log(7.0), gone]]
    np.testing.assert_allclose(tumour_cells(y), [[1e9, 2e8, 8.0], [0.0, 7.0, 1.0]], rtol=1e-12)
    assert tumour_cells(y[0, 0]).shape == ()
    with pytest.raises(InvalidInputError, match="y"):
        tumour_cells(np.zeros((2, 6)))


def _one_compartment(p: np.ndarray, y: np.ndarray, u: np.ndarray) -> list[float]:
    """dy/dt of the shared design's six-state model (sim-spec.md), written out here."""
    q = dict(zip(PARAMETERS, p.tolist(), strict=True))
    e, nk, reg, x, leak, boost = y.tolist()
    t = math.exp(x)
    return [
        q["s_E"] + q["c"] * (1 + boost) * t / (q["h_T"] + t) + q["p_E"] * u[0] * e
        - q["d_E"] * e - q["k_sup"] * reg / (reg + q["K_R"]) * e,
        q["s_N"] + q["p_N"] * u[1] * nk - q["d_N"] * nk,
        q["s_R"] + q["p_R"] * u[2] * reg - q["d_R"] * reg,
        q["r"] * (1 - t / q["K"])
        - (q["k_E"] * e + q["k_N"] * nk) / (q["g"] + t) / (1 + reg / (q["q"] * e)),
        q["k_L"] * (u[1] * nk / q["N_0"] + q["w_a"] * u[3]) - q["k_Lr"] * leak,
        -boost / q["tau_RT"],
    ]  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(
    parameter_rows(), st.floats(0.0, 30.0), st.lists(st.floats(0.0, 1.0), min_size=4, max_size=4)
)
def test_with_rho_zero_the_model_is_the_one_compartment_model(
    p: np.ndarray, x: float, u: list[float]
) -> None:
    p[PARAMETERS.index("rho")] = 0.0
    y0 = initial_state(p, math.exp(x) + 1.0)
    assert y0[6] == cells.EXTINCT_X  # no excluded compartment
    y0[4:6] = (2.0, 0.5)
    signals = np.array(u)
    out = np.empty(len(STATES))
    rhs(0.0, y0, p, signals, out)
    expected = _one_compartment(p, y0[:6], signals)
    np.testing.assert_allclose(out[:6], expected, rtol=1e-12, atol=1e-12 * max(map(abs, expected)))
    assert out[6] == 0.0


def test_the_excluded_compartment_sees_phi_times_the_kill() -> None:
    p = default_parameters()
    p[PARAMETERS.index("rho")] = 0.25
    y = initial_state(p, 1e9)
    y[0] *= 50.0  # an effector burst
    out = np.empty(len(STATES))
    for phi in (0.0, 0.1, 1.0):
        p[PARAMETERS.index("phi")] = phi
        rhs(0.0, y, p, np.zeros(4), out)
        growth = P["r"] * (1 - 1e9 / P["K"])
        kill = growth - out[3]
        assert kill > 0
        assert out[6] == pytest.approx(growth - phi * kill, rel=1e-12)
