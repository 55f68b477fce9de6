"""The toxicity flowsheet: before-dose assessments across an admission, graded by CTCAE.

Grades come from the CTCAE engine. A lab graded against the upper or lower limit of normal is
graded only when the user gives the lab's limit: the engine refuses to grade too low without
it, and the flowsheet says so rather than guessing a reference range.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from il2.domain.errors import InvalidInputError
from il2.rules.loader import RuleSet
from il2.science.plots import Series
from il2.services.grading import grade_document, grading_document

Finding = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Limits:
    """The lab's reference limits, in the units the assessment uses."""

    creatinine_uln_mg_dl: float | None = None
    bilirubin_uln_mg_dl: float | None = None
    platelets_lln_per_ul: float | None = None


@dataclass(frozen=True, slots=True)
class Column:
    """A quantity of the before-dose assessment shown as a flowsheet column."""

    path: str
    title: str
    unit: str
    plotted: bool = True


COLUMNS = (
    Column("vitals.sbp_mmhg", "Systolic BP", "mmHg"),
    Column("vitals.heart_rate_bpm", "Heart rate", "bpm"),
    Column("vitals.spo2_pct", "SpO2", "%"),
    Column("vitals.temperature_c", "Temperature", "°C"),
    Column("vitals.rhythm", "Rhythm", "", plotted=False),
    Column("weight_kg", "Weight", "kg"),
    Column("urine_output_ml_last_8h", "Urine, 8 h", "mL"),
    Column("labs.creatinine_mg_dl", "Creatinine", "mg/dL"),
    Column("labs.bilirubin_mg_dl", "Bilirubin", "mg/dL"),
    Column("labs.platelets_per_ul", "Platelets", "/µL"),
    Column("labs.bicarbonate_mmol_l", "Bicarbonate", "mmol/L"),
    Column("mental_status", "Mental status", "", plotted=False),
)


def value_at(document: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path of a nested document, or None."""
    node: Any = document
    for key in path.split("."):
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node


def _fever(value: Any, _doc: Mapping[str, Any], _limits: Limits) -> Finding:
    return {"term": "fever", "value": value, "unit": "c"}


def _weight(value: Any, doc: Mapping[str, Any], _limits: Limits) -> Finding:
    return {
        "term": "weight_gain",
        "value": value,
        "unit": "kg",
        "baseline": value_at(doc, "baseline.weight_kg"),
    }


def _creatinine(value: Any, doc: Mapping[str, Any], limits: Limits) -> Finding:
    return {
        "term": "creatinine_increased",
        "value": value,
        "unit": "mg_dl",
        "uln": limits.creatinine_uln_mg_dl,
        "baseline": value_at(doc, "baseline.creatinine_mg_dl"),
    }


def _bilirubin(value: Any, _doc: Mapping[str, Any], limits: Limits) -> Finding:
    return {
        "term": "blood_bilirubin_increased",
        "value": value,
        "unit": "mg_dl",
        "uln": limits.bilirubin_uln_mg_dl,
    }


def _platelets(value: Any, _doc: Mapping[str, Any], limits: Limits) -> Finding:
    return {
        "term": "platelet_count_decreased",
        "value": value,
        "unit": "per_ul",
        "lln": limits.platelets_lln_per_ul,
    }


_GRADED: Mapping[str, Callable[[Any, Mapping[str, Any], Limits], Finding]] = {
    "vitals.temperature_c": _fever,
    "weight_kg": _weight,
    "labs.creatinine_mg_dl": _creatinine,
    "labs.bilirubin_mg_dl": _bilirubin,
    "labs.platelets_per_ul": _platelets,
}
_ADVISED = {
    "given": ("give",),
    "held": ("hold", "incomplete"),
    "stopped": ("stop_cycle", "discontinue"),
}
_WANTS = {
    "uln": "enter the lab's upper limit of normal to grade",
    "lln": "enter the lab's lower limit of normal to grade",
    "baseline": "no baseline to grade against",
    "duration_h": "how long it lasted decides the grade",
}


@dataclass(frozen=True, slots=True)
class Cell:
    """One value with its CTCAE grade, or why it has none."""

    value: Any
    grade: int | None = None
    note: str = ""


@dataclass(frozen=True, slots=True)
class Row:
    """One before-dose assessment and what was done."""

    label: str
    at: str
    outcome: str
    decision: str
    cells: tuple[Cell, ...]
    override_by: str | None = None

    @property
    def as_advised(self) -> bool:
        """Whether what was done is what the before-dose decision advised."""
        return self.decision in _ADVISED.get(self.outcome, ())


def grade(rules: RuleSet, finding: Finding) -> Cell:
    """A finding's CTCAE grade, or the reason it cannot be graded."""
    clean = {k: v for k, v in finding.items() if v is not None}
    document = {"ctcae_version": rules.ctcae.version, "findings": [clean]}
    try:
        result = grading_document(grade_document(rules.ctcae, document))["grades"][0]
    except InvalidInputError as refused:
        wanted = refused.field.rsplit(".", 1)[-1]
        return Cell(finding["value"], None, _WANTS.get(wanted, refused.allowed))
    return Cell(finding["value"], int(result["grade"]), str(result["criterion"]))


def rows(rules: RuleSet, doses: Sequence[Mapping[str, Any]], limits: Limits) -> list[Row]:
    """The flowsheet's rows, in dose order."""
    result = []
    for dose in doses:
        assessment = dose["assessment"]
        cells = []
        for column in COLUMNS:
            value = value_at(assessment, column.path)
            make = _GRADED.get(column.path)
            if value is None or make is None:
                cells.append(Cell(value))
            else:
                cells.append(grade(rules, make(value, assessment, limits)))
        result.append(
            Row(
                label=f"{dose['cycle']}.{dose['dose_number']}",
                at=dose["given_at"] or dose["recorded_at"],
                outcome=dose["outcome"],
                decision=dose["decision_action"],
                cells=tuple(cells),
                override_by=dose.get("override_by"),
            )
        )
    return result


def series(table: Sequence[Row]) -> tuple[Series, ...]:
    """The plotted columns as series over the rows."""
    result = []
    for index, column in enumerate(COLUMNS):
        if not column.plotted:
            continue
        values = tuple(
            float(v) if isinstance((v := row.cells[index].value), int | float) else None
            for row in table
        )
        result.append(Series(column.title, column.unit, values))
    return tuple(result)
