"""Safe Harbor de-identification (domain/deidentify.py): study numbers, dates, free text, ages."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from il2.domain.deidentify import (
    SHIFTED_DAY_ZERO,
    STUDY_LENGTH,
    WITHHELD,
    age_category,
    as_day_labels,
    day_zero_shift,
    days_in_text,
    shift_dates,
    study_number,
    withhold_free_text,
)

KEY = b"a site key of thirty-two bytes!!"
ids = st.integers(min_value=1, max_value=2**63 - 1)
keys = st.binary(min_size=16, max_size=64)
ZONE = ZoneInfo("America/Los_Angeles")


@given(patient_id=ids, key=keys)
def test_a_study_number_is_stable_for_a_record_and_never_spells_its_id(
    patient_id: int, key: bytes
) -> None:
    number = study_number(patient_id, key=key)
    assert number == study_number(patient_id, key=key)
    assert number.startswith("S-")
    assert len(number) == len("S-") + STUDY_LENGTH
    assert str(patient_id) not in number
    assert number != str(patient_id)


@given(pair=st.lists(ids, min_size=2, max_size=2, unique=True), key=keys)
def test_two_records_have_two_study_numbers(pair: list[int], key: bytes) -> None:
    first, second = pair
    assert study_number(first, key=key) != study_number(second, key=key)


@given(patient_id=ids, keys_=st.lists(keys, min_size=2, max_size=2, unique=True))
def test_another_key_gives_another_study_number(patient_id: int, keys_: list[bytes]) -> None:
    one, other = keys_
    assert study_number(patient_id, key=one) != study_number(patient_id, key=other)


def test_no_key_no_study_number() -> None:
    with pytest.raises(ValueError, match="study key"):
        study_number(1, key=b"")


@given(years=st.integers(min_value=0, max_value=130))
def test_ages_over_89_are_one_category(years: int) -> None:
    shown = age_category(years)
    assert shown == ("90 or older" if years > 89 else years)


def test_free_text_is_withheld_at_any_depth_and_empty_fields_stay_empty() -> None:
    document = {
        "reason": "said his neighbour",
        "content": {"status": "alive", "notes": "call Ann", "comment": ""},
        "doses": [{"override_reason": "asked", "outcome": "given"}],
        "summary": "fever grade 2",
    }
    assert withhold_free_text(document) == {
        "reason": WITHHELD,
        "content": {"status": "alive", "notes": WITHHELD, "comment": ""},
        "doses": [{"override_reason": WITHHELD, "outcome": "given"}],
        "summary": "fever grade 2",
    }


@given(
    day_zero=st.dates(min_value=date(1950, 1, 1), max_value=date(2090, 1, 1)),
    offset=st.integers(min_value=-400, max_value=400),
    minutes=st.integers(min_value=0, max_value=24 * 60 - 1),
)
def test_a_shifted_date_reads_as_its_days_from_day_zero_whatever_the_hour(
    day_zero: date, offset: int, minutes: int
) -> None:
    shift = day_zero_shift(day_zero)
    day = day_zero + timedelta(days=offset)
    local = datetime(day.year, day.month, day.day, tzinfo=ZONE) + timedelta(minutes=minutes)
    moment = local.astimezone(UTC)
    shifted = shift_dates(
        {"on": day.isoformat(), "at": moment.isoformat(), "when": moment}, days=shift, zone=ZONE
    )
    assert as_day_labels(shifted, ZONE) == {"on": f"day {offset}"} | {
        "at": f"day {offset}",
        "when": f"day {offset}",
    }


def test_day_zero_falls_on_the_shifted_day_zero_and_prose_dates_become_days() -> None:
    shift = day_zero_shift(date(2026, 12, 7))
    assert shift_dates("2026-12-07", days=shift, zone=UTC) == SHIFTED_DAY_ZERO.isoformat()
    warning = "The earliest next course (2027-02-12) counts 7 weeks"
    assert shift_dates(warning, days=shift, zone=UTC) == (
        "The earliest next course (day 67) counts 7 weeks"
    )
    assert days_in_text("Death on 2026-02-01", date(2026, 1, 20)) == "Death on day 12"
    assert shift_dates("not a date: 2026-13-45", days=shift, zone=UTC) == ("not a date: 2026-13-45")
