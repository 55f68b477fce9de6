"""Outside events a regimen is anchored to (the last SBRT fraction, the end of a TIL infusion).

A plan whose first aldesleukin dose comes before its anchor is refused; one off the source's
offset is planned with a warning. An event given as a day (no time) is compared by days.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from il2.domain.errors import InvalidInputError
from il2.domain.regimen import Anchor, Regimen


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened (or is planned) outside il2: its kind and its day or moment."""

    kind: str
    on: date
    at: datetime | None = None

    @property
    def when(self) -> str:
        """The event's moment, or its day, in ISO 8601."""
        return self.at.isoformat() if self.at is not None else self.on.isoformat()


def _offset_words(anchor: Anchor) -> str:
    if anchor.min_h == anchor.max_h and anchor.min_h % 24 == 0:
        return f"{anchor.min_h // 24} days after"
    return f"{anchor.min_h}-{anchor.max_h} h after"


def anchor_warnings(
    regimen: Regimen, events: Sequence[Event], first_dose: datetime
) -> tuple[str, ...]:
    """Check the first dose against the regimen's anchor; refuse one before it.

    A regimen whose anchor is required refuses a plan without the event (field `events`).
    """
    anchor = regimen.anchor
    unused = sorted({e.kind for e in events if anchor is None or e.kind != anchor.event})
    ignored = tuple(
        f"The event {kind.replace('_', ' ')} is kept with the plan but not checked: regimen "
        f"{regimen.id} is not anchored to it."
        for kind in unused
    )
    if anchor is None:
        return ignored
    return ignored + _anchored(regimen, anchor, events, first_dose)


def _anchored(
    regimen: Regimen, anchor: Anchor, events: Sequence[Event], first_dose: datetime
) -> tuple[str, ...]:
    found = [event for event in events if event.kind == anchor.event]
    if not found:
        if anchor.required:
            raise InvalidInputError(
                field="events",
                value=[event.kind for event in events],
                allowed=f"an event of kind '{anchor.event}' with its date: regimen "
                f"{regimen.id} starts aldesleukin {_offset_words(anchor)} it ({anchor.source})",
            )
        return ()
    latest = max(found, key=lambda e: (e.on, e.at.timestamp() if e.at else float("-inf")))
    if latest.at is not None:
        hours = (first_dose - latest.at).total_seconds() / 3600
        low, high, measure = anchor.min_h, anchor.max_h, f"{hours:g} h"
        before = hours < 0
    else:
        days = (first_dose.date() - latest.on).days
        hours = days * 24
        low, high = anchor.min_h // 24 * 24, math.ceil(anchor.max_h / 24) * 24
        measure, before = f"{days} days", days < 0
    if before:
        raise InvalidInputError(
            field="first_dose",
            value=first_dose.isoformat(),
            allowed=f"a first aldesleukin dose after the {anchor.event.replace('_', ' ')} of "
            f"{latest.when} (events): regimen {regimen.id} starts it "
            f"{_offset_words(anchor)} ({anchor.source})",
        )
    if low <= hours <= high:
        return ()
    warning = (
        f"The first aldesleukin dose is {measure} after the {anchor.event.replace('_', ' ')} "
        f"of {latest.when}; regimen {regimen.id} starts it {_offset_words(anchor)} "
        f"({anchor.source})."
    )
    return (warning,)
