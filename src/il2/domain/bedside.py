"""Before every dose: give, hold, stop the cycle, or discontinue, with the rules that fired.

The rules come from the rule files; this module interprets them and combines them. The
strongest action wins: discontinue > stop_cycle > incomplete > hold > give. Nothing unknown
becomes a go-ahead: a rule in force whose inputs are not given (or a required item that is
missing) makes the answer at least `incomplete`, and the decision says what to obtain. Advice
rules add warnings and never change the action. The engine is deterministic: the same
assessment and rule versions always give the same decision.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from il2.domain.checks import (
    Check,
    Fired,
    Guard,
    LimitCheck,
    OneOfCheck,
    Unknown,
    fields_of,
    inputs,
    seen,
    threshold,
)
from il2.domain.findings import Findings
from il2.domain.quantities import plain
from il2.domain.regimen import Regimen

BOLUS = "iv_bolus"
BOLUS_ONLY = frozenset({BOLUS})


class Action(StrEnum):
    """What to do with the scheduled dose."""

    GIVE = "give"
    HOLD = "hold"
    INCOMPLETE = "incomplete"
    STOP_CYCLE = "stop_cycle"
    DISCONTINUE = "discontinue"

    @property
    def strength(self) -> int:
        """Rank for "the strongest action wins"."""
        return _STRENGTH[self]


_STRENGTH = {
    Action.GIVE: 0,
    Action.HOLD: 1,
    Action.INCOMPLETE: 2,
    Action.STOP_CYCLE: 3,
    Action.DISCONTINUE: 4,
}


@dataclass(frozen=True, slots=True)
class ResumeRule:
    """When a hold that is still open may end."""

    key: str
    check: Check
    source: str
    unconfirmed: bool = False

    def words(self) -> str:
        """The resume condition in words."""
        check = self.check
        if isinstance(check, LimitCheck):
            return f"{check.label} {check.describe()}"
        if isinstance(check, OneOfCheck):
            return f"{check.label}: " + " or ".join(sorted(check.values))
        return self.source


@dataclass(frozen=True, slots=True)
class BeforeDoseRule:
    """One rule: a check, the action it calls for, and where it comes from.

    `site_setting` says what a site's policy file changed in it, and why; `quiet_if_unknown`
    is allowed only where another rule withholds the dose whenever this one is considered.
    """

    id: str
    action: Action
    check: Check
    source: str
    guard: Guard | None = None
    regimens: frozenset[str] | None = None
    relative: bool = False
    unconfirmed: bool = False
    resume: ResumeRule | None = None
    quiet_if_unknown: bool = False
    site_setting: str = ""
    routes: frozenset[str] = BOLUS_ONLY
    routes_source: str = ""
    routes_unconfirmed: bool = False

    def sourced_for(self, route: str) -> tuple[str, bool]:
        """The rule's source and whether it is unconfirmed, for a dose given by `route`: a rule
        written for the IV bolus and applied to another route says why, and may be flagged."""
        source = f"{self.source}; {self.site_setting}" if self.site_setting else self.source
        if route == BOLUS or not self.routes_source:
            return source, self.unconfirmed
        return f"{source}. {self.routes_source}", self.unconfirmed or self.routes_unconfirmed

    def applies(self, findings: Findings, regimen: Regimen) -> bool:
        """Whether the rule is in force for this regimen, its route and the assessment."""
        return _in_force(self, findings, regimen)


@dataclass(frozen=True, slots=True)
class AdviceRule:
    """A check that, when it fires, adds advice to the decision and leaves the action alone."""

    id: str
    check: Check
    advice: str
    source: str
    guard: Guard | None = None
    regimens: frozenset[str] | None = None
    site_setting: str = ""
    routes: frozenset[str] = BOLUS_ONLY

    def applies(self, findings: Findings, regimen: Regimen) -> bool:
        """Whether the advice is in force for this regimen, its route and the assessment."""
        return _in_force(self, findings, regimen)


def _in_force(rule: BeforeDoseRule | AdviceRule, findings: Findings, regimen: Regimen) -> bool:
    if regimen.route.value not in rule.routes:
        return False
    if rule.regimens is not None and regimen.id not in rule.regimens:
        return False
    return rule.guard is None or rule.guard.allows(findings)


@dataclass(frozen=True, slots=True)
class RouteChecks:
    """What a route's before-dose assessment must carry, when it is made, and what its sources
    leave out (`limits`: the published rules not found, said so that nobody assumes them)."""

    required: tuple[str, ...]
    required_source: str
    assessed: str = ""
    limits: str = ""


@dataclass(frozen=True, slots=True)
class BedsideTable:
    """Every before-dose rule in force, with the version of the rules and site policy.

    `required` is the high-dose IV bolus assessment's; `routes` holds the other routes' own
    (a route not in it has no before-dose checks in il2).
    """

    rules: tuple[BeforeDoseRule, ...]
    resumes: Mapping[str, ResumeRule]
    required: tuple[str, ...]
    required_source: str
    version: str
    advice: tuple[AdviceRule, ...] = ()
    obtain: Mapping[str, str] | None = None
    groups: Mapping[str, str] | None = None
    routes: Mapping[str, RouteChecks] | None = None

    def for_route(self, route: str) -> RouteChecks:
        """The assessment a route needs; the IV bolus's when the route is `iv_bolus`."""
        if route == BOLUS:
            return RouteChecks(self.required, self.required_source)
        checks = (self.routes or {}).get(route)
        if checks is None:
            raise ValueError(f"no before-dose checks for the route {route!r}")
        return checks

    def checked_routes(self) -> tuple[str, ...]:
        """The routes whose doses have before-dose checks."""
        return (BOLUS, *sorted(self.routes or {}))

    def _for(self, route: str) -> list[BeforeDoseRule | AdviceRule]:
        every: list[BeforeDoseRule | AdviceRule] = [*self.rules, *self.advice]
        return [rule for rule in every if route in rule.routes]

    def read_for(self, route: str) -> frozenset[str]:
        """Every field an assessment for `route` needs or some rule for it reads."""
        read = {f for rule in self._for(route) for f in fields_of(rule.check)}
        read |= {rule.guard.field for rule in self._for(route) if rule.guard is not None}
        return frozenset({*self.for_route(route).required, *read})

    def terms_for(self, route: str, field: str) -> frozenset[str]:
        """The values of a list field (`findings`) that some rule or advice for `route` names,
        with the ones that end its holds."""
        checks: list[Check] = [rule.check for rule in self._for(route)]
        checks += [r.resume.check for r in self.rules if route in r.routes and r.resume]
        named = (c.values for c in checks if isinstance(c, OneOfCheck) and c.field == field)
        return frozenset(value for values in named for value in values)


@dataclass(frozen=True, slots=True)
class BedsidePolicy:
    """Site choices for the bedside (0 switches a counting rule off)."""

    stop_cycle_after_held_doses: int = 0
    stop_cycle_on_relative_criteria: int = 0
    source: str = ""
    lab_max_age_h: Decimal | None = None
    lab_source: str = ""


@dataclass(frozen=True, slots=True)
class Reason:
    """Why the decision is what it is: one rule that fired."""

    rule: str
    finding: str
    threshold: str
    action: Action
    source: str
    unconfirmed: bool = False
    resume: str = ""
    resume_key: str = ""
    site_setting: str = ""


@dataclass(frozen=True, slots=True)
class Advice:
    """A warning that goes with the decision: what was found, and what to do about it."""

    rule: str
    finding: str
    threshold: str
    advice: str
    source: str


@dataclass(frozen=True, slots=True)
class Obtain:
    """A missing input: what to obtain, and which rules wait for it."""

    field: str
    what: str
    rules: tuple[str, ...]


class RuleOutcome(StrEnum):
    """What one rule made of the assessment."""

    PASSED = "passed"
    FIRED = "fired"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Checked:
    """One rule evaluated for this dose: what it read, its threshold, and what came of it.

    Every rule in force is listed, the ones that passed as well as the ones that fired, so a
    "give" shows what was checked and not only that nothing stopped the dose.
    """

    rule: str
    action: Action
    outcome: RuleOutcome
    seen: str
    threshold: str
    source: str
    inputs: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class DoseDecision:
    """The decision before one dose, with every reason, what was missing and the advice."""

    action: Action
    reasons: tuple[Reason, ...]
    missing: tuple[str, ...]
    not_evaluated: tuple[str, ...]
    rules_version: str
    to_obtain: tuple[Obtain, ...] = ()
    advice: tuple[Advice, ...] = ()
    checked: tuple[Checked, ...] = ()
    route: str = BOLUS
    route_checks: RouteChecks | None = None


LABS = "labs."
LAB_AGE = "labs.hours_since_drawn"


def _int(findings: Findings, field: str) -> int | None:
    value = findings.get(field)
    return int(value) if isinstance(value, Decimal) else None


def _text(value: int | None) -> str:
    return "" if value is None else str(value)


def _outcome(*, fired: bool) -> RuleOutcome:
    return RuleOutcome.FIRED if fired else RuleOutcome.PASSED


def nothing_given_yet(findings: Findings) -> bool:
    """Cycle 1 with no dose given: the course has no earlier dose to keep the interval from."""
    return _int(findings, "cycle") == 1 and _int(findings, "doses_given_this_cycle") == 0


@dataclass(slots=True)
class _Tally:
    """What the decision collects as the rules run."""

    reasons: list[Reason]
    unknown: dict[str, list[str]]
    advice: list[Advice]
    relative: int = 0
    checked: list[Checked] = dataclasses.field(default_factory=list)

    def check(
        self,
        rule: str,
        action: Action,
        outcome: RuleOutcome,
        words: tuple[str, str, str],
        read: Mapping[str, str],
    ) -> None:
        """Note one rule evaluated: `words` are what it saw, its threshold and its source."""
        self.checked.append(Checked(rule, action, outcome, *words, inputs=dict(read)))

    def waits(self, rule: str, fields: tuple[str, ...]) -> None:
        for field in fields:
            self.unknown.setdefault(field, []).append(rule)


def _regimen_rules(findings: Findings, regimen: Regimen, tally: _Tally) -> None:
    source = f"Regimen {regimen.id}: {regimen.source}"
    cycle = _int(findings, "cycle")
    most = f"at most {regimen.cycles_per_course} cycles a course"
    fired = cycle is not None and cycle > regimen.cycles_per_course
    if fired:
        tally.reasons.append(Reason(
            "regimen-cycles-per-course", f"cycle {cycle}", most, Action.STOP_CYCLE, source,
        ))  # fmt: skip
    if cycle is not None:
        tally.check(
            "regimen-cycles-per-course", Action.STOP_CYCLE, _outcome(fired=fired),
            (f"cycle {cycle}", most, source), {"cycle": str(cycle)},
        )  # fmt: skip
    number = _int(findings, "dose_number")
    given = _int(findings, "doses_given_this_cycle")
    limit = regimen.max_doses_per_cycle
    shown = [
        f"dose {number}" if number is not None else "",
        f"{given} given" if given is not None else "",
    ]
    words = ", ".join(part for part in shown if part)
    fired = (number is not None and number > limit) or (given is not None and given >= limit)
    if fired:
        tally.reasons.append(Reason(
            "regimen-max-doses-per-cycle", words,
            f"at most {limit} doses a cycle", Action.STOP_CYCLE, source,
        ))  # fmt: skip
    if words:
        read = {"dose_number": _text(number), "doses_given_this_cycle": _text(given)}
        tally.check(
            "regimen-max-doses-per-cycle", Action.STOP_CYCLE, _outcome(fired=fired),
            (words, f"at most {limit} doses a cycle", source), read,
        )  # fmt: skip
    _interval(findings, regimen, source, tally)


def _interval(findings: Findings, regimen: Regimen, source: str, tally: _Tally) -> None:
    hours = findings.get("hours_since_last_dose")
    if not isinstance(hours, Decimal):
        if not nothing_given_yet(findings):
            tally.waits("regimen-interval", ("hours_since_last_dose",))
        return
    since = f"{plain(hours)} h since the last dose"
    least = f"not before {regimen.interval_h} h after the last dose"
    if hours < regimen.interval_h:
        tally.reasons.append(Reason(
            "regimen-interval", since, least, Action.HOLD, source,
        ))  # fmt: skip
    tally.check(
        "regimen-interval", Action.HOLD, _outcome(fired=hours < regimen.interval_h),
        (since, least, source), {"hours_since_last_dose": plain(hours)},
    )  # fmt: skip
    longest = regimen.interval_max_h
    if longest is not None and hours > longest and not nothing_given_yet(findings):
        tally.advice.append(Advice(
            "regimen-interval-maximum", f"{plain(hours)} h since the last dose",
            f"every {regimen.interval_h}-{longest} h",
            f"The interval is longer than the regimen's {longest} h: the physician decides "
            "whether dosing goes on", source,
        ))  # fmt: skip


def _policy_rules(findings: Findings, policy: BedsidePolicy, tally: _Tally) -> None:
    limit = policy.stop_cycle_after_held_doses
    if limit:
        held = _int(findings, "doses_held_this_cycle")
        if held is None:
            tally.waits("policy-held-doses", ("doses_held_this_cycle",))
        else:
            words = (
                f"{held} doses held this cycle", f"stop the cycle after {limit} held doses",
                policy.source,
            )  # fmt: skip
            if held >= limit:
                tally.reasons.append(
                    Reason("policy-held-doses", *words[:2], Action.STOP_CYCLE, words[2])
                )
            tally.check(
                "policy-held-doses", Action.STOP_CYCLE, _outcome(fired=held >= limit), words,
                {"doses_held_this_cycle": str(held)},
            )  # fmt: skip
    count = policy.stop_cycle_on_relative_criteria
    if count:
        words = (
            f"{tally.relative} relative criteria met at this assessment",
            f"stop the cycle at {count} or more", policy.source,
        )  # fmt: skip
        if tally.relative >= count:
            tally.reasons.append(Reason(
                "policy-relative-criteria", *words[:2], Action.STOP_CYCLE, words[2],
            ))  # fmt: skip
        tally.check(
            "policy-relative-criteria", Action.STOP_CYCLE, _outcome(fired=tally.relative >= count),
            words, {},
        )  # fmt: skip


def _open_holds(findings: Findings, table: BedsideTable, tally: _Tally) -> None:
    held_for = findings.get("held_for")
    if not isinstance(held_for, frozenset):
        return
    for key in sorted(held_for):
        resume = table.resumes[key]
        outcome = resume.check.evaluate(findings)
        words = (f"hold for {key} still open", f"resume only when {resume.words()}", resume.source)
        tally.check(
            f"open-hold-{key}", Action.HOLD,
            _outcome(fired=not isinstance(outcome, Fired)),
            (f"{seen(resume.check, findings)}; {words[0]}", *words[1:]),
            {"held_for": key, **inputs(resume.check, findings)},
        )  # fmt: skip
        if isinstance(outcome, Fired):
            continue
        if isinstance(outcome, Unknown):
            tally.waits(f"open-hold-{key}", outcome.fields)
        tally.reasons.append(Reason(
            f"open-hold-{key}", f"hold for {key} still open",
            f"resume only when {resume.words()}", Action.HOLD, resume.source,
            resume.unconfirmed, resume.words(), key,
        ))  # fmt: skip


def _stale(findings: Findings, policy: BedsidePolicy) -> Advice | None:
    """A note when the labs are older than the site allows, else None.

    Old labs can still stop a dose (a platelet count of 20,000 yesterday is not a reason to
    give today) but never clear one: a rule they leave quiet waits for the day's labs.
    """
    age = findings.get(LAB_AGE)
    limit = policy.lab_max_age_h
    if limit is None or not isinstance(age, Decimal) or age <= limit:
        return None
    return Advice(
        "labs-too-old", f"labs drawn {plain(age)} h ago",
        f"at most {plain(limit)} h old",
        "Draw the day's labs: older results can stop a dose but never clear one",
        policy.lab_source,
    )  # fmt: skip


def _undated_labs(findings: Findings, policy: BedsidePolicy) -> Advice | None:
    if policy.lab_max_age_h is None or LAB_AGE in findings:
        return None
    if not any(key.startswith(LABS) for key in findings):
        return None
    return Advice(
        "labs-undated",
        "labs given without the time they were drawn",
        f"at most {plain(policy.lab_max_age_h)} h old",
        "The labs are read as the day's labs; give labs.hours_since_drawn to have their age "
        "checked",
        policy.lab_source,
    )


def _lab_fields(check: Check) -> tuple[str, ...]:
    return tuple(f for f in fields_of(check) if f.startswith(LABS))


def _run_rules(
    findings: Findings, regimen: Regimen, table: BedsideTable, tally: _Tally, *, stale: bool
) -> None:
    for rule in table.rules:
        if not rule.applies(findings, regimen):
            continue
        outcome = rule.check.evaluate(findings)
        if outcome is None and stale and _lab_fields(rule.check):
            outcome = Unknown(_lab_fields(rule.check))
        source, unconfirmed = rule.sourced_for(regimen.route.value)
        tally.check(
            rule.id, rule.action,
            RuleOutcome.FIRED if isinstance(outcome, Fired) else
            RuleOutcome.UNKNOWN if isinstance(outcome, Unknown) else RuleOutcome.PASSED,
            (seen(rule.check, findings), threshold(rule.check), source),
            inputs(rule.check, findings),
        )  # fmt: skip
        if isinstance(outcome, Fired):
            resume = rule.resume
            tally.reasons.append(Reason(
                rule.id, outcome.finding, outcome.threshold, rule.action, source,
                unconfirmed, resume.words() if resume else "",
                resume.key if resume else "", rule.site_setting,
            ))  # fmt: skip
            tally.relative += rule.relative
        elif isinstance(outcome, Unknown) and not rule.quiet_if_unknown:
            tally.waits(rule.id, outcome.fields)


def _run_advice(findings: Findings, regimen: Regimen, table: BedsideTable, tally: _Tally) -> None:
    for rule in table.advice:
        if not rule.applies(findings, regimen):
            continue
        outcome = rule.check.evaluate(findings)
        if isinstance(outcome, Fired):
            source = f"{rule.source}; {rule.site_setting}" if rule.site_setting else rule.source
            tally.advice.append(
                Advice(rule.id, outcome.finding, outcome.threshold, rule.advice, source)
            )


def _obtain(table: BedsideTable, missing: list[str], tally: _Tally) -> tuple[Obtain, ...]:
    words = table.obtain or {}
    return tuple(
        Obtain(field, words.get(field, field), tuple(sorted(set(tally.unknown.get(field, [])))))
        for field in missing
    )


def _missing(findings: Findings, table: BedsideTable, regimen: Regimen, tally: _Tally) -> list[str]:
    """Required items absent and inputs a rule waits for, pressor fields named as one group."""
    required = table.for_route(regimen.route.value).required
    fields = {f for f in required if f not in findings} | set(tally.unknown)
    named = set()
    for field in fields:
        group = next((g for p, g in (table.groups or {}).items() if field.startswith(p)), None)
        named.add(group or field)
        if group and field in tally.unknown:
            tally.unknown.setdefault(group, []).extend(tally.unknown[field])
    return sorted(named)


def decide_before_dose(
    findings: Findings, *, regimen: Regimen, table: BedsideTable, policy: BedsidePolicy
) -> DoseDecision:
    """Decide what to do with the scheduled dose of `regimen` given the assessment."""
    tally = _Tally(reasons=[], unknown={}, advice=[])
    stale = _stale(findings, policy)
    _run_rules(findings, regimen, table, tally, stale=stale is not None)
    _regimen_rules(findings, regimen, tally)
    _policy_rules(findings, policy, tally)
    _open_holds(findings, table, tally)
    _run_advice(findings, regimen, table, tally)
    undated = _undated_labs(findings, policy)
    tally.advice.extend(note for note in (stale, undated) if note is not None)
    missing = _missing(findings, table, regimen, tally)
    action = max((r.action for r in tally.reasons), key=lambda a: a.strength, default=Action.GIVE)
    if missing and action.strength < Action.INCOMPLETE.strength:
        action = Action.INCOMPLETE
    waiting = sorted({rule for rules in tally.unknown.values() for rule in rules})
    return DoseDecision(
        action=action,
        reasons=tuple(sorted(tally.reasons, key=lambda r: -r.action.strength)),
        missing=tuple(missing),
        not_evaluated=tuple(waiting),
        rules_version=table.version,
        to_obtain=_obtain(table, missing, tally),
        advice=tuple(tally.advice),
        checked=tuple(tally.checked),
        route=regimen.route.value,
        route_checks=None if regimen.route.value == BOLUS else table.for_route(regimen.route.value),
    )


def holds_still_open(
    earlier: Sequence[tuple[int, int, str, Mapping[str, object]]], cycle: int, dose_number: int
) -> tuple[str, ...]:
    """The holds still open before dose `cycle`.`dose_number`, read from the ledger.

    `earlier` holds the course's recorded doses as (cycle, number, outcome, decision document).
    A hold stays open from the dose it held until a dose is given: the last dose recorded before
    this slot, if it was held, names them (each reason's `resume_key`; an open hold that was
    still unresolved at that dose is among them again). A dose given, or none yet, leaves none.
    """
    before = [e for e in earlier if (e[0], e[1]) < (cycle, dose_number)]
    if not before:
        return ()
    _, _, outcome, decision = max(before, key=lambda e: (e[0], e[1]))
    reasons = decision.get("reasons")
    if outcome != "held" or not isinstance(reasons, list):
        return ()
    keys = {r.get("resume_key") for r in reasons if isinstance(r, Mapping)}
    return tuple(sorted(k for k in keys if isinstance(k, str) and k))
