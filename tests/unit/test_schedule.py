from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from il2.domain.errors import InvalidInputError
from il2.domain.regimen import ChosenBy, CycleEndRule
from il2.domain.schedule import plan_calendar
from il2.rules.loader import RuleSet

PACIFIC = ZoneInfo("America/Los_Angeles")


def test_a_naive_first_dose_is_refused(rules: RuleSet) -> None:
    with pytest.raises(InvalidInputError, match="first_dose"):
        plan_calendar(
            regimen=rules.regimens["hd-label"],
            first_dose=datetime(2026, 12, 7, 8),  # noqa: DTZ001 - the point of the test
            rule=CycleEndRule.WHICHEVER_FIRST,
        )


def test_doses_stay_8_elapsed_hours_apart_across_a_daylight_saving_change(
    rules: RuleSet,
) -> None:
    # US clocks spring forward at 02:00 on 2027-03-14.
    first = datetime(2027, 3, 12, 18, tzinfo=PACIFIC)
    calendar = plan_calendar(
        regimen=rules.regimens["hd-label"], first_dose=first, rule=CycleEndRule.DOSE_COUNT
    )
    times = [d.due_at.astimezone(UTC) for d in calendar.cycles[0].doses]
    assert {b - a for a, b in pairwise(times)} == {timedelta(hours=8)}
    walls = {d.due_at.strftime("%H:%M") for d in calendar.cycles[0].doses}
    assert "19:00" in walls  # wall-clock times shift by the hour the clocks moved


def test_cycle_two_starts_at_the_same_wall_time_on_day_15(rules: RuleSet) -> None:
    first = datetime(2026, 12, 7, 8, tzinfo=PACIFIC)
    calendar = plan_calendar(
        regimen=rules.regimens["hd-label"], first_dose=first, rule=CycleEndRule.WHICHEVER_FIRST
    )
    second = calendar.cycles[1]
    assert second.first_day.isoformat() == "2026-12-21"
    assert second.doses[0].due_at == datetime(2026, 12, 21, 8, tzinfo=PACIFIC)


def test_the_course_maximum_trims_the_last_cycle(rules: RuleSet) -> None:
    regimen = replace(rules.regimens["hd-label"], max_doses_per_course=20)
    calendar = plan_calendar(
        regimen=regimen, first_dose=datetime(2026, 12, 7, 8, tzinfo=UTC),
        rule=CycleEndRule.WHICHEVER_FIRST,
    )  # fmt: skip
    assert [len(c.doses) for c in calendar.cycles] == [14, 6]


def test_a_course_maximum_reached_early_drops_later_cycles(rules: RuleSet) -> None:
    regimen = replace(rules.regimens["hd-label"], max_doses_per_course=14)
    calendar = plan_calendar(
        regimen=regimen, first_dose=datetime(2026, 12, 7, 8, tzinfo=UTC),
        rule=CycleEndRule.WHICHEVER_FIRST,
    )  # fmt: skip
    assert len(calendar.cycles) == 1


def test_a_late_first_dose_warns_and_says_how_to_fit_every_dose(rules: RuleSet) -> None:
    calendar = plan_calendar(
        regimen=rules.regimens["hd-label"],
        first_dose=datetime(2026, 12, 7, 20, tzinfo=UTC),
        rule=CycleEndRule.WHICHEVER_FIRST,
    )
    assert len(calendar.cycles[0].doses) == 13
    assert "before 16:00 fits all 14" in calendar.warnings[0]


def test_when_no_start_time_can_fit_every_dose_the_warning_says_so(rules: RuleSet) -> None:
    regimen = replace(rules.regimens["hd-label"], dosing_days_per_cycle=4)
    calendar = plan_calendar(
        regimen=regimen, first_dose=datetime(2026, 12, 7, tzinfo=UTC),
        rule=CycleEndRule.DOSE_COUNT,
    )  # fmt: skip
    assert "no first-dose time fits all 14" in calendar.warnings[0]
    assert len(calendar.cycles[0].doses) == 14


def _ask(rules: RuleSet, first_dose: datetime) -> InvalidInputError:
    with pytest.raises(InvalidInputError) as refused:
        plan_calendar(
            regimen=rules.regimens["hd-label"], first_dose=first_dose, rule=CycleEndRule.ASK
        )
    return refused.value


def test_an_evening_first_dose_with_no_choice_is_refused_naming_cycle_end_rule(
    rules: RuleSet,
) -> None:
    refused = _ask(rules, datetime(2026, 12, 7, 20, tzinfo=UTC))
    assert refused.field == "cycle_end_rule"
    assert refused.value is None
    assert "a first dose at 20:00 fits 13 of 14 doses in days 1-5" in refused.allowed
    assert "'whichever_first' (end after dose 13" in refused.allowed
    assert "'dose_count' (give dose 14 on day 6)" in refused.allowed


def test_a_start_that_leaves_two_doses_past_the_days_names_both(rules: RuleSet) -> None:
    regimen = replace(rules.regimens["hd-label"], dosing_days_per_cycle=4)
    with pytest.raises(InvalidInputError, match=r"give doses 11-14 on days 5-6"):
        plan_calendar(
            regimen=regimen, first_dose=datetime(2026, 12, 7, 20, tzinfo=UTC),
            rule=CycleEndRule.ASK,
        )  # fmt: skip


def test_a_start_that_fits_every_dose_needs_no_choice(rules: RuleSet) -> None:
    calendar = plan_calendar(
        regimen=rules.regimens["hd-label"],
        first_dose=datetime(2026, 12, 7, 15, 59, tzinfo=UTC),
        rule=CycleEndRule.ASK,
    )
    assert [len(c.doses) for c in calendar.cycles] == [14, 14]
    assert calendar.shortfalls == ()
    assert calendar.warnings == ()


def test_a_regimen_without_dosing_days_is_never_asked(rules: RuleSet) -> None:
    calendar = plan_calendar(
        regimen=rules.regimens["hd-nci-720"],
        first_dose=datetime(2026, 12, 7, 23, tzinfo=UTC),
        rule=CycleEndRule.ASK,
    )
    assert [len(c.doses) for c in calendar.cycles] == [15, 15]


def test_the_warning_says_who_chose_the_rule(rules: RuleSet) -> None:
    evening = datetime(2026, 12, 7, 20, tzinfo=UTC)
    regimen = rules.regimens["hd-label"]
    by_plan = plan_calendar(
        regimen=regimen, first_dose=evening, rule=CycleEndRule.DOSE_COUNT, chosen_by=ChosenBy.PLAN
    )
    by_site = plan_calendar(regimen=regimen, first_dose=evening, rule=CycleEndRule.DOSE_COUNT)
    assert "(chosen for this plan)" in by_plan.warnings[0]
    assert "(the site's standing policy)" in by_site.warnings[0]
    assert "the last dose on day 6" in by_site.warnings[0]
