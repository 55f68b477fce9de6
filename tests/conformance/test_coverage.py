"""Every rule has conformance cases: each CTCAE term, each bedside rule, advice and resume test.

Read from the rule files themselves, so a term or rule added to rules/data/ without cases fails
here. The CTCAE cases' header promises "every grade boundary of every numerically graded term,
with the value exactly at the boundary and just either side of it": each bound of each clause
has a case exactly at its threshold and one just across it, with the same threshold.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from il2.domain.ctcae import Bound, Measure, Term
from il2.rules.loader import load_rules
from tests.conformance.generate_ctcae_cases import holds, subject, threshold

CASES = Path(__file__).parent / "cases"
TABLE = load_rules().ctcae


def _cases(name: str) -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = tomllib.loads((CASES / name).read_text("utf-8"))["case"]
    return cases


def _bundled(name: str) -> dict[str, Any]:
    text = resources.files("il2.rules").joinpath("data", name).read_text("utf-8")
    return tomllib.loads(text)


# ---------------------------------------------------------------- bedside rules

BEDSIDE = _bundled("bedside.toml")  # every rule, those a site must enable included
BEDSIDE_CASES = _cases("bedside.toml")


def _named(key: str) -> set[str]:
    return {name for case in BEDSIDE_CASES for name in case.get(key, [])}


@pytest.mark.parametrize("rule", sorted(BEDSIDE["rules"]))
def test_every_bedside_rule_fires_in_a_case(rule: str) -> None:
    assert rule in _named("expect_rules"), f"no case in cases/bedside.toml expects {rule}"


@pytest.mark.parametrize("advice", sorted(BEDSIDE["advice"]))
def test_every_bedside_advice_is_given_in_a_case(advice: str) -> None:
    assert advice in _named("expect_warnings"), f"no case in cases/bedside.toml warns {advice}"


@pytest.mark.parametrize("resume", sorted(BEDSIDE["resume"]))
def test_every_resume_test_is_tried_on_a_hold_left_open(resume: str) -> None:
    open_holds = [
        case
        for case in BEDSIDE_CASES
        if resume in case.get("set", {}).get("held_for", []) and "expect_error_field" not in case
    ]
    assert open_holds, f"no case in cases/bedside.toml leaves a {resume} hold open"
    assert any(f"open-hold-{resume}" in case["expect_rules"] for case in open_holds), resume
    assert any(f"open-hold-{resume}" not in case["expect_rules"] for case in open_holds), resume


def test_the_bedside_file_still_has_its_rules() -> None:
    # a floor, so that the parametrized tests above cannot pass on an empty file
    assert len(BEDSIDE["rules"]) >= 56
    assert len(BEDSIDE["resume"]) >= 6


# ---------------------------------------------------------------- CTCAE terms

GRADE_CASES = [case for case in _cases("ctcae_v5.toml") if "expect_grade" in case]


@pytest.mark.parametrize("term", sorted(TABLE.terms))
def test_every_ctcae_term_is_graded_in_a_case(term: str) -> None:
    graded = [case for case in GRADE_CASES if case["finding"]["term"] == term]
    assert graded, f"no case in cases/ctcae_v5.toml grades {term}"
    if not TABLE.terms[term].clauses:  # a clinician's grade: each grade the term has
        wanted = set(TABLE.terms[term].grades)
        assert {case["expect_grade"] for case in graded} >= wanted, term


def _reading(term: Term, finding: dict[str, Any]) -> tuple[str, dict[str, Decimal]]:
    """The finding's scale, and its value, limits, baseline and duration on that scale."""
    conversion = term.units[finding.get("unit", term.unit)]
    numbers: dict[str, Decimal] = {
        name: conversion.convert(Decimal(str(finding[name])))
        for name in ("value", "uln", "lln", "baseline")
        if name in finding
    }
    if "duration_h" in finding:
        numbers["duration_h"] = Decimal(str(finding["duration_h"]))
    return conversion.scale, numbers


def _boundaries() -> Iterator[tuple[str, int, Bound]]:
    for term in TABLE.terms.values():
        for index, clause in enumerate(term.clauses):
            for bound in clause.bounds:
                if bound.measure is not Measure.BASELINE_X_ULN:  # a condition, not a boundary
                    yield term.id, index, bound


BOUNDARIES = list(_boundaries())


def _just(term: Term, threshold: Decimal) -> Decimal:
    """How far "just" across a threshold may be: a step of the term's resolution, or of the
    threshold's size (a whole unit from 10 up, a tenth below), or 1% of it, whichever is
    largest. 149,999 is just below 150,000; 145,000 is not."""
    size = Decimal(1) if abs(threshold) >= 10 else Decimal("0.1")
    return max(term.resolution or Decimal(0), size, abs(threshold) / 100)


@pytest.mark.parametrize(
    ("term_id", "index", "bound"),
    BOUNDARIES,
    ids=[f"{t}[{i}].{b.measure.value}{b.comparison.value}{b.limit}" for t, i, b in BOUNDARIES],
)
def test_every_grade_boundary_has_a_case_at_it_and_one_just_across(
    term_id: str, index: int, bound: Bound
) -> None:
    term = TABLE.terms[term_id]
    clause = term.clauses[index]
    by_threshold: dict[Decimal, list[tuple[Decimal, bool]]] = {}
    for case in (c for c in GRADE_CASES if c["finding"]["term"] == term_id):
        scale, numbers = _reading(term, case["finding"])
        if scale == clause.scale and {subject(bound), *bound.needs} <= set(numbers):
            found = by_threshold.setdefault(threshold(bound, numbers), [])
            found.append((numbers[subject(bound)], holds(bound, numbers)))
    covered = [
        at
        for at, readings in by_threshold.items()
        for x, held in readings
        if x == at and any(h != held and abs(y - at) <= _just(term, at) for y, h in readings)
    ]
    assert covered, f"{term_id} '{clause.text}': no case at {bound} with one just across it"


def test_every_numerically_graded_term_has_boundaries() -> None:
    measured = {t.id for t in TABLE.terms.values() if t.clauses}
    assert {term for term, _, _ in BOUNDARIES} == measured
    assert len(measured) >= 22  # a floor: the 22 measured terms of section 8 when written


# ---------------------------------------------------------------- regimens

REGIMENS = _bundled("regimens.toml")["regimens"]
PLAN_CASES = [
    case
    for name in ("schedule.toml", "plan_preparation.toml", "regimens.toml")
    for case in _cases(name)
]


@pytest.mark.parametrize("regimen", sorted(REGIMENS))
def test_every_regimen_is_planned_in_a_case(regimen: str) -> None:
    planned = [c for c in PLAN_CASES if c["regimen"] == regimen and "expect" in c]
    assert planned, f"no plan case (schedule, plan_preparation or regimens.toml) plans {regimen}"
    measured = {key for case in planned for key in case["expect"]}
    assert measured & {"dose_iu", "dose_iu_by_step"}, f"no case checks the dose of {regimen}"
    assert measured & {"doses_by_cycle", "aldesleukin_days"}, f"no case checks {regimen}'s days"


@pytest.mark.parametrize(
    ("regimen", "agent"),
    [(r, a["agent"]) for r, entry in sorted(REGIMENS.items()) for a in entry.get("agents", [])],
)
def test_every_companion_agent_has_its_days_and_amount_checked(regimen: str, agent: str) -> None:
    checked = [
        case["expect"]
        for case in PLAN_CASES
        if case["regimen"] == regimen and agent in case.get("expect", {}).get("agent_days", {})
    ]
    assert checked, f"no case in cases/regimens.toml checks the days of {agent} in {regimen}"
    assert any(agent in expect.get("agent_amount", {}) for expect in checked), (regimen, agent)


def test_every_anchored_regimen_has_a_missing_and_an_early_event_case() -> None:
    required = [r for r, entry in REGIMENS.items() if entry.get("anchor", {}).get("required")]
    assert required  # a floor: sbrt-hd when written
    for regimen in required:
        fields = {c.get("error_field") for c in PLAN_CASES if c["regimen"] == regimen}
        assert {"events", "first_dose"} <= fields, regimen
