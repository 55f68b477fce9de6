"""The simulator's figures: valid SVG elements with a text alternative that states the numbers,
ids prefixed per figure, empty inputs drawn as an empty figure, bad input refused by name."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from scipy.stats import beta  # type: ignore[import-untyped]

from il2.domain.errors import InvalidInputError
from il2.science.label import label_efficacy
from il2.science.mechanism.plots import (
    ArmRates,
    label_rates,
    occupancy_plot,
    rates_plot,
    trajectories_plot,
    waterfall_plot,
)
from il2.science.plots import Thresholds
from il2.science.stats import proportion

LINES = Thresholds(response_pct=-30.0, progression_pct=20.0)
RNG = np.random.default_rng(5)


SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"


def _svg(text: str) -> ET.Element:
    """The inline SVG element (namespaces left to the HTML page) parsed as an SVG document with
    them put back: it must be well formed, with a viewBox."""
    assert text.startswith("<svg ")
    document = f'<svg xmlns="{SVG_NS}" xmlns:xlink="{XLINK_NS}" ' + text[len("<svg ") :]
    root = ET.fromstring(document)  # noqa: S314 - our own output
    assert root.tag == f"{{{SVG_NS}}}svg"
    assert root.get("viewBox")
    return root


def _ids(text: str) -> set[str]:
    return set(re.findall(r'\bid="([^"]+)"', text))


def _best(n: int) -> list[str]:
    return [("CR", "PR", "SD", "PD")[k] for k in RNG.integers(0, 4, n)]


def test_trajectories_draw_at_most_30_patients_and_say_so() -> None:
    weeks = np.linspace(0.0, 30.0, 20)
    change = RNG.normal(0.0, 30.0, (100, weeks.size))
    change[:, 0] = 0.0
    best = _best(100)
    drawn = trajectories_plot(weeks, change, best, LINES, arm="hd-label")
    _svg(drawn.svg)
    assert "30 of 100 virtual patients of hd-label" in drawn.text
    assert "-30% (partial response)" in drawn.text
    assert "+20% (progression)" in drawn.text
    shown = np.unique(np.linspace(0, 99, 30).round().astype(int))
    tally = ", ".join(f"{c} {sum(best[i] == c for i in shown)}" for c in ("CR", "PR", "SD", "PD"))
    assert tally in drawn.text
    assert all(i.startswith("trajectories-") for i in _ids(drawn.svg))


def test_a_waterfall_states_the_median_range_and_responses_of_its_bars() -> None:
    change = RNG.uniform(-100.0, 60.0, 250)
    best = _best(250)
    drawn = waterfall_plot(change, best, LINES, arm="ld-iv-nci", prefix="waterfall2")
    _svg(drawn.svg)
    assert f"median {np.median(change):+.1f}%" in drawn.text
    assert f"from {change.min():+.1f}% to {change.max():+.1f}%" in drawn.text
    assert f"CR {best.count('CR')}, PR {best.count('PR')}" in drawn.text
    assert all(i.startswith("waterfall2-") for i in _ids(drawn.svg))


def test_a_large_waterfall_draws_400_bars_evenly_spaced() -> None:
    change = np.linspace(-50.0, 50.0, 1000)
    drawn = waterfall_plot(change, ["SD"] * 1000, LINES, arm="hd-label")
    assert "400 of 1000 virtual patients" in drawn.text
    assert len(re.findall(r'<g id="waterfall-patch_\d+"', drawn.svg)) >= 400


def test_the_occupancy_figure_states_each_cell_types_peak_and_mean() -> None:
    hours = np.linspace(0.0, 48.0, 97)
    concentration = 1000.0 * np.exp(-hours)
    occupancy = np.column_stack([concentration / (concentration + kd) for kd in (1, 1, 0.01, 10)])
    drawn = occupancy_plot(hours, concentration, occupancy, title="Patient 1")
    _svg(drawn.svg)
    assert "peak 1,000 IU/mL" in drawn.text
    for k, name in enumerate(("CD8 T cells", "NK cells", "Regulatory T cells", "Endothelium")):
        assert re.search(
            rf"{name}[^;]* peak {occupancy[:, k].max():.2f}, mean {occupancy[:, k].mean():.2f}",
            drawn.text,
        )


def test_the_rates_figure_puts_the_label_pool_beside_with_exact_intervals() -> None:
    label = label_efficacy()["melanoma"]
    published = label_rates(label)
    k, n = label.objective, label.patients
    assert published.orr.ci95 == pytest.approx(
        (beta.ppf(0.025, k, n - k + 1), beta.ppf(0.975, k + 1, n - k)), rel=1e-9
    )
    orr, cr = proportion(31, 300), proportion(28, 300)
    assert orr is not None
    assert cr is not None
    drawn = rates_plot([ArmRates("hd-label", orr, cr)], published)
    _svg(drawn.svg)
    assert f"hd-label: ORR 10.3% (95% CI {100 * orr.ci95[0]:.1f}%" in drawn.text
    assert "Label pool (270 patients): ORR 15.9%" in drawn.text
    assert all(i.startswith("rates-") for i in _ids(drawn.svg))


def test_no_two_figures_of_a_page_share_an_id() -> None:
    weeks = np.linspace(0.0, 10.0, 5)
    figures = [
        trajectories_plot(weeks, np.zeros((3, 5)), ["SD"] * 3, LINES, arm="a").svg,
        waterfall_plot(np.zeros(3), ["SD"] * 3, LINES, arm="a").svg,
        rates_plot([], None).svg,
        occupancy_plot(weeks, np.ones(5), np.full((5, 4), 0.5), title="t").svg,
    ]
    ids = [_ids(svg) for svg in figures]
    for i, mine in enumerate(ids):
        for theirs in ids[i + 1 :]:
            assert not mine & theirs


def test_empty_inputs_draw_an_empty_figure_that_says_so() -> None:
    nothing = np.zeros((0, 5))
    for drawn in (
        trajectories_plot(np.arange(5.0), nothing, [], LINES, arm="hd-label"),
        waterfall_plot(np.zeros(0), [], LINES, arm="hd-label"),
        occupancy_plot(np.zeros(0), np.zeros(0), np.zeros((0, 4)), title="Nobody"),
        rates_plot([], None),
    ):
        _svg(drawn.svg)
        assert "no " in drawn.text.lower()


def test_responses_that_do_not_fit_are_refused_by_name() -> None:
    with pytest.raises(InvalidInputError) as refused:
        waterfall_plot(np.zeros(3), ["SD", "XX", "PD"], LINES, arm="a")
    assert refused.value.field == "best"
    with pytest.raises(InvalidInputError) as refused:
        trajectories_plot(np.arange(3.0), np.zeros((2, 3)), ["SD"], LINES, arm="a")
    assert refused.value.field == "best"
    with pytest.raises(InvalidInputError) as refused:
        occupancy_plot(np.arange(3.0), np.ones(3), np.ones((3, 2)), title="t")
    assert refused.value.field == "occupancy"
