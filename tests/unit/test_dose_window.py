"""A ward list's dose window: due now inside it, not yet before, passed after, "" once recorded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from il2.domain.worklist import Slot, dose_window

DUE = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def _slot(status: str) -> Slot:
    return Slot(course_id=1, cycle=1, dose_number=2, due_at=DUE, status=status)


def test_a_dose_minutes_past_its_planned_time_is_due_now_not_late() -> None:
    # the demo's ward at sign-in: planned 08:00, now 08:04, the slot reads `overdue`
    assert dose_window(_slot("overdue"), DUE + timedelta(minutes=4), HOUR, HOUR) == "open"
    assert dose_window(_slot("due"), DUE - 3 * HOUR, HOUR, HOUR) == "not_yet"
    assert dose_window(_slot("overdue"), DUE + HOUR + timedelta(minutes=1), HOUR, HOUR) == "passed"
    assert dose_window(_slot("overdue"), DUE + HOUR, HOUR, HOUR) == "open"  # as the timeline


@given(
    offset=st.integers(min_value=-600, max_value=600),
    early=st.integers(min_value=0, max_value=240),
    late=st.integers(min_value=0, max_value=240),
    status=st.sampled_from(["due", "overdue", "given", "held", "stopped"]),
)
def test_the_window_is_open_exactly_between_its_edges_and_silent_once_recorded(
    offset: int, early: int, late: int, status: str
) -> None:
    now = DUE + timedelta(minutes=offset)
    found = dose_window(_slot(status), now, timedelta(minutes=early), timedelta(minutes=late))
    if status not in ("due", "overdue"):
        assert found == ""
    elif -early <= offset <= late:
        assert found == "open"
    else:
        assert found == ("not_yet" if offset < -early else "passed")
