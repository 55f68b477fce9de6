"""Read an `il2 recist` document (lesion measurements, baseline first) and assess the response."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from il2.domain import limits
from il2.domain.errors import InvalidInputError
from il2.domain.irecist import IrecistResult, irecist
from il2.domain.limits import checked_text
from il2.domain.quantities import exact
from il2.domain.recist import (
    Assessment,
    Lesion,
    NewLesion,
    NonTarget,
    PrDrift,
    RecistOptions,
    RecistResult,
    best_overall_response,
    timepoints,
)
from il2.rules.loader import RuleSet
from il2.services.parsing import json_object

_DOCUMENT_KEYS = (
    "confirmation_required", "min_sd_weeks", "confirmation_weeks", "pr_drift", "irecist",
    "assessments",
)  # fmt: skip
_ASSESSMENT_KEYS = (
    "date", "target_lesions", "non_target", "new_lesions", "new_lesion_detail",
    "non_target_further_growth",
)  # fmt: skip
_LESION_KEYS = ("id", "organ", "nodal", "diameter_mm")
_NEW_LESION_KEYS = ("id", "organ", "diameter_mm")


@dataclass(frozen=True, slots=True)
class ResponseAssessment:
    """RECIST 1.1, and iRECIST when asked for, with the options used."""

    recist: RecistResult
    irecist: IrecistResult | None
    options: RecistOptions


def _flag(raw: Mapping[str, object], key: str, where: str, *, default: bool) -> bool:
    value = raw.get(key, default)
    if not isinstance(value, bool):
        raise InvalidInputError(field=f"{where}{key}", value=value, allowed="true or false")
    return value


def _text(raw: Mapping[str, object], key: str, where: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError(field=f"{where}{key}", value=value, allowed="a non-empty text")
    limit = limits.MAX_IDENTIFIER if key == "id" else limits.MAX_NAME
    return checked_text(value, f"{where}{key}", limit=limit)


def _whole(raw: Mapping[str, object], key: str, default: int) -> int:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= 104:
        raise InvalidInputError(
            field=key, value=value, allowed="a whole number of weeks from 1 to 104"
        )
    return value


def _diameter(raw: Mapping[str, object], where: str, *, nullable: bool = True) -> Decimal | None:
    value = raw.get("diameter_mm")
    if value is None and nullable and "diameter_mm" in raw:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        allowed = "a diameter in mm from 0 to 1000, or null if not measured"
        raise InvalidInputError(field=f"{where}diameter_mm", value=value, allowed=allowed)
    number = exact(value, field=f"{where}diameter_mm")
    if not 0 <= number <= 1000:
        raise InvalidInputError(
            field=f"{where}diameter_mm", value=value, allowed="a diameter in mm from 0 to 1000"
        )
    return number


def _lesion(raw: object, where: str) -> Lesion:
    body = json_object(raw, where, _LESION_KEYS)
    return Lesion(
        id=_text(body, "id", f"{where}."),
        organ=_text(body, "organ", f"{where}."),
        nodal=_flag(body, "nodal", f"{where}.", default=False),
        diameter_mm=_diameter(body, f"{where}."),
    )


def _new_lesion(raw: object, where: str) -> NewLesion:
    body = json_object(raw, where, _NEW_LESION_KEYS)
    return NewLesion(
        id=_text(body, "id", f"{where}."),
        organ=_text(body, "organ", f"{where}."),
        diameter_mm=_diameter(body, f"{where}."),
    )


def _list(raw: Mapping[str, object], key: str, where: str) -> list[object]:
    value = raw.get(key, [])
    if not isinstance(value, list):
        raise InvalidInputError(field=f"{where}.{key}", value=value, allowed="a list")
    return value


def _assessment(raw: object, index: int) -> Assessment:
    where = f"assessments[{index}]"
    body = json_object(raw, where, _ASSESSMENT_KEYS)
    try:
        when = date.fromisoformat(str(body.get("date")))
    except ValueError:
        raise InvalidInputError(
            field=f"{where}.date", value=body.get("date"), allowed="an ISO 8601 date"
        ) from None
    non_target = body.get("non_target", "absent")
    if non_target not in {n.value for n in NonTarget}:
        allowed = "one of " + ", ".join(repr(n.value) for n in NonTarget)
        raise InvalidInputError(field=f"{where}.non_target", value=non_target, allowed=allowed)
    detail = tuple(
        _new_lesion(item, f"{where}.new_lesion_detail[{i}]")
        for i, item in enumerate(_list(body, "new_lesion_detail", where))
    )
    return Assessment(
        date=when,
        targets=tuple(
            _lesion(item, f"{where}.target_lesions[{i}]")
            for i, item in enumerate(_list(body, "target_lesions", where))
        ),
        non_target=NonTarget(str(non_target)),
        new_lesions=_flag(body, "new_lesions", f"{where}.", default=False) or bool(detail),
        new_lesion_detail=detail,
        non_target_further_growth=_flag(
            body, "non_target_further_growth", f"{where}.", default=False
        ),
    )


def _non_target_stated(raw: list[object], assessments: list[Assessment]) -> None:
    """A later scan must say what became of non-target lesions the baseline had: left out, it
    would read as `absent` and could turn a partial response into a complete one."""
    if not assessments or assessments[0].non_target is not NonTarget.PRESENT:
        return
    for index, item in enumerate(raw[1:], start=1):
        if isinstance(item, Mapping) and "non_target" not in item:
            raise InvalidInputError(
                field=f"assessments[{index}].non_target",
                value=None,
                allowed="the non-target status at this scan (the baseline had non-target "
                "lesions): " + ", ".join(repr(n.value) for n in NonTarget),
            )


def _options(rules: RuleSet, body: Mapping[str, object]) -> RecistOptions:
    policies = {p.name: p for p in rules.policies}
    drift = body.get("pr_drift", policies["recist_pr_drift"].value)
    if drift not in {d.value for d in PrDrift}:
        raise InvalidInputError(
            field="pr_drift", value=drift, allowed="'continuing_pr' or 'judge_afresh'"
        )
    return RecistOptions(
        confirmation_required=_flag(body, "confirmation_required", "", default=True),
        confirmation_weeks=_whole(
            body, "confirmation_weeks", int(policies["recist_confirmation_weeks"].value)
        ),
        min_sd_weeks=_whole(body, "min_sd_weeks", int(policies["recist_min_sd_weeks"].value)),
        pr_drift=PrDrift(str(drift)),
    )


def assess_response(rules: RuleSet, document: object) -> ResponseAssessment:
    """RECIST 1.1 (and iRECIST if `irecist` is true) for the contract's document."""
    body = json_object(document, "document", _DOCUMENT_KEYS)
    options = _options(rules, body)
    raw = body.get("assessments")
    if not isinstance(raw, list) or not raw:
        raise InvalidInputError(
            field="assessments", value=raw, allowed="a list of assessments, baseline first"
        )
    assessments = [_assessment(item, i) for i, item in enumerate(raw)]
    _non_target_stated(raw, assessments)
    points = timepoints(assessments, rules.recist, options)
    result = best_overall_response(points, options, rules_version=rules.recist.version)
    immune = None
    if _flag(body, "irecist", "", default=False):
        immune = irecist(assessments, points, rules.irecist, options)
    return ResponseAssessment(result, immune, options)
