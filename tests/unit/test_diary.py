"""The self-injection diary's rules (domain/diary.py): which injections, which reports, and
the summary (planned to date, taken, missed, not reported, adherence, side effects, IU)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from il2.domain.diary import (
    DiaryEntry,
    PlannedInjection,
    Report,
    Reporter,
    SideEffect,
    Taken,
    check_report,
    check_self_injected,
    current_entries,
    find_injection,
    is_self_injected,
    percent,
    summarize,
    taken_too_soon,
)
from il2.domain.errors import InvalidInputError
from il2.rules.loader import RuleSet, load_rules

RULES: RuleSet = load_rules()
FIRST = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
NOW = datetime(2026, 12, 7, 16, 0, tzinfo=UTC)


def injections(days: int = 10, *, dose_iu: int = 18_000_000) -> tuple[PlannedInjection, ...]:
    """One injection a day from FIRST, cycle 1, numbered 1..days."""
    return tuple(
        PlannedInjection(1, n, FIRST + timedelta(days=n - 1), dose_iu) for n in range(1, days + 1)
    )


def report(**changes: Any) -> Report:
    base = Report(
        status=Taken.TAKEN,
        taken_at=FIRST + timedelta(minutes=5),
        missed_reason=None,
        side_effects=(),
        reported_by=Reporter.PATIENT,
        note=None,
    )
    return replace(base, **changes)


def entry(id_: int, number: int, *, corrects: int | None = None, **changes: Any) -> DiaryEntry:
    return DiaryEntry(id_, 1, 1, number, report(**changes), corrects, None, "nurse", NOW)


def check(candidate: Report, *, now: datetime = NOW) -> None:
    check_report(candidate, now=now, planned=injections(), zone=UTC, table=RULES.ctcae)


def refused_field(call: Any) -> str:
    with pytest.raises(InvalidInputError) as caught:
        call()
    return caught.value.field


def test_the_three_outpatient_subcutaneous_regimens_are_self_injected_and_no_other() -> None:
    assert sorted(r.id for r in RULES.regimens.values() if is_self_injected(r)) == [
        "ld-sc-ifn",
        "ld-sc-nci",
        "sc-eu",
    ]


def test_a_high_dose_bolus_course_is_refused_naming_the_regimens_that_have_a_diary() -> None:
    with pytest.raises(InvalidInputError) as caught:
        check_self_injected(RULES.regimens["hd-label"], RULES.regimens.values())
    assert caught.value.field == "course"
    assert "hd-label (iv_bolus, inpatient)" in str(caught.value.value)
    assert "ld-sc-ifn, ld-sc-nci, sc-eu" in caught.value.allowed


def test_an_intralesional_outpatient_course_has_no_diary_either() -> None:
    with pytest.raises(InvalidInputError):
        check_self_injected(RULES.regimens["intralesional"], RULES.regimens.values())


def test_a_dose_number_the_plan_does_not_have_is_refused_naming_the_range() -> None:
    with pytest.raises(InvalidInputError) as caught:
        find_injection(injections(), cycle=1, dose_number=11, now=NOW, zone=UTC)
    assert (caught.value.field, caught.value.value) == ("dose_number", 11)
    assert "1 to 10" in caught.value.allowed


def test_a_cycle_the_plan_does_not_have_is_refused() -> None:
    call = lambda: find_injection(injections(), cycle=2, dose_number=1, now=NOW, zone=UTC)  # noqa: E731
    assert refused_field(call) == "cycle"


def test_an_injection_planned_after_today_is_refused_until_its_day() -> None:
    call = lambda: find_injection(injections(), cycle=1, dose_number=8, now=NOW, zone=UTC)  # noqa: E731
    assert refused_field(call) == "dose_number"
    assert find_injection(injections(), cycle=1, dose_number=7, now=NOW, zone=UTC).dose_number == 7


def test_an_injection_due_later_today_may_be_reported_taken_early() -> None:
    morning = NOW.replace(hour=7)
    later = (PlannedInjection(1, 1, NOW.replace(hour=9), 1),)
    assert find_injection(later, cycle=1, dose_number=1, now=morning, zone=UTC).dose_number == 1


def test_a_taken_at_in_the_future_is_refused() -> None:
    assert refused_field(lambda: check(report(taken_at=NOW + timedelta(minutes=1)))) == "taken_at"


def test_a_taken_at_before_the_course_first_planned_day_is_refused() -> None:
    with pytest.raises(InvalidInputError) as caught:
        check(report(taken_at=FIRST - timedelta(days=1)))
    assert caught.value.field == "taken_at"
    assert "2026-12-01" in caught.value.allowed


def test_a_taken_injection_needs_its_time() -> None:
    assert refused_field(lambda: check(report(taken_at=None))) == "taken_at"


def test_a_missed_injection_takes_no_time_but_may_give_a_reason() -> None:
    assert refused_field(lambda: check(report(status=Taken.MISSED))) == "taken_at"
    check(report(status=Taken.MISSED, taken_at=None, missed_reason="felt unwell"))


def test_a_taken_injection_takes_no_missed_reason() -> None:
    assert refused_field(lambda: check(report(missed_reason="forgot"))) == "missed_reason"


def test_an_unknown_term_is_refused_naming_the_place() -> None:
    effects = (SideEffect("fever", 1), SideEffect("headache_of_doom", 1))
    with pytest.raises(InvalidInputError) as caught:
        check(report(side_effects=effects))
    assert (caught.value.field, caught.value.value) == ("side_effects[1].term", "headache_of_doom")


def test_a_grade_the_term_does_not_have_is_refused_listing_its_grades() -> None:
    with pytest.raises(InvalidInputError) as caught:
        check(report(side_effects=(SideEffect("chills", 4),)))
    assert caught.value.field == "side_effects[0].grade"
    assert caught.value.allowed.endswith("1, 2, 3")


def test_an_injection_site_reaction_takes_grades_1_to_5() -> None:
    for grade in range(1, 6):
        check(report(side_effects=(SideEffect("injection_site_reaction", grade),)))
    assert refused_field(
        lambda: check(report(side_effects=(SideEffect("injection_site_reaction", 0),)))
    ) == ("side_effects[0].grade")


def test_a_term_listed_twice_in_one_entry_is_refused() -> None:
    effects = (SideEffect("fever", 1), SideEffect("fever", 2))
    assert refused_field(lambda: check(report(side_effects=effects))) == "side_effects[1].term"


def test_a_corrected_entry_is_no_longer_current() -> None:
    kept = [entry(1, 1), entry(2, 2), entry(3, 1, corrects=1, status=Taken.MISSED, taken_at=None)]
    assert {slot: e.id for slot, e in current_entries(kept).items()} == {(1, 1): 3, (1, 2): 2}


def test_the_summary_counts_taken_missed_and_not_reported_up_to_today() -> None:
    kept = [
        entry(1, 1),
        entry(2, 2, status=Taken.MISSED, taken_at=None),
        entry(3, 3, side_effects=(SideEffect("injection_site_reaction", 1),)),
        entry(
            4, 4, side_effects=(SideEffect("injection_site_reaction", 2), SideEffect("fever", 1))
        ),
    ]
    summary = summarize(injections(), kept, now=NOW, zone=UTC, table=RULES.ctcae)
    assert (summary.planned, summary.planned_to_date) == (10, 7)
    assert (summary.taken, summary.missed, summary.not_reported) == (3, 1, 3)
    assert summary.adherence == Fraction(3, 7)
    assert percent(summary.adherence) == "42.9"
    assert summary.taken_iu == 3 * 18_000_000
    assert [(s.term, s.highest_grade, s.entries) for s in summary.side_effects] == [
        ("injection_site_reaction", 2, 2),
        ("fever", 1, 1),
    ]
    assert summary.side_effects[0].name == "Injection site reaction"


def test_a_correction_replaces_the_counted_report() -> None:
    kept = [entry(1, 1), entry(2, 1, corrects=1, status=Taken.MISSED, taken_at=None)]
    summary = summarize(injections(), kept, now=NOW, zone=UTC, table=RULES.ctcae)
    assert (summary.taken, summary.missed, summary.taken_iu) == (0, 1, 0)


def test_before_the_first_day_nothing_is_planned_and_adherence_is_none() -> None:
    early = FIRST - timedelta(days=2)
    summary = summarize(injections(), [], now=early, zone=UTC, table=RULES.ctcae)
    assert (summary.planned_to_date, summary.adherence, percent(summary.adherence)) == (
        0,
        None,
        None,
    )


def test_adherence_percent_rounds_half_up_exactly() -> None:
    assert percent(Fraction(1, 8)) == "12.5"
    assert percent(Fraction(1, 3)) == "33.3"
    assert percent(Fraction(2, 3)) == "66.7"
    assert percent(Fraction(1, 1)) == "100.0"
    assert percent(Fraction(1, 1600)) == "0.1"


# ---- properties ---------------------------------------------------------------------------

_chains = st.lists(
    st.tuples(
        st.integers(min_value=1, max_value=10),  # dose number
        st.sampled_from(list(Taken)),
        st.integers(min_value=0, max_value=4),  # corrections of it
    ),
    max_size=12,
    unique_by=lambda t: t[0],
)


def _diary(chains: list[tuple[int, Taken, int]]) -> list[DiaryEntry]:
    """Each chain: a first entry for its injection, then `n` corrections, each of the last."""
    kept: list[DiaryEntry] = []
    for number, status, corrections in chains:
        taken_at = FIRST if status is Taken.TAKEN else None
        last = None
        for _ in range(corrections + 1):
            made = entry(len(kept) + 1, number, corrects=last, status=status, taken_at=taken_at)
            kept.append(made)
            last = made.id
    return kept


@given(_chains, st.integers(min_value=-3, max_value=14))
def test_taken_missed_and_not_reported_add_up_to_the_injections_planned_to_date(
    chains: list[tuple[int, Taken, int]], day: int
) -> None:
    now = FIRST + timedelta(days=day)
    summary = summarize(injections(), _diary(chains), now=now, zone=UTC, table=RULES.ctcae)
    assert summary.taken + summary.missed + summary.not_reported == summary.planned_to_date
    assert summary.not_reported >= 0
    if summary.adherence is not None:
        assert 0 <= summary.adherence <= 1
    assert summary.taken_iu == summary.taken * 18_000_000


@given(_chains, st.data())
def test_a_correction_never_increases_the_count_of_current_entries(
    chains: list[tuple[int, Taken, int]], data: st.DataObject
) -> None:
    kept = _diary(chains)
    before = current_entries(kept)
    if not before:
        return
    target = data.draw(st.sampled_from(sorted(before.values(), key=lambda e: e.id)))
    corrected = entry(len(kept) + 1, target.dose_number, corrects=target.id)
    after = current_entries([*kept, corrected])
    assert len(after) <= len(before)
    assert after[(1, target.dose_number)].id == corrected.id


def test_an_injection_taken_too_soon_after_a_clinic_dose_is_shown_never_refused() -> None:
    clinic = FIRST
    entries = [entry(1, 2, taken_at=FIRST + timedelta(hours=20)),
               entry(2, 3, taken_at=FIRST + timedelta(hours=44))]  # fmt: skip
    soon = taken_too_soon(entries, given=[clinic], interval_h=24)
    assert [(t.dose_number, t.hours, t.after) for t in soon] == [(2, Fraction(20), clinic)]


def test_an_injection_exactly_the_interval_after_the_last_is_not_too_soon() -> None:
    entries = [entry(1, 2, taken_at=FIRST + timedelta(hours=24))]
    assert taken_too_soon(entries, given=[FIRST], interval_h=24) == ()


def test_a_corrected_entry_is_judged_by_its_correction() -> None:
    wrong = entry(1, 2, taken_at=FIRST + timedelta(hours=2))
    fixed = entry(2, 2, corrects=1, taken_at=FIRST + timedelta(hours=26))
    assert taken_too_soon([wrong, fixed], given=[FIRST], interval_h=24) == ()


@given(st.lists(st.integers(min_value=0, max_value=24 * 30), min_size=1, max_size=12, unique=True))
def test_what_is_shown_too_soon_is_exactly_what_follows_another_dose_within_the_interval(
    minutes_in_hours: list[int],
) -> None:
    moments = [FIRST + timedelta(hours=h / 4) for h in minutes_in_hours]
    entries = [entry(i + 1, i + 1, taken_at=m) for i, m in enumerate(moments)]
    soon = {t.dose_number for t in taken_too_soon(entries, given=[], interval_h=24)}
    ordered = sorted(moments)
    for i, moment in enumerate(moments):
        before = [m for m in ordered if m < moment]
        close = bool(before) and moment - before[-1] < timedelta(hours=24)
        assert (i + 1 in soon) == close
