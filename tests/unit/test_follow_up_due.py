"""A follow-up the pathway asks for is due until one is recorded after the latest dose and scan."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from il2.domain.records import ClinicalEntry
from il2.services.schedule import followed_up

LAST_DOSE = date(2026, 3, 5)


def _entry(number: int, kind: str, on: date, *, corrects: int | None = None) -> ClinicalEntry:
    return ClinicalEntry(
        id=number,
        patient_id=1,
        kind=kind,
        course_id=None,
        observed_on=on,
        content={},
        summary=kind,
        corrects_id=corrects,
        reason="typo" if corrects else None,
        recorded_by="physician",
        recorded_at=datetime(2026, 6, 1, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    ("entries", "done"),
    [
        ([], False),
        ([_entry(1, "follow_up", date(2026, 3, 4))], False),  # before the last dose
        ([_entry(1, "follow_up", LAST_DOSE)], True),  # the same day counts
        ([_entry(1, "follow_up", date(2026, 5, 1))], True),
        (  # a scan after the follow-up asks for another
            [_entry(1, "follow_up", date(2026, 5, 1)), _entry(2, "response", date(2026, 5, 2))],
            False,
        ),
        (
            [_entry(1, "response", date(2026, 5, 2)), _entry(2, "follow_up", date(2026, 5, 2))],
            True,
        ),
        (  # corrected to a day before the last dose: the correction is what counts
            [
                _entry(1, "follow_up", date(2026, 5, 1)),
                _entry(2, "follow_up", date(2026, 3, 1), corrects=1),
            ],
            False,
        ),
        ([_entry(1, "toxicity", date(2026, 5, 1))], False),  # not a follow-up
    ],
)
def test_a_follow_up_is_done_once_observed_after_the_last_dose_and_scan(
    entries: list[ClinicalEntry],
    done: bool,  # noqa: FBT001 - a parametrized expectation
) -> None:
    assert followed_up([date(2026, 3, 1), LAST_DOSE], entries) is done


def test_a_follow_up_without_any_dose_or_scan_recorded_counts() -> None:
    assert followed_up([], [_entry(1, "follow_up", date(2026, 5, 1))]) is True
