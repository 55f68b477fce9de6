"""Screening safety invariants: a contraindication is never eligible; a gap is never eligible."""

from __future__ import annotations

import copy
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.strategies import documents, put

from il2.domain.eligibility import Verdict
from il2.rules.loader import load_rules
from il2.services.screening import screen_candidate

RULES = load_rules()
Document = dict[str, Any]
Change = Callable[[Document], None]


def _number(low: str, high: str, places: int = 2) -> st.SearchStrategy[float]:
    return st.decimals(min_value=Decimal(low), max_value=Decimal(high), places=places).map(float)


def _failing(edge: str, far: str, places: int = 2) -> st.SearchStrategy[float]:
    """Failing values from `edge` (the failing value nearest the threshold) to `far`, the edge
    itself drawn often."""
    low, high = sorted((Decimal(edge), Decimal(far)))
    return st.one_of(st.just(float(edge)), _number(str(low), str(high), places))


@st.composite
def eligible_workups(draw: st.DrawFn) -> Document:
    """A complete work-up whose every value passes its criterion (by the sources, not the code)."""
    age = draw(_number("18", "100", 1))
    history = draw(st.booleans())
    stress_needed = age >= 50 or history
    uln = draw(st.integers(20, 60))
    creatinine_passes = draw(st.booleans())
    labs = {
        "creatinine_mg_dl": draw(
            _number("0.3", "1.5") if creatinine_passes else _number("1.51", "4")
        ),
        "bilirubin_mg_dl": draw(_number("0.1", "1.4")),
        "ast_u_l": draw(st.integers(5, 3 * uln)),
        "alt_u_l": draw(st.integers(5, 3 * uln)),
        "ast_uln_u_l": uln,
        "alt_uln_u_l": uln,
        "platelets_per_ul": draw(st.integers(100_000, 600_000)),
        "wbc_per_ul": draw(st.integers(4_000, 15_000)),
        "hemoglobin_g_dl": draw(_number("10", "18", 1)),
    }
    if not creatinine_passes or draw(st.booleans()):
        labs["creatinine_clearance_ml_min"] = draw(_number("60", "180", 0))
    return {
        "age_years": age,
        "diagnosis": draw(st.sampled_from(["melanoma", "renal_cell_carcinoma"])),
        "metastatic": True,
        "ecog": draw(st.integers(0, 1)),
        "weight_kg": draw(_number("40", "150", 1)),
        "labs": labs,
        "cardiac": {
            "lvef_pct": draw(_number("50.01", "80")),
            "wall_motion": "normal",
            "significant_cad": False,
            "stress_test": "normal"
            if stress_needed
            else draw(st.sampled_from(["normal", "not_done"])),
            "cardiac_history": history,
        },
        "pulmonary": {
            "fev1_l": draw(_number("2.01", "6")),
            "fev1_pct_predicted": draw(_number("75", "150")),
            "smoking_history": draw(st.booleans()),
            "lung_disease": draw(st.booleans()),
        },
        "brain_imaging": draw(st.sampled_from(["negative", "treated_stable"])),
        "hypersensitivity_to_aldesleukin": False,
        "conditions": [],
        "medications": [],
        "supplemental_oxygen": draw(st.booleans()),
        "pregnant": False,
    }


def _setter(path: str, values: st.SearchStrategy[Any]) -> st.SearchStrategy[Change]:
    return values.map(lambda value: lambda document: put(document, path, value))


def _listing(field: str, term: str) -> st.SearchStrategy[Change]:
    """Add `term` to a top-level list field (conditions, medications)."""

    def add(document: Document) -> None:
        document[field] = sorted({*(document.get(field) or []), term})

    return st.just(add)


def _liver_enzyme(name: str) -> st.SearchStrategy[Change]:
    """An AST or ALT above 3 x the laboratory's ULN (the ULN of the document, or set here)."""

    def above(extra: int) -> Change:
        def change(document: Document) -> None:
            uln = document.setdefault("labs", {}).setdefault(f"{name}_uln_u_l", 40)
            document["labs"][f"{name}_u_l"] = min(3 * uln + extra, 20_000)

        return change

    return st.integers(1, 500).map(above)


def _creatinine_and_clearance(pair: tuple[float, float]) -> Change:
    def change(document: Document) -> None:
        put(document, "labs.creatinine_mg_dl", pair[0])
        put(document, "labs.creatinine_clearance_ml_min", pair[1])

    return change


# Each contraindication with the values that show it, as the sources state them.
CONTRAINDICATIONS: dict[str, st.SearchStrategy[Change]] = {
    "ejection fraction 50% or less": _setter("cardiac.lvef_pct", _failing("50", "1")),
    "impaired wall motion": _setter("cardiac.wall_motion", st.just("abnormal")),
    "significant coronary artery disease": _setter(
        "cardiac.significant_cad", st.sampled_from([True])
    ),
    "FEV1 2 L or less": _setter("pulmonary.fev1_l", _failing("2.0", "0.1")),
    "FEV1 below 75% predicted": _setter("pulmonary.fev1_pct_predicted", _failing("74.99", "5")),
    "severe hypersensitivity": _setter("hypersensitivity_to_aldesleukin", st.sampled_from([True])),
    "under 18": _setter("age_years", _failing("17.9", "0", 1)),
    "not metastatic": _setter("metastatic", st.sampled_from([False])),
    "ECOG 2 or more": _setter("ecog", st.integers(2, 4)),
    "creatinine and clearance both failing": st.tuples(
        _failing("1.51", "30"), _failing("59.99", "0")
    ).map(_creatinine_and_clearance),
    "bilirubin above 1.4": _setter("labs.bilirubin_mg_dl", _failing("1.41", "50")),
    "AST above 3 x ULN": _liver_enzyme("ast"),
    "ALT above 3 x ULN": _liver_enzyme("alt"),
    "platelets below 100,000": _setter("labs.platelets_per_ul", st.integers(0, 99_999)),
    "white cells below 4,000": _setter("labs.wbc_per_ul", st.integers(0, 3_999)),
    "haemoglobin below 10": _setter("labs.hemoglobin_g_dl", _failing("9.99", "1")),
    "active brain metastases": _setter("brain_imaging", st.just("active_metastases")),
    "abnormal stress test": _setter("cardiac.stress_test", st.just("abnormal")),
    "systemic corticosteroids": _listing("medications", "systemic_corticosteroids"),
    "pregnant": _setter("pregnant", st.sampled_from([True])),
    **{
        f"condition {term}": _listing("conditions", term)
        for term in (
            "autoimmune_disease",
            "active_infection",
            "organ_allograft",
            "seizure_disorder",
            "hiv",
            "hepatitis_b",
            "hepatitis_c",
            "extensive_liver_involvement",
            "ongoing_bleeding",
            "psychiatric_illness_unsafe",
        )
    },
}
injections = st.lists(
    st.sampled_from(sorted(CONTRAINDICATIONS)), min_size=1, max_size=4, unique=True
).flatmap(lambda names: st.tuples(*(CONTRAINDICATIONS[n] for n in names)))
any_complete_workup = documents(RULES.screening_fields, always=tuple(RULES.screening_fields))


def _inject(document: Document, changes: tuple[Change, ...]) -> Document:
    document = copy.deepcopy(document)
    for change in changes:
        change(document)
    return document


@settings(max_examples=150)
@given(workup=eligible_workups())
def test_the_eligible_workups_are_eligible(workup: Document) -> None:
    screening = screen_candidate(RULES, workup)
    assert screening.verdict.value == "eligible", [
        (r.criterion.id, r.evidence) for r in screening.results if r.verdict is not Verdict.MET
    ]


@pytest.mark.parametrize("name", sorted(CONTRAINDICATIONS))
@settings(max_examples=15)
@given(workup=st.one_of(eligible_workups(), any_complete_workup), data=st.data())
def test_each_contraindication_alone_makes_any_workup_ineligible(
    name: str, workup: Document, data: st.DataObject
) -> None:
    change = data.draw(CONTRAINDICATIONS[name])
    assert screen_candidate(RULES, _inject(workup, (change,))).verdict.value == "ineligible"


@settings(max_examples=150)
@given(workup=st.one_of(eligible_workups(), any_complete_workup), changes=injections)
def test_a_screening_with_several_contraindications_is_ineligible(
    workup: Document, changes: tuple[Change, ...]
) -> None:
    screening = screen_candidate(RULES, _inject(workup, changes))
    assert screening.verdict.value == "ineligible"


# Fields whose absence can leave an eligible work-up eligible, and when:
# - not read by any criterion in force: weight_kg (dosing only); supplemental_oxygen (its
#   criterion is off by default);
# - read as one of two alternatives: the creatinine or the creatinine clearance, when the
#   other one passes;
# - read only to decide whether a test is needed: the stress test, when the patient is under
#   50 with no cardiac history; cardiac history, when the stress test is normal; smoking
#   history and lung disease, since PFTs are required for every patient (they were given).
NOT_READ = {"weight_kg", "supplemental_oxygen"}
MAY_GO: dict[str, Callable[[Document], bool]] = {
    "labs.creatinine_mg_dl": lambda d: d["labs"].get("creatinine_clearance_ml_min", 0) >= 60,
    "labs.creatinine_clearance_ml_min": lambda d: d["labs"]["creatinine_mg_dl"] <= 1.5,
    "cardiac.stress_test": lambda d: d["age_years"] < 50 and not d["cardiac"]["cardiac_history"],
    "cardiac.cardiac_history": lambda d: d["cardiac"]["stress_test"] == "normal",
    "pulmonary.smoking_history": lambda d: True,
    "pulmonary.lung_disease": lambda d: True,
}


def _paths(document: Document, prefix: str = "") -> list[str]:
    paths = []
    for key, value in document.items():
        if isinstance(value, dict):
            paths += _paths(value, f"{prefix}{key}.")
        else:
            paths.append(f"{prefix}{key}")
    return paths


def _without(document: Document, path: str) -> Document:
    document = copy.deepcopy(document)
    *groups, name = path.split(".")
    target = document
    for group in groups:
        target = target[group]
    del target[name]
    return document


@settings(max_examples=150)
@given(workup=eligible_workups(), data=st.data())
def test_removing_a_field_the_criteria_read_never_leaves_an_eligible_workup_eligible(
    workup: Document, data: st.DataObject
) -> None:
    path = data.draw(st.sampled_from(_paths(workup)))
    verdict = screen_candidate(RULES, _without(workup, path)).verdict.value
    if path in NOT_READ:
        assert verdict == "eligible"
    elif verdict == "eligible":
        assert path in MAY_GO, f"{path} removed and still eligible"
        assert MAY_GO[path](workup), f"{path} removed and still eligible"
    else:
        assert verdict == "incomplete"
