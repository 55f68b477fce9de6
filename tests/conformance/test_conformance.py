"""Every conformance case under cases/, run by one test.

Each file's [meta].kind says how its cases are run:
- plan: plan a course (with the case's own `cycle_end_rule` choice, if any) and compare fields
  of the plan document (or expect a refusal naming `error_field`, its text `error_contains`);
- criterion: judge one eligibility criterion on partial findings;
- screening: screen a whole candidate document (changed by `set` and `remove`);
- bedside: a before-dose decision from the stable patient changed by `set` and `remove`
  (optionally the missing items, the warnings and text the reasons' sources must contain);
- retreatment: whether a history of earlier toxicities forbids another course;
- grade: one CTCAE finding graded (or refused, naming `expect_error_field`);
- recist: a whole RECIST document, its time points, best response and iRECIST categories;
- pathway: what comes next for a course (il2 next), or a refusal;
- timeline: a slot's status at a moment, or the refusals for a given_at (cases/timeline.toml).
- admission: whether a course may start on the patient's records (refusal codes, or an
  unusable first dose naming `error_field`).
- prognosis: the published prognostic scores of a screening document (changed by `set` and
  `remove`): each named factor's status, the count range, the group or the groups possible.
A case may carry `site` (policy-file text) or `policy` (plan-policy values) to test site choices.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from il2.domain.admission import PatientRecords, admission_refusals, check_first_dose
from il2.domain.errors import Il2Error, InvalidInputError
from il2.domain.records import CourseRecord, DoseOutcome, LedgerLine, ScreeningRecord
from il2.domain.regimen import CycleEndRule, VialPooling
from il2.domain.timeline import Slot, TimelineLine, given_refusals, slot_state
from il2.rules.loader import RuleSet, load_rules
from il2.services.bedside import assess_before_dose
from il2.services.documents import plan_document, recist_document
from il2.services.grading import grade_document, grading_document
from il2.services.pathway import next_step, pathway_document
from il2.services.planning import plan
from il2.services.recist import assess_response
from il2.services.retreatment import judge_history
from il2.services.screening import screen_candidate, screening_answer

CASES = Path(__file__).parent / "cases"
ROOT = Path(__file__).parents[2]
BEDSIDE_BASE = "examples/bedside/stable-give.json"


def _load() -> list[Any]:
    params = []
    for path in sorted(CASES.glob("*.toml")):
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        kind = data["meta"]["kind"]
        for case in data["case"]:
            assert case.get("source"), f"{path.name}:{case['id']} names no source"
            params.append(pytest.param(kind, case, id=f"{path.stem}:{case['id']}"))
    return params


def _rules_for(case: dict[str, Any], base: RuleSet, tmp_path: Path) -> RuleSet:
    rules = base
    if "site" in case:
        site = tmp_path / "site.toml"
        site.write_text(case["site"], encoding="utf-8")
        rules = load_rules(site_policy=site)
    if "policy" in case:
        wanted = case["policy"]
        policy = rules.plan_policy
        if "cycle_end_rule" in wanted:
            policy = replace(policy, cycle_end_rule=CycleEndRule(wanted["cycle_end_rule"]))
        if "vial_pooling" in wanted:
            policy = replace(policy, vial_pooling=VialPooling(wanted["vial_pooling"]))
        if "mg_factor" in wanted:
            policy = replace(policy, mg_factor=wanted["mg_factor"])
        rules = replace(rules, plan_policy=policy)
    return rules


def _derived(document: dict[str, Any]) -> dict[str, Any]:
    first = document["cycles"][0]["doses"]
    start = datetime.fromisoformat(first[0]["due_at"])
    end = datetime.fromisoformat(first[-1]["due_at"])
    cycle_warnings = [w for w in document["warnings"] if w.startswith("Cycle ")]
    return {
        **document,
        "doses_by_cycle": [len(c["doses"]) for c in document["cycles"]],
        "last_dose_h": (end - start).total_seconds() / 3600,
        "last_dose_day": first[-1]["day"],
        "last_dose_at": first[-1]["due_at"],
        "first_dose_at": first[0]["due_at"],
        "cycle_2_first_day": document["cycles"][1]["first_day"]
        if len(document["cycles"]) > 1
        else None,
        "warnings_about_cycles": len(cycle_warnings),
        "earliest_next_course_on": document["earliest_next_course_on"] or "none",
        "cycle_end_rule_used": document["cycle_end"]["rule"] or "none",
        "cycle_end_chosen_by": document["cycle_end"]["chosen_by"],
        "cycle_end_conflict": document["cycle_end"]["conflict"],
        "extractable_iu_per_vial": document["vial_count"]["extractable_iu_per_vial"],
        "dosing_weight_basis_shown": document["dosing_weight"]["basis"],
        **_derived_agents(document),
    }


def _derived_agents(document: dict[str, Any]) -> dict[str, Any]:
    """What the regimen cases compare: each agent's days and amounts, doses by step."""
    cycles = document["cycles"]
    first = cycles[0]["doses"]
    surface = document["body_surface"]
    return {
        "cycle_first_days": [c["first_day"] for c in cycles],
        "aldesleukin_days": sorted({d["day"] for d in first}),
        "aldesleukin_due_at": [d["due_at"] for d in first],
        "aldesleukin_dose_iu": [d["dose_iu"] for d in first],
        "aldesleukin_routes": sorted({d["route"] for c in cycles for d in c["doses"]}),
        "aldesleukin_duration_h": sorted({d.get("duration_h", 0) for d in first}),
        "dose_iu_by_step": [d["dose_iu"] for d in document["aldesleukin_doses"]],
        "vials_by_step": [d["vials"] for d in document["aldesleukin_doses"]],
        "bsa_m2_4dp": surface["bsa_m2"] if surface else "none",
        "bsa_formula": surface["formula"] if surface else "none",
        "has_bag": document["diluent_ml"] is not None,
        "preparation_note": (document["preparation"] or {}).get("note", "none"),
        "agent_days": {
            c["agent"]: [a["day"] for a in c["administrations"] if a["cycle"] == 1]
            for c in document["companions"]
        },
        "agent_dates": {
            c["agent"]: [a["on"] for a in c["administrations"] if a["cycle"] == 1]
            for c in document["companions"]
        },
        "agent_amount": {
            c["agent"]: c.get("dose_iu", c.get("dose_mg", "none")) or "none"
            for c in document["companions"]
        },
        "agent_per_cycle": {
            c["agent"]: (c.get("per_cycle_iu") or c.get("per_cycle_mg") or ["none"])[0] or "none"
            for c in document["companions"]
        },
        "agent_routes": {c["agent"]: c["route"] for c in document["companions"]},
    }


def _run_plan(case: dict[str, Any], rules: RuleSet) -> None:
    call = {
        "regimen_id": case["regimen"],
        "weight_kg": case["weight_kg"],
        "first_dose": case["first_dose"],
        "cycle_end_rule": case.get("cycle_end_rule"),
        "height_cm": case.get("height_cm"),
        "lesions": case.get("lesions"),
        "events": case.get("events"),
    }
    if "error_field" in case:
        with pytest.raises(InvalidInputError) as caught:
            plan(rules, **call)
        assert caught.value.field == case["error_field"]
        assert case.get("error_contains", "") in str(caught.value), str(caught.value)
        return
    document = _derived(plan_document(plan(rules, **call), rules))
    for key, expected in case["expect"].items():
        if key == "warning_contains":
            assert any(expected in w for w in document["warnings"]), document["warnings"]
        elif key == "warning_lacks":
            assert not any(expected in w for w in document["warnings"]), document["warnings"]
        else:
            assert document[key] == expected, f"{key}: {document[key]!r} != {expected!r}"


def _run_criterion(case: dict[str, Any], rules: RuleSet) -> None:
    screening = screen_candidate(rules, case["findings"])
    result = next(r for r in screening.results if r.criterion.id == case["criterion"])
    assert result.verdict.value == case["expect"], result.evidence
    assert result.evidence
    assert (result.obtain is not None) == (case["expect"] == "missing")
    assert case.get("expect_evidence", "") in result.evidence
    assert case.get("expect_site_setting", "") in result.criterion.site_setting
    if "site" not in case:
        assert not result.criterion.site_setting


def _edited(document: dict[str, Any], case: dict[str, Any]) -> dict[str, Any]:
    """The document with the case's `set` values and without its `remove` paths."""
    for path, value in case.get("set", {}).items():
        *groups, name = path.split(".")
        target = document
        for group in groups:
            target = target.setdefault(group, {})
        target[name] = value
    for path in case.get("remove", []):
        *groups, name = path.split(".")
        target = document
        for group in groups:
            target = target[group]
        del target[name]
    return document


def _run_screening(case: dict[str, Any], rules: RuleSet) -> None:
    document = _edited(json.loads((ROOT / case["document"]).read_text(encoding="utf-8")), case)
    screening = screen_candidate(rules, document)
    assert screening.verdict.value == case["expect"]
    by_verdict = {
        v: [r.criterion.id for r in screening.results if r.verdict.value == v]
        for v in ("not_met", "missing")
    }
    assert by_verdict["not_met"] == case["not_met"]
    assert by_verdict["missing"] == case["missing"]


def _assessment(case: dict[str, Any]) -> dict[str, Any]:
    return _edited(json.loads((ROOT / BEDSIDE_BASE).read_text(encoding="utf-8")), case)


def _run_bedside(case: dict[str, Any], rules: RuleSet) -> None:
    document = _assessment(case)
    if "expect_error_field" in case:
        with pytest.raises(Il2Error) as caught:
            assess_before_dose(rules, document)
        assert getattr(caught.value, "field", "regimen") == case["expect_error_field"]
        return
    _, decision = assess_before_dose(rules, document)
    assert decision.action.value == case["expect"], decision
    assert sorted(r.rule for r in decision.reasons) == sorted(case["expect_rules"])
    assert all(r.source and r.finding and r.threshold for r in decision.reasons)
    fired = sorted(c.rule for c in decision.checked if c.outcome.value == "fired")
    assert fired == sorted(r.rule for r in decision.reasons), "every reason is a rule checked"
    assert all(c.seen and c.threshold and c.source for c in decision.checked)
    if "expect_missing" in case:
        assert list(decision.missing) == sorted(case["expect_missing"]), decision.missing
    assert (decision.action.value == "incomplete") <= bool(decision.missing), decision
    assert all(o.what for o in decision.to_obtain)
    if "expect_warnings" in case:
        assert sorted(a.rule for a in decision.advice) == sorted(case["expect_warnings"])
    for text in case.get("expect_source_contains", []):
        assert any(text in r.source for r in decision.reasons), [r.source for r in decision.reasons]


def _run_retreatment(case: dict[str, Any], rules: RuleSet) -> None:
    decision = judge_history(rules, case["history"])
    assert decision.verdict.value == case["expect"]
    assert [r.item for r in decision.reasons] == case["expect_items"]
    assert [r.item for r in decision.to_review] == case.get("expect_review", [])
    for text in case.get("expect_review_contains", []):
        assert any(text in r.finding for r in decision.to_review), decision.to_review


def _admission_discharges(case: dict[str, Any], now: datetime) -> dict[int, date]:
    """The earlier course's discharge day, `discharged_days_after_last_dose` after its last dose."""
    if "discharged_days_after_last_dose" not in case:
        return {}
    given = now - timedelta(days=case["last_given_days_ago"])
    return {1: (given + timedelta(days=case["discharged_days_after_last_dose"])).date()}


def _admission_course(case: dict[str, Any], now: datetime) -> tuple[CourseRecord, list[LedgerLine]]:
    """The case's earlier hd-label course (14 slots a cycle every 8 h, cycle 2 on day 15)."""
    first = now - timedelta(days=case["earlier_course_days_ago"])
    cycles = [
        {"cycle": c, "doses": [
            {"number": d + 1, "due_at": (first + timedelta(days=14 * (c - 1), hours=8 * d)).isoformat()}
            for d in range(14)]}
        for c in (1, 2)
    ]  # fmt: skip
    course = CourseRecord(1, 1, 1, "hd-label", "70", first, {"cycles": cycles}, "p", first)
    given = now - timedelta(days=case["last_given_days_ago"])
    ledger = [LedgerLine(1, 1, DoseOutcome.GIVEN, "give", given)]
    if "ended_by" in case:
        ledger.append(LedgerLine(2, 2, DoseOutcome.STOPPED, case["ended_by"], None))
    return course, ledger


def _admission_courses(
    case: dict[str, Any], now: datetime
) -> tuple[list[CourseRecord], dict[int, list[LedgerLine]]]:
    """The case's `courses`: each of its `regimen`, first dose `first_days_ago` days before now,
    `cycles_given` cycles (14 days apart), a dose given at the start of each."""
    courses, ledgers = [], {}
    for number, item in enumerate(case["courses"], start=1):
        first = now - timedelta(days=item["first_days_ago"])
        starts = [first + timedelta(days=14 * c) for c in range(item["cycles_given"])]
        cycles = [
            {"cycle": c, "doses": [{"number": 1, "due_at": start.isoformat()}]}
            for c, start in enumerate(starts, start=1)
        ]
        plan = {"cycles": cycles}
        courses.append(
            CourseRecord(number, 1, number, item["regimen"], "70", first, plan, "p", first)
        )
        ledgers[number] = [
            LedgerLine(c, 1, DoseOutcome.GIVEN, "give", start)
            for c, start in enumerate(starts, start=1)
        ]
    return courses, ledgers


def _run_admission(case: dict[str, Any], rules: RuleSet) -> None:
    now = datetime(2026, 12, 7, 16, 0, tzinfo=UTC)
    screenings = []
    if "screening_days_ago" in case:
        at = now - timedelta(days=case["screening_days_ago"])
        verdict = case.get("verdict", "eligible")
        screenings.append(ScreeningRecord(1, 1, {}, verdict, {}, "v", "physician", at))
    courses, ledgers = [], {}
    if "earlier_course_days_ago" in case:
        course, ledger = _admission_course(case, now)
        courses, ledgers = [course], {course.id: ledger}
    if "courses" in case:
        courses, ledgers = _admission_courses(case, now)
    records = PatientRecords(
        screenings,
        courses,
        ledgers,
        rules.regimens,
        discharges=_admission_discharges(case, now),
        field_sources=rules.regimen_sources,
    )
    first_dose = now + timedelta(hours=case["first_dose_hours"])
    if "error_field" in case:
        with pytest.raises(InvalidInputError) as refused:
            check_first_dose(first_dose, now=now, policy=rules.admission)
        assert refused.value.field == case["error_field"]
        return
    check_first_dose(first_dose, now=now, policy=rules.admission)
    refusals = admission_refusals(
        records,
        first_dose=first_dose,
        now=now,
        policy=rules.admission,
        retreatment=None,
        regimen=rules.regimens[case.get("regimen", "hd-label")],
    )
    assert [r.code for r in refusals] == case["expect"]
    assert [r.overridable for r in refusals] == case.get("overridable", [])
    for words in case.get("message_contains", []):
        assert any(words in r.message for r in refusals), (words, refusals)


def _run_grade(case: dict[str, Any], rules: RuleSet) -> None:
    document = {"ctcae_version": case.get("ctcae_version", "5.0"), "findings": [case["finding"]]}
    if "expect_error_field" in case:
        with pytest.raises(InvalidInputError) as caught:
            grade_document(rules.ctcae, document)
        assert caught.value.field == case["expect_error_field"], str(caught.value)
        return
    output = grading_document(grade_document(rules.ctcae, document))
    assert output["ctcae_version"] == "5.0"
    (graded,) = output["grades"]
    assert graded["term"] == case["finding"]["term"]
    assert graded["grade"] == case["expect_grade"], graded["criterion"]
    assert graded["criterion"]
    assert graded["source"]


_PER_TIMEPOINT = (
    "target",
    "overall",
    "sum_mm",
    "change_from_baseline_pct",
    "change_from_nadir_pct",
)
_SUMMARY = {"best": "best_overall_response", "confirmed": "confirmed", "response_on": "response_on",
            "progression_on": "progression_on"}  # fmt: skip


def _run_recist(case: dict[str, Any], rules: RuleSet) -> None:
    document = json.loads(case["document"])
    if "expect_error_field" in case:
        with pytest.raises(InvalidInputError) as caught:
            assess_response(rules, document)
        assert caught.value.field == case["expect_error_field"], str(caught.value)
        return
    output = recist_document(assess_response(rules, document))
    for key, expected in case["expect"].items():
        if key in _PER_TIMEPOINT:
            got = [point[key] for point in output["timepoints"]]
            assert got == [None if e == "null" else e for e in expected], f"{key}: {got}"
        elif key in _SUMMARY:
            wanted = None if expected == "none" else expected
            assert output[_SUMMARY[key]] == wanted, (
                f"{key}: {output[_SUMMARY[key]]} {output['reasons']}"
            )
        elif key == "i":
            got = [point["category"] for point in output["irecist"]["timepoints"]]
            assert got == expected, f"iRECIST: {got}"
        else:
            assert key == "ibest"
            assert output["irecist"]["best_overall_response"] == expected
    assert all(point["reasons"] for point in output["timepoints"])


def _date_or_none(expected: str) -> str | None:
    return None if expected == "none" else expected


def _run_pathway(case: dict[str, Any], rules: RuleSet) -> None:
    """Decide the case's document and compare the answer with what the case expects."""
    if "expect_error_field" in case:
        with pytest.raises(InvalidInputError) as caught:
            next_step(rules, case["document"], rules.pathway)
        assert caught.value.field == case["expect_error_field"], str(caught.value)
        return
    document = pathway_document(next_step(rules, case["document"], rules.pathway))
    assert document["next"] == case["expect"], document["reasons"]
    for key in ("earliest_on", "blocked_until"):
        if f"expect_{key}" in case:
            assert document[key] == _date_or_none(case[f"expect_{key}"]), key
    if "expect_rules" in case:
        rules_named = [r["rule"] for r in document["reasons"]]
        assert rules_named == case["expect_rules"], rules_named
    assert document["missing"] == case.get("expect_missing", [])
    for key in ("cycles_given_total", "max_cycles_total", "max_cycles_total_from"):
        if f"expect_{key}" in case:
            assert document[key] == case[f"expect_{key}"], key
    for text in case.get("expect_source_contains", []):
        assert any(text in r["source"] for r in document["reasons"]), text
    assert document["reasons"], "every answer gives its reasons"
    for reason in document["reasons"]:
        assert all(reason[key] for key in ("rule", "finding", "threshold", "source")), reason


def _run_timeline(case: dict[str, Any], rules: RuleSet) -> None:
    cycle = case.get("cycle", 1)
    start = datetime(2026, 12, 7, 0, 0, tzinfo=UTC) + timedelta(days=14 * (cycle - 1))
    due = start + timedelta(hours=16) if cycle == 1 else start
    interval = rules.regimens["hd-label"].interval_h
    slot = Slot(1, cycle, 3 if cycle == 1 else 1, due, start, interval)
    minutes = [timedelta(minutes=m) for m in case.get("previous_min", [])]
    lines = [TimelineLine(1, 1, 1 + i, DoseOutcome.GIVEN, "give", due + m, interval)
             for i, m in enumerate(minutes)]  # fmt: skip
    given = due + timedelta(minutes=case.get("given_min", 0))
    now = due + timedelta(minutes=case.get("now_min", case.get("given_min", 0)))
    if "expect_status" in case:
        state = slot_state(slot, lines, policy=rules.timeline, now=now)
        assert state.status.value == case["expect_status"], state.message
        return
    assessed = due + timedelta(minutes=case.get("assessed_min", case.get("given_min", 0) - 10))
    refusals = given_refusals(slot, lines, given_at=given, assessed_at=assessed, now=now,
                              policy=rules.timeline)  # fmt: skip
    assert sorted(r.code for r in refusals) == sorted(case["expect"]), refusals
    assert not any(r.overridable for r in refusals)


def _run_prognosis(case: dict[str, Any], rules: RuleSet) -> None:
    document = _edited(json.loads((ROOT / case["document"]).read_text(encoding="utf-8")), case)
    answer = screening_answer(rules, document)
    assert answer["verdict"] == screen_candidate(rules, document).verdict.value, "never the verdict"
    scores = {s["id"]: s for s in answer["prognosis"]["scores"]}
    if "expect_scores" in case:
        assert list(scores) == case["expect_scores"]
    if "score" not in case:
        return
    found = scores[case["score"]]
    factors = {f["id"]: f for f in found["factors"]}
    assert all(f["finding"] and f["threshold"] and f["source"] for f in factors.values())
    got = {key: factors[key]["status"] for key in case.get("expect", {})}
    assert got == case.get("expect", {}), [factors[k]["finding"] for k in got]
    for key, text in case.get("expect_finding", {}).items():
        assert text in factors[key]["finding"], factors[key]["finding"]
    for key, text in case.get("expect_threshold", {}).items():
        assert text in factors[key]["threshold"], factors[key]["threshold"]
    if "expect_count" in case:
        assert [found["count_low"], found["count_high"]] == case["expect_count"]
    if "expect_group" in case:
        assert found["group"] == (None if case["expect_group"] == "none" else case["expect_group"])
    if "expect_possible" in case:
        assert [g["id"] for g in found["possible_groups"]] == case["expect_possible"]


RUNNERS = {
    "plan": _run_plan,
    "criterion": _run_criterion,
    "screening": _run_screening,
    "bedside": _run_bedside,
    "retreatment": _run_retreatment,
    "admission": _run_admission,
    "grade": _run_grade,
    "recist": _run_recist,
    "pathway": _run_pathway,
    "timeline": _run_timeline,
    "prognosis": _run_prognosis,
}


@pytest.mark.parametrize(("kind", "case"), _load())
def test_conformance_case(kind: str, case: dict[str, Any], rules: RuleSet, tmp_path: Path) -> None:
    RUNNERS[kind](case, _rules_for(case, rules, tmp_path))
