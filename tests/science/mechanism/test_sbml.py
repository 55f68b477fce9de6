"""The SBML export (il2.science.mechanism.sbml) run by libRoadRunner beside our own scipy code.

libRoadRunner (CVODE) is a test-only dependency: it never appears in src. Its trajectories are
compared with independent scipy integrations (LSODA, rtol 1e-10, atol 1e-12).
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray
from scipy.integrate import solve_ivp

from il2.domain.errors import InvalidInputError
from il2.science.mechanism.kirschner_panetta import kp_parameters, simulate
from il2.science.mechanism.sbml import (
    CELL_PARAMETERS,
    CELL_SIGNALS,
    Event,
    FormulaError,
    SbmlModel,
    cells_sbml,
    kirschner_panetta_sbml,
    mathml,
    write,
)

roadrunner = pytest.importorskip("roadrunner")

Vector = NDArray[np.float64]
RTOL, ATOL = 1e-10, 1e-12


def _runner(document: str) -> Any:
    assert roadrunner.validateSBML(document) == "", roadrunner.validateSBML(document)
    runner = roadrunner.RoadRunner(document)
    runner.integrator.relative_tolerance = RTOL
    runner.integrator.absolute_tolerance = ATOL
    runner.integrator.maximum_num_steps = 100_000
    return runner


# ----------------------------------------------------------------------------- the writer


def test_formulas_become_mathml_with_precedence_and_full_precision() -> None:
    math_ = mathml("-a + b*c^2/(1e-9 + d) >= 0.1 && time < 3")
    text = ET.tostring(math_, encoding="unicode")
    assert text.count("<apply>") == 9
    assert '<cn type="e-notation">1<sep />-9</cn>' in text
    assert 'definitionURL="http://www.sbml.org/sbml/symbols/time"' in text
    for bad in ("a +", "(a", "a $ b", "exp(a, b)", "piecewise(1, a)"):
        with pytest.raises(FormulaError):
            mathml(bad)


def test_a_model_with_an_undefined_name_or_a_changed_constant_is_refused() -> None:
    model = SbmlModel("m")
    model.parameter("k", 1.0)
    model.parameter("y", 1.0, constant=False)
    model.rate("y", "-k*z")
    with pytest.raises(FormulaError, match="undefined"):
        model.to_xml()
    model.rate_rules.clear()
    model.event(Event("e", "time >= 1", (("k", "2"),)))
    with pytest.raises(FormulaError, match="constant"):
        model.to_xml()


def test_rules_and_events_of_the_writer_run_as_written() -> None:
    # y' = -k*y; w = 2*y (assignment); at t = 1, y jumps to y + 1; z counts the event.
    model = SbmlModel("decay", notes="test")
    model.compartment("box", 2.0)
    model.add_species("y", "box", 3.0)
    model.parameter("k", 0.5)
    model.parameter("w", 0.0, constant=False)
    model.parameter("z", 0.0, constant=False)
    model.rate("y", "-k*y")
    model.assign("w", "2*y")
    model.event(Event("kick", "time >= 1", (("y", "y + 1"), ("z", "z + 1"))))
    result = _runner(model.to_xml()).simulate(0, 2, 3, ["time", "y", "w", "z"])
    y_one = 3 * math.exp(-0.5)
    expected = (y_one + 1) * math.exp(-0.5)
    assert result[2, 1] == pytest.approx(expected, rel=1e-8)
    assert result[2, 2] == pytest.approx(2 * expected, rel=1e-8)
    assert result[2, 3] == 1


def test_write_puts_the_document_in_a_file(tmp_path: Any) -> None:
    document = kirschner_panetta_sbml(kp_parameters(0.02), (1.0, 1.0, 1.0))
    path = write(document, tmp_path / "kp.xml")
    assert path.read_text(encoding="utf-8") == document


# ------------------------------------------------------------------------ Kirschner-Panetta


def test_roadrunner_runs_the_kp_export_like_the_log_t_reference() -> None:
    # roadrunner integrates linear T: compared on a case without deep troughs (T stays >= 1
    # cell over the 120 days), where linear and log integration are the same problem.
    p = kp_parameters(0.025, s1=0.0, s2=0.0)
    initial = (1.0, 1.0, 1.0)
    days = np.linspace(0.0, 120.0, 1201)
    reference = simulate(p, initial, days)
    assert reference.T.min() >= 1.0
    result = _runner(kirschner_panetta_sbml(p, initial)).simulate(0, 120, 1201, ["E", "T", "IL"])
    for column, ours in enumerate((reference.E, reference.T, reference.IL)):
        relative = np.max(np.abs(result[:, column] - ours) / np.abs(ours))
        assert relative < 1e-6, (column, relative)


def test_the_kp_export_applies_the_extinction_rule_like_the_reference() -> None:
    # s1 = 550 > s1_cr: a 10-cell tumour dies out in about 690 days; roadrunner's event at
    # T < 1 cell and the reference's event at ln T < 0 agree on the day and on E afterwards.
    p = kp_parameters(0.025, s1=550.0)
    initial = (550.0 / 0.03, 10.0, 0.0)
    days = np.linspace(0.0, 1000.0, 101)
    reference = simulate(p, initial, days)
    runner = _runner(kirschner_panetta_sbml(p, initial))
    result = runner.simulate(0, 1000, 101, ["time", "E", "T"])
    assert 600 < reference.extinct_day < 800
    after = days > reference.extinct_day + 10
    assert np.all(np.abs(result[after, 2]) < 1e-12)  # CVODE keeps T at 0 to round-off
    assert np.all(reference.T[after] == 0.0)
    np.testing.assert_allclose(result[:, 1], reference.E, rtol=1e-6)


def test_the_kp_export_carries_the_biomodels_quirk_only_when_asked() -> None:
    published = kirschner_panetta_sbml(kp_parameters(0.02), (1.0, 1.0, 1.0))
    quirk = kirschner_panetta_sbml(kp_parameters(0.02, activation="biomodels"), (1.0, 1.0, 1.0))
    assert published.count("<ci>IL</ci>") == quirk.count("<ci>IL</ci>") + 1
    with pytest.raises(InvalidInputError, match="mu2"):
        kirschner_panetta_sbml({"c": 0.02}, (1.0, 1.0, 1.0))


# ------------------------------------------------------------------ the cell-and-tumour model

# Test values only, chosen to exercise every term (not the model's calibrated parameters).
CELLS: dict[str, float] = {
    "s_E": 100.0,
    "c": 50.0,
    "h_T": 1e7,
    "p_E": 0.5,
    "d_E": 0.03,
    "k_sup": 0.1,
    "K_R": 1e4,
    "s_N": 100.0,
    "p_N": 0.4,
    "d_N": 0.05,
    "s_R": 20.0,
    "p_R": 0.6,
    "d_R": 0.05,
    "r": 0.01,
    "K": 1e12,
    "k_E": 1.0,
    "k_N": 0.5,
    "g": 1e5,
    "q": 1.0,
    "k_L": 0.5,
    "N_0": 2000.0,
    "w_a": 1.0,
    "k_Lr": 1.0,
    "tau_RT": 10.0,
    "A_RT": 1.0,
    "alpha": 0.3,
    "beta": 0.03,
}


def _cells_rhs(
    p: Mapping[str, float], u: Vector, *, alive: bool
) -> Callable[[float, Vector], Vector]:
    def rhs(_t: float, y: Vector) -> Vector:
        e, n, r, x, _l, a = y
        t = math.exp(x)
        return np.array(
            [
                p["s_E"]
                + p["c"] * (1 + a) * t / (p["h_T"] + t)
                + p["p_E"] * u[0] * e
                - p["d_E"] * e
                - p["k_sup"] * r / (r + p["K_R"]) * e,
                p["s_N"] + p["p_N"] * u[1] * n - p["d_N"] * n,
                p["s_R"] + p["p_R"] * u[2] * r - p["d_R"] * r,
                (
                    p["r"] * (1 - t / p["K"])
                    - (p["k_E"] * e + p["k_N"] * n) / (p["g"] + t) / (1 + r / (p["q"] * e))
                )
                if alive
                else 0.0,
                p["k_L"] * (u[1] * n / p["N_0"] + p["w_a"] * u[3]) - p["k_Lr"] * _l,
                -a / p["tau_RT"],
            ]
        )

    return rhs


def _cells_scipy(  # noqa: PLR0912, PLR0917 - every rule of the model in one readable place
    p: Mapping[str, float],
    y0: list[float],
    edges: Vector,
    given: Vector,
    held: Vector,
    hold_above: float,
    rt_days: list[float],
    rt_gy: list[float],
    t_out: Vector,
) -> tuple[Vector, int, float]:
    """Our own scipy integration of the same equations and rules, piece by piece."""
    breaks = sorted({*edges.tolist(), *rt_days, float(t_out[-1])})
    y = np.array(y0, dtype=float)
    u = np.zeros(4)
    alive, doses, extinct = y[3] >= 0, 0, math.nan if y[3] >= 0 else 0.0
    if not alive:
        y[3] = -1.0
    out = np.empty((t_out.size, 6))
    now = 0.0

    def below(_t: float, state: Vector) -> float:
        return float(state[3])

    below.terminal, below.direction = True, -1  # type: ignore[attr-defined]
    for stop in [*breaks, math.inf]:
        while now < min(stop, t_out[-1]):
            end = min(stop, float(t_out[-1]))
            sol = solve_ivp(
                _cells_rhs(p, u, alive=alive),
                (now, end),
                y,
                method="LSODA",
                rtol=RTOL,
                atol=ATOL,
                events=[below] if alive else None,
                dense_output=True,
            )
            reached = float(sol.t[-1])
            inside = (t_out >= now) & (t_out <= reached)
            out[inside] = sol.sol(t_out[inside]).T
            y, now = sol.y[:, -1].copy(), reached
            if sol.status == 1:
                alive, extinct, y[3] = False, reached, -1.0
        if stop == math.inf or stop > t_out[-1]:
            break
        # events at `stop`: edges (the hold decision on L), then SBRT fractions
        for k, edge in enumerate(edges):
            if edge == stop:
                if k == len(edges) - 1:
                    u = np.zeros(4)
                elif y[4] <= hold_above:
                    u, doses = given[k].copy(), doses + 1
                else:
                    u = held[k].copy()
        for day, gy in zip(rt_days, rt_gy, strict=True):
            if day == stop:
                if alive:
                    y[3] -= CELLS["alpha"] * gy + CELLS["beta"] * gy**2
                y[5] += CELLS["A_RT"]
        if alive and y[3] < 0:
            alive, extinct, y[3] = False, stop, -1.0
        out[t_out == stop] = y
    out[t_out == 0.0] = np.array(y0) if y0[3] >= 0 else out[t_out == 0.0]
    return out, doses, extinct


def _schedule(intervals: int) -> tuple[Vector, Vector, Vector]:
    edges = np.arange(intervals + 1) / 3.0 + 1.0  # q8h intervals from day 1
    rng = np.random.default_rng(7)
    given = rng.uniform(0.3, 0.9, (intervals, 4))
    held = given * 0.05
    return edges, given, held


@pytest.mark.parametrize(
    ("y0", "hold_above", "rt"),
    [
        ([3000.0, 2000.0, 400.0, math.log(1e6), 0.0, 0.0], 0.5, ([3.0], [8.0])),
        ([3000.0, 2000.0, 400.0, math.log(1e3), 0.0, 0.0], math.inf, ([2.5, 4.0], [8.0, 8.0])),
    ],
    ids=["holds-and-one-fraction", "never-held-extinct-after-sbrt"],
)
def test_roadrunner_runs_the_cells_export_like_our_scipy_integration(
    y0: list[float], hold_above: float, rt: tuple[list[float], list[float]]
) -> None:
    edges, given, held = _schedule(15)
    t_out = np.linspace(0.0, 30.0, 301)
    expected, doses, extinct = _cells_scipy(CELLS, y0, edges, given, held, hold_above, *rt, t_out)
    if math.isinf(hold_above):  # the case exercises what its id says
        assert (doses, extinct) == (15, rt[0][-1])
    else:
        assert 0 < doses < 15
        assert math.isnan(extinct)
    document = cells_sbml(CELLS, y0, edges.tolist(), given.tolist(), held.tolist(), hold_above, *rt)
    runner = _runner(document)
    states = ["E", "N", "R", "x", "L", "A"]
    result = runner.simulate(0, 30, 301, ["time", *states])
    for column, name in enumerate(states, start=1):
        ours = expected[:, column - 1]
        if name in {"x", "A"}:
            error = np.max(np.abs(result[:, column] - ours))
        else:
            # relative, L's exact zeros before the first dose taken as 1e-3
            error = np.max(np.abs(result[:, column] - ours) / (np.abs(ours) + 1e-3))
        assert error < 1e-6, (name, error)
    assert runner["doses_given"] == doses
    if math.isnan(extinct):
        assert math.isnan(runner["extinct_day"])
    else:
        assert runner["extinct_day"] == pytest.approx(extinct, abs=1e-6)
        assert runner["x"] == -1.0


def test_the_cells_export_holds_doses_when_the_leak_is_high() -> None:
    edges, given, held = _schedule(15)
    y0 = [3000.0, 2000.0, 400.0, math.log(1e6), 0.0, 0.0]
    counts = []
    for hold_above in (math.inf, 0.5, -1.0):
        runner = _runner(
            cells_sbml(CELLS, y0, edges.tolist(), given.tolist(), held.tolist(), hold_above, [], [])
        )
        runner.simulate(0, 10, 11)
        counts.append(runner["doses_given"])
    assert counts[0] == 15
    assert 0 < counts[1] < 15
    assert counts[2] == 0


def test_the_cells_export_refuses_bad_input_naming_the_field() -> None:
    edges, given, held = _schedule(3)
    y0 = [1.0, 1.0, 1.0, 1.0, 0.0, 0.0]
    with pytest.raises(InvalidInputError, match="k_E"):
        cells_sbml(
            {k: v for k, v in CELLS.items() if k != "k_E"},
            y0,
            edges.tolist(),
            given.tolist(),
            held.tolist(),
            1.0,
            [],
            [],
        )
    with pytest.raises(InvalidInputError, match="signals_given"):
        cells_sbml(CELLS, y0, edges.tolist(), given[:2].tolist(), held.tolist(), 1.0, [], [])
    with pytest.raises(InvalidInputError, match="edges_days"):
        cells_sbml(CELLS, y0, [2.0, 1.0], given[:1].tolist(), held[:1].tolist(), 1.0, [], [])
    assert set(CELLS) == set(CELL_PARAMETERS)
    assert len(CELL_SIGNALS) == 4


def test_events_at_day_0_apply_at_once_a_tumour_below_one_cell_is_extinct_from_the_start() -> None:
    edges = [0.0, 1 / 3, 2 / 3]
    given, held = [[0.5] * 4] * 2, [[0.01] * 4] * 2
    y0 = [3000.0, 2000.0, 400.0, -0.5, 0.0, 0.0]
    runner = _runner(cells_sbml(CELLS, y0, edges, given, held, math.inf, [0.5], [8.0]))
    result = runner.simulate(0, 1, 11, ["time", "x", "u_cd8", "doses_given", "extinct_day"])
    assert np.all(result[:, 1] == -1.0)  # frozen at -1, the SBRT fraction does not move it
    assert np.all(result[:, 4] == 0.0)
    np.testing.assert_array_equal(result[:, 2], [0.5] * 7 + [0.0] * 4)
    np.testing.assert_array_equal(result[:, 3], [1.0] * 4 + [2.0] * 7)
