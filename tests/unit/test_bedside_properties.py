"""Bedside safety invariants that hold for every assessment, not only the examples.

The documents are complete before-dose assessments drawn from the input specs (every required
field present, the rest at random), with a vasopressor list drawn on its own. The invariants:
nothing unknown becomes a give; a worse value never gives a weaker action; the same input always
gets the same answer.
"""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import assume, given, settings
from hypothesis import strategies as st
from tests.strategies import put, value_of

from il2.domain.bedside import Action
from il2.domain.checks import OneOfCheck
from il2.rules.loader import load_rules
from il2.services.bedside import assess_before_dose

RULES = load_rules()
SPECS = RULES.bedside_fields
AGENTS = RULES.pressor_agents
# Findings that only end a hold (a negative stool test), never withhold a dose: the values the
# [resume] tests look for in `findings`.
RESUME_ONLY = {
    value
    for resume in RULES.bedside.resumes.values()
    if isinstance(resume.check, OneOfCheck) and resume.check.field == "findings"
    for value in resume.check.values
}
# Fields whose absence is a statement, not an unknown (each with its reason):
# - labs.hours_since_drawn: labs without a draw time are read as the day's labs (the decision
#   says so); their age is checked when it is given;
# - hours_since_last_dose in cycle 1 with nothing given: the course has no earlier dose (the
#   patient-wide dose timeline is the ledger's).
STATEMENTS = {"labs.hours_since_drawn"}
# Chains of mental states, each never milder than the one before it.
MENTAL_CHAINS = (
    ("normal", "mild_confusion", "moderate_confusion", "severe_confusion", "coma"),
    ("normal", "agitation", "coma"),
    ("normal", "lethargy", "coma"),
    ("normal", "somnolence", "coma"),
)
# Numeric inputs and the direction in which each gets worse (+1: higher is worse).
WORSE = {
    "vitals.sbp_mmhg": -1, "vitals.heart_rate_bpm": +1, "vitals.spo2_pct": -1,
    "urine_output_ml_last_8h": -1, "labs.creatinine_mg_dl": +1, "labs.bilirubin_mg_dl": +1,
    "labs.platelets_per_ul": -1, "labs.bicarbonate_mmol_l": -1, "labs.hours_since_drawn": +1,
    "weight_kg": +1, "oxygen_l_min": +1, "coma_hours": +1, "intubated_hours": +1,
    "dialysis_hours": +1, "mental_status_change_hours": +1, "doses_held_this_cycle": +1,
    "dose_number": +1, "doses_given_this_cycle": +1, "hours_since_last_dose": -1, "cycle": +1,
    "vitals.temperature_c": +1,
}  # fmt: skip
_PRESSOR_FIELDS = {p for p in SPECS if p.startswith("vasopressors.")} | {"vasopressor_agents"}


@st.composite
def pressors(draw: st.DrawFn) -> list[dict[str, Any]]:
    """A vasopressor list: a few agents, each with both doses."""
    chosen = draw(st.lists(st.sampled_from(sorted(AGENTS)), unique=True, max_size=2))
    listed = []
    for agent in chosen:
        unit = AGENTS[agent]
        now = draw(value_of(SPECS[f"vasopressors.{agent}.now_{unit}"]))
        most = draw(value_of(SPECS[f"vasopressors.{agent}.max_since_last_dose_{unit}"]))
        listed.append({"agent": agent, f"now_{unit}": now,
                       f"max_since_last_dose_{unit}": max(now, most)})  # fmt: skip
    return listed


STABLE = json.loads((Path(__file__).parents[2] / "examples/bedside/stable-give.json").read_text())
# Every route listed in regimens.toml [before_dose] has its own before-dose checks; il2 bedside
# refuses a regimen given by any other route. The stable patient is an IV bolus assessment, a
# superset of what the other routes ask for, so it serves every regimen.
CHECKED_REGIMENS = sorted(
    key for key, r in RULES.regimens.items() if r.route.value in RULES.before_dose_routes
)
ROUTE_OF = {key: r.route.value for key, r in RULES.regimens.items()}
# Pressors and lab ages are read by IV bolus rules only.
BOLUS_REGIMENS = [key for key in CHECKED_REGIMENS if ROUTE_OF[key] == "iv_bolus"]
_REDRAWN = sorted(p for p in SPECS if p not in _PRESSOR_FIELDS and p != "regimen")


@st.composite
def assessments(
    draw: st.DrawFn, regimen: str | None = None, among: list[str] = CHECKED_REGIMENS
) -> dict[str, Any]:
    """A complete assessment: the stable patient with a few inputs drawn anew.

    Starting from a patient who gets the dose keeps each example close to the edge, so that a
    single cause of a hold, a stop or an incomplete is common, and removing it would show a
    wrong "give".
    """
    document: dict[str, Any] = copy.deepcopy(STABLE)
    document["regimen"] = regimen or draw(st.sampled_from(among))
    if document["regimen"] == "post-til":
        document["vasopressors"] = []
    for path in draw(st.lists(st.sampled_from(_REDRAWN), unique=True, max_size=3)):
        put(document, path, draw(value_of(SPECS[path])))
    if draw(st.booleans()):
        document["vasopressors"] = draw(pressors())
    if document["regimen"] == "post-til" and document["doses_given_this_cycle"] == 0:
        document.setdefault(
            "hours_since_til_infusion", draw(value_of(SPECS["hours_since_til_infusion"]))
        )
    return document


def _get(document: dict[str, Any], path: str) -> Any:
    *groups, name = path.split(".")
    target: Any = document
    for group in groups:
        target = target.get(group, {})
    return target.get(name)


def _without(document: dict[str, Any], path: str) -> dict[str, Any]:
    changed = copy.deepcopy(document)
    *groups, name = path.split(".")
    target = changed
    for group in groups:
        target = target[group]
    del target[name]
    return changed


def _leaves(document: dict[str, Any], prefix: str = "") -> list[str]:
    found = []
    for key, value in document.items():
        if isinstance(value, dict):
            found.extend(_leaves(value, f"{prefix}{key}."))
        else:
            found.append(f"{prefix}{key}")
    return found


def _decide(document: dict[str, Any]) -> Action:
    return assess_before_dose(RULES, document)[1].action


def _may_be_absent(document: dict[str, Any], path: str) -> bool:
    if path in STATEMENTS or path == "regimen":
        return True
    first = document["cycle"] == 1 and document["doses_given_this_cycle"] == 0
    return path == "hours_since_last_dose" and first


@settings(max_examples=300)
@given(document=assessments())
def test_if_any_rule_holds_or_stops_the_decision_is_never_give(document: dict[str, Any]) -> None:
    _, decision = assess_before_dose(RULES, document)
    if decision.reasons:
        assert decision.action is not Action.GIVE
        assert decision.action.strength >= max(r.action.strength for r in decision.reasons)
    if decision.missing or decision.not_evaluated:
        assert decision.action is not Action.GIVE


@settings(max_examples=500)
@given(document=assessments())
def test_removing_any_input_never_turns_a_decision_into_give(document: dict[str, Any]) -> None:
    assume(_decide(document) is not Action.GIVE)
    for removed in _leaves(document):
        if not _may_be_absent(document, removed):
            assert _decide(_without(document, removed)) is not Action.GIVE, removed


@given(document=assessments(), data=st.data())
def test_a_missing_required_item_never_gives(document: dict[str, Any], data: st.DataObject) -> None:
    required = RULES.bedside.for_route(ROUTE_OF[document["regimen"]]).required
    drop = data.draw(st.sampled_from(required))
    changed = _without(document, drop)
    _, decision = assess_before_dose(RULES, changed)
    assert decision.action is not Action.GIVE
    assert drop in decision.missing or decision.action.strength > Action.INCOMPLETE.strength


@given(document=assessments(among=BOLUS_REGIMENS))
def test_no_statement_about_pressors_never_gives(document: dict[str, Any]) -> None:
    del document["vasopressors"]
    assert _decide(document) is not Action.GIVE


@settings(max_examples=400)
@given(
    document=assessments(),
    field=st.sampled_from(sorted(WORSE)),
    step=st.decimals(min_value=Decimal("0.01"), max_value=500, places=2),
)
def test_worsening_one_number_never_makes_the_decision_milder(
    document: dict[str, Any], field: str, step: Decimal
) -> None:
    current = _get(document, field)
    assume(current is not None)
    spec = SPECS[field]
    worse = Decimal(str(current)) + WORSE[field] * step
    if spec.minimum is not None:
        worse = max(worse, spec.minimum)
    if spec.maximum is not None:
        worse = min(worse, spec.maximum)
    changed = copy.deepcopy(document)
    put(changed, field, int(worse) if spec.type.value == "integer" else float(worse))
    assert _decide(changed).strength >= _decide(document).strength


@given(
    document=assessments(),
    agent=st.sampled_from(sorted(AGENTS)),
    now=st.decimals(min_value=0, max_value=2, places=2),
    more=st.decimals(min_value=0, max_value=2, places=2),
)
def test_more_of_any_pressor_never_makes_the_decision_milder(
    document: dict[str, Any], agent: str, now: Decimal, more: Decimal
) -> None:
    unit = AGENTS[agent]
    listed = {item["agent"]: item for item in document["vasopressors"]}
    current = listed.get(agent, {f"now_{unit}": 0, f"max_since_last_dose_{unit}": 0})
    higher_now = float(Decimal(str(current[f"now_{unit}"])) + now)
    higher_max = max(float(Decimal(str(current[f"max_since_last_dose_{unit}"])) + more), higher_now)
    limit = float(SPECS[f"vasopressors.{agent}.now_{unit}"].maximum or 10)
    listed[agent] = {"agent": agent, f"now_{unit}": min(higher_now, limit),
                     f"max_since_last_dose_{unit}": min(higher_max, limit)}  # fmt: skip
    changed = {**document, "vasopressors": list(listed.values())}
    assert _decide(changed).strength >= _decide(document).strength


@given(document=assessments(), chain=st.sampled_from(MENTAL_CHAINS), data=st.data())
def test_worse_mental_status_never_makes_the_decision_milder(
    document: dict[str, Any], chain: tuple[str, ...], data: st.DataObject
) -> None:
    low = data.draw(st.integers(0, len(chain) - 2))
    high = data.draw(st.integers(low + 1, len(chain) - 1))
    milder = {**document, "mental_status": chain[low]}
    worse = {**document, "mental_status": chain[high]}
    assert _decide(worse).strength >= _decide(milder).strength


@given(
    document=assessments(),
    term=st.sampled_from(sorted(set(SPECS["findings"].values) - RESUME_ONLY)),
)
def test_a_new_finding_never_makes_the_decision_milder(document: dict[str, Any], term: str) -> None:
    changed = {**document, "findings": sorted({*document.get("findings", []), term} - RESUME_ONLY)}
    base = {**document, "findings": sorted(set(document.get("findings", [])) - RESUME_ONLY)}
    assert _decide(changed).strength >= _decide(base).strength


@given(
    document=assessments(among=BOLUS_REGIMENS),
    extra=st.decimals(min_value="0.01", max_value=600, places=2),
)
def test_labs_older_than_the_site_allows_never_give(
    document: dict[str, Any], extra: Decimal
) -> None:
    limit = RULES.bedside_policy.lab_max_age_h
    assert limit is not None
    put(document, "labs.hours_since_drawn", float(min(limit + extra, Decimal(720))))
    assert _decide(document) is not Action.GIVE


@given(document=assessments())
def test_the_same_assessment_always_gets_the_same_decision(document: dict[str, Any]) -> None:
    assert assess_before_dose(RULES, document) == assess_before_dose(RULES, copy.deepcopy(document))


def test_the_findings_that_only_resume_are_read_from_the_resume_rules() -> None:
    # Label-2024 Table 2: a hold for a positive FIT/FOBT ends when the test is negative.
    assert "fobt_negative" in RESUME_ONLY
    assert set(SPECS["findings"].values) >= RESUME_ONLY


@given(document=assessments())
def test_only_the_rules_for_the_regimens_route_are_checked(document: dict[str, Any]) -> None:
    route = ROUTE_OF[document["regimen"]]
    _, decision = assess_before_dose(RULES, document)
    for_route = {r.id for r in RULES.bedside.rules if route in r.routes}
    from_table = {c.rule for c in decision.checked} & {r.id for r in RULES.bedside.rules}
    assert from_table <= for_route
    assert {r.rule for r in decision.reasons} & {r.id for r in RULES.bedside.rules} <= for_route
