"""The SBML export (il2.science.mechanism.sbml) run by libRoadRunner beside our own scipy code.

libRoadRunner (CVODE) is a test-only dependency: it never appears in src. Its trajectories are
compared with independent scipy integrations (LSODA, rtol 1e-10, atol 1e-12).
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from il2.domain.errors import InvalidInputError
from il2.science.mechanism.cells import PARAMETERS, STATES, default_parameters
from il2.science.mechanism.kirschner_panetta import kp_parameters, simulate
from il2.science.mechanism.sbml import (
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
# (agreement with the compiled kernel, patient by patient: test_sbml_kernel.py)

CELLS: dict[str, float] = dict(zip(PARAMETERS, default_parameters().tolist(), strict=True))
Y0 = [3000.0, 2000.0, 400.0, math.log(1e6), 0.0, 0.0, -1.0]  # no excluded compartment


def _schedule(intervals: int) -> tuple[Vector, Vector, Vector]:
    edges = np.arange(intervals + 1) / 3.0 + 1.0  # q8h intervals from day 1
    rng = np.random.default_rng(7)
    given = rng.uniform(0.3, 0.9, (intervals, 4))
    held = given * 0.05
    return edges, given, held


def test_the_cells_export_holds_doses_when_the_leak_is_high() -> None:
    edges, given, held = _schedule(15)
    counts = []
    for hold_above in (math.inf, 0.5, -1.0, -math.inf):
        runner = _runner(cells_sbml(CELLS, Y0, edges, given, held, hold_above, [], []))
        runner.simulate(0, 10, 11)
        counts.append(runner["doses_given"])
    assert counts[0] == 15
    assert 0 < counts[1] < 15
    assert counts[2:] == [0, 0]


def test_an_interval_whose_given_and_held_signals_are_equal_is_no_dose() -> None:
    edges, given, held = _schedule(6)
    held[2] = given[2]  # a gap: not decided, not counted, its signals apply
    runner = _runner(cells_sbml(CELLS, Y0, edges, given, held, -1.0, [], []))
    result = runner.simulate(0, 3, 301, ["time", "u_cd8", "doses_given"])
    inside = (result[:, 0] > edges[2]) & (result[:, 0] < edges[3])
    assert np.all(result[inside, 1] == given[2, 0])
    assert runner["doses_given"] == 0
    runner = _runner(cells_sbml(CELLS, Y0, edges, given, held, math.inf, [], []))
    runner.simulate(0, 3, 2)
    assert runner["doses_given"] == 5


def test_a_mapping_by_name_and_a_vector_in_parameters_order_give_one_model() -> None:
    edges, given, held = _schedule(3)
    vector = [CELLS[name] for name in PARAMETERS]
    by_name = cells_sbml(CELLS, Y0, edges, given, held, 1.0, [2.0], [8.0])
    assert cells_sbml(vector, Y0, edges, given, held, 1.0, [2.0], [8.0]) == by_name
    root = ET.fromstring(by_name)  # noqa: S314 - our own document
    ns = {"s": "http://www.sbml.org/sbml/level3/version2/core"}
    ids = {e.get("id") for e in root.iterfind(".//s:parameter", ns)}
    assert set(PARAMETERS) <= ids
    assert [e.get("id") for e in root.iterfind(".//s:species", ns)] == list(STATES)


def test_the_cells_export_refuses_bad_input_naming_the_field() -> None:
    edges, given, held = _schedule(3)
    y0 = [1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 1.0]
    missing = {k: v for k, v in CELLS.items() if k != "k_E"}
    with pytest.raises(InvalidInputError, match="k_E"):
        cells_sbml(missing, y0, edges, given, held, 1.0, [], [])
    with pytest.raises(InvalidInputError, match="lambda"):
        cells_sbml({**CELLS, "lambda": 1.0}, y0, edges, given, held, 1.0, [], [])
    with pytest.raises(InvalidInputError, match="signals_given"):
        cells_sbml(CELLS, y0, edges, given[:2], held, 1.0, [], [])
    with pytest.raises(InvalidInputError, match=r"edges\[1\]"):
        cells_sbml(CELLS, y0, [2.0, 1.0], given[:1], held[:1], 1.0, [], [])
    with pytest.raises(InvalidInputError, match="g"):
        cells_sbml({**CELLS, "g": 0.0}, y0, edges, given, held, 1.0, [], [])
    with pytest.raises(InvalidInputError, match="rt_gy"):
        cells_sbml(CELLS, y0, edges, given, held, 1.0, [1.0], [-2.0])
    with pytest.raises(InvalidInputError, match="y0"):
        cells_sbml(CELLS, y0[:6], edges, given, held, 1.0, [], [])
    with pytest.raises(InvalidInputError, match="rho"):
        cells_sbml({**CELLS, "rho": 1.2}, y0, edges, given, held, 1.0, [], [])


def test_events_at_day_0_apply_at_once_a_tumour_below_one_cell_is_extinct_from_the_start() -> None:
    edges = [0.0, 1 / 3, 2 / 3]
    given, held = [[0.5] * 4] * 2, [[0.01] * 4] * 2
    y0 = [3000.0, 2000.0, 400.0, -0.5, 0.0, 0.0, -0.25]
    runner = _runner(cells_sbml(CELLS, y0, edges, given, held, math.inf, [0.5], [8.0]))
    result = runner.simulate(0, 1, 11, ["time", "x", "u_cd8", "doses_given", "extinct_day", "A"])
    assert np.all(result[:, 1] == -1.0)  # frozen at -1, the SBRT fraction does not move it
    assert runner["z"] == -1.0
    assert np.all(result[:, 4] == 0.0)
    np.testing.assert_array_equal(result[:, 2], [0.5] * 7 + [0.0] * 4)
    np.testing.assert_array_equal(result[:, 3], [1.0] * 4 + [2.0] * 7)
    # ... but it raises the antigenicity boost, seen by the output at the fraction's time
    assert result[5, 5] == CELLS["A_RT"]
    assert runner["T"] == 0.0
