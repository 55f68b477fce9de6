"""The SBML export of the cell-and-tumour model, run by libRoadRunner, is the kernel's model.

`cells_sbml` written once per schedule and loaded once; each patient's numbers set by name on
the loaded model (initial amounts for the states, parameter values for the rest), then reset to
day 0. libRoadRunner integrates with CVODE at rtol 1e-10, atol 1e-12 (maximum 100,000 steps).

Against `simulate_population` at rtol 1e-10, atol 1e-12 (the model compared, not the solvers).
Measured when written (max over the cohort, both hold settings): E, N, R 4.4e-8 relative; x
4e-7 absolute while the tumour lives; L 4.3e-6 absolute (4.2e-7 relative, L up to ~40); A 5e-11;
extinction days 3.4e-6 days (measured on the one-compartment model, before z was added).
Asserted: 1e-6 relative on E, N, R; 1e-5 absolute on x and z; L and A 1e-5 relative plus 1e-8
absolute; extinction days 5e-5 days; identical doses given and extinction classification (x and
z exactly -1.0 once extinct).
Against the kernel at its defaults (rtol 1e-6, atol 1e-9): measured E, N, R 4.2e-6 relative, x
1.6e-5, L 1.1e-6 relative, A 1e-7, extinction days 6.8e-5 days; asserted the shared design's
tolerance (1e-3 relative on E, N, R, L, A with 1e-3 absolute on x and 1e-6 on L and A), days
5e-4, the same doses and classification.

Cohort: the defaults from data/cells.toml and patients drawn (seeded) from its ranges (the
excluded share rho and its access phi included), one year,
two cycles of 14 q8h intervals of synthetic signals with the gap between them (no dose), doses
held when L > 20 or never, SBRT 2 x 20 Gy on half the burden (f_RT = 0.5) including two
fractions at one instant and one at an output time, and extinctions by IL-2 and by SBRT.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from il2.science.mechanism.cells import (
    EXTINCT_X,
    PARAMETERS,
    STATES,
    cell_model_data,
    initial_state,
)
from il2.science.mechanism.kernel import Trajectories, simulate_population
from il2.science.mechanism.sbml import cells_patient, cells_sbml

roadrunner = pytest.importorskip("roadrunner")

Array = NDArray[np.float64]
PI = {name: index for index, name in enumerate(PARAMETERS)}
# Two cycles of 14 q8h intervals (days 0-4.67 and 14-18.67); interval 14 is the gap.
EDGES = np.concatenate([np.arange(15) / 3, 14 + np.arange(15) / 3])
GAP = 14
OUT = np.array([0.0, 0.5, 1.0, 2.0, 4.0, 14.0, 20.0, 30.0, 60.0, 120.0, 240.0, 365.0])
LEVEL = np.array([0.9, 0.9, 1.0, 0.5])  # cd8, nk, treg, endothelium means at full dose
N_DRAWN = 5


def cohort() -> tuple[Array, ...]:
    """Parameters, initial states, given and held signals, SBRT days and Gy of 8 patients.

    0 defaults at full signal (cured by IL-2 unless held), 1-5 drawn from the ranges of
    cells.toml (signals scaled 0.5-1), 6 defaults with a 1e6-cell tumour wholly in the field
    (f_RT = 1: extinct by the first of 2 x 20 Gy, at an output time), 7 defaults with weak
    immunity (c = 1e4) and 2 x 20 Gy at one instant on half the burden (f_RT = 0.5)."""
    data = cell_model_data()
    rng = np.random.default_rng(2026)
    n = 2 + N_DRAWN + 1
    p = np.tile(data.defaults(), (n, 1))
    t0 = np.full(n, 1e10)
    ratio = np.full(n, math.nan)
    for name, entry in data.ranges.items():
        low, high = entry.low, entry.high
        if entry.scale == "log":
            draws = np.exp(rng.uniform(math.log(low), math.log(high), N_DRAWN))
        else:
            draws = rng.uniform(low, high, N_DRAWN)
        if name in PI:
            p[1 : 1 + N_DRAWN, PI[name]] = draws
        elif name == "T0":
            t0[1 : 1 + N_DRAWN] = draws
        else:
            ratio[1 : 1 + N_DRAWN] = draws
    drawn = slice(1, 1 + N_DRAWN)
    e0 = p[drawn, PI["s_E"]] / p[drawn, PI["d_E"]]
    p[drawn, PI["s_R"]] = p[drawn, PI["d_R"]] * ratio[drawn] * e0
    t0[6] = 1e6
    p[6, PI["f_RT"]] = 1.0
    p[7, PI["c"]] = 1e4
    y0 = initial_state(p, t0)
    scale = rng.uniform(0.5, 1.0, (n, 1, 1))
    scale[0] = 1.0
    given = np.zeros((n, EDGES.size - 1, 4))
    given[:] = LEVEL
    given *= scale
    given[:, GAP, :] = 0.0
    rt_days = np.full((n, 2), math.nan)
    rt_gy = np.zeros((n, 2))
    rt_days[6], rt_gy[6] = (0.5, 2.0), (20.0, 20.0)
    rt_days[7], rt_gy[7] = (2.0, 2.0), (20.0, 20.0)
    return p, y0, given, 0.1 * given, rt_days, rt_gy


class Runner:
    """One loaded SBML model; `run` sets a patient's numbers by name and simulates from day 0."""

    def __init__(self, document: str) -> None:
        assert roadrunner.validateSBML(document) == ""
        self.rr: Any = roadrunner.RoadRunner(document)
        self.rr.integrator.relative_tolerance = 1e-10
        self.rr.integrator.absolute_tolerance = 1e-12
        self.rr.integrator.maximum_num_steps = 100_000
        model = self.rr.model
        self.species = {name: i for i, name in enumerate(model.getFloatingSpeciesIds())}
        self.globals = {name: i for i, name in enumerate(model.getGlobalParameterIds())}

    def run(self, values: dict[str, float], t_out: Array) -> tuple[Array, int, float]:
        """States at t_out (M, 7), doses given and the extinction day of one patient."""
        model = self.rr.model
        names = [name for name in values if name not in self.species]
        model.setGlobalParameterValues(
            np.array([self.globals[name] for name in names], dtype=np.int32),
            np.array([values[name] for name in names]),
        )
        model.setFloatingSpeciesInitAmounts(
            np.array([self.species[name] for name in STATES], dtype=np.int32),
            np.array([values[name] for name in STATES]),
        )
        self.rr.reset()  # time 0, states from their initial amounts, events at day 0 applied
        result = np.asarray(self.rr.simulate(times=t_out.tolist(), selections=list(STATES)))
        return result, int(self.rr["doses_given"]), float(self.rr["extinct_day"])


def roadrunner_population(hold_above: float) -> tuple[Array, NDArray[np.int64], Array]:
    """The cohort run by libRoadRunner: (n, M, 7) states, doses given, extinction days.

    Patients with and without SBRT differ in structure (events): one model for each."""
    p, y0, given, held, rt_days, rt_gy = cohort()
    n = p.shape[0]
    runners: dict[int, Runner] = {}
    y = np.empty((n, OUT.size, len(STATES)))
    doses = np.zeros(n, dtype=np.int64)
    extinct = np.full(n, math.nan)
    for i in range(n):
        args = (p[i], y0[i], EDGES, given[i], held[i], hold_above, rt_days[i], rt_gy[i])
        patient = cells_patient(*args)
        if patient.fractions not in runners:
            runners[patient.fractions] = Runner(cells_sbml(*args))
        y[i], doses[i], extinct[i] = runners[patient.fractions].run(dict(patient.values), OUT)
    return y, doses, extinct


@pytest.fixture(scope="module", params=[math.inf, 20.0], ids=["never-held", "held-above-20"])
def runs(request: pytest.FixtureRequest) -> tuple[float, Any, Trajectories, Trajectories]:
    hold = float(request.param)
    p, y0, given, held, rt_days, rt_gy = cohort()
    args = (p, y0, EDGES, given, held, hold, rt_days, rt_gy, OUT)
    tight = simulate_population(*args, rtol=1e-10, atol=1e-12)
    default = simulate_population(*args)
    return hold, roadrunner_population(hold), tight, default


def assert_agree(
    ours: tuple[Array, NDArray[np.int64], Array],
    kernel: Trajectories,
    *,
    rel: float,
    x_abs: float,
    la: tuple[float, float],
    days: float,
) -> None:
    y, doses, extinct = ours
    assert doses.tolist() == kernel.doses_given.tolist()
    np.testing.assert_array_equal(np.isnan(extinct), np.isnan(kernel.extinct_day))
    np.testing.assert_allclose(extinct, kernel.extinct_day, atol=days)
    k = kernel.y
    np.testing.assert_allclose(y[:, :, :3], k[:, :, :3], rtol=rel)
    for c in (STATES.index("x"), STATES.index("z")):
        alive = k[:, :, c] >= 0
        np.testing.assert_array_equal(y[:, :, c] >= 0, alive)
        np.testing.assert_allclose(y[:, :, c][alive], k[:, :, c][alive], atol=x_abs)
        assert np.all(y[:, :, c][~alive] == EXTINCT_X)
    np.testing.assert_allclose(y[:, :, 4:6], k[:, :, 4:6], rtol=la[0], atol=la[1])


def test_roadrunner_on_the_export_agrees_with_the_kernel_at_tight_tolerances(
    runs: tuple[float, Any, Trajectories, Trajectories],
) -> None:
    _, ours, tight, _ = runs
    assert_agree(ours, tight, rel=1e-6, x_abs=1e-5, la=(1e-5, 1e-8), days=5e-5)


def test_roadrunner_on_the_export_agrees_with_the_kernel_at_its_defaults(
    runs: tuple[float, Any, Trajectories, Trajectories],
) -> None:
    _, ours, _, default = runs
    assert_agree(ours, default, rel=1e-3, x_abs=1e-3, la=(1e-3, 1e-6), days=5e-4)


def test_the_cohort_covers_what_it_should(
    runs: tuple[float, Any, Trajectories, Trajectories],
) -> None:
    hold, (_, doses, extinct), _, _ = runs
    gone = ~np.isnan(extinct)
    assert extinct[6] == 0.5  # by the first SBRT fraction
    assert not gone.all()
    if math.isinf(hold):
        assert gone[0]  # cured by IL-2 when no dose is held
        assert gone[7]  # the weak patient, after SBRT on half the burden
        assert doses.tolist() == [28] * doses.size  # the gap is no dose
    else:
        assert not gone[0]  # not when doses are held
        assert doses.min() < 28 <= doses.max()


def test_every_parameter_of_the_model_is_named_as_in_cells() -> None:
    p, y0, given, held, rt_days, rt_gy = cohort()
    document = cells_sbml(p[7], y0[7], EDGES, given[7], held[7], 20.0, rt_days[7], rt_gy[7])
    rr = roadrunner.RoadRunner(document)
    ids = set(rr.model.getGlobalParameterIds())
    assert set(PARAMETERS) <= ids
    for name in PARAMETERS:
        assert rr[name] == p[7, PI[name]]
    assert list(rr.model.getFloatingSpeciesIds()) == list(STATES)
