from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from il2.domain.errors import InvalidInputError
from il2.domain.regimen import CycleEndRule
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
