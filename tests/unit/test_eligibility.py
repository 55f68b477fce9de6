from decimal import Decimal

from il2.domain.eligibility import (
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
    return RequiredTest("stress test", (STRESS,), (AGE_50, HISTORY), required_for_all=for_all)


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
