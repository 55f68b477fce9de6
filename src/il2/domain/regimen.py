"""Regimens and the aldesleukin product, as frozen values built from the rule files."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum


@dataclass(frozen=True, slots=True)
class Regimen:
    """One IL-2 regimen: the dose per kilogram, its rhythm and its limits."""

    id: str
    name: str
    dose_iu_per_kg: int
    interval_h: int
    interval_max_h: int | None
    infusion_min: int
    max_doses_per_cycle: int
    cycles_per_course: int
    cycle_start_days: tuple[int, ...]
    dosing_days_per_cycle: int | None
    max_doses_per_course: int | None
    response_assessment_weeks_after_course: int | None
    rest_between_courses_weeks: int | None
    indications: tuple[str, ...]
    source: str
    version: str
    unconfirmed: tuple[str, ...] = ()
    notes: str = ""


@dataclass(frozen=True, slots=True)
class DilutionBand:
    """Doses up to `max_dose_iu` (inclusive; None means no upper edge) go in `volume_ml` D5W."""

    max_dose_iu: int | None
    volume_ml: int
    source: str = ""


@dataclass(frozen=True, slots=True)
class MgFactor:
    """A label figure pair that converts IU to mg: `iu` international units weigh `mg`."""

    id: str
    iu: Decimal
    mg: Decimal
    description: str
    source: str

    @property
    def miu_per_mg(self) -> Decimal:
        """Million IU per milligram implied by the pair."""
        return self.iu / self.mg / Decimal(1_000_000)


@dataclass(frozen=True, slots=True)
class Product:
    """The aldesleukin vial and how it is reconstituted, diluted and kept."""

    vial_iu: int
    reconstitution_ml: Decimal
    reconstituted_iu_per_ml: int
    dilution_bands: tuple[DilutionBand, ...]
    diluent: str
    concentration_min_ug_per_ml: Decimal
    concentration_max_ug_per_ml: Decimal
    stability_h: int
    mg_factors: tuple[MgFactor, ...]
    source: str
    version: str

    def mg_factor(self, factor_id: str) -> MgFactor:
        """The conversion factor with this id."""
        for factor in self.mg_factors:
            if factor.id == factor_id:
                return factor
        raise KeyError(factor_id)


class CycleEndRule(StrEnum):
    """How a cycle ends when the dose count and the dosing days disagree."""

    WHICHEVER_FIRST = "whichever_first"
    DOSE_COUNT = "dose_count"


class VialPooling(StrEnum):
    """Whether drug left in a reconstituted vial may serve a later dose."""

    NONE = "none"
    WITHIN_STABILITY = "within_stability"


@dataclass(frozen=True, slots=True)
class PlanPolicy:
    """Site choices that shape a dose plan."""

    cycle_end_rule: CycleEndRule
    vial_pooling: VialPooling
    mg_factor: str
    weight_min_kg: Decimal
    weight_max_kg: Decimal
