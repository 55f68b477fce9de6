"""Virtual populations: the cited data file, draws, the plausibility filter, the calibration."""

from __future__ import annotations

import math
from functools import cache
from importlib import resources

import numpy as np
import pytest

from il2.domain.errors import InvalidInputError, RuleTableError
from il2.science.label import label_efficacy
from il2.science.mechanism import cells
from il2.science.mechanism.population import (
    CellModel,
    Population,
    draw_population,
    net_growth_rate,
    parse_population,
    population_spec,
)
from il2.science.mechanism.trial import Arm, run_trial
from il2.science.stats import clopper_pearson

TEXT = resources.files("il2.science").joinpath("data", "population.toml").read_text("utf-8")


@cache
def model() -> CellModel:
    return CellModel.bundled()


@cache
def melanoma(seed: int = 7, n: int = 3000) -> Population:
    return draw_population(n, "melanoma", np.random.default_rng(seed), model())


def test_the_bundled_file_parses_and_every_entry_is_cited() -> None:
    spec = parse_population(TEXT)
    assert spec.sbrt_gy == 20.0
    assert {h.experimental for h in spec.held_out} == {"ld-iv-nci", "sbrt-hd"}
    assert set(spec.sd_log) <= set(cells.PARAMETERS)


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        (
            'status = "published"\n\n[assessment.every_weeks]',
            "\n[assessment.every_weeks]",
            "status",
        ),
        ("sd_log = 1.0\n", "sd_log = -1.0\n", "sd_log"),
        ('axes = ["c", "k_E", "rho"]', 'axes = ["c"]', "calibration.axes"),
        ('axes = ["c", "k_E", "rho"]', 'axes = ["c", "k_E", "g"]', "calibration.axes"),
        ("rho = [0.5, 0.75", "rh0 = [0.5, 0.75", "calibration.values"),
        ("rho = [0.5, 0.75, 1.0, 1.25, 1.5]", "rho = []", "calibration.values.rho"),
        ('value = 0.5\nunit = "fraction', 'value = 1.5\nunit = "fraction', "share_two_fractions"),
    ],
)
def test_a_bad_file_fails_naming_the_field(old: str, new: str, field: str) -> None:
    assert old in TEXT
    with pytest.raises(RuleTableError) as error:
        parse_population(TEXT.replace(old, new, 1))
    assert field in str(error.value)


def test_a_generator_gives_one_population() -> None:
    a = draw_population(500, "melanoma", np.random.default_rng(3), model())
    b = draw_population(500, "melanoma", np.random.default_rng(3), model())
    c = draw_population(500, "melanoma", np.random.default_rng(4), model())
    np.testing.assert_array_equal(a.params, b.params)
    np.testing.assert_array_equal(a.y0, b.y0)
    assert not np.array_equal(a.params, c.params)


def test_every_patient_is_plausible() -> None:
    spec, pop = population_spec(), melanoma()
    low, high = spec.doubling_days["melanoma"]
    assert np.all((pop.doubling_days >= low) & (pop.doubling_days <= high))
    assert np.all((pop.weight_kg >= spec.weight_kg.low) & (pop.weight_kg <= spec.weight_kg.high))
    detection = spec.cells_per_cm3 * math.pi / 6.0  # the 10 mm sphere
    assert np.all(pop.baseline_cells >= detection)
    for name, (lo, hi) in model().bounds.items():
        if name in spec.sd_log:
            column = pop.params[:, model().column(name)]
            assert np.all((column >= lo) & (column <= hi)), name
    assert set(np.unique(pop.sbrt_fractions)) == {1, 2}


def test_net_growth_matches_the_compiled_right_hand_side() -> None:
    pop = melanoma()
    ours = net_growth_rate(pop.params, model(), pop.y0)
    out = np.empty(len(cells.STATES))
    x, z = cells.STATES.index("x"), cells.STATES.index("z")
    for i in range(0, pop.size, 300):
        y = pop.y0[i]
        cells.rhs(0.0, y, pop.params[i], np.zeros(4), out)
        # d ln(e^x + e^z)/dt = (e^x dx/dt + e^z dz/dt) / (e^x + e^z), extinct parts counting 0
        weights = [0.0 if y[c] <= cells.EXTINCT_X else math.exp(y[c]) for c in (x, z)]
        expected = (weights[0] * out[x] + weights[1] * out[z]) / sum(weights)
        assert ours[i] == pytest.approx(expected, rel=1e-9)
        assert out[0] == pytest.approx(0.0, abs=1e-6 * pop.y0[i, 0])  # E at its steady state


def test_growth_medians_differ_by_diagnosis_as_the_data_says() -> None:
    rcc = draw_population(3000, "renal_cell_carcinoma", np.random.default_rng(7), model())
    column = model().column("r")
    assert np.median(rcc.params[:, column]) < np.median(melanoma().params[:, column])
    assert np.median(rcc.doubling_days) > np.median(melanoma().doubling_days)


def test_bad_requests_are_refused_naming_the_field() -> None:
    with pytest.raises(InvalidInputError, match="diagnosis"):
        draw_population(10, "glioma", np.random.default_rng(0), model())  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="patients"):
        draw_population(0, "melanoma", np.random.default_rng(0), model())


@cache
def calibration_run(diagnosis: str) -> tuple[int, int]:
    """The stored calibration's own trial, run again: (objective, complete) responders."""
    stored = population_spec().calibrated[diagnosis]  # type: ignore[index]
    arm = run_trial([Arm("hd-label")], diagnosis, stored.patients, seed=stored.seed).arms[0]
    return arm.counts["CR"] + arm.counts["PR"], arm.counts["CR"]


@pytest.mark.parametrize("diagnosis", ["renal_cell_carcinoma", "melanoma"])
def test_the_stored_calibration_reproduces(diagnosis: str) -> None:
    stored = population_spec().calibrated[diagnosis]  # type: ignore[index]
    assert calibration_run(diagnosis) == (stored.objective, stored.complete)


@pytest.mark.parametrize("diagnosis", ["renal_cell_carcinoma", "melanoma"])
@pytest.mark.parametrize("rate", ["orr", "cr"])
def test_calibrated_population_lies_within_the_label_pools_exact_interval(
    diagnosis: str, rate: str
) -> None:
    stored = population_spec().calibrated[diagnosis]  # type: ignore[index]
    label = label_efficacy()[diagnosis]  # type: ignore[index]
    objective, complete = calibration_run(diagnosis)
    simulated, published = (
        (objective, label.objective) if rate == "orr" else (complete, label.complete)
    )
    low, high = clopper_pearson(published, label.patients)
    assert low <= simulated / stored.patients <= high


def test_each_patient_has_an_excluded_share_that_splits_the_baseline_tumour() -> None:
    spec, pop = population_spec(), melanoma()
    rho = pop.params[:, model().column("rho")]
    assert np.all((rho >= 0) & (rho <= 1))
    located = spec.medians["melanoma"]["rho"] * math.exp(spec.calibrated["melanoma"].shifts["rho"])
    assert np.median(rho) == pytest.approx(located, rel=0.1)  # lognormal: the median moves
    x, z = cells.STATES.index("x"), cells.STATES.index("z")
    total = pop.baseline_cells
    alive = pop.y0[:, z] > cells.EXTINCT_X
    np.testing.assert_allclose(np.exp(pop.y0[alive, z]), rho[alive] * total[alive], rtol=1e-9)
    np.testing.assert_allclose(np.exp(pop.y0[:, x]), (1 - rho) * total, rtol=1e-9)
