"""Weight-based dose, its derived mass, reconstitution, dilution and vials.

IU is the source of truth for aldesleukin; milligrams are derived for display only, with the
conversion factor always stated, because the label's own figures imply three different factors.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from il2.domain.errors import InvalidInputError
from il2.domain.quantities import plain, round_to, whole
from il2.domain.regimen import DilutionBand, Dose, DoseBasis, MgFactor, VialPooling


def check_weight_kg(weight_kg: Decimal, *, minimum: Decimal, maximum: Decimal) -> Decimal:
    """Refuse a weight outside the plausible range; return it unchanged otherwise."""
    if not minimum <= weight_kg <= maximum:
        raise InvalidInputError(
            field="weight_kg",
            value=int(weight_kg)
            if weight_kg == weight_kg.to_integral_value()
            else float(weight_kg),
            allowed=f"a body weight from {plain(minimum)} to {plain(maximum)} kg",
        )
    return weight_kg


def dose_iu(*, weight_kg: Decimal, iu_per_kg: int) -> int:
    """The dose in whole international units."""
    return whole(weight_kg * iu_per_kg)


def dose_amount(
    dose: Dose, *, weight_kg: Decimal, bsa_m2: Decimal | None, lesions: int | None
) -> Decimal:
    """One administration of `dose`, exact: in IU for an IU or MIU dose, in mg for a mg dose.

    The measure the basis needs (the area for per m², the lesions for per lesion) must be
    given; the planner asks for it first.
    """
    amount = dose.per_unit_iu if dose.unit.is_units else dose.amount
    if dose.basis is DoseBasis.PER_KG:
        return amount * weight_kg
    if dose.basis is DoseBasis.PER_M2:
        assert bsa_m2 is not None  # noqa: S101 - the planner refuses a plan without a height
        return amount * bsa_m2
    if dose.basis is DoseBasis.PER_LESION:
        assert lesions is not None  # noqa: S101 - the planner refuses a plan without lesions
        return amount * lesions
    return amount


def dose_mg(*, dose_iu: int, factor: MgFactor) -> Decimal:
    """The dose's mass by `factor`, exact (round only for display)."""
    return Decimal(dose_iu) * factor.mg / factor.iu


def mg_factor_note(factor: MgFactor, others: Sequence[MgFactor]) -> str:
    """Say which factor produced the milligrams and how far the label's others differ."""
    rates = ", ".join(f"{o.description} {round_to(o.miu_per_mg, 1)}" for o in others)
    return (
        f"mg derived from IU with {factor.description}, {round_to(factor.miu_per_mg, 1)} MIU/mg. "
        f"The label's other figures imply other factors ({rates} MIU/mg), so mg is for display "
        f"only; IU is the dose."
    )


def diluent_ml(*, dose_iu: int, bands: Sequence[DilutionBand]) -> int:
    """The D5W volume of the first band whose upper edge the dose does not exceed."""
    for band in bands:
        if band.max_dose_iu is None or dose_iu <= band.max_dose_iu:
            return band.volume_ml
    raise InvalidInputError(
        field="dose_iu", value=dose_iu, allowed="a dose covered by the dilution bands"
    )


def reconstituted_ml(*, dose_iu: int, iu_per_ml: int) -> Decimal:
    """Volume of reconstituted drug that holds the dose."""
    return Decimal(dose_iu) / Decimal(iu_per_ml)


def concentration_ug_per_ml(*, dose_mg: Decimal, total_ml: Decimal) -> Decimal:
    """Final concentration of the dose in its bag."""
    return dose_mg * 1000 / total_ml


def extractable_iu_per_vial(
    *, extractable_ml: Decimal, iu_per_ml: int, reconstitution_ml: Decimal
) -> int:
    """IU a pharmacist can draw from one reconstituted vial: `extractable_ml` at `iu_per_ml`.

    More than the reconstitution volume cannot be drawn, and nothing is not a vial.
    """
    if not Decimal(0) < extractable_ml <= reconstitution_ml:
        raise InvalidInputError(
            field="vial_extractable_ml",
            value=float(extractable_ml),
            allowed=f"a volume above 0 and at most {plain(reconstitution_ml)} mL, the "
            f"reconstitution volume",
        )
    return whole(extractable_ml * iu_per_ml)


def vials_per_dose(*, dose_iu: int, iu_per_vial: int) -> int:
    """Fresh vials needed for one dose when each yields `iu_per_vial`."""
    return -(-dose_iu // iu_per_vial)


def in_window_total_ml(
    *, dose_mg: Decimal, min_ug_per_ml: Decimal, max_ug_per_ml: Decimal
) -> tuple[Decimal, Decimal]:
    """The total bag volumes (drug and diluent) that put the dose inside the window."""
    return dose_mg * 1000 / max_ug_per_ml, dose_mg * 1000 / min_ug_per_ml


@dataclass(slots=True)
class _OpenVial:
    expires_at: datetime
    remaining_iu: int


@dataclass(slots=True)
class _VialStock:
    iu_per_vial: int
    stability: timedelta
    opened: int = 0
    vials: list[_OpenVial] = field(default_factory=list)

    def draw(self, *, dose_iu: int, start: datetime, end: datetime) -> None:
        self.vials = [v for v in self.vials if v.expires_at >= end and v.remaining_iu > 0]
        needed = dose_iu
        for vial in self.vials:
            taken = min(needed, vial.remaining_iu)
            vial.remaining_iu -= taken
            needed -= taken
        while needed > 0:
            taken = min(needed, self.iu_per_vial)
            self.vials.append(_OpenVial(start + self.stability, self.iu_per_vial - taken))
            self.opened += 1
            needed -= taken


def vials_for_doses(
    *,
    dose_iu: int,
    due_at: Sequence[datetime],
    iu_per_vial: int,
    pooling: VialPooling,
    stability_h: int,
    infusion_min: int,
) -> int:
    """Vials used by the doses `due_at`, each vial yielding `iu_per_vial` (what can be drawn).

    Without pooling each dose opens fresh vials. With pooling, drug left in a vial serves a
    later dose whose infusion ends within `stability_h` of the vial's reconstitution (taken
    as the start of the dose that opened it).
    """
    infusion = timedelta(minutes=infusion_min)
    return vials_for_amounts(
        doses=[(start, start + infusion, dose_iu) for start in due_at],
        iu_per_vial=iu_per_vial,
        pooling=pooling,
        stability_h=stability_h,
    )


def vials_for_amounts(
    *,
    doses: Sequence[tuple[datetime, datetime, int]],
    iu_per_vial: int,
    pooling: VialPooling,
    stability_h: int,
) -> int:
    """Vials used by `doses`, each (start, end, IU), each vial yielding `iu_per_vial`.

    Without pooling each dose opens fresh vials; with pooling, drug left in a vial serves a
    later dose that ends within `stability_h` of the start of the dose that opened it.
    """
    if pooling is VialPooling.NONE:
        return sum(vials_per_dose(dose_iu=iu, iu_per_vial=iu_per_vial) for _, _, iu in doses)
    stock = _VialStock(iu_per_vial=iu_per_vial, stability=timedelta(hours=stability_h))
    for start, end, iu in doses:
        stock.draw(dose_iu=iu, start=start, end=end)
    return stock.opened
