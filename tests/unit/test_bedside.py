"""The bedside engine's pieces, beyond what the conformance cases show."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from il2.domain.bedside import Action, BedsidePolicy, BedsideTable, ResumeRule, decide_before_dose
from il2.domain.checks import (
    Fired,
    LimitCheck,
    RangeCheck,
    ReachedCheck,
    Unknown,
)
from il2.domain.errors import InvalidInputError, RuleTableError
from il2.domain.pressors import pressor_document, running
from il2.domain.quantities import Comparison
from il2.rules.bedside import route_checks
from il2.rules.findings_display import load_findings_display
from il2.rules.loader import RuleSet, _routes_checked, load_rules
from il2.rules.reader import Node, read_bundled
from il2.services.bedside import assess_before_dose
from il2.web.forms import term_groups

ROOT = Path(__file__).parents[2]
AGENTS = {"phenylephrine": "ug_kg_min", "vasopressin": "units_min"}


def stable() -> dict[str, object]:
    document: dict[str, object] = json.loads(
        (ROOT / "examples/bedside/stable-give.json").read_text()
    )
    return document


def test_a_range_without_an_upper_end_reads_as_at_least() -> None:
    check = RangeCheck("x", "X", "mL", Decimal(5), None)
    assert check.describe() == "at least 5 mL"
    assert check.evaluate({"x": Decimal(500)}) is not None


def test_a_per_kg_rule_without_the_weight_names_the_weight_to_obtain(rules: RuleSet) -> None:
    document = {**stable(), "regimen": "post-til", "baseline": {}, "vasopressors": []}
    _, decision = assess_before_dose(rules, document)
    assert decision.action is Action.INCOMPLETE
    assert "baseline.weight_kg" in decision.missing
    waiting = next(o for o in decision.to_obtain if o.field == "baseline.weight_kg")
    assert waiting.rules == ("consensus-weight-gain-relative", "til-urine-per-kg")
    assert "pre-treatment weight" in waiting.what


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
    assert hold.resume_key == "urine"
    assert decision.action is Action.INCOMPLETE


def test_a_regimen_given_as_a_number_is_refused(rules: RuleSet) -> None:
    with pytest.raises(InvalidInputError) as caught:
        assess_before_dose(rules, {**stable(), "regimen": 5})
    assert caught.value.field == "regimen"


def test_every_missing_item_says_what_to_obtain(rules: RuleSet) -> None:
    _, decision = assess_before_dose(rules, {"regimen": "hd-label"})
    assert decision.action is Action.INCOMPLETE
    assert {o.field for o in decision.to_obtain} == set(decision.missing)
    assert all(o.what and o.what != o.field for o in decision.to_obtain)


def test_a_hold_reason_carries_its_resume_test(rules: RuleSet) -> None:
    document = stable()
    document["vitals"] = {**document["vitals"], "sbp_mmhg": 85}  # type: ignore[dict-item]
    _, decision = assess_before_dose(rules, document)
    (reason,) = decision.reasons
    assert (reason.rule, reason.resume_key) == ("label-sbp-low", "sbp")
    assert reason.resume == "systolic BP at least 90 mmHg"


# ---------------------------------------------------------------- oxygen at the SpO2 reached

FLOW = LimitCheck("o2", "oxygen", "L/min", Comparison.ABOVE, Decimal(4))
BAND = RangeCheck("o2", "oxygen", "L/min", Decimal(3), Decimal(4))


@pytest.mark.parametrize(
    ("inner", "flow", "spo2", "expected"),
    [
        (FLOW, 4, 95, None),  # target reached: the flow is the need
        (FLOW, "4.5", 95, Fired),
        (FLOW, 4, 94, Fired),  # the need is more than 4
        (FLOW, "3.9", 94, Unknown),  # more than 3.9: could be 4 or 5
        (BAND, 3, 95, Fired),
        (BAND, 2, 94, Unknown),
        (BAND, 4, 94, None),  # more than 4: outside 3-4 (the absolute rule catches it)
    ],
)
def test_a_flow_counts_as_the_need_only_at_the_target_saturation(
    inner: LimitCheck | RangeCheck, flow: object, spo2: int, expected: type | None
) -> None:
    check = ReachedCheck(inner, "spo2", Decimal(95), "SpO2")
    outcome = check.evaluate({"o2": Decimal(str(flow)), "spo2": Decimal(spo2)})
    assert (type(outcome) if outcome is not None else None) is expected


def test_a_below_target_flow_names_the_saturation_reached() -> None:
    check = ReachedCheck(FLOW, "spo2", Decimal(95), "SpO2")
    outcome = check.evaluate({"o2": Decimal(5), "spo2": Decimal(92)})
    assert isinstance(outcome, Fired)
    assert outcome.finding == "oxygen more than 5 L/min (SpO2 92% at that flow, below 95%)"


def test_a_below_target_check_without_the_saturation_is_unknown() -> None:
    check = ReachedCheck(FLOW, "spo2", Decimal(95), "SpO2")
    assert check.evaluate({"o2": Decimal(5)}) == Unknown(("spo2",))


# ---------------------------------------------------------------- vasopressors


def test_the_contract_list_fills_every_agent() -> None:
    document = pressor_document(
        {"vasopressors": [{"agent": "vasopressin", "now_units_min": 0.03}]}, AGENTS
    )
    assert document == {
        "vasopressors": {
            "phenylephrine": {"now_ug_kg_min": 0, "max_since_last_dose_ug_kg_min": 0},
            "vasopressin": {"now_units_min": 0.03, "max_since_last_dose_units_min": None},
        }
    }


def test_the_older_object_is_phenylephrine_alone() -> None:
    document = pressor_document({"phenylephrine_ug_kg_min": {"now": 0.1}}, AGENTS)
    assert document == {
        "vasopressors": {
            "phenylephrine": {"now_ug_kg_min": 0.1, "max_since_last_dose_ug_kg_min": None},
            "vasopressin": {"now_units_min": 0, "max_since_last_dose_units_min": 0},
        }
    }


def test_without_any_pressor_statement_nothing_is_filled() -> None:
    assert pressor_document({"findings": []}, AGENTS) == {"findings": []}


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({"vasopressors": {"phenylephrine": 1}}, "vasopressors"),
        ({"vasopressors": ["phenylephrine"]}, "vasopressors[0]"),
        ({"vasopressors": [{"agent": "x"}]}, "vasopressors[0].agent"),
        ({"vasopressors": [{"agent": "vasopressin", "now_ug_kg_min": 1}]},
         "vasopressors[0].now_ug_kg_min"),
        ({"vasopressors": [{"agent": "vasopressin"}, {"agent": "vasopressin"}]},
         "vasopressors[1].agent"),
        ({"phenylephrine_ug_kg_min": 3}, "phenylephrine_ug_kg_min"),
        ({"phenylephrine_ug_kg_min": {"later": 3}}, "phenylephrine_ug_kg_min.later"),
        ({"vasopressor_agents": []}, "vasopressor_agents"),
    ],
)  # fmt: skip
def test_a_malformed_pressor_statement_is_refused_naming_the_field(
    document: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidInputError) as caught:
        pressor_document(document, AGENTS)
    assert caught.value.field == field


def test_an_agent_with_an_unknown_dose_leaves_the_running_agents_unknown() -> None:
    findings = {
        "vasopressors.phenylephrine.now_ug_kg_min": Decimal(0),
        "vasopressors.phenylephrine.max_since_last_dose_ug_kg_min": Decimal(0),
        "vasopressors.vasopressin.now_units_min": Decimal(0),
    }
    assert running(findings, AGENTS) is None
    findings["vasopressors.vasopressin.now_units_min"] = Decimal("0.01")
    assert running(findings, AGENTS) == frozenset({"vasopressin"})


# ---------------------------------------------------------------- site policy files


def site(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "site.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "field", "problem"),
    [
        ("[policy]\nstop_cycle_after_held_doses = -1", "policy.stop_cycle_after_held_doses", "at least 0"),
        ("[policy]\nstop_cycle_on_relative_criteria = 2.5", "policy.stop_cycle_on_relative_criteria", "whole number"),
        ("[policy]\nlab_max_age_h = 0", "policy.lab_max_age_h", "above 0"),
        ("[policy]\npost_til_hypotension = 'ignore'", "policy.post_til_hypotension", "not one of"),
        ("[bedside.label-spo2-low]\nfield = 'vitals.spo3'", "rules.label-spo2-low.field", "not a before-dose"),
        ("[bedside.label-spo2-low]\naction = 'panic'", "rules.label-spo2-low.action", "not one of"),
        ("[bedside.label-spo2-low]\nkind = 'vibes'", "rules.label-spo2-low.kind", "not one of"),
        ("[bedside.label-spo2-low]\nresume = 'mood'", "rules.label-spo2-low.resume", "not a [resume]"),
        ("[bedside.label-spo2-low]\nif_unknown = 'quiet'", "rules.label-spo2-low.if_unknown", "needs an only_if"),
        ("[bedside.label-sbp-low]\nwhen_policy = { no_such_policy = 1 }", "rules.label-sbp-low.when_policy.no_such_policy", "not a site policy"),
        ("[bedside.til-vasopressor]\nwhen_policy = { post_til_hypotension = 'maybe' }", "rules.til-vasopressor.when_policy.post_til_hypotension", "not one of"),
        ("[bedside.til-start-early]\nonly_if = { field = 'doses_given_this_cycle', values = ['none'], if_absent = true }", "rules.til-start-early.only_if.values", "not a number"),
        ("[bedside.consensus-oxygen-relative]\nkind = 'one_of'\nvalues = ['x']", "rules.consensus-oxygen-relative.reached", "limit or a range"),
        ("[bedside.consensus-tachycardia-relative]\nonly_if = { field = 'vitals.rhythm', values = ['sinus'] }",
         "rules.consensus-tachycardia-relative.only_if.if_absent", "missing"),
        ("[resume.mood]\nlimit = 3", "resume.mood", "not a resume test"),
        ("[bedside.label-sbp-low]\nunit = 'kPa'", "rules.label-sbp-low.unit", "not the unit of 'vitals.sbp_mmhg', 'mmHg'"),
        ("[bedside.til-urine-per-kg]\nunit = 'mL'", "rules.til-urine-per-kg.unit", "'mL/kg'"),
        ("[bedside.label-sbp-low]\nroutes = ['iv_bolus', 'oral']", "rules.label-sbp-low.routes", "no [routes.oral] table"),
        ("[bedside.cls-organ-perfusion]\nroutes = []", "rules.cls-organ-perfusion.routes", "names no route"),
        ("[bedside.cls-organ-perfusion]\nroutes = ['iv_bolus', 'subcutaneous']", "rules.cls-organ-perfusion.routes_source", "says why"),
        ("[bedside.cls-organ-perfusion]\nroutes_source = 'because'", "rules.cls-organ-perfusion.routes_source", "only for a rule for the IV bolus and other routes"),
    ],
)  # fmt: skip
def test_a_bad_bedside_setting_stops_il2_naming_the_field(
    tmp_path: Path, text: str, field: str, problem: str
) -> None:
    with pytest.raises(RuleTableError) as caught:
        load_rules(site_policy=site(tmp_path, text))
    assert caught.value.field == field
    assert problem in caught.value.problem


def test_the_rules_version_names_the_site_policy_in_force(tmp_path: Path) -> None:
    bundled = load_rules()
    one = load_rules(site_policy=site(tmp_path, "[bedside.label-sbp-low]\nlimit = 85"))
    other = load_rules(site_policy=site(tmp_path, "[bedside.label-sbp-low]\nlimit = 80"))
    assert bundled.bedside.version == bundled.versions["bedside"]
    assert one.bedside.version.startswith(bundled.versions["bedside"] + "+site.")
    assert len({bundled.bedside.version, one.bedside.version, other.bedside.version}) == 3
    assert len(one.bedside.version) <= 40  # the dose ledger's column
    assert one.criteria.version.endswith(one.versions["site_digest"])


def test_a_decision_records_the_site_policy_it_ran_under(tmp_path: Path) -> None:
    rules = load_rules(site_policy=site(tmp_path, "[meta]\nversion = 'P&T 2026-12'"))
    _, decision = assess_before_dose(rules, stable())
    assert decision.rules_version == rules.bedside.version != load_rules().bedside.version


def test_a_site_cannot_loosen_a_rule_silently(tmp_path: Path) -> None:
    rules = load_rules(
        site_policy=site(tmp_path, "[bedside.label-sbp-low]\nlimit = 85\nreason = 'P-12'")
    )
    rule = next(r for r in rules.bedside.rules if r.id == "label-sbp-low")
    assert rule.site_setting.endswith(
        "sets bedside.label-sbp-low.limit = 85 (default 90); reason: P-12"
    )
    assert rules.bedside.resumes["sbp"].words() == "systolic BP at least 85 mmHg"
    assert any(c.field == "bedside.label-sbp-low.limit" for c in rules.site_changes)


def test_rules_off_by_default_and_policy_variants_are_left_out() -> None:
    ids = {rule.id for rule in load_rules().bedside.rules}
    assert {"legacy-creatinine-high", "legacy-sepsis-instability"}.isdisjoint(ids)
    assert "til-vasopressor" in ids
    assert "til-vasopressor-reassess" not in ids


def test_rule_ids_do_not_carry_thresholds() -> None:
    rules = load_rules()
    for rule in (*rules.bedside.rules, *rules.bedside.advice):
        assert not any(part.isdigit() for part in rule.id.split("-")), rule.id


def test_a_give_lists_every_rule_checked_with_what_it_saw(rules: RuleSet) -> None:
    _, decision = assess_before_dose(rules, stable())
    assert decision.action is Action.GIVE
    checked = {c.rule: c for c in decision.checked}
    always = {
        r.id
        for r in rules.bedside.rules
        if r.regimens is None and r.guard is None and "iv_bolus" in r.routes
    }
    assert always <= set(checked)
    assert {c.outcome.value for c in decision.checked} == {"passed"}
    sbp = checked["label-sbp-low"]
    assert sbp.seen == "systolic BP 104 mmHg"
    assert sbp.threshold == "below 90 mmHg"
    assert sbp.inputs == {"vitals.sbp_mmhg": "104"}
    assert sbp.source.startswith("Label-2024 Table 2")
    assert checked["regimen-interval"].seen == "8 h since the last dose"


def test_a_rule_that_fires_is_checked_as_fired_and_a_missing_input_as_unknown(
    rules: RuleSet,
) -> None:
    document = stable()
    vitals = dict(document["vitals"])  # type: ignore[call-overload]
    vitals["sbp_mmhg"] = 85
    del vitals["spo2_pct"]
    document["vitals"] = vitals
    _, decision = assess_before_dose(rules, document)
    checked = {c.rule: c for c in decision.checked}
    assert checked["label-sbp-low"].outcome.value == "fired"
    assert checked["label-spo2-low"].outcome.value == "unknown"
    assert checked["label-spo2-low"].inputs == {"vitals.spo2_pct": ""}
    fired = {c.rule for c in decision.checked if c.outcome.value == "fired"}
    assert fired == {r.rule for r in decision.reasons}


def test_every_finding_the_rules_name_is_shown_in_a_system_once(rules: RuleSet) -> None:

    systems = load_findings_display()
    shown = [code for system in systems for code, _ in system.terms]
    assert len(shown) == len(set(shown))
    assert set(rules.bedside_fields["findings"].values) <= set(shown)
    named = {
        value
        for rules_or_resumes in ("rules", "resume", "advice")
        for rule in read_bundled("bedside.toml")[rules_or_resumes].values()
        if rule.get("field") == "findings"
        for value in rule["values"]
    }
    assert set(shown) <= named, "a code shown that no rule names is a typo"
    assert all(words and words[0].isupper() for system in systems for _, words in system.terms)


def test_findings_come_by_system_the_commonest_system_first(rules: RuleSet) -> None:

    groups = term_groups(rules.bedside_fields["findings"], load_findings_display())
    assert [g.title for g in groups[:3]] == ["Cardiovascular", "Gastrointestinal", "Respiratory"]
    assert "Other" not in [g.title for g in groups]
    gut = next(g for g in groups if g.title == "Gastrointestinal")
    assert gut.terms[0] == ("diarrhea_1000ml_shift", "Diarrhea 1000 mL in a shift")


def test_a_route_table_for_no_route_or_with_an_unknown_field_stops_il2() -> None:
    fields = load_rules().bedside_fields
    bad_route = Node({"routes": {"oral": {"required": [], "required_source": "x"}}}, "in.toml")
    with pytest.raises(RuleTableError) as caught:
        route_checks(bad_route, fields)
    assert "'oral' is not one of continuous_infusion" in caught.value.problem
    table = {"required": ["vitals.mood"], "required_source": "x", "assessed": "", "limits": ""}
    with pytest.raises(RuleTableError) as caught:
        route_checks(Node({"routes": {"subcutaneous": table}}, "in.toml"), fields)
    assert caught.value.field == "routes.subcutaneous.required"


def test_regimens_and_route_tables_must_agree_on_the_routes_checked() -> None:
    with pytest.raises(RuleTableError) as caught:
        _routes_checked(("iv_bolus", "subcutaneous"), ("iv_bolus",))
    assert (caught.value.file, caught.value.field) == ("regimens.toml", "before_dose.routes")


def test_a_bolus_rule_applied_to_another_route_says_why_and_is_flagged(rules: RuleSet) -> None:
    sbp = next(r for r in rules.bedside.rules if r.id == "label-sbp-low")
    assert sbp.sourced_for("iv_bolus") == (sbp.source, False)
    source, flagged = sbp.sourced_for("subcutaneous")
    assert source.startswith(sbp.source)
    assert "capillary leak" in source
    assert flagged


def test_a_route_with_no_checks_is_an_error_of_the_caller(rules: RuleSet) -> None:
    with pytest.raises(ValueError, match="no before-dose checks for the route 'oral'"):
        rules.bedside.for_route("oral")
