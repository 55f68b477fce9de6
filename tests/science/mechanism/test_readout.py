"""RECIST 1.1 read-out of simulated tumour size: conformance cases at and around the thresholds."""

from __future__ import annotations

import math
from functools import cache

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from il2.domain.errors import InvalidInputError
from il2.rules.loader import load_rules
from il2.science.mechanism.readout import (
    CATEGORIES,
    ReadoutRules,
    best_overall_response,
    diameter_mm,
    time_point_responses,
)

RHO = 1e9  # cells per cm3 for these cases (population.toml's value is checked separately)
WEEKS = np.array([7.0, 15.0, 23.0, 31.0])


@cache
def rules(*, confirm: bool = True) -> ReadoutRules:
    return ReadoutRules.from_criteria(
        load_rules().recist,
        cells_per_cm3=RHO,
        confirmation_weeks=4.0 if confirm else None,
        min_sd_weeks=6.0,
    )


def cells(diameter: float) -> float:
    """Cells of a sphere-equivalent lesion of `diameter` mm (independent of the module)."""
    return RHO * math.pi / 6.0 * (diameter / 10.0) ** 3


# (baseline mm, scans mm at WEEKS, time-point responses, best with confirmation, without)
CASES = [
    ("PR exactly at -30%", 50, [35, 35, 35, 35], "PR PR PR PR", "PR", "PR"),
    ("just short of PR", 50, [35.01, 35.01, 35.01, 35.01], "SD SD SD SD", "SD", "SD"),
    ("PD exactly at +20% and +10 mm", 50, [60, 60, 60, 60], "PD PD PD PD", "PD", "PD"),
    ("just short of PD", 50, [59.99, 59.99, 59.99, 59.99], "SD SD SD SD", "SD", "SD"),
    ("+20% but only +4 mm is not PD", 20, [24, 24, 24, 24], "SD SD SD SD", "SD", "SD"),
    ("+25% and exactly +5 mm is PD", 20, [25, 25, 25, 25], "PD PD PD PD", "PD", "PD"),
    ("below 10 mm is CR", 50, [9.99, 9.99, 9.99, 9.99], "CR CR CR CR", "CR", "CR"),
    ("10 mm is measurable: PR", 50, [10, 10, 10, 10], "PR PR PR PR", "PR", "PR"),
    ("CR then regrowth to 10 mm is PD", 50, [5, 10, 5, 5], "CR PD PD PD", "SD", "CR"),
    ("PD from the nadir after a PR", 50, [30, 36, 30, 30], "PR PD PD PD", "SD", "PR"),
    ("growth from the nadir short of PD", 50, [30, 35.9, 30, 30], "PR SD PR PR", "PR", "PR"),
    ("a PR confirmed by a single CR", 50, [20, 5, 15, 15], "PR CR PD PD", "PR", "CR"),
    ("a PR at the last scan is unconfirmed", 50, [45, 45, 45, 30], "SD SD SD PR", "SD", "PR"),
    ("a CR confirmed by a later CR", 50, [40, 5, 5, 40], "SD CR CR PD", "CR", "CR"),
]


@pytest.mark.parametrize(("name", "base", "scans", "points", "confirmed", "plain"), CASES)
def test_conformance(  # noqa: PLR0917 - one parameter a column of the case table
    name: str, base: float, scans: list[float], points: str, confirmed: str, plain: str
) -> None:
    t = np.array([[cells(d) for d in scans]])
    t0 = np.array([cells(base)])
    got = time_point_responses(t, t0, rules())
    assert [CATEGORIES[c] for c in got[0]] == points.split(), name
    assert CATEGORIES[best_overall_response(got, WEEKS, rules())[0]] == confirmed, name
    assert CATEGORIES[best_overall_response(got, WEEKS, rules(confirm=False))[0]] == plain, name


def test_thresholds_are_recist_cubed_and_detection_is_the_10_mm_sphere() -> None:
    r = rules()
    assert r.pr_ratio == pytest.approx(0.343)
    assert r.pd_ratio == pytest.approx(1.728)
    assert r.detection_cells == pytest.approx(RHO * math.pi / 6.0)
    assert diameter_mm(np.array([cells(42.0)]), r)[0] == pytest.approx(42.0)


@given(st.floats(0.02, 1.0), st.floats(30.0, 200.0))
def test_shrinkage_is_pr_exactly_when_volume_ratio_is_at_most_0_343(q: float, base: float) -> None:
    t0 = cells(base)
    if q * t0 < rules().detection_cells:
        return
    got = time_point_responses(np.array([[q * t0]]), np.array([t0]), rules())[0, 0]
    assert (CATEGORIES[got] == "PR") == (q <= 0.343 * (1 + 1e-9))


def test_a_baseline_below_measurability_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="baseline"):
        time_point_responses(np.array([[1.0]]), np.array([cells(9.0)]), rules())


def test_scan_times_must_increase() -> None:
    with pytest.raises(InvalidInputError, match="weeks"):
        best_overall_response(np.zeros((1, 2), np.int8), np.array([8.0, 8.0]), rules())
