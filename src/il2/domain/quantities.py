"""Exact arithmetic for clinical quantities.

Thresholds are compared with decimals, never binary floats, so that a weight gain of exactly
15.0% is exactly 15.0% and a creatinine of 1.5 is not 1.5000000000000002.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal, InvalidOperation
from enum import StrEnum

from il2.domain.errors import InvalidInputError


def exact(value: object, *, field: str) -> Decimal:
    """Return `value` as a Decimal, reading floats by their shortest repr (70.1 -> 70.1)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise InvalidInputError(field=field, value=value, allowed="a number")
    try:
        number = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    except InvalidOperation:
        raise InvalidInputError(field=field, value=value, allowed="a number") from None
    if not number.is_finite():
        raise InvalidInputError(field=field, value=value, allowed="a finite number")
    return number


def round_to(value: Decimal, places: int) -> Decimal:
    """Round half away from zero to `places` decimals, as clinicians round for display."""
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def whole(value: Decimal) -> int:
    """Round to the nearest whole number, ties to even."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


class Comparison(StrEnum):
    """How a value is compared with a limit; the symbol is what rule files and messages show."""

    AT_MOST = "<="
    AT_LEAST = ">="
    BELOW = "<"
    ABOVE = ">"

    def holds(self, value: Decimal, limit: Decimal) -> bool:
        """Whether `value <op> limit` is true."""
        return _OPERATORS[self](value, limit)

    @property
    def words(self) -> str:
        """The comparison as a clinician reads it."""
        return _WORDS[self]


_OPERATORS: dict[Comparison, Callable[[Decimal, Decimal], bool]] = {
    Comparison.AT_MOST: operator.le,
    Comparison.AT_LEAST: operator.ge,
    Comparison.BELOW: operator.lt,
    Comparison.ABOVE: operator.gt,
}
_WORDS = {
    Comparison.AT_MOST: "at most",
    Comparison.AT_LEAST: "at least",
    Comparison.BELOW: "below",
    Comparison.ABOVE: "above",
}


def plain(number: Decimal) -> str:
    """Format a decimal without exponent or trailing zeros, with thousands separators."""
    normal = number.normalize()
    if normal == normal.to_integral_value():
        return f"{int(normal):,}"
    return f"{normal:,f}"


def with_unit(number: Decimal, unit: str, *, glued: tuple[str, ...] = ("%",)) -> str:
    """A number and its unit as explanations print them: `1.5 mg/dL`, `20%`, `7` (no unit).

    A unit starting with one of `glued` follows the number without a space (each table says
    which: CTCAE writes `150,000/mm3` and `38.5°C`, eligibility `/uL` spaced)."""
    gap = "" if not unit or unit.startswith(glued) else " "
    return f"{plain(number)}{gap}{unit}"
