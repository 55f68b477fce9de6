"""Override analytics on hand-built holds: the 48 h window, the next assessment, the cycle, and
the comparisons by rule, prescriber and year."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from il2.domain.errors import InvalidInputError, RuleTableError
from il2.science.overrides import (
    SMALL_GROUP,
    Hold,
    analyse,
    by_prescriber,
    cycle_completed,
    next_decision,
    within_48h,
)
from il2.science.simulation import demo_overrides, parse_demo_overrides

ZONE = ZoneInfo("America/Los_Angeles")
MORNING = datetime(2026, 3, 1, 8, 0, tzinfo=ZONE)


def hold(**changes: Any) -> Hold:
    """A held dose, not overridden, with every field safe; keywords change any."""
    base = Hold(
        patient="S-AAAA",
        course=1,
        cycle=1,
        dose_number=3,
        decided_at=MORNING,
        rules=("label-sbp-low",),
        overridden=False,
        reason=None,
        prescriber=None,
        next_decision="give",
        severe_toxicity_48h=False,
        cycle_completed=True,
        best_response="PR",
    )
    return replace(base, **changes)


def override(**changes: Any) -> Hold:
    """A held dose a physician gave against the hold."""
    return hold(overridden=True, prescriber="prescriber-1", reason="withheld", **changes)


def test_a_toxicity_dated_the_day_48_hours_after_the_dose_counts() -> None:
    assert within_48h(MORNING, date(2026, 3, 3), ZONE)


def test_a_toxicity_dated_the_day_after_the_48_hours_does_not_count() -> None:
    assert not within_48h(MORNING, date(2026, 3, 4), ZONE)


def test_a_toxicity_dated_the_day_before_the_dose_does_not_count() -> None:
    assert not within_48h(MORNING, date(2026, 2, 28), ZONE)


def test_a_toxicity_of_the_doses_own_day_counts_even_if_it_began_before_the_dose() -> None:
    assert within_48h(MORNING.replace(hour=23, minute=59), date(2026, 3, 1), ZONE)


def test_a_dose_at_midnight_reaches_the_day_exactly_48_hours_later_and_no_further() -> None:
    midnight = datetime(2026, 3, 1, tzinfo=ZONE)
    assert within_48h(midnight, date(2026, 3, 3), ZONE)
    assert not within_48h(midnight, date(2026, 3, 4), ZONE)


def test_the_days_are_the_sites_not_utcs() -> None:
    late = datetime(2026, 3, 1, 23, 0, tzinfo=ZONE)  # 2 March 07:00 UTC
    assert within_48h(late.astimezone(UTC), date(2026, 3, 1), ZONE)
    assert not within_48h(late.astimezone(UTC), date(2026, 3, 4), ZONE)


def test_a_time_without_a_zone_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="decided_at"):
        within_48h(datetime(2026, 3, 1, 8), date(2026, 3, 1), ZONE)  # noqa: DTZ001


@pytest.mark.parametrize(
    ("action", "counted"),
    [("give", "give"), ("hold", "hold"), ("incomplete", "hold"), ("stop_cycle", "stop"),
     ("discontinue", "discontinue"), (None, "none")],
)  # fmt: skip
def test_the_next_assessment_is_counted_by_its_decision(action: str | None, counted: str) -> None:
    assert next_decision(action) == counted


def test_an_unknown_next_decision_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="decision_action"):
        next_decision("maybe")


def test_a_cycle_with_a_stopped_dose_is_not_completed() -> None:
    assert cycle_completed(14, {1: "given", 2: "stopped"}, later_recorded=False) is False


def test_a_cycle_whose_last_planned_dose_is_recorded_held_is_completed() -> None:
    assert cycle_completed(3, {1: "given", 2: "given", 3: "held"}, later_recorded=False)


def test_an_open_cycle_is_unknown_and_a_cycle_left_for_a_later_one_is_not_completed() -> None:
    assert cycle_completed(3, {1: "given"}, later_recorded=False) is None
    assert cycle_completed(3, {1: "given"}, later_recorded=True) is False


def test_a_cycle_of_no_planned_dose_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="planned"):
        cycle_completed(0, {}, later_recorded=False)


def test_a_prescriber_is_named_exactly_when_the_hold_was_overridden() -> None:
    with pytest.raises(InvalidInputError, match="prescriber"):
        hold(prescriber="prescriber-1")
    with pytest.raises(InvalidInputError, match="prescriber"):
        hold(overridden=True)


def test_a_hold_names_at_least_one_rule() -> None:
    with pytest.raises(InvalidInputError, match="rules"):
        hold(rules=())


def test_a_hold_with_no_next_assessment_is_counted_apart_from_the_next_decision_shares() -> None:
    result = analyse([override(next_decision="none"), override(next_decision="hold")])
    arm = result["overall"]["overridden"]
    assert arm["no_next_assessment"] == 1
    assert (arm["next_hold"]["count"], arm["next_hold"]["total"]) == (1, 1)
    assert arm["next_give"]["count"] == 0


def test_a_stopped_cycle_counts_against_completion_and_an_open_one_is_left_out() -> None:
    result = analyse([hold(cycle_completed=False), hold(cycle_completed=None), hold()])
    completed = result["overall"]["not_overridden"]["cycle_completed"]
    assert (completed["count"], completed["total"]) == (1, 2)


def test_the_difference_is_overridden_minus_not_with_an_interval_around_it() -> None:
    holds = [override(severe_toxicity_48h=True)] * 3 + [override()] + [hold()] * 4
    toxicity = analyse(holds)["overall"]["difference"]["severe_toxicity_48h"]
    assert toxicity["value"] == pytest.approx(0.75)
    assert toxicity["ci95"][0] < 0.75 < toxicity["ci95"][1]


def test_a_response_share_counts_only_holds_whose_patient_was_assessed() -> None:
    result = analyse([hold(best_response=None), hold(best_response="CR"), hold(best_response="SD")])
    response = result["overall"]["not_overridden"]["objective_response"]
    assert (response["count"], response["total"]) == (1, 2)


def test_a_prescribers_overrides_are_compared_with_the_holds_of_the_rules_they_overrode() -> None:
    holds = [
        override(rules=("label-sbp-low",)),
        hold(rules=("label-sbp-low", "label-spo2-low")),
        hold(rules=("label-spo2-low",)),
    ]
    (row,) = by_prescriber(holds)
    assert row["key"] == "prescriber-1"
    assert row["not_overridden"]["holds"] == 1


def test_groups_smaller_than_the_threshold_are_flagged_small() -> None:
    few = analyse([override(), hold()])["overall"]
    many = analyse([override()] * SMALL_GROUP + [hold()] * SMALL_GROUP)["overall"]
    assert few["small"]
    assert not many["small"]


def test_each_override_is_listed_with_its_year_and_day_not_its_date() -> None:
    (listed,) = analyse([override(day=15), hold()])["overrides"]
    assert (listed["year"], listed["day"]) == (2026, 15)
    assert "decided_at" not in listed
    assert listed["rules"] == ["label-sbp-low"]


def test_holds_fall_in_the_year_of_their_assessment() -> None:
    later = MORNING + timedelta(days=365)
    years = analyse([hold(), override(decided_at=later)])["by_year"]
    assert [(y["key"], y["overridden"]["holds"], y["not_overridden"]["holds"]) for y in years] == [
        ("2026", 0, 1),
        ("2027", 1, 0),
    ]


RULES = ("label-sbp-low", "label-spo2-low", "consensus-creatinine-relative")
_holds = st.builds(
    lambda overridden, rules, next_, toxic, completed, best, year: hold(
        overridden=overridden,
        prescriber="prescriber-1" if overridden else None,
        rules=tuple(sorted(rules)),
        next_decision=next_,
        severe_toxicity_48h=toxic,
        cycle_completed=completed,
        best_response=best,
        decided_at=MORNING.replace(year=year),
    ),
    st.booleans(),
    st.sets(st.sampled_from(RULES), min_size=1),
    st.sampled_from(["give", "hold", "stop", "discontinue", "none"]),
    st.booleans(),
    st.sampled_from([True, False, None]),
    st.sampled_from(["CR", "PR", "SD", "PD", "NE", None]),
    st.integers(2020, 2022),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(_holds, max_size=30))
def test_each_rules_arms_add_up_to_its_holds_and_every_interval_holds_its_estimate(
    holds: list[Hold],
) -> None:
    result = analyse(holds)
    for row in result["by_rule"]:
        naming = [h for h in holds if row["key"] in h.rules]
        assert row["overridden"]["holds"] + row["not_overridden"]["holds"] == len(naming)
    assert sum(y["overridden"]["holds"] for y in result["by_year"]) == result["overridden"]
    for row in [result["overall"], *result["by_rule"], *result["by_prescriber"]]:
        for arm in (row["overridden"], row["not_overridden"]):
            for share in arm.values():
                if isinstance(share, dict):
                    low, high = share["ci95"]
                    assert low <= share["value"] <= high
        for difference in row["difference"].values():
            if difference is not None:
                low, high = difference["ci95"]
                assert -1 <= low <= difference["value"] <= high <= 1


def test_the_demo_override_choices_are_stated_as_an_assumption() -> None:
    choices = demo_overrides()
    assert 0 < choices.share < 1
    assert choices.reasons


def test_a_demo_override_section_with_a_sourced_status_is_refused() -> None:
    text = resources.files("il2.science").joinpath("data", "simulation.toml").read_text("utf-8")
    bad = text.replace(
        'status = "assumption"\nsource = "Demo choice',
        'status = "published"\nsource = "Demo choice',
    )
    assert bad != text
    with pytest.raises(RuleTableError, match="status"):
        parse_demo_overrides(bad)
