from decimal import Decimal

import pytest

from il2.domain.errors import InvalidInputError
from il2.domain.quantities import Comparison, exact, plain, round_to, whole


def test_floats_are_read_by_their_shortest_repr_so_70_1_stays_70_1() -> None:
    assert exact(70.1, field="weight_kg") == Decimal("70.1")


@pytest.mark.parametrize("bad", [True, None, "seventy", float("nan"), float("inf"), [70]])
def test_a_non_number_is_refused_naming_the_field(bad: object) -> None:
    with pytest.raises(InvalidInputError) as caught:
        exact(bad, field="weight_kg")
    assert caught.value.field == "weight_kg"


def test_strings_of_digits_are_numbers() -> None:
    assert exact("82.5", field="weight_kg") == Decimal("82.5")


def test_round_to_rounds_half_away_from_zero_for_display() -> None:
    assert round_to(Decimal("2.585"), 2) == Decimal("2.59")


def test_whole_rounds_ties_to_even() -> None:
    assert whole(Decimal("2.5")) == 2
    assert whole(Decimal("3.5")) == 4


def test_exactly_at_a_limit_is_not_above_it() -> None:
    assert not Comparison.ABOVE.holds(Decimal("15.0"), Decimal(15))
    assert Comparison.AT_LEAST.holds(Decimal("15.0"), Decimal(15))
    assert Comparison.BELOW.words == "below"


def test_plain_prints_without_exponent_and_with_separators() -> None:
    assert plain(Decimal("1E+5")) == "100,000"
    assert plain(Decimal("1.50")) == "1.5"
