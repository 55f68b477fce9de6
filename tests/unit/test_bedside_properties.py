"""Bedside safety invariants that hold for every assessment, not only the examples."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.strategies import documents, put

from il2.domain.bedside import Action
from il2.rules.loader import load_rules
from il2.services.bedside import assess_before_dose

RULES = load_rules()
REQUIRED = RULES.bedside.required
MENTAL = ["normal", "mild_confusion", "moderate_confusion", "severe_confusion", "coma"]
RESUME_ONLY = {"fobt_negative"}
# Numeric inputs and the direction in which each gets worse (+1: higher is worse).
WORSE = {
    "vitals.sbp_mmhg": -1, "vitals.heart_rate_bpm": +1, "vitals.spo2_pct": -1,
    "urine_output_ml_last_8h": -1, "labs.creatinine_mg_dl": +1, "labs.bilirubin_mg_dl": +1,
    "labs.platelets_per_ul": -1, "labs.bicarbonate_mmol_l": -1, "weight_kg": +1,
    "phenylephrine_ug_kg_min.now": +1, "phenylephrine_ug_kg_min.max_since_last_dose": +1,
    "oxygen_l_min": +1, "coma_hours": +1, "intubated_hours": +1, "doses_held_this_cycle": +1,
    "dose_number": +1, "doses_given_this_cycle": +1, "hours_since_last_dose": -1, "cycle": +1,
}  # fmt: skip

assessments = documents(
    RULES.bedside_fields,
    always=REQUIRED,
    fixed={"regimen": "hd-label"},
)


def _get(document: dict[str, Any], path: str) -> Any:
    *groups, name = path.split(".")
    target: Any = document
    for group in groups:
        target = target.get(group, {})
    return target.get(name)


def _decide(document: dict[str, Any]) -> Action:
    return assess_before_dose(RULES, document)[1].action


@settings(max_examples=300)
@given(document=assessments)
def test_if_any_rule_holds_or_stops_the_decision_is_never_give(document: dict[str, Any]) -> None:
    _, decision = assess_before_dose(RULES, document)
    if decision.reasons:
        assert decision.action is not Action.GIVE
        assert decision.action.strength >= max(r.action.strength for r in decision.reasons)


@given(document=assessments, drop=st.sampled_from(REQUIRED))
def test_a_missing_required_item_never_gives(document: dict[str, Any], drop: str) -> None:
    *groups, name = drop.split(".")
    target = document
    for group in groups:
        target = target.get(group, {})
    target.pop(name, None)
    assert _decide(document) is not Action.GIVE


@settings(max_examples=400)
@given(
    document=assessments,
    field=st.sampled_from(sorted(WORSE)),
    step=st.decimals(min_value=Decimal("0.01"), max_value=500, places=2),
)
def test_worsening_one_number_never_makes_the_decision_milder(
    document: dict[str, Any], field: str, step: Decimal
) -> None:
    current = _get(document, field)
    if current is None:
        return
    spec = RULES.bedside_fields[field]
    worse = Decimal(str(current)) + WORSE[field] * step
    if spec.minimum is not None:
        worse = max(worse, spec.minimum)
    if spec.maximum is not None:
        worse = min(worse, spec.maximum)
    changed = copy.deepcopy(document)
    put(changed, field, int(worse) if spec.type.value == "integer" else float(worse))
    assert _decide(changed).strength >= _decide(document).strength


@given(document=assessments, steps=st.integers(1, 4))
def test_worse_mental_status_never_makes_the_decision_milder(
    document: dict[str, Any], steps: int
) -> None:
    now = MENTAL.index(document["mental_status"])
    changed = {**document, "mental_status": MENTAL[min(now + steps, len(MENTAL) - 1)]}
    assert _decide(changed).strength >= _decide(document).strength


@given(
    document=assessments,
    term=st.sampled_from(sorted(set(RULES.bedside_fields["findings"].values) - RESUME_ONLY)),
)
def test_a_new_finding_never_makes_the_decision_milder(document: dict[str, Any], term: str) -> None:
    changed = {**document, "findings": sorted({*document.get("findings", []), term} - RESUME_ONLY)}
    base = {**document, "findings": sorted(set(document.get("findings", [])) - RESUME_ONLY)}
    assert _decide(changed).strength >= _decide(base).strength


@given(document=assessments)
def test_the_same_assessment_always_gets_the_same_decision(document: dict[str, Any]) -> None:
    assert assess_before_dose(RULES, document) == assess_before_dose(RULES, copy.deepcopy(document))
