"""Body-surface area and the other body measures a dose can be counted per.

BSA = sqrt(height_cm x weight_kg / 3600) (Mosteller, N Engl J Med 1987;317:1098);
BSA = 0.007184 x W^0.425 x H^0.725 (DuBois & DuBois, Arch Intern Med 1916;17:863). The site
chooses the formula (site policy bsa_formula); the dose uses the unrounded area.
"""

from __future__ import annotations

from decimal import Decimal, localcontext

from il2.domain.errors import InvalidInputError
from il2.domain.quantities import plain
from il2.domain.regimen import BsaFormula

_DUBOIS_FACTOR = Decimal("0.007184")
_DUBOIS_WEIGHT_POWER = Decimal("0.425")
_DUBOIS_HEIGHT_POWER = Decimal("0.725")


def bsa_m2(*, height_cm: Decimal, weight_kg: Decimal, formula: BsaFormula) -> Decimal:
    """Body-surface area in m² by `formula`, exact to 28 significant digits."""
    if height_cm <= 0 or weight_kg <= 0:
        raise InvalidInputError(
            field="height_cm" if height_cm <= 0 else "weight_kg",
            value=float(min(height_cm, weight_kg)),
            allowed="a positive measure",
        )
    with localcontext() as context:
        context.prec = 28
        if formula is BsaFormula.MOSTELLER:
            return (height_cm * weight_kg / 3600).sqrt()
        return _DUBOIS_FACTOR * weight_kg**_DUBOIS_WEIGHT_POWER * height_cm**_DUBOIS_HEIGHT_POWER


def check_height_cm(height_cm: Decimal, *, minimum: Decimal, maximum: Decimal) -> Decimal:
    """Refuse a height outside the site's plausible range; return it unchanged otherwise."""
    if not minimum <= height_cm <= maximum:
        raise InvalidInputError(
            field="height_cm",
            value=int(height_cm)
            if height_cm == height_cm.to_integral_value()
            else float(height_cm),
            allowed=f"a height from {plain(minimum)} to {plain(maximum)} cm",
        )
    return height_cm


def check_lesions(lesions: object, *, maximum: int) -> int:
    """A number of lesions: a whole number from 1 to the site's guard `maximum`."""
    if isinstance(lesions, bool) or not isinstance(lesions, int) or not 1 <= lesions <= maximum:
        raise InvalidInputError(
            field="lesions",
            value=lesions,
            allowed=f"a whole number of lesions, at least 1 and at most {maximum}",
        )
    return lesions
