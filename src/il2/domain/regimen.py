"""Regimens and the aldesleukin product, as frozen values built from the rule files.

A regimen's aldesleukin is given either every `interval_h` hours from the first dose (the
interval schedule of the high-dose bolus regimens) or by `steps`: doses on listed cycle days,
a set number a day, each step with its own dose. Companion agents (interferon, chemotherapy,
G-CSF) each have their own dose, route and days; a regimen may be anchored to an outside event
(the last SBRT fraction, the end of a TIL infusion).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from il2.domain.quantities import plain

ALDESLEUKIN = "aldesleukin"


class Route(StrEnum):
    """How an agent is given."""

    IV_BOLUS = "iv_bolus"
    CONTINUOUS_INFUSION = "continuous_infusion"
    SUBCUTANEOUS = "subcutaneous"
    INTRALESIONAL = "intralesional"
    INTRAVENOUS = "intravenous"
    ORAL = "oral"
    INTRAMUSCULAR = "intramuscular"


# The routes aldesleukin itself is given by (the others are companion agents').
ALDESLEUKIN_ROUTES = (
    Route.IV_BOLUS, Route.CONTINUOUS_INFUSION, Route.SUBCUTANEOUS, Route.INTRALESIONAL,
)  # fmt: skip


class CareSetting(StrEnum):
    """Where a regimen is given."""

    INPATIENT = "inpatient"
    OUTPATIENT = "outpatient"


class DoseBasis(StrEnum):
    """What a dose is counted per: kg of body weight, m² of body surface, a lesion, or flat."""

    PER_KG = "per_kg"
    PER_M2 = "per_m2"
    FLAT = "flat"
    PER_LESION = "per_lesion"


class DoseUnit(StrEnum):
    """The unit a dose is written in: IU and MIU for aldesleukin and interferon, mg else."""

    IU = "IU"
    MIU = "MIU"
    MG = "mg"

    @property
    def is_units(self) -> bool:
        """Whether the unit counts international units (IU or MIU)."""
        return self is not DoseUnit.MG


_BASIS_SUFFIX = {
    DoseBasis.PER_KG: "/kg",
    DoseBasis.PER_M2: "/m²",
    DoseBasis.FLAT: "",
    DoseBasis.PER_LESION: " per lesion",
}


@dataclass(frozen=True, slots=True)
class Dose:
    """A dose as its source writes it: an amount in a unit, per a basis."""

    amount: Decimal
    unit: DoseUnit
    basis: DoseBasis

    @property
    def words(self) -> str:
        """The dose as written: '600,000 IU/kg', '18 MIU/m²', '3 MIU per lesion'."""
        return f"{plain(self.amount)} {self.unit.value}{_BASIS_SUFFIX[self.basis]}"

    @property
    def per_unit_iu(self) -> Decimal:
        """The amount in IU (an IU or MIU dose only)."""
        return self.amount * 1_000_000 if self.unit is DoseUnit.MIU else self.amount


@dataclass(frozen=True, slots=True)
class Step:
    """Aldesleukin on some cycle days: `doses_per_day` doses a day, `every_h` hours apart."""

    days: tuple[int, ...]
    doses_per_day: int
    every_h: int | None
    dose: Dose
    duration_h: Decimal | None = None
    source: str = ""


@dataclass(frozen=True, slots=True)
class CompanionAgent:
    """An agent given with aldesleukin: its own dose (None where no source gives one), route
    and cycle days."""

    agent: str
    route: Route
    dose: Dose | None
    days: tuple[int, ...]
    doses_per_day: int
    source: str
    duration_h: Decimal | None = None
    unconfirmed: tuple[str, ...] = ()
    notes: str = ""


@dataclass(frozen=True, slots=True)
class Anchor:
    """An outside event the first aldesleukin dose follows, `min_h` to `max_h` hours after
    the latest event of that kind (an event given as a day is compared by days)."""

    event: str
    min_h: int
    max_h: int
    required: bool
    source: str


@dataclass(frozen=True, slots=True)
class Regimen:
    """One IL-2 regimen: the aldesleukin dose and its rhythm, companion agents, its limits."""

    id: str
    name: str
    dose_iu_per_kg: int | None
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
    route: Route = Route.IV_BOLUS
    setting: CareSetting = CareSetting.INPATIENT
    dose: Dose | None = None
    steps: tuple[Step, ...] = ()
    first_dose_day: int = 1
    agents: tuple[CompanionAgent, ...] = ()
    anchor: Anchor | None = None
    course_every_weeks: int | None = None
    cycle_length_days: int | None = None
    max_cycles_total: int | None = None

    @property
    def aldesleukin_dose(self) -> Dose:
        """The first aldesleukin dose as written (a stepped regimen's first step)."""
        if self.steps:
            return self.steps[0].dose
        if self.dose is not None:
            return self.dose
        return Dose(Decimal(self.dose_iu_per_kg or 0), DoseUnit.IU, DoseBasis.PER_KG)

    @property
    def doses(self) -> tuple[Dose, ...]:
        """Every dose a regimen gives, aldesleukin first, then each companion's."""
        found = [step.dose for step in self.steps] or [self.aldesleukin_dose]
        found += [agent.dose for agent in self.agents if agent.dose is not None]
        return tuple(found)

    def needs(self, basis: DoseBasis) -> bool:
        """Whether any dose of the regimen is counted per `basis`."""
        return any(dose.basis is basis for dose in self.doses)

    @property
    def agent_ids(self) -> tuple[str, ...]:
        """Aldesleukin, then each companion agent once, in the file's order."""
        return tuple(dict.fromkeys((ALDESLEUKIN, *(a.agent for a in self.agents))))

    @property
    def min_interval_h(self) -> int:
        """The shortest time between two aldesleukin dose starts the schedule plans."""
        return self.interval_h

    @property
    def summary(self) -> str:
        """The aldesleukin schedule in one line, as the plan form shows it."""
        route = self.route.value.replace("_", " ")
        if not self.steps:
            return (
                f"{self.aldesleukin_dose.words} {route} every {self.interval_h} h, up to "
                f"{self.max_doses_per_cycle} doses a cycle, {self.cycles_per_course} "
                f"cycle{'s' if self.cycles_per_course > 1 else ''} a course"
            )
        doses = " then ".join(dict.fromkeys(step.dose.words for step in self.steps))
        return (
            f"{doses} {route}, up to {self.max_doses_per_cycle} doses a cycle, "
            f"{self.cycles_per_course} cycle{'s' if self.cycles_per_course > 1 else ''} a course"
        )


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
    route_preparation: tuple[RoutePreparation, ...] = ()
    names: tuple[str, ...] = ()
    """The generic and brand names an order for the product goes by."""

    def mg_factor(self, factor_id: str) -> MgFactor:
        """The conversion factor with this id."""
        for factor in self.mg_factors:
            if factor.id == factor_id:
                return factor
        raise KeyError(factor_id)

    def preparation_for(self, route: Route) -> RoutePreparation | None:
        """How a dose given by `route` is prepared, where the file says (None: the IV bag)."""
        return next((p for p in self.route_preparation if p.route is route), None)


@dataclass(frozen=True, slots=True)
class RoutePreparation:
    """How a dose by one route is prepared, with its source (or that local protocol rules)."""

    route: Route
    note: str
    source: str


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


class BsaFormula(StrEnum):
    """How body-surface area is computed from height and weight."""

    MOSTELLER = "mosteller"
    DUBOIS = "dubois"


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
    bsa_formula: BsaFormula
    height_min_cm: Decimal
    height_max_cm: Decimal
    lesions_max: int
