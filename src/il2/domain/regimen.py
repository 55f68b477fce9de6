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
    below_window_remedy: str
    above_window_remedy: str
    vial_order_note: str
    vial_order_source: str
    reconstitution_diluent: str = ""
    preparation_notes: tuple[str, ...] = ()
    preparation_source: str = ""

    def mg_factor(self, factor_id: str) -> MgFactor:
        """The conversion factor with this id."""
        for factor in self.mg_factors:
            if factor.id == factor_id:
                return factor
        raise KeyError(factor_id)


class CycleEndRule(StrEnum):
    """How a cycle ends when the dose count and the dosing days disagree.

    `ask` is not a way to end a cycle: it makes planning refuse a plan whose bounds disagree
    until the plan itself chooses one of the other two.
    """

    ASK = "ask"
    WHICHEVER_FIRST = "whichever_first"
    DOSE_COUNT = "dose_count"


class ChosenBy(StrEnum):
    """Who chose the cycle-end rule that shaped a plan."""

    PLAN = "plan"
    SITE_POLICY = "site_policy"
    NOT_NEEDED = "not_needed"


class DosingWeightBasis(StrEnum):
    """Which body weight the weight given to a plan is; il2 doses per kg of it, unconverted."""

    ACTUAL = "actual"
    IDEAL = "ideal"
    ADJUSTED = "adjusted"
    PRE_TREATMENT = "pre_treatment"

    @property
    def words(self) -> str:
        """The basis as a clinician reads it."""
        return _BASIS_WORDS[self]


_BASIS_WORDS = {
    DosingWeightBasis.ACTUAL: "actual body weight",
    DosingWeightBasis.IDEAL: "ideal body weight",
    DosingWeightBasis.ADJUSTED: "adjusted body weight",
    DosingWeightBasis.PRE_TREATMENT: "pre-treatment body weight",
}


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
    vial_extractable_ml: Decimal
    dosing_weight_basis: DosingWeightBasis
