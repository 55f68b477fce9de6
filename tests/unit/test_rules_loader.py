from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from il2.domain.errors import RuleTableError
from il2.domain.regimen import CycleEndRule, DosingWeightBasis, VialPooling
from il2.rules.loader import RuleSet, load_rules


def site_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "site.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_bundled_rules_load_with_the_three_required_regimens(rules: RuleSet) -> None:
    assert {"hd-label", "hd-nci-720", "post-til"} <= set(rules.regimens)
    assert rules.plan_policy.cycle_end_rule is CycleEndRule.ASK
    assert rules.plan_policy.vial_extractable_ml == Decimal("1.2")
    assert rules.plan_policy.dosing_weight_basis is DosingWeightBasis.ACTUAL
    assert rules.site_changes == ()


def test_every_criterion_and_regimen_names_a_source(rules: RuleSet) -> None:
    assert all(c.source for c in rules.criteria.criteria)
    assert all(r.source and r.version for r in rules.regimens.values())


def test_post_til_flags_the_dose_no_primary_text_gave(rules: RuleSet) -> None:
    regimen = rules.regimens["post-til"]
    assert regimen.unconfirmed == ("dose_iu_per_kg",)
    assert (regimen.max_doses_per_cycle, regimen.interval_h, regimen.interval_max_h) == (6, 8, 12)


def test_a_site_changes_policies_and_thresholds_and_each_change_is_recorded(
    tmp_path: Path,
) -> None:
    path = site_file(
        tmp_path,
        """
[meta]
version = "site-3"
[site]
name = "Example Cancer Centre"
time_zone = "America/Chicago"
[policy]
cycle_end_rule = "dose_count"
vial_pooling = { value = "within_stability", reason = "P&T committee 2026-10" }
[eligibility.creatinine.any_of.serum_creatinine]
limit = 1.6
reason = "CWG high-dose trials"
""",
    )
    rules = load_rules(site_policy=path)
    assert rules.plan_policy.cycle_end_rule is CycleEndRule.DOSE_COUNT
    assert rules.plan_policy.vial_pooling is VialPooling.WITHIN_STABILITY
    creatinine = next(c for c in rules.criteria.criteria if c.id == "creatinine")
    assert (
        "eligibility.creatinine.any_of.serum_creatinine.limit = 1.6 (default 1.5); "
        "reason: CWG high-dose trials" in creatinine.site_setting
    )
    assert rules.site.time_zone.key == "America/Chicago"
    assert rules.versions["site"] == "site-3"
    assert len(rules.site_changes) == 3


def test_a_pharmacy_sets_the_volume_it_draws_from_each_vial_down_to_1_ml(
    tmp_path: Path,
) -> None:
    path = site_file(tmp_path, '[policy]\nvial_extractable_ml = { value = 1.0, reason = "P&T" }\n')
    rules = load_rules(site_policy=path)
    assert rules.plan_policy.vial_extractable_ml == Decimal("1.0")
    assert rules.site_changes[0].field == "policy.vial_extractable_ml"


def test_the_whole_reconstitution_volume_is_the_most_a_pharmacy_may_count_on(
    tmp_path: Path,
) -> None:
    path = site_file(tmp_path, "[policy]\nvial_extractable_ml = 1.2\n")
    assert load_rules(site_policy=path).plan_policy.vial_extractable_ml == Decimal("1.2")


def test_a_site_sets_a_standing_cycle_end_rule_and_a_weight_basis(tmp_path: Path) -> None:
    path = site_file(
        tmp_path, "[policy]\ncycle_end_rule = 'whichever_first'\ndosing_weight_basis = 'ideal'\n"
    )
    rules = load_rules(site_policy=path)
    assert rules.plan_policy.cycle_end_rule is CycleEndRule.WHICHEVER_FIRST
    assert rules.plan_policy.dosing_weight_basis is DosingWeightBasis.IDEAL


def test_a_site_adds_its_own_regimen(tmp_path: Path) -> None:
    path = site_file(
        tmp_path,
        """
[regimens.hd-local]
name = "Local 600k, 12 doses"
dose_iu_per_kg = 600_000
interval_h = 8
infusion_min = 15
max_doses_per_cycle = 12
cycles_per_course = 2
cycle_start_days = [1, 15]
indications = ["melanoma"]
source = "Local protocol 7"
version = "7"
""",
    )
    assert load_rules(site_policy=path).regimens["hd-local"].max_doses_per_cycle == 12


@pytest.mark.parametrize(
    ("text", "field", "problem"),
    [
        ("[policy]\ncycle_end_rule = 'sometimes'", "policy.cycle_end_rule", "not one of"),
        ("[policy]\nvial_extractable_ml = 1.21", "policy.vial_extractable_ml", "at most 1.2 mL"),
        ("[policy]\nvial_extractable_ml = 0", "policy.vial_extractable_ml", "above 0"),
        ("[policy]\nvial_extractable_ml = -1", "policy.vial_extractable_ml", "above 0"),
        ("[policy]\nvial_extractable_ml = '1 mL'", "policy.vial_extractable_ml", "must be a number"),
        ("[policy]\ndosing_weight_basis = 'lean'", "policy.dosing_weight_basis", "not one of"),
        ("[policy]\nnap_time = 3", "policy.nap_time", "not a site policy"),
        ("[policy]\nweight_max_kg = 'heavy'", "policy.weight_max_kg", "must be a number"),
        ("[site]\ntime_zone = 'Mars/Olympus'", "site.time_zone", "IANA"),
        ("[regimens.hd-label]\ndose_iu_per_kg = -5", "regimens.hd-label.dose_iu_per_kg", "at least 1"),
        ("[regimens.hd-label]\ndose_iu_per_kgg = 5", "regimens.hd-label.dose_iu_per_kgg", "not a known"),
        ("[regimens.hd-label]\ncycle_start_days = [15, 1]", "regimens.hd-label.cycle_start_days", "increase"),
        ("[regimens.hd-label]\ncycles_per_course = 3", "regimens.hd-label.cycles_per_course", "must equal"),
        ("[regimens.new]\nname = 'half'", "regimens.new.cycle_start_days", "missing"),
        ("[eligibility.creatinine.any_of.serum_creatinine]\nlimit = 'low'", "criteria.creatinine.any_of.serum_creatinine.limit", "must be a number"),
        ("[eligibility.platelets]\nfield = 'labs.urea'", "criteria.platelets.field", "not a screening"),
        ("[eligibility.platelets]\ncomparison = '=='", "criteria.platelets.comparison", "not one of"),
        ("[eligibility.creatinine]\nlimit = 1.6", "criteria.creatinine.limit", "belongs to a part of the any_of"),
        ("[eligibility.creatinine.any_of.serum_creatinine]\nreason = 4", "eligibility.creatinine.any_of.serum_creatinine.reason", "must be a string"),
        ("[eligibility.creatinine]\nkind = 'required_test'", "criteria.creatinine.kind", "not one of"),
        ("[eligibility.cardiac_stress_test]\ntriggers = [{ kind = 'flag', field = 'age_years', label = 'x', required = true, when = 1 }]", "criteria.cardiac_stress_test.triggers[0].when", "not a known"),
        ("[eligibility.indication]\ntriggers = [{ kind = 'flag', field = 'metastatic', label = 'x', required = true }]", "criteria.indication.triggers", "only a criterion with required_for_policy"),
        ("[eligibility.hiv]\nenabled = 'no'", "criteria.hiv.enabled", "true or false"),
        ("[eligibility.hiv]\ncontraindication = 'trial'", "criteria.hiv.contraindication", "not one of"),
        ("[hospital]\nbeds = 4", "hospital", "not a known field"),
        ("[eligibility.platelets]\nreason = 4", "eligibility.platelets.reason", "must be a string"),
        ("[eligibility.platelets]\nalternatives = [{ limit = 1.6, site = 'x' }]", "criteria.platelets.alternatives[0].site", "not a known"),
        ("[eligibility.pulmonary_function]\nrequired_for_policy = 'nobody'", "criteria.pulmonary_function.required_for_policy", "not a site policy"),
        ("[eligibility.pulmonary_function]\ntriggers = []", "criteria.pulmonary_function.triggers", "non-empty array"),
        ("[eligibility.pulmonary_function]\ntriggers = [3]", "criteria.pulmonary_function.triggers[0]", "must be a table"),
        ("[eligibility.performance_status]\ntitle = ''", "criteria.performance_status.title", "non-empty string"),
        ("[eligibility.pregnancy]\nrequired = 'no'", "criteria.pregnancy.required", "true or false"),
        ("[eligibility.brain_metastases]\nmet = 'negative'", "criteria.brain_metastases.met", "list of strings"),
        ("[regimens.hd-label]\ncycle_start_days = []", "regimens.hd-label.cycle_start_days", "non-empty list"),
        ("[regimens.hd-label]\nsources = { dose = 'x' }", "regimens.hd-label.sources.dose", "names no regimen field"),
        ("[regimens.hd-label]\nsources = 'label'", "regimens.hd-label.sources", "must be a table"),
        ("[regimens.hd-label]\nmax_doses_per_cycle = 1.5", "regimens.hd-label.max_doses_per_cycle", "whole number"),
        ("[policy\n", "(syntax)", ""),
    ],
)  # fmt: skip
def test_a_bad_site_file_fails_at_start_naming_file_and_field(
    tmp_path: Path, text: str, field: str, problem: str
) -> None:
    path = site_file(tmp_path, text)
    with pytest.raises(RuleTableError) as caught:
        load_rules(site_policy=path)
    assert caught.value.field == field
    assert problem in caught.value.problem
    assert "site.toml" in caught.value.file


def test_a_missing_site_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(RuleTableError, match=r"nowhere\.toml"):
        load_rules(site_policy=tmp_path / "nowhere.toml")


@pytest.mark.parametrize(
    ("text", "field", "problem"),
    [
        ("[eligibility.pulmonary_function]\nenabled = false\nreason = 'no spirometer'", "eligibility.pulmonary_function.enabled", "may not switch it off"),
        ("[eligibility.ejection_fraction]\nenabled = false\nreason = 'x'", "eligibility.ejection_fraction.enabled", "may not switch it off"),
        ("[eligibility.wall_motion]\nmet = ['normal', 'abnormal']", "eligibility.wall_motion.met", "may not change its met"),
        ("[eligibility.coronary_artery_disease]\nrequired = true", "eligibility.coronary_artery_disease.required", "may not change its required"),
        ("[eligibility.hypersensitivity]\nenabled = false\nreason = 'x'", "eligibility.hypersensitivity.enabled", "contraindication on the Proleukin label"),
        ("[eligibility.adult_age]\nlimit = 16", "eligibility.adult_age.limit", "would accept more than the default '>= 18'"),
        ("[eligibility.adult_age]\nenabled = false\nreason = 'x'", "eligibility.adult_age.enabled", "indication on the Proleukin label"),
        ("[eligibility.metastatic_disease]\nenabled = false\nreason = 'adjuvant use'", "eligibility.metastatic_disease.enabled", "may not switch it off"),
        ("[eligibility.pulmonary_function.all_of.fev1_volume]\nlimit = 1.5", "eligibility.pulmonary_function.all_of.fev1_volume.limit", "would accept more"),
        ("[eligibility.pulmonary_function.all_of.fev1_volume]\ncomparison = '>='", "eligibility.pulmonary_function.all_of.fev1_volume.comparison", "'>= 2.0' would accept more"),
        ("[eligibility.pulmonary_function.all_of.fev1_predicted]\nlimit = 74.9", "eligibility.pulmonary_function.all_of.fev1_predicted.limit", "would accept more"),
        ("[eligibility.pulmonary_function]\nrequired_for_policy = 'stress_test_required_for'", "eligibility.pulmonary_function.required_for_policy", "may not change its required_for_policy"),
        ("[eligibility.pulmonary_function.all_of.fev1_volume]\nfield = 'pulmonary.fev1_pct_predicted'", "eligibility.pulmonary_function.all_of.fev1_volume.field", "may not change its field"),
        ("[eligibility.ejection_fraction]\nlimit = 45", "eligibility.ejection_fraction.limit", "is not a cited alternative"),
        ("[eligibility.ejection_fraction]\nalternatives = [{ limit = 40, source = 'x' }]", "eligibility.ejection_fraction.alternatives", "may not change its alternatives"),
        ("[eligibility.creatinine.any_of.serum_creatinine]\nlimit = 2.0", "eligibility.creatinine.any_of.serum_creatinine.limit", "would accept more"),
        ("[eligibility.ast]\nfactor = 5", "eligibility.ast.factor", "would accept more"),
        ("[eligibility.bilirubin]\ncomparison = '>='", "eligibility.bilirubin.comparison", "would accept more"),
        ("[eligibility.hiv]\nenabled = false", "eligibility.hiv.enabled", "must give its reason"),
    ],
)  # fmt: skip
def test_a_site_file_may_not_switch_off_or_loosen_what_the_label_fixes(
    tmp_path: Path, text: str, field: str, problem: str
) -> None:
    with pytest.raises(RuleTableError) as caught:
        load_rules(site_policy=site_file(tmp_path, text))
    assert caught.value.field == field
    assert problem in caught.value.problem
    assert "site.toml" in caught.value.file


@pytest.mark.parametrize(
    "text",
    [
        "[eligibility.pulmonary_function.all_of.fev1_volume]\nlimit = 2.5",
        "[eligibility.pulmonary_function.all_of.fev1_predicted]\nlimit = 80",
        "[eligibility.ejection_fraction]\ncomparison = '>='\nreason = 'UDHF 2021'",
        "[eligibility.ejection_fraction]\nlimit = 55",
        "[eligibility.ejection_fraction]\ncomparison = '>='\nlimit = 50.5",
        "[eligibility.creatinine.any_of.serum_creatinine]\nlimit = 1.6",
        "[eligibility.creatinine.any_of.serum_creatinine]\nlimit = 1.2",
        "[eligibility.ast]\nfactor = 2.5",
        "[eligibility.adult_age]\nlimit = 21",
        "[policy]\npft_required_for = 'at_risk'",
        "[eligibility.hiv]\nenabled = false\nreason = 'accepted with undetectable viral load'",
        "[eligibility.platelets]\nlimit = 50_000",
        "[eligibility.ejection_fraction]\nenabled = true",
    ],
)
def test_a_site_may_tighten_a_label_criterion_or_choose_a_cited_alternative(
    tmp_path: Path, text: str
) -> None:
    load_rules(site_policy=site_file(tmp_path, text))


def test_a_criterion_switched_off_by_a_site_keeps_its_line_with_the_reason(tmp_path: Path) -> None:
    rules = load_rules(
        site_policy=site_file(tmp_path, "[eligibility.hiv]\nenabled = false\nreason = 'P&T 7'")
    )
    hiv = next(c for c in rules.criteria.criteria if c.id == "hiv")
    assert not hiv.enabled
    assert "eligibility.hiv.enabled = False (default True); reason: P&T 7" in hiv.site_setting
    assert [c.field for c in rules.site_changes] == ["eligibility.hiv.enabled"]


def test_pfts_are_required_for_every_patient_unless_a_site_narrows_it(tmp_path: Path) -> None:
    assert (
        load_rules()
        .policies[[p.name for p in load_rules().policies].index("pft_required_for")]
        .value
        == "all"
    )
    rules = load_rules(site_policy=site_file(tmp_path, "[policy]\npft_required_for = 'at_risk'"))
    pft = next(c for c in rules.criteria.criteria if c.id == "pulmonary_function")
    assert "policy.pft_required_for = 'at_risk' (default 'all')" in pft.site_setting


def test_only_unconfirmed_supplemental_oxygen_is_off_by_default(rules: RuleSet) -> None:
    off = [c.id for c in rules.criteria.criteria if not c.enabled]
    assert off == ["supplemental_oxygen"]
    assert all(c.unconfirmed for c in rules.criteria.criteria if not c.enabled)


def test_the_label_contraindications_are_marked_and_cite_the_label(rules: RuleSet) -> None:
    fixed = {c.id: c.label_rule for c in rules.criteria.criteria if c.label_rule}
    assert fixed == {
        "indication": "indication",
        "metastatic_disease": "indication",
        "adult_age": "indication",
        "hypersensitivity": "contraindication",
        "ejection_fraction": "contraindication",
        "wall_motion": "contraindication",
        "coronary_artery_disease": "contraindication",
        "pulmonary_function": "contraindication",
        "creatinine": "contraindication",
        "bilirubin": "contraindication",
        "ast": "contraindication",
        "alt": "contraindication",
    }
    assert all("Label-2024" in c.source for c in rules.criteria.criteria if c.label_rule)


def test_no_rule_file_or_case_cites_a_file_outside_the_repository() -> None:
    root = Path(__file__).parents[2]
    files = [*(root / "src/il2/rules/data").glob("*.toml"),
             *(root / "tests/conformance/cases").glob("*.toml")]  # fmt: skip
    outside = ("shared/", "clinical.md", "contract.md", "DESIGN.md", "safety-review")
    cited = [
        f"{path.name}:{number}"
        for path in files
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if any(name in line for name in outside)
    ]
    assert not cited, cited


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("[policy]\ndose_window_early_min = 300", "policy.dose_window_early_min"),
        ("[policy]\ndose_window_late_min = -1", "policy.dose_window_late_min"),
        ("[policy]\ndose_clock_tolerance_min = 16", "policy.dose_clock_tolerance_min"),
    ],
)
def test_a_dose_window_or_clock_tolerance_out_of_range_fails_naming_file_and_field(
    tmp_path: Path, text: str, field: str
) -> None:
    with pytest.raises(RuleTableError) as caught:
        load_rules(site_policy=site_file(tmp_path, text))
    assert (caught.value.field, "site.toml" in caught.value.file) == (field, True)
    assert "whole number of minutes" in caught.value.problem


def test_the_dose_window_defaults_to_an_hour_each_side_and_a_site_may_narrow_it(
    rules: RuleSet, tmp_path: Path
) -> None:
    assert (rules.timeline.window_early, rules.timeline.window_late) == (
        timedelta(hours=1),
        timedelta(hours=1),
    )
    assert rules.timeline.clock_tolerance == timedelta(minutes=5)
    narrowed = load_rules(site_policy=site_file(tmp_path, "[policy]\ndose_window_late_min = 30\n"))
    assert narrowed.timeline.window_late == timedelta(minutes=30)


def test_the_admission_policies_load_with_their_defaults(rules: RuleSet) -> None:
    policy = rules.admission
    assert (
        policy.screening_valid_days,
        policy.first_dose_past_tolerance_hours,
        policy.first_dose_max_days_ahead,
    ) == (28, 1, 84)
    assert "Site choice" in policy.source


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("screening_valid_days", "0"),
        ("screening_valid_days", "1000"),
        ("screening_valid_days", "7.5"),
        ("first_dose_past_tolerance_hours", "-1"),
        ("first_dose_max_days_ahead", "true"),
        ("first_dose_max_days_ahead", '"soon"'),
    ],
)
def test_a_bad_admission_policy_is_refused_naming_the_field(
    tmp_path: Path, name: str, value: str
) -> None:
    path = site_file(tmp_path, f"[policy]\n{name} = {value}\n")
    with pytest.raises(RuleTableError, match=f"policy.{name}"):
        load_rules(site_policy=path)
