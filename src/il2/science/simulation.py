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
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from il2.domain.errors import RuleTableError
from il2.rules.reader import Node
from il2.science.dataset import DIAGNOSES, Diagnosis
from il2.science.label import label_efficacy

if TYPE_CHECKING:
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
class Proportions:
    """The proportions every synthetic program is drawn with (`data/simulation.toml`)."""

    stable_disease: float
    not_evaluable: float
    median_os_months: Mapping[Diagnosis, float]
    toxicities: tuple[ToxicityRate, ...]


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


def parse_simulation(text: str, *, file: str = _FILE) -> Proportions:
    """Validate a simulation file; a bad one raises `RuleTableError` naming the field."""
    try:
        root = Node(tomllib.loads(text), file)
    except tomllib.TOMLDecodeError as error:
        raise RuleTableError(file=file, field="(syntax)", problem=str(error)) from None
    root.only("meta", "responses", "survival", "toxicities")
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
    )


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
