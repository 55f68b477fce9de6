"""The synthetic program is reproducible from its seed and has the label's proportions."""

from __future__ import annotations

import numpy as np
import pytest

from il2.science.label import label_efficacy
from il2.science.report import summarize
from il2.science.stats import proportion
from il2.science.synthetic import synthetic_program


@pytest.fixture(scope="module")
def summary() -> dict[str, object]:
    return summarize(synthetic_program(patients=6000, rng=np.random.default_rng(11)))


def test_the_same_seed_gives_the_same_program() -> None:
    first = synthetic_program(patients=200, rng=np.random.default_rng(5))
    again = synthetic_program(patients=200, rng=np.random.default_rng(5))
    assert first == again


def test_response_rates_are_near_the_labels(summary: dict[str, object]) -> None:
    for diagnosis in ("renal_cell_carcinoma", "melanoma"):
        block = summary["by_diagnosis"][diagnosis]  # type: ignore[index]
        assert 0.11 < block["orr"]["value"] < 0.20
        assert 0.04 < block["cr_rate"]["value"] < 0.09
        # the responses are the calibrated model's: within the label pool's exact 95% intervals
        label = label_efficacy()[diagnosis]
        for rate, count in (("orr", label.objective), ("cr_rate", label.complete)):
            pool = proportion(count, label.patients)
            assert pool is not None
            low, high = pool.ci95
            assert low <= block[rate]["value"] <= high, (diagnosis, rate)


def test_cycles_give_about_nine_of_fourteen_doses(summary: dict[str, object]) -> None:
    for diagnosis in ("renal_cell_carcinoma", "melanoma"):
        assert 7 <= summary["by_diagnosis"][diagnosis]["median_doses_per_cycle"] <= 11  # type: ignore[index]


def test_hypotension_is_the_commonest_event_as_on_the_label(summary: dict[str, object]) -> None:
    terms = list(summary["toxicity"]["terms"])  # type: ignore[index]
    assert terms[:2] == ["any", "hypotension"]
