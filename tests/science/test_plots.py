"""The figures are SVG documents, deterministic, and cope with small, empty and large programs."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np
import pytest

from il2.rules.loader import load_rules
from il2.science.dataset import Program
from il2.science.plots import (
    Thresholds,
    kaplan_meier_plot,
    spider_plot,
    swimmer_plot,
    waterfall_plot,
)
from il2.science.series import evenly_spaced, spider, swimmer, waterfall
from il2.science.synthetic import synthetic_program
from tests.science.builders import FIRST_DOSE, clinic, course, cycle, patient, program

LINES = Thresholds.of(load_rules().recist)
PLOTS: list[Callable[[Program], str]] = [
    partial(waterfall_plot, thresholds=LINES),
    swimmer_plot,
    partial(spider_plot, thresholds=LINES),
    kaplan_meier_plot,
]


@pytest.mark.parametrize("plot", PLOTS)
def test_each_plot_is_an_svg_document(plot: Callable[[Program], str]) -> None:
    svg = plot(clinic())
    assert "<svg" in svg
    assert svg.rstrip().endswith("</svg>")


@pytest.mark.parametrize("plot", PLOTS)
def test_each_plot_is_the_same_every_time(plot: Callable[[Program], str]) -> None:
    assert plot(clinic()) == plot(clinic())


@pytest.mark.parametrize("plot", PLOTS)
def test_each_plot_copes_with_an_empty_program(plot: Callable[[Program], str]) -> None:
    assert "<svg" in plot(program())


def test_the_waterfall_is_sorted_from_the_largest_increase() -> None:
    data = waterfall(clinic(), limit=100)
    assert data.change_pct.tolist() == [35.0, -45.0, -100.0]
    assert data.best == ("PD", "PR", "CR")


def test_the_swimmer_marks_response_progression_and_death() -> None:
    lanes = swimmer(clinic(), limit=100).lanes
    assert len(lanes) == 4
    assert [lane.best for lane in lanes] == ["NE", "CR", "PR", "PD"]
    responder = lanes[1]
    assert responder.response_months is not None
    assert responder.progression_months is not None
    assert [lane.died for lane in lanes] == [False, False, True, False]


def test_spider_paths_start_at_baseline_on_the_first_dose() -> None:
    trajectories = spider(clinic(), limit=100).trajectories
    assert len(trajectories) == 3
    assert all(t.weeks[0] == 0.0 and t.change_pct[0] == 0.0 for t in trajectories)


def test_thinning_keeps_both_ends_and_at_most_the_limit() -> None:
    assert evenly_spaced(5, 10).tolist() == [0, 1, 2, 3, 4]
    kept = evenly_spaced(1000, 7).tolist()
    assert len(kept) == 7
    assert (kept[0], kept[3], kept[-1]) == (0, 500, 999)
    assert kept == sorted(set(kept))


def test_a_large_program_is_thinned_and_says_so() -> None:
    records = synthetic_program(patients=3000, rng=np.random.default_rng(3))
    data = waterfall(records, limit=50)
    assert data.change_pct.size == 50 < data.total
    assert "50 of" in waterfall_plot(records, LINES, limit=50)


def test_survival_panels_say_follow_up_has_not_begun_rather_than_no_patients() -> None:
    """Patients first dosed on the data date have zero months of follow-up, not zero patients."""
    today = FIRST_DOSE
    started = program(
        patients=[patient(1, last_contact_on=today), patient(2, last_contact_on=today)],
        courses=[course(11, patient_id=1), course(12, patient_id=2)],
        cycles=[cycle(11, discharged_on=today), cycle(12, discharged_on=today)],
        as_of=today,
    )
    svg = kaplan_meier_plot(started)
    assert "No follow-up time yet" in svg
    assert "No treated patients" not in svg
