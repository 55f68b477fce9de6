"""One running continuous infusion: paused, resumed and stopped while it runs.

A continuous-infusion regimen's planned "dose" is a day's infusion (its plan gives
`duration_h`). Once the ledger records it given, the infusion runs from `given_at` and may be
paused (by an assessment's decision, or a clinician's reason), resumed (only by an assessment
whose decision is give) and stopped early. No source gives how often to assess a running
infusion, nor numbers for pausing or resuming it (bedside_input.toml
[routes.continuous_infusion]): the events carry the before-dose engine's decision, and this
module only keeps their order and counts the time.

The infusion ends at its planned end, `given_at + duration_h`, whatever pauses there were: a
pause shortens what is delivered, it never pushes the bag into the next day's (which the plan
starts then), so the delivered dose never exceeds the planned one. `completed` means the whole
planned time ran; `ended` that the planned end came after a pause (less than planned was
delivered).

A wrongly recorded pause or resume is corrected by a new event naming it (`corrects`): only the
last event, never a stop. Nothing is accepted after a stop or the planned end.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from enum import StrEnum
from fractions import Fraction

from il2.domain.errors import InvalidInputError

GIVE = "give"
PAUSING = frozenset({"hold", "incomplete"})
"""Decisions that pause a running infusion (a stronger one stops it)."""
STOPPING = frozenset({"stop_cycle", "discontinue"})
"""Decisions that stop a running infusion (and close its cycle, or the drug, as in the ledger)."""

_HOUR = Decimal(3600)
_US = timedelta(microseconds=1)


class EventKind(StrEnum):
    """What was done to a running infusion."""

    PAUSE = "pause"
    RESUME = "resume"
    STOP = "stop"


class Status(StrEnum):
    """Where an infusion stands at a moment."""

    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"
    COMPLETED = "completed"
    ENDED = "ended"
    """The planned end came after a pause: less than the planned dose was delivered."""


@dataclass(frozen=True, slots=True)
class InfusionEvent:
    """One event: its number in the infusion's order (from 1), what, when, and why.

    `decision_action` is the assessment's before-dose decision (None: a clinician's reason
    alone); `corrects` the number of the event this one replaces.
    """

    seq: int
    kind: EventKind
    at: datetime
    decision_action: str | None = None
    reason: str | None = None
    corrects: int | None = None


@dataclass(frozen=True, slots=True)
class InfusionState:
    """An infusion at a moment: status, time run and paused, and the IU delivered."""

    status: Status
    running: timedelta
    paused: timedelta
    delivered_iu: int
    planned_iu: int
    planned: timedelta
    started_at: datetime
    planned_end: datetime
    events: tuple[InfusionEvent, ...]
    """The events in force (a corrected one replaced by its correction)."""

    @property
    def running_h(self) -> Decimal:
        """Hours run, to the hundredth (rounded down)."""
        return _hours(self.running)

    @property
    def paused_h(self) -> Decimal:
        """Hours paused, to the hundredth (rounded down)."""
        return _hours(self.paused)


def _hours(span: timedelta) -> Decimal:
    hours = Decimal(span // _US) / Decimal(1_000_000) / _HOUR
    return hours.quantize(Decimal("0.01"), rounding=ROUND_FLOOR)


@dataclass(frozen=True, slots=True)
class Infusion:
    """A day's infusion as planned, started at the ledger's `given_at`, with its events."""

    started_at: datetime
    planned: timedelta
    planned_iu: int
    events: tuple[InfusionEvent, ...] = ()

    def __post_init__(self) -> None:
        if self.started_at.tzinfo is None:
            raise InvalidInputError(
                field="given_at", value=self.started_at, allowed="a time-zone-aware date-time"
            )
        if self.planned <= timedelta(0):
            raise InvalidInputError(
                field="duration_h", value=self.planned, allowed="a planned duration above 0 h"
            )
        if self.planned_iu < 0:
            raise InvalidInputError(
                field="dose_iu", value=self.planned_iu, allowed="a planned dose of 0 IU or more"
            )

    @property
    def planned_end(self) -> datetime:
        """When the planned infusion time is over (the next day's bag is planned then)."""
        return self.started_at + self.planned


def in_force(events: tuple[InfusionEvent, ...]) -> tuple[InfusionEvent, ...]:
    """The events that count: each correction in place of the event it corrects."""
    kept: list[InfusionEvent] = []
    for event in sorted(events, key=lambda e: e.seq):
        if event.corrects is not None and kept and kept[-1].seq == event.corrects:
            kept[-1] = event
        else:
            kept.append(event)
    return tuple(kept)


def state_at(infusion: Infusion, moment: datetime) -> InfusionState:
    """The infusion at `moment` (the events at or before it; none past the planned end)."""
    events = in_force(infusion.events)
    end = min(moment, infusion.planned_end)
    running = paused = timedelta(0)
    since, is_running, stopped = infusion.started_at, True, False
    for event in events:
        if event.at > end:
            break
        span = event.at - since
        running, paused = (running + span, paused) if is_running else (running, paused + span)
        since = event.at
        if event.kind is EventKind.STOP:
            stopped = True
            break
        is_running = event.kind is EventKind.RESUME
    if not stopped and end > since:
        span = end - since
        running, paused = (running + span, paused) if is_running else (running, paused + span)
    if stopped:
        status = Status.STOPPED
    elif moment >= infusion.planned_end:
        status = Status.COMPLETED if running >= infusion.planned else Status.ENDED
    else:
        status = Status.RUNNING if is_running else Status.PAUSED
    share = Fraction(running // _US, infusion.planned // _US)
    delivered = min(infusion.planned_iu, int(infusion.planned_iu * share))  # floor
    return InfusionState(
        status=status,
        running=running,
        paused=paused,
        delivered_iu=delivered,
        planned_iu=infusion.planned_iu,
        planned=infusion.planned,
        started_at=infusion.started_at,
        planned_end=infusion.planned_end,
        events=events,
    )


_ALLOWED = {
    Status.RUNNING: "pause or stop",
    Status.PAUSED: "resume or stop",
}


def _refuse_time(infusion: Infusion, at: datetime, last: datetime, now: datetime) -> None:
    if at.tzinfo is None:
        raise InvalidInputError(field="at", value=at, allowed="a time-zone-aware date-time")
    if at < last:
        raise InvalidInputError(
            field="at",
            value=at.isoformat(),
            allowed=f"{last.isoformat()} or later (the infusion's start or its last event)",
        )
    if at > now:
        raise InvalidInputError(
            field="at", value=at.isoformat(), allowed=f"not in the future (now {now.isoformat()})"
        )
    if at > infusion.planned_end:
        raise InvalidInputError(
            field="at",
            value=at.isoformat(),
            allowed=f"no later than the planned end, {infusion.planned_end.isoformat()}",
        )


def _refuse_why(kind: EventKind, decision_action: str | None, reason: str | None) -> None:
    """The decision, or a reason, each event needs."""
    action = decision_action
    if kind is EventKind.RESUME and action != GIVE:
        raise InvalidInputError(
            field="assessment",
            value=action,
            allowed="an assessment whose before-dose decision is give: only that resumes",
        )
    if kind is EventKind.PAUSE:
        if action in STOPPING:
            raise InvalidInputError(
                field="event",
                value=kind.value,
                allowed=f"stop: the before-dose decision is {action}, which a pause would hide",
            )
        if action not in PAUSING and not reason:
            raise InvalidInputError(
                field="reason",
                value=reason,
                allowed="a clinician's reason: the decision does not pause the infusion"
                if action == GIVE
                else "an assessment whose decision pauses (hold, incomplete), or a reason",
            )
    if kind is EventKind.STOP and action not in STOPPING and not reason:
        raise InvalidInputError(
            field="reason",
            value=reason,
            allowed="a clinician's reason: the decision does not stop the infusion"
            if action is not None
            else "an assessment whose decision stops (stop_cycle, discontinue), or a reason",
        )


def accept(
    infusion: Infusion,
    kind: EventKind,
    *,
    at: datetime,
    now: datetime,
    decision_action: str | None = None,
    reason: str | None = None,
    corrects: int | None = None,
) -> Infusion:
    """The infusion with the event added, or InvalidInputError naming what is not allowed.

    `corrects` names the last event (a pause or resume) this one replaces: it is judged in
    the state before that event.
    """
    events = in_force(infusion.events)
    base = events
    if corrects is not None:
        if not events or events[-1].seq != corrects:
            raise InvalidInputError(
                field="corrects",
                value=corrects,
                allowed="the last event's number"
                + (f" ({events[-1].seq})" if events else " (none recorded yet)"),
            )
        if events[-1].kind is EventKind.STOP:
            raise InvalidInputError(
                field="corrects", value=corrects, allowed="a pause or resume: a stop is final"
            )
        base = events[:-1]
    before = replace(infusion, events=base)
    last = base[-1].at if base else infusion.started_at
    last_state = state_at(before, last)
    if last_state.status in (Status.STOPPED, Status.COMPLETED, Status.ENDED):
        raise InvalidInputError(
            field="event",
            value=kind.value,
            allowed=f"nothing: the infusion is {last_state.status.value}",
        )
    _refuse_time(infusion, at, last, now)
    status = state_at(before, at).status
    if status not in _ALLOWED:
        raise InvalidInputError(
            field="event",
            value=kind.value,
            allowed=f"nothing: the infusion is {status.value} at {at.isoformat()}",
        )
    if (kind is EventKind.PAUSE and status is not Status.RUNNING) or (
        kind is EventKind.RESUME and status is not Status.PAUSED
    ):
        raise InvalidInputError(
            field="event",
            value=kind.value,
            allowed=f"{_ALLOWED[status]}: the infusion is {status.value}",
        )
    _refuse_why(kind, decision_action, reason)
    seq = max((e.seq for e in infusion.events), default=0) + 1
    event = InfusionEvent(seq, kind, at, decision_action, reason or None, corrects)
    return replace(infusion, events=(*infusion.events, event))
