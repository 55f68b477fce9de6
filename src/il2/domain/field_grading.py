"""Which CTCAE term grades a field of an assessment, and the finding it makes of one.

The mapping is rule data (`[grading]` of bedside_input.toml); this module only reads an
assessment through it, so that every edge (the toxicity flowsheet, the command line, an export)
codes a field as the same CTCAE term, measured the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class ReferenceLimit(StrEnum):
    """The lab's reference limit a grade needs, which an assessment does not carry."""

    ULN = "uln"
    LLN = "lln"


@dataclass(frozen=True, slots=True)
class FieldGrading:
    """One field graded by one CTCAE term: the unit it is written in and how CTCAE measures it.

    `measure` is the term's CTCAE basis (abs, bl, uln_and_bl, ...); `limit` is the reference
    limit the grade needs from the lab; `baseline` is the path of the field holding the
    baseline the grade is measured against.
    """

    field: str
    term: str
    unit: str
    measure: str
    source: str
    limit: ReferenceLimit | None = None
    baseline: str | None = None


def value_at(document: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path of a nested document, or None."""
    node: Any = document
    for key in path.split("."):
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node


def finding_for(
    grading: FieldGrading, assessment: Mapping[str, Any], limits: Mapping[str, Any]
) -> dict[str, Any]:
    """The CTCAE finding (as the `il2 grade` document writes one) of a field of an assessment.

    `limits` holds the lab's reference limit by field path; a missing limit or baseline is
    None, which the grading then refuses naming what it needs rather than guessing a range.
    """
    finding: dict[str, Any] = {
        "term": grading.term,
        "value": value_at(assessment, grading.field),
        "unit": grading.unit,
    }
    if grading.limit is not None:
        finding[grading.limit.value] = limits.get(grading.field)
    if grading.baseline is not None:
        finding["baseline"] = value_at(assessment, grading.baseline)
    return finding
