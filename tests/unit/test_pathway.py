"""The course pathway: what comes next after a course, beyond what the conformance cases show."""

from __future__ import annotations

import copy
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.strategies import documents

from il2.domain.errors import InvalidInputError, RuleTableError
from il2.domain.findings import read_findings
from il2.domain.pathway import (
    Course,
    CycleLimit,
    MinShrinkage,
    Next,
    PathwayDecision,
    ResponseSummary,
    decide_next,
)
from il2.domain.retreatment import Retreatment, RetreatmentDecision, judge_retreatment
from il2.rules import loader as rules_loader
from il2.rules.loader import load_rules
from il2.rules.pathway import load_pathway, pathway_table
from il2.rules.reader import Node, read_bundled
from il2.services.pathway import cycle_limit, min_shrinkage, next_step, pathway_document

RULES = load_rules()
TABLE = load_pathway()
LABEL = RULES.regimens["hd-label"]
CLEAR = RetreatmentDecision(Retreatment.NOT_FORBIDDEN, (), (), "test")
LIMIT = CycleLimit(6, "test limit")
MINIMUM = MinShrinkage(Decimal(10), "test minimum")
HISTORY = {
    "earlier_toxicities": [],
    "intubated_hours_max": 0,
    "dialysis_hours_max": 0,
    "coma_hours_max": 0,
}


def course(**overrides: Any) -> Course:
    """Course 1 of hd-label: last dose 2026-12-25, home on 2026-12-27."""
    values: dict[str, Any] = {
        "number": 1,
        "cycles_given": 2,
        "doses_given": 22,
        "last_dose_on": date(2026, 12, 25),
        "discharged_on": date(2026, 12, 27),
    }
    return Course(**{**values, **overrides})


def scan(
    overall: str = "PR",
    change: str | None = "-35",
    on: date = date(2027, 1, 25),
    *,
    baseline: str | None = None,
) -> ResponseSummary:
    """A response scan; `change` is the change since the pre-course scan, `baseline` since baseline."""
    return ResponseSummary(
        on,
        overall,
        change_from_baseline_pct=None if baseline is None else Decimal(baseline),
        change_from_pre_course_pct=None if change is None else Decimal(change),
    )


def decide(**overrides: Any) -> PathwayDecision:
    """A partial response after one uneventful course, seen on 2027-02-20, unless overridden."""
    call: dict[str, Any] = {
        "regimen": LABEL,
        "courses": [course()],
        "response": scan(),
        "retreatment": CLEAR,
        "cycle_limit": LIMIT,
        "min_shrinkage": MINIMUM,
        "table": TABLE,
        "today": date(2027, 2, 20),
        "regimen_sources": RULES.regimen_sources["hd-label"],
    }
    return decide_next(**{**call, **overrides})


def document(**overrides: Any) -> dict[str, Any]:
    """The `il2 next` document of the brief, with top-level fields overridden."""
    return {
        "regimen": "hd-label",
        "today": "2027-02-20",
        "courses": [
            {
                "number": 1,
                "cycles_given": 2,
                "doses_given": 22,
                "last_dose_on": "2026-12-25",
                "discharged_on": "2026-12-27",
            }
        ],
        "history": copy.deepcopy(HISTORY),
        "response": {
            "assessed_on": "2027-01-25",
            "overall": "PR",
            "change_from_baseline_pct": -35.0,
            "change_from_pre_course_pct": -35.0,
        },
        **overrides,
    }


# ---------------------------------------------------------------- the engine


def test_a_partial_response_after_the_rest_is_another_course_from_seven_weeks_after_discharge() -> (
    None
):
    decision = decide()
    assert decision.next is Next.ANOTHER_COURSE
    assert decision.earliest_on == date(2027, 2, 14)
    assert decision.blocked_until is None
    assert all(r.outcome is Next.ANOTHER_COURSE for r in decision.reasons)


def test_another_course_asked_for_too_early_says_not_before_the_seventh_week() -> None:
    decision = decide(today=date(2027, 1, 31))
    assert decision.next is Next.ANOTHER_COURSE
    assert decision.blocked_until == date(2027, 2, 14)
    rest = next(r for r in decision.reasons if r.rule == "rest-after-discharge")
    assert rest.threshold.startswith("not before 2027-02-14")
    assert "5 weeks 0 days after discharge" in rest.finding


def test_the_rest_reason_says_so_when_today_is_still_before_the_discharge() -> None:
    stay = course(discharged_on=date(2027, 1, 7))
    decision = decide(courses=[stay], response=scan(on=date(2027, 1, 5)), today=date(2027, 1, 6))
    rest = next(r for r in decision.reasons if r.rule == "rest-after-discharge")
    assert rest.finding.endswith("today 2027-01-06 is 1 day before discharge")
    assert decision.blocked_until == date(2027, 2, 25)


def test_the_rest_reason_counts_whole_weeks_and_days() -> None:
    def rest_finding(today: date) -> str:
        decision = decide(response=scan(on=date(2027, 1, 2)), today=today)
        return next(r.finding for r in decision.reasons if r.rule == "rest-after-discharge")

    assert rest_finding(date(2027, 2, 4)).endswith("is 5 weeks 4 days after discharge")
    assert rest_finding(date(2027, 1, 4)).endswith("is 1 week 1 day after discharge")


def test_the_latest_course_is_the_highest_number_whatever_the_order_given() -> None:
    second = course(
        number=2, last_dose_on=date(2027, 3, 5), discharged_on=date(2027, 3, 8), doses_given=20
    )
    decision = decide(
        courses=[second, course()], response=scan(on=date(2027, 4, 5)), today=date(2027, 5, 1)
    )
    assert decision.earliest_on == date(2027, 4, 26)
    assert decision.cycles_given_total == 4


def test_without_field_sources_the_weeks_are_cited_to_the_regimen() -> None:
    decision = decide(regimen_sources=None)
    rest = next(r for r in decision.reasons if r.rule == "rest-after-discharge")
    assert LABEL.source in rest.source


def test_a_regimen_repeating_every_12_weeks_has_another_course_from_its_first_dose_day() -> None:
    cwg = RULES.regimens["hd-cwg-q12w"]
    decision = decide(
        regimen=cwg,
        courses=[course(first_dose_on=date(2026, 12, 7))],
        regimen_sources=RULES.regimen_sources["hd-cwg-q12w"],
    )
    assert (decision.next, decision.earliest_on) == (Next.ANOTHER_COURSE, date(2027, 3, 1))
    assert decision.blocked_until == date(2027, 3, 1)
    (spacing,) = [r for r in decision.reasons if r.rule == "course-spacing"]
    assert "repeat every 12 weeks from the first dose day" in spacing.threshold
    assert "course_every_weeks from regimen hd-cwg-q12w" in spacing.source
    assert "every 12 weeks" in spacing.source
    assert not [r for r in decision.reasons if r.rule == "rest-after-discharge"]


def test_a_regimen_without_a_rest_or_a_spacing_still_has_no_further_course() -> None:
    decision = decide(
        regimen=RULES.regimens["post-til"], courses=[course(cycles_given=1, doses_given=6)]
    )
    assert decision.next is Next.FOLLOW_UP
    assert [r.rule for r in decision.reasons] == ["further-courses"]


def test_a_regimen_with_both_a_rest_and_a_spacing_waits_for_the_later_date() -> None:
    both = replace(LABEL, course_every_weeks=12)
    decision = decide(regimen=both, courses=[course(first_dose_on=date(2026, 12, 7))])
    assert decision.earliest_on == date(2027, 3, 1)
    rules = [r.rule for r in decision.reasons]
    assert rules.index("rest-after-discharge") < rules.index("course-spacing")
    shorter = decide(
        regimen=replace(LABEL, course_every_weeks=3),
        courses=[course(first_dose_on=date(2026, 12, 7))],
    )
    assert shorter.earliest_on == date(2027, 2, 14)


def test_the_regimens_own_stricter_cycle_limit_applies_and_says_so() -> None:
    cvd = RULES.regimens["biochemo-cvd"]
    courses = [
        course(number=n, cycles_given=1, doses_given=4, first_dose_on=first,
               last_dose_on=first + timedelta(days=3), discharged_on=first + timedelta(days=4))
        for n, first in enumerate((date(2026, 11, 2), date(2026, 11, 23), date(2026, 12, 14), date(2027, 1, 4)), 1)
    ]  # fmt: skip
    decision = decide(
        regimen=cvd,
        courses=courses,
        response=scan(on=date(2027, 1, 20)),
        today=date(2027, 2, 1),
        regimen_sources=RULES.regimen_sources["biochemo-cvd"],
    )
    assert decision.next is Next.FOLLOW_UP
    assert (decision.max_cycles_total, decision.max_cycles_total_from) == (4, "regimen")
    (limit,) = decision.reasons
    assert (
        limit.threshold
        == "at most 4 cycles in all (regimen biochemo-cvd's own limit, stricter than the site's 6)"
    )
    assert "'for a maximum of four cycles'" in limit.source
    assert "test limit" not in limit.source
    output = pathway_document(decision)
    assert (output["max_cycles_total"], output["max_cycles_total_from"]) == (4, "regimen")


def test_a_site_limit_stricter_than_the_regimens_applies_and_says_so() -> None:
    cvd = RULES.regimens["biochemo-cvd"]
    decision = decide(
        regimen=cvd,
        courses=[course(cycles_given=1, doses_given=4, first_dose_on=date(2026, 12, 22))],
        cycle_limit=CycleLimit(1, "site policy max_cycles_total = 1"),
    )
    assert (decision.max_cycles_total, decision.max_cycles_total_from) == (1, "site")
    assert decision.reasons[0].threshold == "at most 1 cycle in all (the site's limit)"


def test_a_forbidding_history_stops_and_cites_each_item() -> None:
    forbidden = judge({"intubated_hours_max": 96, "earlier_toxicities": ["seizures"]})
    decision = decide(retreatment=forbidden)
    assert decision.next is Next.STOP
    assert decision.earliest_on is None
    assert [r.rule for r in decision.reasons] == ["retreatment", "retreatment"]
    assert any("72 h" in r.threshold and "intubation" in r.source for r in decision.reasons)


def test_a_site_may_answer_follow_up_where_the_input_is_incomplete() -> None:
    table = replace(TABLE, incomplete=replace(TABLE.incomplete, outcome=Next.FOLLOW_UP))
    decision = decide(table=table, response=scan("PR", None))
    assert decision.next is Next.FOLLOW_UP
    assert decision.missing == ("response.change_from_pre_course_pct",)


def test_a_regimen_without_a_per_course_dose_cap_is_bounded_by_its_cycles() -> None:
    uncapped = replace(LABEL, max_doses_per_course=None)
    assert decide(regimen=uncapped, courses=[course(doses_given=28)]).next is Next.ANOTHER_COURSE
    with pytest.raises(InvalidInputError) as caught:
        decide(regimen=uncapped, courses=[course(doses_given=29)])
    assert caught.value.field == "courses[0].doses_given"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"courses": []}, "courses"),
        ({"courses": [course(number=0)]}, "courses[0].number"),
        ({"courses": [course(cycles_given=0, doses_given=0)]}, "courses[0].cycles_given"),
        ({"courses": [course(doses_given=1)]}, "courses[0].doses_given"),
        ({"response": scan(change="-100.1")}, "response.change_from_pre_course_pct"),
        ({"response": scan(baseline="-100.1")}, "response.change_from_baseline_pct"),
    ],
)
def test_impossible_input_is_refused_naming_the_field(
    overrides: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidInputError) as caught:
        decide(**overrides)
    assert caught.value.field == field


def test_a_change_of_exactly_minus_100_is_accepted() -> None:
    assert decide(response=scan("CR", "-100")).next is Next.ANOTHER_COURSE


def judge(history: dict[str, Any]) -> RetreatmentDecision:
    return judge_retreatment(
        read_findings({**HISTORY, **history}, RULES.retreatment_fields), RULES.retreatment
    )


# ---------------------------------------------------------------- the service


def test_the_brief_example_answers_another_course_as_a_json_document() -> None:
    output = pathway_document(next_step(RULES, document(), TABLE))
    assert output["next"] == "another_course"
    assert output["earliest_on"] == "2027-02-14"
    assert output["blocked_until"] is None
    assert output["cycles_given_total"] == 2
    assert output["max_cycles_total"] == 6
    assert output["rules_version"] == TABLE.version
    assert output["retreatment_rules_version"] == RULES.versions["retreatment"]
    assert set(output["reasons"][0]) == {"rule", "finding", "threshold", "outcome", "source"}


def test_a_null_response_means_no_scan_yet() -> None:
    output = pathway_document(next_step(RULES, document(response=None, today="2027-01-10"), TABLE))
    assert output["next"] == "response_scan"
    assert output["earliest_on"] == "2027-01-22"


def test_whole_numbers_written_with_a_decimal_point_are_accepted() -> None:
    doc = document()
    doc["courses"][0]["cycles_given"] = 2.0
    assert next_step(RULES, doc, TABLE).cycles_given_total == 2


def _course_with(**fields: Any) -> list[dict[str, Any]]:
    courses: list[dict[str, Any]] = document()["courses"]
    courses[0].update(fields)
    return courses


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        ([], "document"),
        (document(patient="A"), "patient"),
        (document(regimen=7), "regimen"),
        (document(today=None), "today"),
        (document(today="2027-02-20T08:00:00"), "today"),
        (document(today="2027-W07-6"), "today"),
        (document(courses={"number": 1}), "courses"),
        (document(courses=["course 1"]), "courses[0]"),
        (document(courses=_course_with(ward="B")), "courses[0].ward"),
        (document(courses=_course_with(number=True)), "courses[0].number"),
        (document(courses=_course_with(number="1")), "courses[0].number"),
        (document(courses=_course_with(doses_given=21.5)), "courses[0].doses_given"),
        (document(courses=_course_with(last_dose_on=None)), "courses[0].last_dose_on"),
        (document(response="PR"), "response"),
        (document(response={"assessed_on": "2027-01-25", "overall": 3}), "response.overall"),
        (
            document(
                response={
                    "assessed_on": "2027-01-25",
                    "overall": "PR",
                    "change_from_baseline_pct": "-35",
                }
            ),
            "response.change_from_baseline_pct",
        ),
        (
            document(
                response={
                    "assessed_on": "2027-01-25",
                    "overall": "PR",
                    "change_from_baseline_pct": True,
                }
            ),
            "response.change_from_baseline_pct",
        ),
        (
            document(
                response={
                    "assessed_on": "2027-01-25",
                    "overall": "PR",
                    "change_from_pre_course_pct": "-35",
                }
            ),
            "response.change_from_pre_course_pct",
        ),
        (document(response={"overall": "PR"}), "response.assessed_on"),
        (document(history=[]), "history"),
        (document(history={"earlier_toxicities": ["hiccups"]}), "history.earlier_toxicities"),
    ],
)
def test_an_unusable_document_is_refused_naming_the_field(doc: object, field: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        next_step(RULES, doc, TABLE)
    assert caught.value.field == field, str(caught.value)


def test_the_cycle_limit_names_a_site_change_and_its_reason(tmp_path: Path) -> None:
    site = tmp_path / "site.toml"
    site.write_text('[policy]\nmax_cycles_total = { value = 5, reason = "P&T 2027-01" }\n')
    limit = cycle_limit(load_rules(site_policy=site), "max_cycles_total")
    assert limit.max_cycles_total == 5
    assert str(site) in limit.source
    assert "P&T 2027-01" in limit.source


@pytest.mark.parametrize("value", ["5.5", "-1"])
def test_a_cycle_limit_that_is_not_a_count_is_refused_naming_the_site_file(
    tmp_path: Path, value: str
) -> None:
    site = tmp_path / "site.toml"
    site.write_text(f"[policy]\nmax_cycles_total = {value}\n")
    with pytest.raises(RuleTableError) as caught:
        cycle_limit(load_rules(site_policy=site), "max_cycles_total")
    assert caught.value.file == str(site)
    assert caught.value.field == "policy.max_cycles_total"


def test_a_cycle_limit_policy_the_site_file_lacks_is_a_rule_table_error() -> None:
    with pytest.raises(RuleTableError) as caught:
        cycle_limit(RULES, "max_courses_total")
    assert caught.value.field == "policy.max_courses_total"


def test_the_reason_names_the_reference_scan_and_the_threshold() -> None:
    second = course(
        number=2, last_dose_on=date(2027, 3, 5), discharged_on=date(2027, 3, 8), doses_given=20
    )
    decision = decide(
        courses=[course(), second],
        response=scan("SD", "5", date(2027, 4, 5), baseline="-12"),
        today=date(2027, 5, 1),
    )
    assert decision.next is Next.FOLLOW_UP
    (reason,) = decision.reasons
    assert reason.finding == (
        "SD on 2027-04-05, target sum +5% against the scan before course 2, "
        "-12% against the baseline"
    )
    assert reason.threshold.startswith(
        "some tumor shrinkage since the scan before course 2: a decrease of at least 10%"
    )
    assert "test minimum" in reason.source


def test_after_course_1_the_reference_scan_is_the_baseline() -> None:
    (reason,) = decide(response=scan("SD", "-3")).reasons
    assert "against the scan before course 1 (the baseline)" in reason.finding


def test_a_missing_pre_course_change_says_what_to_obtain() -> None:
    decision = decide(response=scan("SD", None, baseline="-40"))
    assert decision.next is Next.INCOMPLETE
    assert decision.missing == ("response.change_from_pre_course_pct",)
    (reason,) = decision.reasons
    assert reason.finding.endswith(
        "obtain the percent change of the RECIST target sum from the scan before course 1 "
        "(the baseline) to this scan"
    )


def test_a_site_minimum_of_zero_reads_any_decrease() -> None:
    zero = MinShrinkage(Decimal(0), "zero")
    assert decide(response=scan("SD", "-0.1"), min_shrinkage=zero).next is Next.ANOTHER_COURSE
    (reason,) = decide(response=scan("SD", "0"), min_shrinkage=zero).reasons
    assert "any decrease of the RECIST target sum" in reason.threshold


def test_the_nci_regimen_needs_no_minimum_and_reports_none() -> None:
    nci = RULES.regimens["hd-nci-720"]
    decision = decide(
        regimen=nci,
        courses=[course(doses_given=30)],
        response=scan("SD", None),
        min_shrinkage=None,
        regimen_sources=RULES.regimen_sources["hd-nci-720"],
    )
    assert decision.next is Next.ANOTHER_COURSE
    assert (decision.condition, decision.min_shrinkage_pct) == ("stable-or-responding", None)


def test_a_condition_that_measures_shrinkage_without_a_minimum_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="next_course_min_shrinkage_pct"):
        decide(min_shrinkage=None)


def test_the_answer_reports_the_condition_and_the_minimum_in_force() -> None:
    output = pathway_document(next_step(RULES, document(), TABLE))
    assert (output["condition"], output["min_shrinkage_pct"]) == ("shrinkage", 10.0)


def test_the_minimum_shrinkage_names_a_site_change_and_its_reason(tmp_path: Path) -> None:
    site = tmp_path / "site.toml"
    site.write_text(
        '[policy]\nnext_course_min_shrinkage_pct = { value = 20.5, reason = "P&T 2027-02" }\n'
    )
    minimum = min_shrinkage(load_rules(site_policy=site), "next_course_min_shrinkage_pct")
    assert minimum.pct == Decimal("20.5")
    assert str(site) in minimum.source
    assert "P&T 2027-02" in minimum.source
    assert "Oxnard" in minimum.source


@pytest.mark.parametrize("value", ["-1", "100.5", '"ten"', "true"])
def test_a_minimum_shrinkage_that_is_not_a_percent_is_refused_naming_the_site_file(
    tmp_path: Path, value: str
) -> None:
    site = tmp_path / "site.toml"
    site.write_text(f"[policy]\nnext_course_min_shrinkage_pct = {value}\n")
    with pytest.raises(RuleTableError) as caught:
        min_shrinkage(load_rules(site_policy=site), "next_course_min_shrinkage_pct")
    assert caught.value.file == str(site)
    assert caught.value.field == "policy.next_course_min_shrinkage_pct"


def test_a_pathway_condition_for_an_unknown_regimen_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    unknown = replace(TABLE, regimen_conditions={"hd-none": "shrinkage"})
    monkeypatch.setattr(rules_loader, "load_pathway", lambda: unknown)
    with pytest.raises(RuleTableError) as caught:
        load_rules()
    assert (caught.value.file, caught.value.field) == (
        "pathway.toml",
        "conditions.regimens.hd-none",
    )


# ---------------------------------------------------------------- the rule file


def test_the_bundled_pathway_names_a_source_for_every_rule() -> None:
    blocks = (
        TABLE.response_scan, TABLE.progression, TABLE.retreatment, TABLE.incomplete,
        TABLE.further_courses, TABLE.cycle_limit,
    )  # fmt: skip
    conditions = tuple(TABLE.conditions.values())
    assert all(rule.source for rule in (*blocks, *conditions, TABLE.rest_after_discharge))
    assert all(rule.outcome is not Next.ANOTHER_COURSE for rule in (*blocks, *conditions))
    assert TABLE.progression_categories == {"PD"}
    assert TABLE.condition_for("hd-label").policy == "next_course_min_shrinkage_pct"
    assert TABLE.condition_for("hd-nci-720").id == "stable-or-responding"
    assert TABLE.cycle_limit_policy == "max_cycles_total"


def _edited(path: str, value: Any) -> dict[str, Any]:
    data = copy.deepcopy(read_bundled("pathway.toml"))
    *tables, key = path.split(".")
    target = data
    for name in tables:
        target = target[name]
    if value is None:
        del target[key]
    else:
        target[key] = value
    return data


@pytest.mark.parametrize(
    ("path", "value", "field", "problem"),
    [
        ("comment", "x", "comment", "not a known field"),
        ("responses.categories", ["CR", "CR"], "responses.categories", "once"),
        ("responses.categories", [], "responses.categories", "once"),
        ("rules.progression.categories", ["PD", "MR"], "rules.progression.categories", "'MR'"),
        ("rules.progression.outcome", "another_course", "rules.progression.outcome", "not one of"),
        ("rules.shrinkage.by_category", ["NE"], "rules.shrinkage.by_category", "never"),
        ("rules.shrinkage.by_category", ["PD"], "rules.shrinkage.by_category", "never"),
        ("rules.shrinkage.limit_pct", 0, "rules.shrinkage.limit_pct", "not a known field"),
        ("rules.shrinkage.policy", "", "rules.shrinkage.policy", "non-empty"),
        ("rules.shrinkage.outcome", "another_course", "rules.shrinkage.outcome", "not one of"),
        (
            "rules.stable-or-responding.by_category",
            ["CR", "PR"],
            "rules.stable-or-responding.by_category",
            "leaves SD, non-CR/non-PD undecided",
        ),
        ("rules.stable-or-responding", None, "rules.stable-or-responding", "required"),
        ("conditions.default", "some", "conditions.default", "not one of"),
        (
            "conditions.regimens",
            {"hd-label": "stable"},
            "conditions.regimens.hd-label",
            "not a condition",
        ),
        ("conditions", None, "conditions", "required"),
        ("rules.cycle-limit.threshold", 6, "rules.cycle-limit.threshold", "not a known field"),
        (
            "rules.rescan-before-course.outcome",
            "stop",
            "rules.rescan-before-course.outcome",
            "not a known",
        ),
        ("rules.extra-rule", {"source": "x"}, "rules.extra-rule", "not a known field"),
        ("rules.incomplete", None, "rules.incomplete", "required"),
        ("rules.further-courses.source", "", "rules.further-courses.source", "non-empty"),
        ("meta.version", None, "meta.version", "required"),
    ],
)
def test_a_malformed_pathway_file_is_refused_naming_file_and_field(
    path: str, value: Any, field: str, problem: str
) -> None:
    with pytest.raises(RuleTableError) as caught:
        pathway_table(Node(_edited(path, value), "pathway.toml"))
    assert caught.value.file == "pathway.toml"
    assert caught.value.field == field
    assert problem in caught.value.problem


# ---------------------------------------------------------------- properties

START = date(2026, 1, 5)


@st.composite
def situations(draw: st.DrawFn, *, measured_scan: bool = False) -> dict[str, Any]:
    """A valid `il2 next` document: 1-3 courses, maybe a scan, a history that may have gaps."""
    regimen_id = draw(st.just("hd-label") | st.sampled_from(sorted(RULES.regimens)))
    regimen = RULES.regimens[regimen_id]
    courses, day = [], START
    for number in range(1, draw(st.integers(1, 3)) + 1):
        cycles = draw(st.integers(1, regimen.cycles_per_course))
        most = min(cycles * regimen.max_doses_per_cycle, regimen.max_doses_per_course or 999)
        last = day + timedelta(days=draw(st.integers(1, 30)))
        home = last + timedelta(days=draw(st.integers(0, 14)))
        courses.append({
            "number": number, "cycles_given": cycles, "doses_given": draw(st.integers(cycles, most)),
            "last_dose_on": last.isoformat(), "discharged_on": home.isoformat(),
        })  # fmt: skip
        if draw(st.booleans()):
            courses[-1]["first_dose_on"] = day.isoformat()
        day = home + timedelta(days=draw(st.integers(1, 90)))
    latest = last
    response = None
    if measured_scan or draw(st.booleans()):
        assessed = latest + timedelta(days=draw(st.integers(1 if measured_scan else -10, 60)))
        changes = (
            st.decimals(min_value=-100, max_value="-0.1", places=1)
            | st.decimals(min_value=-100, max_value=200, places=1)
            | st.sampled_from(("-10.1", "-10", "-9.9", "0")).map(Decimal)
        ).map(float)
        response = {
            "assessed_on": assessed.isoformat(),
            "overall": draw(st.sampled_from(("PR", "SD")) | st.sampled_from(TABLE.categories)),
            "change_from_baseline_pct": draw(st.none() | changes),
            "change_from_pre_course_pct": draw(changes if measured_scan else st.none() | changes),
        }
        latest = max(latest, assessed)
    history = draw(st.just(HISTORY) | st.just(HISTORY) | documents(RULES.retreatment_fields))
    today = latest + timedelta(days=draw(st.integers(0, 120)))
    return {
        "regimen": regimen_id,
        "today": today.isoformat(),
        "courses": courses,
        "history": history,
        "response": response,
    }


def _later(doc: dict[str, Any], days: int) -> dict[str, Any]:
    today = date.fromisoformat(doc["today"]) + timedelta(days=days)
    return {**doc, "today": today.isoformat()}


@settings(max_examples=300)
@given(doc=situations() | situations(measured_scan=True), days=st.integers(1, 400))
def test_moving_today_later_never_turns_another_course_into_anything_else(
    doc: dict[str, Any], days: int
) -> None:
    before = next_step(RULES, doc, TABLE)
    after = next_step(RULES, _later(doc, days), TABLE)
    if before.next is Next.ANOTHER_COURSE:
        assert after.next is Next.ANOTHER_COURSE
    assert (after.next, after.earliest_on) == (before.next, before.earliest_on)
    if after.blocked_until is not None:
        assert before.blocked_until == after.blocked_until


@settings(max_examples=300)
@given(
    doc=situations(measured_scan=True),
    worse_by=st.decimals(min_value="0.1", max_value=300, places=1),
)
def test_a_worse_response_never_turns_follow_up_or_stop_into_another_course(
    doc: dict[str, Any], worse_by: Decimal
) -> None:
    before = next_step(RULES, doc, TABLE)
    worse = copy.deepcopy(doc)
    change = Decimal(str(worse["response"]["change_from_pre_course_pct"])) + worse_by
    worse["response"]["change_from_pre_course_pct"] = float(change)
    after = next_step(RULES, worse, TABLE)
    if before.next in (Next.FOLLOW_UP, Next.STOP):
        assert after.next is not Next.ANOTHER_COURSE
    if after.next is Next.ANOTHER_COURSE:
        assert before.next is Next.ANOTHER_COURSE


@settings(max_examples=300)
@given(doc=situations())
def test_the_answer_is_the_strongest_reason_and_missing_input_never_gives_another_course(
    doc: dict[str, Any],
) -> None:
    decision = next_step(RULES, doc, TABLE)
    strongest = max((r.outcome for r in decision.reasons), key=lambda n: n.strength)
    assert decision.next is strongest
    if decision.missing:
        assert decision.next is not Next.ANOTHER_COURSE
    assert all(r.rule and r.finding and r.threshold and r.source for r in decision.reasons)


@settings(max_examples=300)
@given(doc=situations(measured_scan=True))
def test_a_scan_larger_than_the_pre_course_scan_never_yields_another_course(
    doc: dict[str, Any],
) -> None:
    """Under the label's condition only CR or a decrease of the site's minimum allows a course."""
    decision = next_step(RULES, doc, TABLE)
    condition = TABLE.condition_for(doc["regimen"])
    if decision.next is not Next.ANOTHER_COURSE or condition.policy is None:
        return
    change = Decimal(str(doc["response"]["change_from_pre_course_pct"]))
    minimum = min_shrinkage(RULES, condition.policy).pct
    assert doc["response"]["overall"] in condition.by_category or change <= -minimum
    if change >= 0:
        assert doc["response"]["overall"] == "CR"


@settings(max_examples=300)
@given(doc=situations(), baseline=st.none() | st.decimals(-100, 300, places=1).map(float))
def test_the_change_from_baseline_never_decides(
    doc: dict[str, Any], baseline: float | None
) -> None:
    if doc["response"] is None:
        return
    other = copy.deepcopy(doc)
    other["response"]["change_from_baseline_pct"] = baseline
    before, after = next_step(RULES, doc, TABLE), next_step(RULES, other, TABLE)
    assert (before.next, before.missing) == (after.next, after.missing)


@settings(max_examples=300)
@given(
    overall=st.sampled_from(("PR", "SD")) | st.sampled_from(TABLE.categories),
    change=st.decimals(-100, 200, places=1),
    lower=st.decimals(0, 100, places=1),
    more=st.decimals(0, 100, places=1),
)
def test_a_higher_site_minimum_never_turns_no_course_into_another_course(
    overall: str, change: Decimal, lower: Decimal, more: Decimal
) -> None:
    def answer(pct: Decimal) -> Next:
        return decide(
            response=scan(overall, str(change)), min_shrinkage=MinShrinkage(pct, "t")
        ).next

    if answer(lower + more) is Next.ANOTHER_COURSE:
        assert answer(lower) is Next.ANOTHER_COURSE


@st.composite
def capped_courses(draw: st.DrawFn) -> dict[str, Any]:
    """A regimen whose courses repeat, with its own cycle limit drawn, a site limit drawn, and
    1-8 courses given, the latest answered by a complete response long ago."""
    base = RULES.regimens[draw(st.sampled_from(("biochemo-cvd", "hd-cwg-q12w", "hd-label")))]
    regimen = replace(base, max_cycles_total=draw(st.none() | st.integers(1, 10)))
    courses, day = [], START
    for number in range(1, draw(st.integers(1, 8)) + 1):
        cycles = draw(st.integers(1, regimen.cycles_per_course))
        last = day + timedelta(days=draw(st.integers(0, 20)))
        courses.append(
            course(
                number=number,
                cycles_given=cycles,
                doses_given=cycles,
                first_dose_on=day,
                last_dose_on=last,
                discharged_on=last + timedelta(days=draw(st.integers(0, 5))),
            )
        )
        day = courses[-1].discharged_on + timedelta(days=draw(st.integers(1, 120)))
    latest = courses[-1].discharged_on
    return {
        "regimen": regimen,
        "courses": courses,
        "response": scan("CR", None, on=latest + timedelta(days=28)),
        "cycle_limit": CycleLimit(draw(st.integers(0, 10)), "site limit"),
        "today": latest + timedelta(days=draw(st.integers(28, 400))),
        "regimen_sources": {},
    }


@settings(max_examples=300)
@given(situation=capped_courses())
def test_next_never_recommends_a_course_past_the_regimens_own_cycle_limit(
    situation: dict[str, Any],
) -> None:
    decision = decide(**situation)
    regimen = situation["regimen"]
    given_total = sum(c.cycles_given for c in situation["courses"])
    if decision.next is Next.ANOTHER_COURSE:
        after = given_total + regimen.cycles_per_course
        assert after <= situation["cycle_limit"].max_cycles_total
        assert regimen.max_cycles_total is None or after <= regimen.max_cycles_total
    if regimen.max_cycles_total is not None:
        assert decision.max_cycles_total <= regimen.max_cycles_total
