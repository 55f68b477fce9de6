from decimal import Decimal

from il2.domain.eligibility import (
    AllOf,
    AnyOf,
    Category,
    CriteriaTable,
    Criterion,
    Flag,
    Limit,
    Overall,
    RequiredTest,
    Verdict,
    overall,
    screen,
)
from il2.domain.quantities import Comparison

AGE_50 = Limit("age", "age", "years", Comparison.AT_LEAST, Decimal(50))
HISTORY = Flag("history", "cardiac history", required=True)
STRESS = Category("stress", "stress test", frozenset({"normal"}), frozenset({"abnormal"}))


def stress_test(*, for_all: bool = False) -> RequiredTest:
    return RequiredTest("stress test", STRESS, (AGE_50, HISTORY), required_for_all=for_all)


def test_a_normal_test_meets_the_criterion_whoever_the_patient_is() -> None:
    assert stress_test().judge({"stress": "normal"}).verdict is Verdict.MET


def test_an_abnormal_test_fails_even_when_it_was_not_required() -> None:
    findings = {"stress": "abnormal", "age": Decimal(30), "history": False}
    assert stress_test().judge(findings).verdict is Verdict.NOT_MET


def test_a_patient_no_trigger_applies_to_needs_no_test() -> None:
    judgement = stress_test().judge({"age": Decimal(49), "history": False})
    assert judgement.verdict is Verdict.MET
    assert "not required" in judgement.evidence


def test_one_trigger_is_enough_to_require_the_test() -> None:
    judgement = stress_test().judge({"age": Decimal(40), "history": True})
    assert judgement.verdict is Verdict.MISSING
    assert "required (cardiac history: yes)" in judgement.evidence


def test_an_unknown_age_leaves_the_need_for_the_test_undecided() -> None:
    judgement = stress_test().judge({"history": False})
    assert judgement.verdict is Verdict.MISSING
    assert "cannot tell whether required" in judgement.evidence


def test_site_policy_all_requires_the_test_for_everyone() -> None:
    judgement = stress_test(for_all=True).judge({"age": Decimal(30), "history": False})
    assert judgement.verdict is Verdict.MISSING


def test_overall_verdict_prefers_ineligible_then_incomplete() -> None:
    assert overall([Verdict.MET, Verdict.MISSING, Verdict.NOT_MET]) is Overall.INELIGIBLE
    assert overall([Verdict.MET, Verdict.MISSING]) is Overall.INCOMPLETE
    assert overall([Verdict.MET]) is Overall.ELIGIBLE


def test_a_missing_criterion_says_what_to_obtain_and_a_met_one_does_not() -> None:
    criterion = Criterion("stress", "Stress test", stress_test(), "a stress test", "CWG")
    table = CriteriaTable((criterion,), version="t")
    assert screen({"age": Decimal(60)}, table).results[0].obtain == "a stress test"
    assert screen({"stress": "normal"}, table).results[0].obtain is None


FEV1_L = Limit("fev1", "FEV1", "L", Comparison.ABOVE, Decimal(2))
FEV1_PCT = Limit("pct", "FEV1", "% predicted", Comparison.AT_LEAST, Decimal(75))
CREATININE = Limit("creatinine", "creatinine", "mg/dL", Comparison.AT_MOST, Decimal("1.5"))
CLEARANCE = Limit("clearance", "clearance", "mL/min", Comparison.AT_LEAST, Decimal(60))


def test_all_of_fails_when_one_part_fails_even_if_the_other_passes() -> None:
    judgement = AllOf((FEV1_L, FEV1_PCT)).judge({"fev1": Decimal("2.5"), "pct": Decimal(60)})
    assert judgement.verdict is Verdict.NOT_MET
    assert "all are required" in judgement.evidence


def test_all_of_fails_on_one_failing_part_while_the_other_is_unknown() -> None:
    assert AllOf((FEV1_L, FEV1_PCT)).judge({"fev1": Decimal("1.8")}).verdict is Verdict.NOT_MET


def test_all_of_is_missing_while_a_passing_part_waits_for_the_other() -> None:
    assert AllOf((FEV1_L, FEV1_PCT)).judge({"fev1": Decimal("2.5")}).verdict is Verdict.MISSING


def test_all_of_is_met_only_when_every_part_is_met() -> None:
    findings = {"fev1": Decimal("2.01"), "pct": Decimal(75)}
    assert AllOf((FEV1_L, FEV1_PCT)).judge(findings).verdict is Verdict.MET


def test_any_of_is_met_by_one_passing_part() -> None:
    findings = {"creatinine": Decimal("1.8"), "clearance": Decimal(60)}
    judgement = AnyOf((CREATININE, CLEARANCE)).judge(findings)
    assert judgement.verdict is Verdict.MET
    assert "any one suffices" in judgement.evidence


def test_any_of_with_a_failing_part_and_an_unknown_one_asks_for_the_unknown() -> None:
    judgement = AnyOf((CREATININE, CLEARANCE)).judge({"creatinine": Decimal("1.51")})
    assert judgement.verdict is Verdict.MISSING
    assert "clearance: not given" in judgement.evidence


def test_any_of_fails_only_when_every_part_fails() -> None:
    findings = {"creatinine": Decimal("1.51"), "clearance": Decimal(59)}
    assert AnyOf((CREATININE, CLEARANCE)).judge(findings).verdict is Verdict.NOT_MET


def test_an_abnormal_combined_result_fails_even_where_the_test_was_not_required() -> None:
    pft = RequiredTest("PFTs", AllOf((FEV1_L, FEV1_PCT)), (HISTORY,), required_for_all=False)
    findings = {"fev1": Decimal("1.8"), "history": False}
    assert pft.judge(findings).verdict is Verdict.NOT_MET


def test_a_switched_off_criterion_is_listed_as_not_applied_and_decides_nothing() -> None:
    off = Criterion("hiv", "HIV negative", STRESS, "HIV status", "CWG", enabled=False)
    screening = screen({"stress": "abnormal"}, CriteriaTable((off,), version="t"))
    assert screening.results[0].verdict is Verdict.NOT_APPLIED
    assert screening.results[0].obtain is None
    assert screening.verdict is Overall.ELIGIBLE
