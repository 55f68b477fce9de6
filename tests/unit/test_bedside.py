"""The bedside engine's pieces, beyond what the conformance cases show."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from il2.domain.bedside import (
    Action,
    BedsidePolicy,
    BedsideTable,
    RangeCheck,
    ResumeRule,
    decide_before_dose,
)
from il2.domain.errors import InvalidInputError, RuleTableError
from il2.rules.loader import RuleSet, load_rules
from il2.services.bedside import assess_before_dose

ROOT = Path(__file__).parents[2]


def stable() -> dict[str, object]:
    document: dict[str, object] = json.loads(
        (ROOT / "examples/bedside/stable-give.json").read_text()
    )
    return document


def test_a_range_without_an_upper_end_reads_as_at_least() -> None:
    check = RangeCheck("x", "X", "mL", Decimal(5), None)
    assert check.describe() == "at least 5 mL"
    assert check.evaluate({"x": Decimal(500)}) is not None


def test_a_per_kg_rule_without_the_weight_is_reported_not_evaluated(rules: RuleSet) -> None:
    document = {**stable(), "regimen": "post-til", "baseline": {}}
    _, decision = assess_before_dose(rules, document)
    assert "til-urine-per-kg" in decision.not_evaluated
    assert "consensus-weight-gain-relative" in decision.not_evaluated


def test_an_open_hold_of_a_custom_kind_names_its_source(rules: RuleSet) -> None:
    resume = ResumeRule(
        "urine",
        RangeCheck("urine_output_ml_last_8h", "urine", "mL", Decimal(999999), None),
        "Site rule 4",
    )
    table = BedsideTable(rules.bedside.rules, {"urine": resume}, rules.bedside.required, "", "t")
    findings = {"held_for": frozenset({"urine"}), "urine_output_ml_last_8h": Decimal(300)}
    decision = decide_before_dose(
        findings, regimen=rules.regimens["hd-label"], table=table, policy=BedsidePolicy()
    )
    hold = next(r for r in decision.reasons if r.rule == "open-hold-urine")
    assert hold.threshold == "resume only when Site rule 4"
    assert decision.action is Action.INCOMPLETE


def test_a_regimen_given_as_a_number_is_refused(rules: RuleSet) -> None:
    with pytest.raises(InvalidInputError) as caught:
        assess_before_dose(rules, {**stable(), "regimen": 5})
    assert caught.value.field == "regimen"


def site(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "site.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "field", "problem"),
    [
        ("[policy]\nstop_cycle_after_held_doses = -1", "policy.stop_cycle_after_held_doses", "at least 0"),
        ("[policy]\nstop_cycle_on_relative_criteria = 2.5", "policy.stop_cycle_on_relative_criteria", "whole number"),
        ("[bedside.label-spo2-below-90]\nfield = 'vitals.spo3'", "rules.label-spo2-below-90.field", "not a before-dose"),
        ("[bedside.label-spo2-below-90]\naction = 'panic'", "rules.label-spo2-below-90.action", "not one of"),
        ("[bedside.label-spo2-below-90]\nkind = 'vibes'", "rules.label-spo2-below-90.kind", "not one of"),
        ("[bedside.consensus-sinus-tachycardia-relative]\nonly_if = { field = 'vitals.rhythm', values = ['sinus'] }",
         "rules.consensus-sinus-tachycardia-relative.only_if.if_absent", "missing"),
    ],
)  # fmt: skip
def test_a_bad_bedside_setting_stops_il2_naming_the_field(
    tmp_path: Path, text: str, field: str, problem: str
) -> None:
    with pytest.raises(RuleTableError) as caught:
        load_rules(site_policy=site(tmp_path, text))
    assert caught.value.field == field
    assert problem in caught.value.problem
