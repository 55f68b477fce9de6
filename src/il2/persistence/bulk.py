"""Bulk inserts: many rows a statement (Core executemany), one transaction per batch.

For large synthetic programs, where one ORM transaction per record would take hours. The rows
are the records the services build; ids are reserved first so records and their audit entries
can name them. On PostgreSQL ids come from each table's sequence (safe beside other writers);
on SQLite from the largest id, under the write lock every il2 transaction takes at BEGIN.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import fields
from typing import Any, Self

from sqlalchemy import Connection, Engine, Table, func, insert, literal_column, select
from sqlalchemy.exc import IntegrityError

from il2.domain.errors import ConflictError
from il2.domain.records import (
    AuditEntry,
    ClinicalEntry,
    CourseOutline,
    CourseRecord,
    DoseRecord,
    EntryOutline,
    Patient,
    ScreeningRecord,
)
from il2.persistence import analysis
from il2.persistence.tables import (
    AuditRow,
    CourseRow,
    DoseRow,
    EntryRow,
    PatientRow,
    ScreeningRow,
    table_of,
)
from il2.persistence.uow import RolledBackOnExit
from il2.services.ports import RecordTable

SQLITE_CACHE_KIB = 256 * 1024

TABLES: Mapping[str, Table] = {
    table.name: table
    for table in map(table_of, (PatientRow, ScreeningRow, CourseRow, DoseRow, EntryRow, AuditRow))
}


def _rows(records: Sequence[object], names: Sequence[str]) -> list[dict[str, Any]]:
    return [{name: getattr(record, name) for name in names} for record in records]


def _names(record_type: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(record_type))


class SqlBulkRecords(RolledBackOnExit):
    """One bulk transaction on its own connection; rolled back unless committed."""

    _connection: Connection
    _cache_size: int | None

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._next_id: dict[str, int] = {}

    def __enter__(self) -> Self:
        """Connect and begin (on SQLite: take the write lock)."""
        self._connection = self._engine.connect()
        self._connection.begin()
        self._cache_size = None
        if self._connection.dialect.name == "sqlite":
            # Batches touch indexes all over (the audit's by time): keep them in SQLite's own
            # cache, not re-read through the operating system's for every row.
            self._cache_size = int(
                self._connection.exec_driver_sql("PRAGMA cache_size").scalar_one()
            )
            self._connection.exec_driver_sql(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
        self._next_id = {}
        return self

    def _end(self) -> None:
        """Roll back anything uncommitted and close the connection (its cache as it was)."""
        self._connection.rollback()
        if self._cache_size is not None:
            self._connection.exec_driver_sql(f"PRAGMA cache_size = {self._cache_size}")
            self._connection.rollback()
        self._connection.close()

    def reserve_ids(self, table: RecordTable, count: int) -> Sequence[int]:
        """`count` new ids for `table`, ascending."""
        if count == 0:
            return []
        if self._connection.dialect.name == "postgresql":
            sequence = func.pg_get_serial_sequence(table, "id")
            query = select(func.nextval(sequence)).select_from(func.generate_series(1, count))
            return sorted(self._connection.scalars(query))
        first = self._next_id.get(table)
        if first is None:
            largest = select(func.coalesce(func.max(TABLES[table].c.id), literal_column("0")))
            first = int(self._connection.scalar(largest) or 0) + 1
        self._next_id[table] = first + count
        return range(first, first + count)

    def _insert(self, table: str, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        try:
            self._connection.execute(insert(TABLES[table]), rows)
        except IntegrityError as error:
            raise ConflictError(
                f"a {table} row clashes with one already recorded: {error.orig}"
            ) from error

    def add_patients(self, records: Sequence[Patient]) -> None:
        """Insert patients."""
        self._insert("patients", _rows(records, _names(Patient)))

    def add_screenings(self, records: Sequence[ScreeningRecord]) -> None:
        """Insert screenings."""
        self._insert("screenings", _rows(records, _names(ScreeningRecord)))

    def add_courses(self, records: Sequence[CourseRecord]) -> None:
        """Insert planned courses."""
        self._insert("courses", _rows(records, _names(CourseRecord)))

    def add_doses(self, records: Sequence[DoseRecord]) -> None:
        """Insert dose ledger entries (the outcome as its value)."""
        rows = _rows(records, _names(DoseRecord))
        for row in rows:
            row["outcome"] = row["outcome"].value
        self._insert("doses", rows)

    def add_entries(self, records: Sequence[ClinicalEntry]) -> None:
        """Insert clinical entries."""
        self._insert("entries", _rows(records, _names(ClinicalEntry)))

    def add_course_outlines(self, records: Sequence[CourseOutline]) -> None:
        """Keep the outlines of courses added."""
        analysis.add_course_outlines(self._connection, records)

    def add_entry_outlines(self, records: Sequence[EntryOutline]) -> None:
        """Keep the outlines of entries added."""
        analysis.add_entry_outlines(self._connection, records)

    def add_audit(self, entries: Sequence[AuditEntry]) -> None:
        """Append audit entries."""
        self._insert("audit", _rows(entries, _names(AuditEntry)))

    def commit(self) -> None:
        """Commit the transaction."""
        self._connection.commit()


class SqlBulkRecordsFactory:
    """Opens bulk transactions on one engine."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def __call__(self) -> SqlBulkRecords:
        """A new bulk transaction."""
        return SqlBulkRecords(self._engine)
