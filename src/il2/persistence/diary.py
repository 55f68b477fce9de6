"""The diary repository: outpatients' self-injection entries, chained by corrections."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from il2.domain.diary import DiaryEntry, Report, Reporter, SideEffect, Taken
from il2.domain.errors import ConflictError
from il2.persistence.tables import DiaryEntryRow


def _entry(row: DiaryEntryRow) -> DiaryEntry:
    return DiaryEntry(
        id=row.id,
        course_id=row.course_id,
        cycle=row.cycle,
        dose_number=row.dose_number,
        report=Report(
            status=Taken(row.status),
            taken_at=row.taken_at,
            missed_reason=row.missed_reason,
            side_effects=tuple(SideEffect(e["term"], int(e["grade"])) for e in row.side_effects),
            reported_by=Reporter(row.reported_by),
            note=row.note,
        ),
        corrects_id=row.corrects_id,
        reason=row.reason,
        recorded_by=row.recorded_by,
        recorded_at=row.recorded_at,
    )


class SqlDiary:
    """The diary entries of outpatient courses."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(
        self,
        *,
        course_id: int,
        cycle: int,
        dose_number: int,
        report: Report,
        corrects_id: int | None,
        reason: str | None,
        recorded_by: str,
        at: datetime,
    ) -> DiaryEntry:
        """Keep an entry; ConflictError if the injection has a first entry already (none
        correcting) or the entry corrected is corrected already."""
        row = DiaryEntryRow(
            course_id=course_id,
            cycle=cycle,
            dose_number=dose_number,
            status=report.status.value,
            taken_at=report.taken_at,
            missed_reason=report.missed_reason,
            side_effects=[{"term": e.term, "grade": e.grade} for e in report.side_effects],
            reported_by=report.reported_by.value,
            note=report.note,
            corrects_id=corrects_id,
            reason=reason,
            recorded_by=recorded_by,
            recorded_at=at,
        )
        self._session.add(row)
        try:
            self._session.flush()
        except IntegrityError as error:
            raise ConflictError(
                f"injection {cycle}.{dose_number} of course {course_id} has an entry already "
                "(or the entry corrected was corrected meanwhile): read the diary again and "
                "correct its current entry"
            ) from error
        return _entry(row)

    def get(self, entry_id: int) -> DiaryEntry | None:
        """The entry with this id."""
        row = self._session.get(DiaryEntryRow, entry_id)
        return None if row is None else _entry(row)

    def for_course(self, course_id: int) -> Sequence[DiaryEntry]:
        """A course's entries, oldest first (corrected ones included)."""
        query = select(DiaryEntryRow).where(DiaryEntryRow.course_id == course_id)
        return [_entry(r) for r in self._session.scalars(query.order_by(DiaryEntryRow.id))]

    def for_courses(self, course_ids: Sequence[int]) -> Mapping[int, Sequence[DiaryEntry]]:
        """Several courses' entries, oldest first, in one query."""
        query = select(DiaryEntryRow).where(DiaryEntryRow.course_id.in_(course_ids))
        found: dict[int, list[DiaryEntry]] = {}
        for row in self._session.scalars(query.order_by(DiaryEntryRow.id)):
            found.setdefault(row.course_id, []).append(_entry(row))
        return found
