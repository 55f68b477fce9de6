"""What comes next after a course: read the `il2 next` document, decide, and build its answer.

Every unusable field is refused naming its path (`courses[1].discharged_on`,
`history.coma_hours_max`), the value given and what is allowed. Dates are ISO 8601 calendar
dates (`2027-02-20`); a course's `first_dose_on` is optional, needed only for a regimen whose
courses repeat every `course_every_weeks` from the first dose day.
`response.change_from_pre_course_pct` is the percent change of the RECIST target sum from the
scan taken just before the latest course started (for course 1, the baseline) to the response
scan; `response.change_from_baseline_pct` is accepted and shown.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from il2.domain.errors import InvalidInputError, RuleTableError
from il2.domain.findings import Value
from il2.domain.pathway import (
    Course,
    CycleLimit,
    MinShrinkage,
    PathwayDecision,
    PathwayTable,
    ResponseSummary,
    decide_next,
)
from il2.domain.quantities import exact, plain
from il2.domain.regimen import Regimen
from il2.domain.retreatment import RecordedGrade, judge_retreatment
from il2.rules.loader import RuleSet
from il2.rules.site import PolicySetting
from il2.services.parsing import json_object
from il2.services.retreatment import read_history

_DOCUMENT_KEYS = ("regimen", "today", "courses", "history", "response")
_COURSE_KEYS = (
    "number", "cycles_given", "doses_given", "first_dose_on", "last_dose_on", "discharged_on",
)  # fmt: skip
_RESPONSE_KEYS = (
    "assessed_on", "overall", "change_from_baseline_pct", "change_from_pre_course_pct",
)  # fmt: skip
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _date(raw: object, field: str) -> date:
    allowed = "an ISO 8601 date such as 2027-02-20"
    if not isinstance(raw, str) or not _DATE.fullmatch(raw):
        raise InvalidInputError(field=field, value=raw, allowed=allowed)
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise InvalidInputError(field=field, value=raw, allowed=allowed) from None


def _whole(raw: object, field: str) -> int:
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    if isinstance(raw, float) and raw.is_integer():
        return int(raw)
    raise InvalidInputError(field=field, value=raw, allowed="a whole number")


def _regimen(rules: RuleSet, raw: object) -> Regimen:
    if not isinstance(raw, str) or raw not in rules.regimens:
        raise InvalidInputError(
            field="regimen", value=raw, allowed="a regimen id: " + ", ".join(rules.regimens)
        )
    return rules.regimens[raw]


def _course(raw: object, index: int) -> Course:
    where = f"courses[{index}]"
    item = json_object(raw, where, _COURSE_KEYS)
    return Course(
        number=_whole(item.get("number"), f"{where}.number"),
        cycles_given=_whole(item.get("cycles_given"), f"{where}.cycles_given"),
        doses_given=_whole(item.get("doses_given"), f"{where}.doses_given"),
        last_dose_on=_date(item.get("last_dose_on"), f"{where}.last_dose_on"),
        discharged_on=_date(item.get("discharged_on"), f"{where}.discharged_on"),
        first_dose_on=None
        if item.get("first_dose_on") is None
        else _date(item.get("first_dose_on"), f"{where}.first_dose_on"),
    )


def _courses(raw: object) -> list[Course]:
    if not isinstance(raw, list):
        raise InvalidInputError(field="courses", value=raw, allowed="a list of courses")
    return [_course(item, index) for index, item in enumerate(raw)]


def _response(raw: object, table: PathwayTable) -> ResponseSummary | None:
    if raw is None:
        return None
    item = json_object(raw, "response", _RESPONSE_KEYS)
    overall = item.get("overall")
    if not isinstance(overall, str):
        raise InvalidInputError(
            field="response.overall",
            value=overall,
            allowed="one of " + ", ".join(repr(c) for c in table.categories),
        )
    return ResponseSummary(
        assessed_on=_date(item.get("assessed_on"), "response.assessed_on"),
        overall=overall,
        change_from_baseline_pct=_percent(item, "change_from_baseline_pct"),
        change_from_pre_course_pct=_percent(item, "change_from_pre_course_pct"),
    )


def _percent(item: Mapping[str, object], key: str) -> Decimal | None:
    change = item.get(key)
    if change is None:
        return None
    field = f"response.{key}"
    if isinstance(change, bool) or not isinstance(change, int | float):
        raise InvalidInputError(field=field, value=change, allowed="a number of percent")
    return exact(change, field=field)


def _history(rules: RuleSet, raw: object) -> tuple[dict[str, Value], tuple[RecordedGrade, ...]]:
    if raw is None:
        return {}, ()
    try:
        return read_history(rules, raw)
    except InvalidInputError as error:
        field = "history" if error.field == "document" else f"history.{error.field}"
        raise InvalidInputError(field=field, value=error.value, allowed=error.allowed) from None


def cycle_limit(rules: RuleSet, policy: str) -> CycleLimit:
    """The site's most cycles over all courses, from the policy setting named `policy`."""
    setting = _setting(rules, policy)
    value = setting.value
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise RuleTableError(
            file=setting.origin,
            field=f"policy.{policy}",
            problem=f"must be a whole number of at least 0, not {value!r}",
        )
    return CycleLimit(value, f"site policy {policy} = {value} ({setting.source})" + _why(setting))


def min_shrinkage(rules: RuleSet, policy: str) -> MinShrinkage:
    """The site's smallest decrease that counts as shrinkage, from the setting named `policy`."""
    setting = _setting(rules, policy)
    value = setting.value
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 100:
        raise RuleTableError(
            file=setting.origin,
            field=f"policy.{policy}",
            problem=f"must be a number of percent from 0 to 100, not {value!r}",
        )
    pct = exact(value, field=f"policy.{policy}")
    return MinShrinkage(
        pct, f"site policy {policy} = {plain(pct)}% ({setting.source})" + _why(setting)
    )


def _setting(rules: RuleSet, policy: str) -> PolicySetting:
    setting = next((p for p in rules.policies if p.name == policy), None)
    if setting is None:
        raise RuleTableError(
            file="site_policy.toml", field=f"policy.{policy}", problem="is required but missing"
        )
    return setting


def _why(setting: PolicySetting) -> str:
    changed = f"; set by {setting.origin}" if setting.value != setting.default else ""
    return changed + (f" ({setting.reason})" if setting.reason else "")


def next_step(rules: RuleSet, document: object, table: PathwayTable) -> PathwayDecision:
    """What comes next for the patient in the `il2 next` document."""
    body = json_object(document, "document", _DOCUMENT_KEYS)
    regimen = _regimen(rules, body.get("regimen"))
    today = _date(body.get("today"), "today")
    courses = _courses(body.get("courses"))
    response = _response(body.get("response"), table)
    history, grades = _history(rules, body.get("history"))
    policy = table.condition_for(regimen.id).policy
    return decide_next(
        regimen=regimen,
        courses=courses,
        response=response,
        retreatment=judge_retreatment(history, rules.retreatment, grades),
        cycle_limit=cycle_limit(rules, table.cycle_limit_policy),
        min_shrinkage=min_shrinkage(rules, policy) if policy else None,
        table=table,
        today=today,
        regimen_sources=rules.regimen_sources.get(regimen.id, {}),
    )


def pathway_document(decision: PathwayDecision) -> dict[str, Any]:
    """`il2 next --json`."""
    return {
        "next": decision.next.value,
        "earliest_on": decision.earliest_on.isoformat() if decision.earliest_on else None,
        "blocked_until": decision.blocked_until.isoformat() if decision.blocked_until else None,
        "reasons": [
            {
                "rule": r.rule,
                "finding": r.finding,
                "threshold": r.threshold,
                "outcome": r.outcome.value,
                "source": r.source,
            }
            for r in decision.reasons
        ],
        "missing": list(decision.missing),
        "regimen": decision.regimen,
        "cycles_given_total": decision.cycles_given_total,
        "max_cycles_total": decision.max_cycles_total,
        "max_cycles_total_from": decision.max_cycles_total_from,
        "rules_version": decision.rules_version,
        "retreatment_rules_version": decision.retreatment_rules_version,
        "condition": decision.condition,
        "min_shrinkage_pct": None
        if decision.min_shrinkage_pct is None
        else float(decision.min_shrinkage_pct),
    }
