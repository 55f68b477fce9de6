"""Grade toxicities: read the `il2 grade` document and grade each finding.

The document pins the CTCAE version it was written for; a document for another version is
refused rather than graded by the wrong table. Every unusable field is refused naming its path
(`findings[2].value`), the value given and what is allowed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from il2.domain.ctcae import CtcaeTable, Finding, GradeResult, grade_findings
from il2.domain.errors import InvalidInputError
from il2.domain.field_grading import FieldGrading, finding_for
from il2.domain.quantities import exact
from il2.services.parsing import json_object

_DOCUMENT_KEYS = ("ctcae_version", "findings")
_NUMBERS = ("value", "uln", "lln", "baseline", "duration_h")
_FINDING_KEYS = ("term", *_NUMBERS, "unit", "symptomatic", "clinical_grade")


@dataclass(frozen=True, slots=True)
class GradingResult:
    """Every finding's grade, in the order given, and the CTCAE version that graded them."""

    ctcae_version: str
    grades: tuple[GradeResult, ...]


def _parse_number(raw: object, field: str) -> Decimal | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise InvalidInputError(field=field, value=raw, allowed="a number")
    return exact(raw, field=field)


def _finding(raw: object, index: int) -> Finding:
    where = f"findings[{index}]"
    item = json_object(raw, where, _FINDING_KEYS)
    term = item.get("term")
    if not isinstance(term, str):
        raise InvalidInputError(field=f"{where}.term", value=term, allowed="a CTCAE term id")
    unit = item.get("unit")
    if unit is not None and not isinstance(unit, str):
        raise InvalidInputError(field=f"{where}.unit", value=unit, allowed="a unit id")
    symptomatic = item.get("symptomatic")
    if symptomatic is not None and not isinstance(symptomatic, bool):
        raise InvalidInputError(
            field=f"{where}.symptomatic", value=symptomatic, allowed="true or false"
        )
    grade = item.get("clinical_grade")
    if grade is not None and (isinstance(grade, bool) or not isinstance(grade, int)):
        raise InvalidInputError(
            field=f"{where}.clinical_grade", value=grade, allowed="a whole-number grade"
        )
    numbers = {name: _parse_number(item.get(name), f"{where}.{name}") for name in _NUMBERS}
    return Finding(term=term, unit=unit, symptomatic=symptomatic, clinical_grade=grade, **numbers)


def grade_document(table: CtcaeTable, document: object) -> GradingResult:
    """Grade every finding of a contract document (`{"ctcae_version", "findings"}`)."""
    body = json_object(document, "document", _DOCUMENT_KEYS)
    version = body.get("ctcae_version")
    if version != table.version:
        raise InvalidInputError(
            field="ctcae_version",
            value=version,
            allowed=f"{table.version!r}, the CTCAE version of the table in force",
        )
    findings = body.get("findings")
    if not isinstance(findings, list):
        raise InvalidInputError(field="findings", value=findings, allowed="a list of findings")
    parsed = [_finding(raw, index) for index, raw in enumerate(findings)]
    return GradingResult(ctcae_version=table.version, grades=grade_findings(parsed, table))


def grade_field(
    table: CtcaeTable,
    grading: FieldGrading,
    assessment: Mapping[str, Any],
    limits: Mapping[str, Any],
) -> GradeResult:
    """The CTCAE grade of one field of an assessment, by the field's term in the rule data.

    `limits` holds the lab's reference limits by field path. The finding is graded as an
    `il2 grade` document would grade it, so a missing limit or baseline is refused
    (InvalidInputError naming it), never graded against a guessed range.
    """
    finding = {k: v for k, v in finding_for(grading, assessment, limits).items() if v is not None}
    document = {"ctcae_version": table.version, "findings": [finding]}
    return grade_document(table, document).grades[0]


def grading_document(result: GradingResult) -> dict[str, Any]:
    """`il2 grade --json`."""
    return {
        "ctcae_version": result.ctcae_version,
        "grades": [
            {"term": g.term, "grade": g.grade, "criterion": g.criterion, "source": g.source}
            for g in result.grades
        ],
    }
