"""A running continuous infusion: paused, resumed, stopped; the time run and the IU delivered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from il2.domain.errors import InvalidInputError
from il2.domain.infusion import (
    EventKind,
    Infusion,
    Status,
    accept,
    state_at,
)

START = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
DAY = timedelta(hours=24)
IU = 33_203_915
LATER = START + timedelta(days=3)


def infusion() -> Infusion:
    return Infusion(started_at=START, planned=DAY, planned_iu=IU)


def at(hours: float) -> datetime:
    return START + timedelta(hours=hours)


def pause(inf: Infusion, hours: float, action: str = "hold", **kw: object) -> Infusion:
    return accept(inf, EventKind.PAUSE, at=at(hours), now=LATER, decision_action=action, **kw)  # type: ignore[arg-type]


def resume(inf: Infusion, hours: float, action: str = "give", **kw: object) -> Infusion:
    return accept(inf, EventKind.RESUME, at=at(hours), now=LATER, decision_action=action, **kw)  # type: ignore[arg-type]


def stop(inf: Infusion, hours: float, action: str | None = "discontinue", **kw: object) -> Infusion:
    return accept(inf, EventKind.STOP, at=at(hours), now=LATER, decision_action=action, **kw)  # type: ignore[arg-type]


def test_an_infusion_runs_from_its_start_and_completes_at_its_planned_end() -> None:
    assert state_at(infusion(), at(6)).status is Status.RUNNING
    done = state_at(infusion(), at(30))
    assert (done.status, done.delivered_iu, done.running_h, done.paused_h) == (
        Status.COMPLETED,
        IU,
        Decimal("24.00"),
        Decimal("0.00"),
    )


def test_a_pause_then_resume_then_stop_delivers_the_share_of_the_time_run() -> None:
    inf = stop(resume(pause(infusion(), 6), 9), 18, action="stop_cycle")
    state = state_at(inf, at(20))
    assert state.status is Status.STOPPED
    assert (state.running_h, state.paused_h) == (Decimal("15.00"), Decimal("3.00"))
    assert state.delivered_iu == IU * 15 // 24  # 20_752_446, rounded down


def test_a_paused_infusion_ends_at_its_planned_end_with_less_than_planned() -> None:
    state = state_at(resume(pause(infusion(), 6), 9), at(24))
    assert state.status is Status.ENDED
    assert state.delivered_iu == IU * 21 // 24


def test_a_pause_is_refused_unless_running() -> None:
    with pytest.raises(InvalidInputError) as refused:
        pause(pause(infusion(), 6), 7)
    assert (refused.value.field, refused.value.value) == ("event", "pause")
    assert "resume or stop" in refused.value.allowed


def test_a_resume_is_refused_unless_paused() -> None:
    with pytest.raises(InvalidInputError) as refused:
        resume(infusion(), 2)
    assert refused.value.field == "event"
    assert "pause or stop" in refused.value.allowed


@pytest.mark.parametrize("action", ["hold", "incomplete", "stop_cycle", "discontinue", None])
def test_only_an_assessment_whose_decision_is_give_resumes(action: str | None) -> None:
    with pytest.raises(InvalidInputError) as refused:
        accept(pause(infusion(), 6), EventKind.RESUME, at=at(7), now=LATER, decision_action=action)
    assert refused.value.field == "assessment"


def test_a_pause_on_a_give_decision_needs_a_clinicians_reason() -> None:
    with pytest.raises(InvalidInputError) as refused:
        pause(infusion(), 6, action="give")
    assert refused.value.field == "reason"
    paused = pause(infusion(), 6, action="give", reason="line occluded")
    assert state_at(paused, at(7)).status is Status.PAUSED


def test_a_decision_to_stop_is_never_recorded_as_a_pause() -> None:
    with pytest.raises(InvalidInputError) as refused:
        pause(infusion(), 6, action="discontinue")
    assert refused.value.field == "event"
    assert "stop" in refused.value.allowed


def test_a_stop_needs_a_stopping_decision_or_a_reason() -> None:
    with pytest.raises(InvalidInputError) as refused:
        stop(infusion(), 6, action="hold")
    assert refused.value.field == "reason"
    assert state_at(stop(infusion(), 6, action=None, reason="bag leaked"), at(7)).status is (
        Status.STOPPED
    )


def test_nothing_is_accepted_after_a_stop() -> None:
    stopped = stop(infusion(), 6)
    for attempt in (pause, resume, stop):
        with pytest.raises(InvalidInputError) as refused:
            attempt(stopped, 8)
        assert "stopped" in refused.value.allowed


def test_nothing_is_accepted_at_or_after_the_planned_end() -> None:
    with pytest.raises(InvalidInputError) as refused:
        pause(infusion(), 24)
    assert "completed" in refused.value.allowed
    with pytest.raises(InvalidInputError) as late:
        pause(infusion(), 25)
    assert late.value.field == "at"
    assert "planned end" in late.value.allowed


def test_a_time_before_the_start_or_the_last_event_or_in_the_future_is_refused() -> None:
    for hours in (-1, 5):
        with pytest.raises(InvalidInputError) as refused:
            pause(pause(infusion(), 6), hours) if hours == 5 else pause(infusion(), hours)
        assert refused.value.field in ("at", "event")
    with pytest.raises(InvalidInputError) as before:
        resume(pause(infusion(), 6), 5)
    assert before.value.field == "at"
    with pytest.raises(InvalidInputError) as future:
        accept(infusion(), EventKind.PAUSE, at=at(6), now=at(5), decision_action="hold")
    assert future.value.field == "at"
    assert "future" in future.value.allowed


def test_a_correction_replaces_the_last_pause_or_resume_only() -> None:
    paused = pause(infusion(), 6)
    corrected = pause(paused, 5, corrects=1)
    state = state_at(corrected, at(8))
    assert [e.seq for e in state.events] == [2]
    assert state.paused == timedelta(hours=3)
    with pytest.raises(InvalidInputError) as wrong:
        pause(resume(paused, 7), 8, corrects=1)
    assert wrong.value.field == "corrects"
    with pytest.raises(InvalidInputError) as final:
        stop(stop(infusion(), 6), 6, corrects=1)
    assert "a stop is final" in final.value.allowed


def test_an_infusion_needs_an_aware_start_and_a_planned_duration() -> None:
    with pytest.raises(InvalidInputError):
        Infusion(started_at=START.replace(tzinfo=None), planned=DAY, planned_iu=IU)
    with pytest.raises(InvalidInputError):
        Infusion(started_at=START, planned=timedelta(0), planned_iu=IU)
    with pytest.raises(InvalidInputError):
        Infusion(started_at=START, planned=DAY, planned_iu=-1)


ATTEMPTS = st.lists(
    st.tuples(
        st.sampled_from(list(EventKind)),
        st.integers(min_value=-60, max_value=26 * 60),  # minutes from the start
        st.sampled_from(["give", "hold", "incomplete", "stop_cycle", "discontinue", None]),
        st.sampled_from([None, "a clinician's reason"]),
        st.booleans(),  # a correction of the last event
    ),
    max_size=12,
)


@given(ATTEMPTS, st.integers(min_value=0, max_value=30 * 60), st.integers(0, 10**9))
def test_accepted_events_keep_the_delivered_dose_and_time_sound(
    attempts: list[tuple[EventKind, int, str | None, str | None, bool]], look: int, iu: int
) -> None:
    inf = Infusion(started_at=START, planned=DAY, planned_iu=iu)
    now = START + timedelta(hours=30)
    for kind, minutes, action, reason, correcting in attempts:
        before = state_at(inf, START + timedelta(minutes=minutes))
        last = inf.events[-1].seq if inf.events else 0
        try:
            inf = accept(
                inf,
                kind,
                at=START + timedelta(minutes=minutes),
                now=now,
                decision_action=action,
                reason=reason,
                corrects=last if correcting and last else None,
            )
        except InvalidInputError:
            continue
        if not correcting or not last:
            assert before.status in (Status.RUNNING, Status.PAUSED)
            if kind is EventKind.RESUME:
                assert before.status is Status.PAUSED
                assert action == "give"
    moment = START + timedelta(minutes=look)
    state = state_at(inf, moment)
    assert 0 <= state.delivered_iu <= iu
    end = min(moment, inf.planned_end)
    if state.status is Status.STOPPED:
        end = next(e.at for e in state.events if e.kind is EventKind.STOP)
    assert state.running + state.paused == max(end - START, timedelta(0))
    assert state.running <= inf.planned


@given(ATTEMPTS)
def test_nothing_is_ever_accepted_after_a_stop(
    attempts: list[tuple[EventKind, int, str | None, str | None, bool]],
) -> None:
    inf = stop(infusion(), 3)
    for kind, minutes, action, reason, correcting in attempts:
        with pytest.raises(InvalidInputError):
            accept(
                inf,
                kind,
                at=START + timedelta(minutes=minutes),
                now=START + timedelta(hours=30),
                decision_action=action,
                reason=reason,
                corrects=1 if correcting else None,
            )
