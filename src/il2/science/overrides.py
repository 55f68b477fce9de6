"""Override analytics: doses the before-dose engine held, given against the hold or not, and
what followed each (the next assessment, severe toxicity within 48 h, the cycle, the response).

Input is one plain record per held dose (`Hold`); `analyse` compares overridden holds with
comparable holds that were not overridden, overall and by rule, prescriber and year.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Any, Literal

from il2.domain.errors import InvalidInputError
from il2.science.stats import proportion

NextDecision = Literal["give", "hold", "stop", "discontinue", "none"]
WINDOW = timedelta(hours=48)
SEVERE_GRADE = 3
"""CTCAE grade 3 or worse counts as severe (3 and 4; a grade 5 is worse still, so it counts)."""
SMALL_GROUP = 10
"""A comparison with fewer holds than this in either arm is flagged small: its intervals are
wide and its difference is not to be read as an effect (a reporting choice, not clinical)."""
OUTCOMES = ("next_give", "next_hold", "next_stop", "severe_toxicity_48h", "cycle_completed",
            "objective_response")  # fmt: skip
_ACTIONS: Mapping[str, NextDecision] = {
    "give": "give",
    "hold": "hold",
    "incomplete": "hold",
    "stop_cycle": "stop",
    "discontinue": "discontinue",
}

METHOD = (
    "Unit: a dose the before-dose engine held for reasons a physician may override (a hold "
    "that also names a reason never overridden, such as the minimum interval, is left out). "
    "Overridden: a physician gave the dose against the hold, with a reason. Not overridden: "
    "the dose was recorded as held. What followed each hold: the next assessment is the "
    "decision of the next dose recorded in the same course (give; hold, an incomplete "
    "assessment counted as a hold; stop the cycle; discontinue), and holds with none are "
    "counted apart and left out of those shares. Severe toxicity within 48 h: a toxicity of "
    "CTCAE grade 3 or worse recorded for the patient whose date (toxicities are recorded by "
    "date, not time) overlaps the 48 hours from the dose's assessment, that is from the dose's "
    "calendar day to the day 48 h later, both inclusive, in the site's time zone; a toxicity "
    "of the dose's own day counts even if it began before the dose, so this share is an upper "
    "bound. Cycle completed: no dose of the cycle was stopped and its last planned dose was "
    "recorded (given or held); not completed: a dose of the cycle was stopped, or a later cycle "
    "was recorded while this one's last planned dose was not; cycles still open are left out. "
    "Objective response: the patient's best overall response (RECIST) over all their response "
    "assessments is CR or PR, of holds whose patient has one. Comparable holds: by rule, the "
    "holds naming that rule (a hold naming two rules counts under each); by prescriber, the "
    "prescriber's overrides against every hold not overridden that names a rule the prescriber "
    "overrode; by year (of the assessment), the holds of that year. Shares carry exact "
    "(Clopper-Pearson) 95% intervals; the difference (overridden minus not) carries a 95% "
    "interval combining the two exact intervals by the method of variance estimates recovery "
    "(Newcombe 1998; Zou and Donner 2008). Holds of one patient are not independent and the "
    "physician chose whom to override, so differences describe, they do not estimate an effect. "
    f"A comparison with fewer than {SMALL_GROUP} holds in either arm is flagged small."
)


@dataclass(frozen=True, slots=True)
class Hold:
    """One dose the engine held, and what followed it (the analysis's unit)."""

    patient: str
    """The patient's study key (de-identified)."""
    course: int
    """The course's number for the patient (1, 2, ...)."""
    cycle: int
    dose_number: int
    decided_at: datetime
    """When the dose was assessed, in the site's time zone (its year groups the hold)."""
    rules: tuple[str, ...]
    """The overridable hold rules the engine named."""
    overridden: bool
    reason: str | None
    prescriber: str | None
    """Who overrode (as the summary may show them); None when not overridden."""
    next_decision: NextDecision
    severe_toxicity_48h: bool
    cycle_completed: bool | None
    """None while the cycle is open."""
    best_response: str | None
    """CR, PR, SD, PD or NE; None without a response assessment."""
    day: int | None = None
    """Days from the patient's day 0 to the assessment: the listing's date (with the year)."""

    def __post_init__(self) -> None:
        if not self.rules:
            raise InvalidInputError(field="rules", value=[], allowed="one or more hold rules")
        if self.overridden != (self.prescriber is not None):
            raise InvalidInputError(
                field="prescriber",
                value=self.prescriber,
                allowed="a prescriber exactly when the hold was overridden",
            )


def next_decision(action: str | None) -> NextDecision:
    """The next assessment's decision as the analysis counts it ("none" without one)."""
    if action is None:
        return "none"
    try:
        return _ACTIONS[action]
    except KeyError:
        raise InvalidInputError(
            field="decision_action", value=action, allowed=", ".join(_ACTIONS)
        ) from None


def within_48h(decided_at: datetime, observed_on: date, zone: tzinfo) -> bool:
    """Whether a toxicity recorded on `observed_on` counts within 48 h of a dose assessed at
    `decided_at`: its day (in `zone`) overlaps [decided_at, decided_at + 48 h]."""
    if decided_at.tzinfo is None:
        raise InvalidInputError(
            field="decided_at", value=decided_at.isoformat(), allowed="a time-zone aware time"
        )
    first = decided_at.astimezone(zone).date()
    last = (decided_at + WINDOW).astimezone(zone).date()
    return first <= observed_on <= last


def cycle_completed(
    planned: int, recorded: Mapping[int, str], *, later_recorded: bool
) -> bool | None:
    """Whether a cycle ran to its planned end, from its ledger (`recorded`: dose number to
    outcome given/held/stopped): no dose stopped and the last planned one recorded. False when a
    dose was stopped or a later cycle was recorded first; None while the cycle is open."""
    if planned < 1:
        raise InvalidInputError(field="planned", value=planned, allowed="1 or more doses")
    if "stopped" in recorded.values():
        return False
    if planned in recorded:
        return True
    return False if later_recorded else None


def _share(holds: Sequence[Hold], counted: Callable[[Hold], bool | None]) -> Any:
    """The share of `holds` where `counted` is True, of those where it is not None."""
    known = [c for c in map(counted, holds) if c is not None]
    found = proportion(sum(known), len(known))
    return None if found is None else found.as_json()


def _arm(holds: Sequence[Hold]) -> dict[str, Any]:
    """Counts and shares of what followed one arm's holds."""

    def after(wanted: tuple[str, ...]) -> Callable[[Hold], bool | None]:
        return lambda h: None if h.next_decision == "none" else h.next_decision in wanted

    return {
        "holds": len(holds),
        "patients": len({h.patient for h in holds}),
        "no_next_assessment": sum(1 for h in holds if h.next_decision == "none"),
        "next_give": _share(holds, after(("give",))),
        "next_hold": _share(holds, after(("hold",))),
        "next_stop": _share(holds, after(("stop", "discontinue"))),
        "severe_toxicity_48h": _share(holds, lambda h: h.severe_toxicity_48h),
        "cycle_completed": _share(holds, lambda h: h.cycle_completed),
        "objective_response": _share(
            holds, lambda h: None if h.best_response is None else h.best_response in ("CR", "PR")
        ),
    }


def difference(
    overridden: Mapping[str, Any] | None, other: Mapping[str, Any] | None
) -> dict[str, Any] | None:
    """Overridden minus not overridden, with the 95% interval recovered from the two exact
    intervals (MOVER: Newcombe 1998, Zou and Donner 2008); None when either share is missing."""
    if not overridden or not other:
        return None
    p1, p2 = overridden["value"], other["value"]
    (l1, u1), (l2, u2) = overridden["ci95"], other["ci95"]
    value = p1 - p2
    lower = value - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    upper = value + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return {"value": value, "ci95": [max(-1.0, lower), min(1.0, upper)]}


def compare(key: str, overridden: Sequence[Hold], other: Sequence[Hold]) -> dict[str, Any]:
    """One comparison: the overridden holds against the comparable ones not overridden."""
    given, held = _arm(overridden), _arm(other)
    return {
        "key": key,
        "overridden": given,
        "not_overridden": held,
        "difference": {name: difference(given[name], held[name]) for name in OUTCOMES},
        "small": min(len(overridden), len(other)) < SMALL_GROUP,
    }


def _split(holds: Iterable[Hold]) -> tuple[list[Hold], list[Hold]]:
    kept = list(holds)
    return [h for h in kept if h.overridden], [h for h in kept if not h.overridden]


def by_rule(holds: Sequence[Hold]) -> list[dict[str, Any]]:
    """Each rule's holds, overridden against not (a hold counts under every rule it names)."""
    rules = sorted({rule for h in holds for rule in h.rules})
    return [compare(rule, *_split(h for h in holds if rule in h.rules)) for rule in rules]


def by_prescriber(holds: Sequence[Hold]) -> list[dict[str, Any]]:
    """Each prescriber's overrides against the holds not overridden of the rules they overrode."""
    mine: dict[str, list[Hold]] = defaultdict(list)
    for hold in holds:
        if hold.prescriber is not None:
            mine[hold.prescriber].append(hold)
    rows = []
    for prescriber in sorted(mine):
        rules = {rule for h in mine[prescriber] for rule in h.rules}
        other = [h for h in holds if not h.overridden and rules & set(h.rules)]
        rows.append(compare(prescriber, mine[prescriber], other))
    return rows


def by_year(holds: Sequence[Hold]) -> list[dict[str, Any]]:
    """Each year's holds (the year of the assessment), overridden against not."""
    years = sorted({h.decided_at.year for h in holds})
    return [compare(str(y), *_split(h for h in holds if h.decided_at.year == y)) for y in years]


def listed(hold: Hold) -> dict[str, Any]:
    """One override as the summary lists it: where, why, by whom, and what followed (its date
    as the year and the day from the patient's day 0, as de-identified views show dates)."""
    return {
        "patient": hold.patient,
        "course": hold.course,
        "cycle": hold.cycle,
        "dose_number": hold.dose_number,
        "year": hold.decided_at.year,
        "day": hold.day,
        "rules": list(hold.rules),
        "reason": hold.reason,
        "prescriber": hold.prescriber,
        "next_decision": hold.next_decision,
        "severe_toxicity_48h": hold.severe_toxicity_48h,
        "cycle_completed": hold.cycle_completed,
        "best_response": hold.best_response,
    }


def analyse(holds: Sequence[Hold], *, left_out: int = 0) -> dict[str, Any]:
    """The override analysis of these holds: overall, by rule, by prescriber and by year, with
    every override listed and the method; `left_out` counts holds not analysable (a reason
    never overridden)."""
    overridden = sorted((h for h in holds if h.overridden), key=lambda h: h.decided_at)
    return {
        "holds": len(holds),
        "overridden": len(overridden),
        "left_out": left_out,
        "overall": compare("all", *_split(holds)),
        "by_rule": by_rule(holds),
        "by_prescriber": by_prescriber(holds),
        "by_year": by_year(holds),
        "overrides": [listed(h) for h in overridden],
        "small_group": SMALL_GROUP,
        "method": METHOD,
    }
