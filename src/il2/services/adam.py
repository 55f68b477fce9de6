"""ADaM exports (ADRS, ADTTE) of the program, as CSV or Parquet, for analysts' own tools.

Who may export: whoever may read outcomes (`outcomes.read`). Subjects go by study number for
every reader; a reader of de-identified records only (a researcher) gets no calendar date
(every date variable empty; days from the first dose kept). Each export is audited.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from typing import Literal

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from il2.domain.deidentify import study_number
from il2.domain.errors import InvalidInputError
from il2.domain.records import Actor
from il2.science.adam import BUILDERS, DATASETS, Dataset, Row, Variable, spec
from il2.services.auditing import audit
from il2.services.context import Services
from il2.services.outcomes import cycle_collection_paused, examined
from il2.services.permissions import reads_deidentified_only, require

Format = Literal["csv", "parquet"]
FORMATS: tuple[Format, ...] = ("csv", "parquet")
MEDIA_TYPES: dict[Format, str] = {
    "csv": "text/csv; charset=utf-8",
    "parquet": "application/vnd.apache.parquet",
}


@dataclass(frozen=True, slots=True)
class Export:
    """One ADaM dataset: its name, variables and rows, and whether its dates were withheld."""

    dataset: Dataset
    variables: tuple[Variable, ...]
    rows: list[Row]
    deidentified: bool
    as_of: date


def dataset_of(value: str) -> Dataset:
    """The dataset named `value` (adrs or adtte), or InvalidInputError."""
    for dataset in DATASETS:
        if value == dataset:
            return dataset
    raise InvalidInputError(field="dataset", value=value, allowed=" or ".join(DATASETS))


def format_of(value: str) -> Format:
    """The file format named `value` (csv or parquet), or InvalidInputError."""
    for chosen in FORMATS:
        if value == chosen:
            return chosen
    raise InvalidInputError(field="format", value=value, allowed=" or ".join(FORMATS))


def adam_export(services: Services, actor: Actor, *, dataset: str, as_of: date) -> Export:
    """The ADaM dataset of the whole program at `as_of`, read and exported under audit."""
    chosen = dataset_of(dataset)
    require(services, actor, "outcomes.read")
    deidentified = reads_deidentified_only(services, actor)
    with cycle_collection_paused():
        program, _ = examined(services, actor, as_of=as_of)
        key = services.study_key
        ids = {p.patient_id: study_number(p.patient_id, key=key) for p in program.patients}
        rows = BUILDERS[chosen](program, ids, dates=not deidentified)
    with services.uow() as uow:
        audit(
            uow,
            services,
            actor,
            action="export_adam",
            entity="program",
            entity_id="*",
            patient_id=None,
            after={"dataset": chosen.upper(), "rows": len(rows), "dates": not deidentified},
        )
        uow.commit()
    return Export(chosen, spec().variables[chosen], rows, deidentified, as_of)


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def to_csv(export: Export) -> bytes:
    """UTF-8 CSV: a header row of the variable names, then one line per record."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([v.name for v in export.variables])
    writer.writerows([_cell(row[v.name]) for v in export.variables] for row in export.rows)
    return out.getvalue().encode("utf-8")


_ARROW = {
    "string": pa.string(),
    "float64": pa.float64(),
    "int64": pa.int64(),
    "date32": pa.date32(),
}


def schema(export: Export) -> pa.Schema:
    """The Arrow schema: each column typed, with its ADaM label and type in the field metadata,
    and the dataset's name, label and standard in the schema's."""
    table = spec()
    fields = [
        pa.field(
            v.name,
            _ARROW[v.arrow],
            nullable=True,
            metadata={"label": v.label, "adam_type": v.type, "origin": v.origin},
        )
        for v in export.variables
    ]
    return pa.schema(
        fields,
        metadata={
            "dataset": export.dataset.upper(),
            "label": table.labels[export.dataset],
            "standard": table.standard,
            "il2_spec_version": table.version,
            "as_of": str(export.as_of.year) if export.deidentified else export.as_of.isoformat(),
            "dates_withheld": "yes" if export.deidentified else "no",
        },
    )


def to_parquet(export: Export) -> bytes:
    """Parquet (pyarrow) with typed columns and the variable labels in the schema metadata."""
    columns = {v.name: [row[v.name] for row in export.rows] for v in export.variables}
    table = pa.Table.from_pydict(columns, schema=schema(export))
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def written(export: Export, file_format: str) -> bytes:
    """The export in `file_format` (csv or parquet)."""
    return to_csv(export) if format_of(file_format) == "csv" else to_parquet(export)
