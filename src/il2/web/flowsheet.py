"""The toxicity flowsheet: before-dose assessments across an admission, graded by CTCAE.

Presentation only. Which CTCAE term grades a field, and how, is rule data (`[grading]` of
bedside_input.toml) read by `services.grading.grade_field`; each column's heading and unit are
the field's own (its input-file entry). A lab graded against the upper or lower limit of normal
is graded only when the user gives the lab's limit: the engine refuses to grade too low without
it, and the flowsheet says so rather than guessing a reference range.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from il2.domain.errors import InvalidInputError
from il2.domain.field_grading import FieldGrading, value_at
from il2.rules.fields import input_fields
from il2.rules.loader import RuleSet
from il2.science.plots import Series
from il2.services.grading import grade_field


@dataclass(frozen=True, slots=True)
class Limits:
    """The lab's reference limits, in the units the assessment uses."""

    creatinine_uln_mg_dl: float | None = None
    bilirubin_uln_mg_dl: float | None = None
    platelets_lln_per_ul: float | None = None

    def by_field(self) -> dict[str, float | None]:
        """Each limit under the path of the field it is the reference limit of."""
        return {
            "labs.creatinine_mg_dl": self.creatinine_uln_mg_dl,
            "labs.bilirubin_mg_dl": self.bilirubin_uln_mg_dl,
            "labs.platelets_per_ul": self.platelets_lln_per_ul,
        }


@dataclass(frozen=True, slots=True)
class Column:
    """A quantity of the before-dose assessment shown as a flowsheet column."""

    path: str
    title: str
    unit: str
    plotted: bool = True


def _column(path: str, *, plotted: bool = True) -> Column:
    """The column of a field, headed and united as its input-file entry says."""
    spec = input_fields()[path]
    return Column(path, spec.short_label, spec.shown_unit, plotted)


COLUMNS = (
    _column("vitals.sbp_mmhg"),
    _column("vitals.heart_rate_bpm"),
    _column("vitals.spo2_pct"),
    _column("vitals.temperature_c"),
    _column("vitals.rhythm", plotted=False),
    _column("weight_kg"),
    _column("urine_output_ml_last_8h"),
    _column("labs.creatinine_mg_dl"),
    _column("labs.bilirubin_mg_dl"),
    _column("labs.platelets_per_ul"),
    _column("labs.bicarbonate_mmol_l"),
    _column("mental_status", plotted=False),
)
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


def grade(
    rules: RuleSet, grading: FieldGrading, assessment: Mapping[str, Any], limits: Limits
) -> Cell:
    """A field's value with its CTCAE grade, or the reason it cannot be graded."""
    value = value_at(assessment, grading.field)
    try:
        result = grade_field(rules.ctcae, grading, assessment, limits.by_field())
    except InvalidInputError as refused:
        wanted = refused.field.rsplit(".", 1)[-1]
        return Cell(value, None, _WANTS.get(wanted, refused.allowed))
    return Cell(value, result.grade, result.criterion)


def rows(rules: RuleSet, doses: Sequence[Mapping[str, Any]], limits: Limits) -> list[Row]:
    """The flowsheet's rows, in dose order."""
    result = []
    for dose in doses:
        assessment = dose["assessment"]
        cells = []
        for column in COLUMNS:
            value = value_at(assessment, column.path)
            grading = rules.bedside_grading.get(column.path)
            if value is None or grading is None:
                cells.append(Cell(value))
            else:
                cells.append(grade(rules, grading, assessment, limits))
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
