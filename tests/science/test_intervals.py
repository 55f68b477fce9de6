"""Exact (Clopper-Pearson) intervals for response rates."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import binomtest

from il2.domain.errors import InvalidInputError
from il2.science.stats import clopper_pearson, clopper_pearson_arrays, proportion

CASES = [
    (0, 1),
    (1, 1),
    (0, 10),
    (10, 10),
    (3, 10),
    (37, 255),
    (17, 255),
    (43, 270),
    (1, 1000),
    (999, 1000),
    (0, 5000),
]


@pytest.mark.parametrize(("count", "total"), CASES)
def test_bounds_match_scipys_exact_binomial_interval(count: int, total: int) -> None:
    expected = binomtest(count, total).proportion_ci(confidence_level=0.95, method="exact")
    lower, upper = clopper_pearson(count, total)
    assert lower == pytest.approx(expected.low, abs=1e-12)
    assert upper == pytest.approx(expected.high, abs=1e-12)


def test_no_successes_gives_a_lower_bound_of_exactly_zero() -> None:
    assert clopper_pearson(0, 20)[0] == 0.0


def test_all_successes_give_an_upper_bound_of_exactly_one() -> None:
    assert clopper_pearson(20, 20)[1] == 1.0


def test_the_labels_melanoma_43_of_270_rounds_to_the_published_12_to_21_percent() -> None:
    lower, upper = clopper_pearson(43, 270)
    assert (round(100 * lower), round(100 * upper)) == (12, 21)
    assert round(100 * 43 / 270) == 16


def test_the_labels_renal_37_of_255_is_15_percent() -> None:
    rate = proportion(37, 255)
    assert rate is not None
    assert round(100 * rate.value) == 15
    assert rate.ci95[0] < 0.15 < rate.ci95[1]


def test_a_proportion_of_nobody_is_none_rather_than_a_division_by_zero() -> None:
    assert proportion(0, 0) is None


@pytest.mark.parametrize(("count", "total"), [(-1, 10), (11, 10), (1, 0), (1.5, 10)])
def test_impossible_counts_are_refused(count: float, total: int) -> None:
    with pytest.raises(InvalidInputError):
        clopper_pearson_arrays([count], [total])


def test_a_confidence_outside_zero_and_one_is_refused() -> None:
    with pytest.raises(InvalidInputError):
        clopper_pearson(1, 10, confidence=1.0)


def test_a_wider_confidence_gives_a_wider_interval() -> None:
    narrow = clopper_pearson(30, 100, confidence=0.90)
    wide = clopper_pearson(30, 100, confidence=0.99)
    assert wide[0] < narrow[0]
    assert narrow[1] < wide[1]


@given(
    st.integers(min_value=1, max_value=100_000).flatmap(
        lambda n: st.tuples(st.integers(0, n), st.just(n))
    )
)
def test_the_interval_always_contains_the_estimate_and_lies_in_zero_to_one(
    case: tuple[int, int],
) -> None:
    count, total = case
    lower, upper = clopper_pearson(count, total)
    assert 0.0 <= lower <= count / total <= upper <= 1.0
