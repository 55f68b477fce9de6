"""The simulation of a synthetic IL-2 program: referrals, ward readings, responses, survival.

One source of synthetic patients for the demo (services/demo.py writes these draws through the
services) and the in-memory program (science/synthetic.py, for benchmarks and the science
tests). The proportions are data with their sources (`data/simulation.toml`, and the label's
response counts in `data/label_efficacy.toml`); the regimen and the product come from the rule
set. Nothing here decides: the bedside engine, the grading engine and RECIST judge what is drawn.

The tumour's course is the mechanistic model's (il2.science.model_course: a virtual patient of
the diagnosis's calibrated population, one simulated hd-label course): the best response
category is the model's RECIST read-out and the target lesions shrink or grow as the simulated
tumour's sum of diameters does. Stable disease is what the model reads, not a drawn share; the
not-evaluable share, toxicities and survival are not in the model and stay drawn from the data.

The demo's draws take a `random.Random` in the order the demo always drew them (the draw that
picked the response category now seeds the patient's virtual patient), so a seed always gives
the same database.
"""

from __future__ import annotations

import random
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from il2.domain.errors import InvalidInputError, RuleTableError
from il2.rules.reader import Node
from il2.science.dataset import DIAGNOSES, Diagnosis
from il2.science.label import label_efficacy

if TYPE_CHECKING:
    from il2.domain.findings import Value
    from il2.rules.loader import RuleSet
    from il2.science.model_course import TumourCourse

_FILE = "simulation.toml"
# The regimen simulated patients are treated with (its values are the rule set's).
SIMULATED_REGIMEN = "hd-label"
GRADES = 5


@dataclass(frozen=True, slots=True)
class ToxicityRate:
    """How often a course brings a CTCAE term, and the share of each grade 1-5 when it does."""

    term: str
    incidence: float
    grades: tuple[float, ...]
    source: str


@dataclass(frozen=True, slots=True)
class KnownDependence:
    """The one recorded factor of a diagnosis whose share differs between responders and
    non-responders, as a publication counted it; every other factor is drawn independent of
    response. `p_responder` is P(factor | responder), `p_non_responder` P(factor | not)."""

    diagnosis: Diagnosis
    factor: str
    label: str
    field: str
    """The screening field it is read from (`tumour.ca_ix_pct`, `tumour.sites`)."""
    above: float | None
    """The factor is a value above this (a number field), or else ..."""
    only: frozenset[str] | None
    """... exactly these terms (a terms field)."""
    responders_with: int
    responders: int
    non_responders_with: int
    non_responders: int
    status: str
    sources: tuple[str, ...]

    @property
    def p_responder(self) -> float:
        """P(factor | responder)."""
        return self.responders_with / self.responders

    @property
    def p_non_responder(self) -> float:
        """P(factor | non-responder)."""
        return self.non_responders_with / self.non_responders

    @property
    def odds_ratio(self) -> float:
        """The odds of response with the factor over the odds without it (the counts' own)."""
        with_, without = self.responders_with, self.responders - self.responders_with
        others_with = self.non_responders_with
        others_without = self.non_responders - others_with
        return (with_ * others_without) / (without * others_with)

    @property
    def auc(self) -> float:
        """The area under the ROC curve of this one binary factor: (sensitivity + specificity)/2."""
        return (self.p_responder + 1 - self.p_non_responder) / 2

    def present(self, findings: Mapping[str, Value]) -> bool | None:
        """Whether checked findings (dotted paths, as `read_findings` gives) show the factor;
        None when the field was not recorded."""
        value = findings.get(self.field)
        if value is None:
            return None
        if self.above is not None:
            return float(value) > self.above  # type: ignore[arg-type]
        return value == self.only


@dataclass(frozen=True, slots=True)
class Prognostic:
    """How a treated synthetic patient's baseline prognostic factors are drawn."""

    dependence: Mapping[Diagnosis, KnownDependence]
    ranges: Mapping[str, tuple[float, float]]
    """Uniform ranges of the drawn numbers (`ldh_u_l`, `neutrophil_share`, ...)."""
    limits: Mapping[str, float]
    """Fixed reference limits and shares (`ldh_uln_u_l`, `sarcomatoid`, ...)."""
    karnofsky: Mapping[int, tuple[int, int]]
    prior_therapies: Mapping[Diagnosis, Mapping[str, float]]
    histology: Mapping[Diagnosis, Mapping[str, float]]
    nephrectomy: float
    sites: Mapping[str, tuple[str, ...]]
    melanoma_also_skin: float


@dataclass(frozen=True, slots=True)
class Proportions:
    """The proportions every synthetic program is drawn with (`data/simulation.toml`)."""

    stable_disease: float
    not_evaluable: float
    median_os_months: Mapping[Diagnosis, float]
    toxicities: tuple[ToxicityRate, ...]
    prognostic: Prognostic


def _share(node: Node, key: str) -> float:
    value = float(node.number(key))
    if not 0 <= value <= 1:
        raise node.fail(key, f"{value} is not a share between 0 and 1")
    return value


def _toxicity(term: str, node: Node) -> ToxicityRate:
    node.only("incidence", "grades", "source", "grades_source", "term_note")
    node.text("grades_source")
    grades = node.raw("grades")
    if (
        not isinstance(grades, list)
        or len(grades) != GRADES
        or not all(isinstance(share, int | float) and 0 <= share <= 1 for share in grades)
        or abs(sum(grades) - 1) > 1e-9
    ):
        raise node.fail("grades", f"must be {GRADES} shares (grades 1-5) that add up to 1")
    return ToxicityRate(
        term=term,
        incidence=_share(node, "incidence"),
        grades=tuple(float(share) for share in grades),
        source=node.text("source"),
    )


_RANGES = ("ldh_u_l", "neutrophil_share", "calcium_mg_dl", "albumin_g_dl", "months_since_diagnosis")
_LIMITS = (
    "ldh_uln_u_l",
    "neutrophils_uln_per_ul",
    "calcium_uln_mg_dl",
    "hemoglobin_lln_g_dl",
    "platelets_uln_per_ul",
    "sarcomatoid",
)


# The factor drawn by response, and whether it is a set of terms (not a number above a value)
_DRAWN_BY_RESPONSE: Mapping[Diagnosis, tuple[str, bool]] = MappingProxyType(
    {"renal_cell_carcinoma": ("tumour.ca_ix_pct", False), "melanoma": ("tumour.sites", True)}
)


def _sourced(node: Node, *statuses: str) -> None:
    node.text("source")
    status = node.text("status")
    if not any(status.startswith(allowed) for allowed in statuses):
        raise node.fail("status", f"{status!r} is not one of {', '.join(statuses)}")


def _range(node: Node, key: str) -> tuple[float, float]:
    pair = node.raw(key)
    if (
        not isinstance(pair, list)
        or len(pair) != 2
        or not all(isinstance(end, int | float) for end in pair)
        or pair[0] > pair[1]
    ):
        raise node.fail(key, "must be [low, high] with low <= high")
    return float(pair[0]), float(pair[1])


def _count(node: Node, key: str, most: int | None = None) -> int:
    value = node.integer(key, minimum=1)
    if most is not None and value > most:
        raise node.fail(key, f"{value} is more than {most}")
    return value


def _dependence(diagnosis: Diagnosis, node: Node) -> KnownDependence:
    node.only(
        "factor", "label", "field", "above_pct", "only", "responders_with", "responders",
        "non_responders_with", "non_responders", "status", "source", "derivation", "spread",
        "spread_status",
    )  # fmt: skip
    _sourced(node, "cited", "derived")
    node.text("spread")
    node.text("spread_status")
    if node.text("status") == "derived":
        node.text("derivation")
    above = node.optional_number("above_pct")
    only = frozenset(node.texts("only")) if node.has("only") else None
    if (above is None) == (only is None):
        raise node.fail("above_pct", "give either above_pct (a number field) or only (terms)")
    responders = _count(node, "responders")
    non_responders = _count(node, "non_responders")
    return KnownDependence(
        diagnosis=diagnosis,
        factor=node.text("factor"),
        label=node.text("label"),
        field=node.text("field"),
        above=None if above is None else float(above),
        only=only,
        responders_with=_count(node, "responders_with", responders - 1),
        responders=responders,
        non_responders_with=_count(node, "non_responders_with", non_responders - 1),
        non_responders=non_responders,
        status=node.text("status"),
        sources=(node.text("source"), "il2 clinical reference, section 10"),
    )


def _shares(node: Node, key: str) -> dict[str, float]:
    table = node.table(key)
    return {name: _share(table, name) for name, _ in table.data.items()}


def _prognostic(node: Node) -> Prognostic:
    node.only(*DIAGNOSES, "independent")
    dependence = {}
    for diagnosis in DIAGNOSES:
        entry = node.table(diagnosis)
        entry.only("dependence")
        dependence[diagnosis] = _dependence(diagnosis, entry.table("dependence"))
        # prognostic_findings knows how to draw these two factors only
        drawable = _DRAWN_BY_RESPONSE[diagnosis]
        if (dependence[diagnosis].field, dependence[diagnosis].above is None) != drawable:
            raise entry.table("dependence").fail("field", f"must be {drawable[0]}")
    drawn = node.table("independent")
    tables = ("karnofsky", "prior_therapies", "histology", "nephrectomy", "sites")
    drawn.only("status", "source", *_RANGES, *_LIMITS, *tables)
    _sourced(drawn, "assumption")
    karnofsky = drawn.table("karnofsky")
    karnofsky.only("ecog_0", "ecog_1", "ecog_2", "status", "source")
    _sourced(karnofsky, "assumption")
    prior = drawn.table("prior_therapies")
    histology = drawn.table("histology")
    for table in (prior, histology):
        table.only(*DIAGNOSES, "status", "source")
        _sourced(table, "assumption")
    nephrectomy = drawn.table("nephrectomy")
    nephrectomy.only("share", "status", "source")
    _sourced(nephrectomy, "cited", "assumption")
    sites = drawn.table("sites")
    sites.only("renal_cell_carcinoma", "melanoma_other", "melanoma_also_skin", "status", "source")
    _sourced(sites, "assumption")
    kinds = {diagnosis: _shares(histology, diagnosis) for diagnosis in DIAGNOSES}
    for diagnosis, shares in kinds.items():
        if abs(sum(shares.values()) - 1) > 1e-9:
            raise histology.fail(diagnosis, "the shares must add up to 1")
    return Prognostic(
        dependence=MappingProxyType(dependence),
        ranges=MappingProxyType({key: _range(drawn, key) for key in _RANGES}),
        limits=MappingProxyType({key: _plain(drawn.number(key)) for key in _LIMITS}),
        karnofsky=MappingProxyType({ecog: _kps(karnofsky, f"ecog_{ecog}") for ecog in range(3)}),
        prior_therapies=MappingProxyType(
            {diagnosis: _shares(prior, diagnosis) for diagnosis in DIAGNOSES}
        ),
        histology=MappingProxyType(kinds),
        nephrectomy=_share(nephrectomy, "share"),
        sites=MappingProxyType(
            {key: sites.texts(key) for key in ("renal_cell_carcinoma", "melanoma_other")}
        ),
        melanoma_also_skin=_share(sites, "melanoma_also_skin"),
    )


def _plain(number: Decimal) -> float:
    """A whole number as an int (a document shows 250, not 250.0)."""
    return int(number) if number == number.to_integral_value() else float(number)


def _kps(node: Node, key: str) -> tuple[int, int]:
    low, high = _range(node, key)
    if not (0 <= low <= high <= 100) or low % 10 or high % 10:
        raise node.fail(key, "must be Karnofsky scores (0 to 100 in tens)")
    return int(low), int(high)


def parse_simulation(text: str, *, file: str = _FILE) -> Proportions:
    """Validate a simulation file; a bad one raises `RuleTableError` naming the field."""
    try:
        root = Node(tomllib.loads(text), file)
    except tomllib.TOMLDecodeError as error:
        raise RuleTableError(file=file, field="(syntax)", problem=str(error)) from None
    root.only("meta", "responses", "survival", "toxicities", "prognostic", "demo_overrides")
    if root.has("demo_overrides"):
        _demo_overrides(root.table("demo_overrides"))
    root.table("meta").text("reference")
    responses = root.table("responses")
    responses.only("stable_disease", "source", "not_evaluable", "not_evaluable_source")
    responses.text("source")
    responses.text("not_evaluable_source")
    survival = root.table("survival")
    survival.only(*DIAGNOSES)
    median: dict[Diagnosis, float] = {}
    for diagnosis in DIAGNOSES:
        entry = survival.table(diagnosis)
        entry.only("median_os_months", "source")
        entry.text("source")
        median[diagnosis] = float(entry.number("median_os_months"))
    return Proportions(
        stable_disease=_share(responses, "stable_disease"),
        not_evaluable=_share(responses, "not_evaluable"),
        median_os_months=MappingProxyType(median),
        toxicities=tuple(
            _toxicity(term, node) for term, node in root.table("toxicities").children()
        ),
        prognostic=_prognostic(root.table("prognostic")),
    )


@dataclass(frozen=True, slots=True)
class DemoOverrides:
    """How the demo's physician overrides holds: the share of overridable holds given, and the
    reasons written (demo choices, `[demo_overrides]` of `data/simulation.toml`)."""

    share: float
    reasons: tuple[str, ...]


def _demo_overrides(node: Node) -> DemoOverrides:
    node.only("share", "status", "source", "reasons")
    node.text("source")
    if node.text("status") != "assumption":
        raise node.fail("status", "the demo's override rate has no source: it is an assumption")
    reasons = node.texts("reasons")
    if not reasons:
        raise node.fail("reasons", "must name one or more override reasons")
    return DemoOverrides(share=_share(node, "share"), reasons=reasons)


def parse_demo_overrides(text: str, *, file: str = _FILE) -> DemoOverrides:
    """The `[demo_overrides]` section of a simulation file; `RuleTableError` when bad or absent."""
    parse_simulation(text, file=file)
    return _demo_overrides(Node(tomllib.loads(text), file).table("demo_overrides"))


@cache
def demo_overrides() -> DemoOverrides:
    """The bundled demo override choices (read once)."""
    text = resources.files("il2.science").joinpath("data", _FILE).read_text(encoding="utf-8")
    return parse_demo_overrides(text)


@cache
def proportions() -> Proportions:
    """The bundled proportions (read once)."""
    text = resources.files("il2.science").joinpath("data", _FILE).read_text(encoding="utf-8")
    return parse_simulation(text)


def response_proportions(diagnosis: Diagnosis) -> tuple[float, float, float, float]:
    """CR, PR, SD and PD shares of treated patients: CR and PR as the label counted them.

    The reference the model's read-out is compared with; synthetic patients are no longer drawn
    in these shares (`tumour_course`)."""
    label = label_efficacy()[diagnosis]
    cr, pr = label.complete / label.patients, label.partial / label.patients
    sd = proportions().stable_disease
    return cr, pr, sd, 1 - cr - pr - sd


def screening_findings(rng: random.Random, diagnosis: Diagnosis, age: int) -> dict[str, Any]:
    """A referral's work-up: most are eligible, a few fail as real ones do (ECOG, kidney, brain)."""
    findings: dict[str, Any] = {
        "age_years": age,
        "diagnosis": diagnosis,
        "metastatic": True,
        "ecog": rng.choice([0, 0, 0, 1, 1]),
        "labs": {
            "creatinine_mg_dl": round(rng.uniform(0.7, 1.3), 1),
            "bilirubin_mg_dl": round(rng.uniform(0.3, 1.1), 1),
            "ast_u_l": rng.randint(15, 45),
            "alt_u_l": rng.randint(12, 45),
            "ast_uln_u_l": 40,
            "alt_uln_u_l": 40,
            "platelets_per_ul": rng.randint(150, 400) * 1000,
            "wbc_per_ul": rng.randint(45, 100) * 100,
            "hemoglobin_g_dl": round(rng.uniform(10.5, 15.0), 1),
        },
        # derived, not drawn: the draws (and so every demo database) stay as they were
        "cardiac": {
            "lvef_pct": 55 + age % 15,
            "wall_motion": "normal",
            "significant_cad": False,
            "stress_test": "normal",
            "cardiac_history": False,
        },
        "pulmonary": {
            "fev1_l": round(rng.uniform(2.2, 3.8), 1),
            "fev1_pct_predicted": rng.randint(78, 110),
            "smoking_history": rng.random() < 0.4,
            "lung_disease": False,
        },
        "brain_imaging": "negative",
        "hypersensitivity_to_aldesleukin": False,
        "conditions": [],
        "medications": [],
        "supplemental_oxygen": False,
        "pregnant": False,
    }
    failure = rng.random()
    if failure < 0.08:
        findings["ecog"] = 2
    elif failure < 0.14:
        creatinine = round(rng.uniform(1.7, 2.4), 1)
        findings["labs"]["creatinine_mg_dl"] = creatinine
        findings["labs"]["creatinine_clearance_ml_min"] = round(75 / creatinine)
    elif failure < 0.19:
        findings["brain_imaging"] = "active_metastases"
    elif failure < 0.22:
        findings["medications"] = ["systemic_corticosteroids"]
    return findings


def known_dependence(diagnosis: Diagnosis) -> KnownDependence:
    """The factor whose share the synthetic patients of `diagnosis` draw by response."""
    if diagnosis not in DIAGNOSES:
        raise InvalidInputError(field="diagnosis", value=diagnosis, allowed=" or ".join(DIAGNOSES))
    return proportions().prognostic.dependence[diagnosis]


# The M category of the worst site, AJCC 8th edition (brain, M1d, is never drawn)
_M_CATEGORY = {"skin_subcutaneous": "M1a", "lymph_node": "M1a", "lung": "M1b"}
_M_CATEGORY_ELSE = "M1c"


def _uniform(rng: random.Random, bounds: tuple[float, float], digits: int) -> float:
    return round(rng.uniform(*bounds), digits)


def prognostic_findings(
    rng: random.Random,
    diagnosis: Diagnosis,
    *,
    responder: bool,
    ecog: int | None = None,
    wbc_per_ul: float | None = None,
) -> dict[str, Any]:
    """A treated patient's baseline prognostic factors, as screening document parts (`labs`,
    `history`, `tumour`, `karnofsky`) to merge into the work-up.

    Only `known_dependence(diagnosis)`'s factor is drawn by `responder`, and it is drawn last:
    every other value is the same draw whatever the response. Karnofsky follows `ecog` and
    neutrophils are a share of `wbc_per_ul` (the work-up's); without them both are drawn, and
    the ECOG is returned as well."""
    if diagnosis not in DIAGNOSES:
        raise InvalidInputError(field="diagnosis", value=diagnosis, allowed=" or ".join(DIAGNOSES))
    table = proportions().prognostic
    ranges, limits = table.ranges, table.limits
    document: dict[str, Any] = {}
    if ecog is None:
        ecog = rng.choice([0, 0, 0, 1, 1])  # the work-up's mix (screening_findings)
        document["ecog"] = ecog
    if ecog not in table.karnofsky:
        raise InvalidInputError(field="ecog", value=ecog, allowed="0, 1 or 2")
    if wbc_per_ul is None:
        wbc_per_ul = rng.randint(45, 100) * 100
    low, high = table.karnofsky[ecog]
    document["karnofsky"] = rng.randrange(low, high + 1, 10)
    document["labs"] = {
        "ldh_u_l": round(rng.uniform(*ranges["ldh_u_l"])),
        "ldh_uln_u_l": limits["ldh_uln_u_l"],
        "neutrophils_per_ul": round(wbc_per_ul * rng.uniform(*ranges["neutrophil_share"]) / 10)
        * 10,
        "neutrophils_uln_per_ul": limits["neutrophils_uln_per_ul"],
        "calcium_mg_dl": _uniform(rng, ranges["calcium_mg_dl"], 1),
        "calcium_uln_mg_dl": limits["calcium_uln_mg_dl"],
        "albumin_g_dl": _uniform(rng, ranges["albumin_g_dl"], 1),
        "hemoglobin_lln_g_dl": limits["hemoglobin_lln_g_dl"],
        "platelets_uln_per_ul": limits["platelets_uln_per_ul"],
    }
    earlier = table.prior_therapies[diagnosis]
    history: dict[str, Any] = {
        "months_since_diagnosis": round(rng.uniform(*ranges["months_since_diagnosis"])),
        "prior_therapies": [name for name, share in earlier.items() if rng.random() < share],
    }
    kinds = table.histology[diagnosis]
    tumour: dict[str, Any] = {
        "histology": rng.choices(list(kinds), weights=list(kinds.values()))[0]
    }
    dependence = table.dependence[diagnosis]
    if diagnosis == "renal_cell_carcinoma":
        history["nephrectomy"] = rng.random() < table.nephrectomy
        tumour["sarcomatoid"] = rng.random() < limits["sarcomatoid"]
        pool = table.sites["renal_cell_carcinoma"]
        tumour["sites"] = rng.sample(pool, rng.randint(1, 3))
        # the one factor drawn by response (last, so the draws above do not depend on it)
        above = int(dependence.above or 0)  # a number: _prognostic checks it
        high_share = dependence.p_responder if responder else dependence.p_non_responder
        high = rng.random() < high_share
        tumour["ca_ix_pct"] = rng.randint(above + 1, 100) if high else rng.randint(0, above)
    else:
        other = rng.sample(table.sites["melanoma_other"], rng.randint(1, 3))
        also_skin = rng.random() < table.melanoma_also_skin
        only = sorted(dependence.only or ())
        share = dependence.p_responder if responder else dependence.p_non_responder
        sites = only if rng.random() < share else [*(only if also_skin else []), *other]
        tumour["sites"] = sites
        categories = {_M_CATEGORY.get(site, _M_CATEGORY_ELSE) for site in sites}
        tumour["m_stage"] = max(categories)
    document["history"] = history
    document["tumour"] = tumour
    return document


def _oxygen(rng: random.Random, strain: float) -> tuple[float, int]:
    """Oxygen titrated to keep SpO2 at 95% or more, as the consensus grades it."""
    need = 5 * strain * rng.random()
    if need > 4.5:
        return 5, round(91 + 3 * rng.random())  # the most the ward gives, short of the target
    flow = round(need * 2) / 2
    return flow, round(95 + 3 * rng.random())


def _pressors(rng: random.Random, strain: float) -> list[dict[str, Any]]:
    now = round(0.4 * strain * rng.random(), 2)
    most = max(now, round(1.2 * strain * rng.random(), 2))
    if most == 0:
        return []
    listed = [
        {"agent": "phenylephrine", "now_ug_kg_min": now, "max_since_last_dose_ug_kg_min": most}
    ]
    if rng.random() < 0.04 * strain:
        listed.append({"agent": "norepinephrine", "now_ug_kg_min": 0.03,
                       "max_since_last_dose_ug_kg_min": 0.05})  # fmt: skip
    return listed


def bedside_assessment(
    rng: random.Random, frailty: float, number: int, weight: float, *, sbp: float | None = None
) -> dict[str, Any]:
    """A complete assessment before dose `number`: toxicity builds as doses accumulate.

    `sbp`, when given, is the systolic pressure read instead of the drawn one (drawn all the
    same, so the draws that follow stay where they were).
    """
    strain = min(1.0, frailty * number / 16)
    drawn_sbp = 118 - rng.random() * 45 * strain
    oxygen, spo2 = _oxygen(rng, strain)
    confused = rng.random() < 0.12 * strain
    assessment: dict[str, Any] = {
        "baseline": {"weight_kg": weight, "creatinine_mg_dl": 1.0},
        "held_for": [],
        "vitals": {
            "sbp_mmhg": round(drawn_sbp if sbp is None else sbp),
            "heart_rate_bpm": round(88 + 30 * strain * rng.random()),
            "spo2_pct": spo2,
            "temperature_c": round(37.5 + 1.5 * rng.random(), 1),
            "rhythm": "sinus",
        },
        "weight_kg": round(weight * (1 + 0.12 * strain * rng.random()), 1),
        "urine_output_ml_last_8h": round(420 - 330 * strain * rng.random()),
        "labs": {
            "creatinine_mg_dl": round(1.0 + 2.1 * strain * rng.random(), 1),
            "bilirubin_mg_dl": round(0.8 + 2 * strain * rng.random(), 1),
            "platelets_per_ul": round(220000 - 170000 * strain * rng.random()),
            "bicarbonate_mmol_l": round(24 - 5 * strain * rng.random()),
            "hours_since_drawn": (number - 1) % 3 * 8 + 2,
        },
        "vasopressors": _pressors(rng, strain),
        "oxygen_l_min": oxygen,
        "mental_status": "mild_confusion" if confused else "normal",
        "coma_hours": 0,
        "intubated_hours": 0,
        "dialysis_hours": 0,
        "findings": [],
    }
    if confused:
        assessment["mental_status_change_hours"] = round(3 * rng.random(), 1)
    return assessment


def _lesions(rng: random.Random) -> list[dict[str, Any]]:
    """One to three measurable target lesions (nodes at 15 mm or more short axis)."""
    organs = rng.sample(
        ["lung", "liver", "lymph_node", "adrenal", "soft_tissue"], rng.randint(1, 3)
    )
    return [
        {
            "id": f"L{i + 1}",
            "organ": organ,
            "nodal": organ == "lymph_node",
            "diameter_mm": rng.randint(16, 45) if organ == "lymph_node" else rng.randint(11, 60),
        }
        for i, organ in enumerate(organs)
    ]


def _scan(
    when: date, lesions: list[dict[str, Any]], ratio: float, *, new: bool = False
) -> dict[str, Any]:
    """The target lesions on `when`, each `ratio` times its baseline diameter (a node that is
    gone is recorded at 6 mm: normal, under RECIST's 10 mm short axis)."""
    measured = []
    for lesion in lesions:
        size = lesion["diameter_mm"] * ratio
        if ratio == 0 and lesion["nodal"]:
            size = 6
        measured.append({**lesion, "diameter_mm": round(size, 1)})
    return {
        "date": when.isoformat(),
        "target_lesions": measured,
        "non_target": "absent",
        "new_lesions": new,
    }


def tumour_course(rng: random.Random, diagnosis: Diagnosis, *, rules: RuleSet) -> TumourCourse:
    """A treated patient's simulated tumour under one course of SIMULATED_REGIMEN.

    Takes one draw of `rng` (the one that used to pick the response category, so the demo's
    other draws stay where they were): its 53 bits seed the patient's virtual patient, drawn from
    the calibrated population of `diagnosis` (data/population.toml). The category is the model's
    RECIST read-out; the sizes are the simulated tumour's (il2.science.model_course)."""
    return tumour_courses([rng.random()], [diagnosis], rules=rules)[0]


def tumour_courses(
    draws: Sequence[float], diagnoses: Sequence[Diagnosis], *, rules: RuleSet
) -> list[TumourCourse]:
    """`tumour_course` for many patients at once (a draw in [0, 1) and a diagnosis each): one
    simulation for all of them; each patient's course depends on its own draw only."""
    from il2.science import model_course  # noqa: PLC0415 - numpy and numba only when simulating

    return model_course.tumour_courses(draws, diagnoses, rules=rules, regimen=SIMULATED_REGIMEN)


def lesion_measurements(
    rng: random.Random, baseline_on: date, first_scan: date, course: TumourCourse, dosed_on: date
) -> dict[str, Any]:
    """Target lesions at baseline, at `first_scan` and 8 weeks on.

    Every lesion is scaled by the simulated sum-of-diameters ratio (T/T0)^(1/3) on the scan's
    day after the first dose (`dosed_on`, the model's day 0; 0 once the tumour is below RECIST's
    smallest measurable lesion), so il2's RECIST engine judges the model's tumour."""
    lesions = _lesions(rng)
    later = first_scan + timedelta(weeks=8)
    return {
        "confirmation_required": True,
        "assessments": [
            {
                "date": baseline_on.isoformat(),
                "target_lesions": lesions,
                "non_target": "absent",
                "new_lesions": False,
            },
            _scan(first_scan, lesions, course.ratio_on((first_scan - dosed_on).days)),
            _scan(later, lesions, course.ratio_on((later - dosed_on).days)),
        ],
    }


def toxicity_findings(rng: random.Random, frailty: float) -> list[dict[str, Any]]:
    """What a course's end brings, as the grading engine takes it (it grades them, not this)."""
    findings: list[dict[str, Any]] = [
        {"term": "hypotension", "clinical_grade": 3 if frailty > 1.2 else 2},
        {
            "term": "platelet_count_decreased",
            "value": rng.randint(35, 140) * 1000,
            "unit": "per_ul",
            "lln": 150000,
        },
        {"term": "fever", "value": round(38.2 + rng.random() * 1.6, 1), "unit": "c"},
    ]
    if rng.random() < 0.35:
        findings.append(
            {
                "term": "creatinine_increased",
                "value": round(1.3 + rng.random() * 2.5, 1),
                "unit": "mg_dl",
                "uln": 1.2,
                "baseline": 1.0,
            }
        )
    if rng.random() < 0.3:
        findings.append({"term": "confusion", "clinical_grade": rng.choice([1, 2])})
    return findings


def death_on(rng: random.Random, diagnosis: Diagnosis, first_on: date, hint: float) -> date:
    """When a patient first dosed on `first_on` dies: exponential about the median survival."""
    months = rng.expovariate(0.693 / proportions().median_os_months[diagnosis]) * hint
    return first_on + timedelta(days=max(30, round(months * 30.44)))
