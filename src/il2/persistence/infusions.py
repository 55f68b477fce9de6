"""The infusion events repository: the pauses, resumes and stops of running infusions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from il2.domain.errors import ConflictError
from il2.domain.records import InfusionEventRecord, Json
from il2.persistence.tables import CourseRow, InfusionEventRow


def _record(row: InfusionEventRow) -> InfusionEventRecord:
    return InfusionEventRecord(
        id=row.id,
        course_id=row.course_id,
        cycle=row.cycle,
        dose_number=row.dose_number,
        seq=row.seq,
        kind=row.kind,
        event_at=row.event_at,
        decision_action=row.decision_action,
        reason=row.reason,
        corrects=row.corrects,
        assessment=row.assessment,
        decision=row.decision,
        recorded_by=row.recorded_by,
        recorded_at=row.recorded_at,
    )


class SqlInfusions:
    """Infusion events, numbered per dose slot; only ever added."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(
        self,
        *,
        course_id: int,
        cycle: int,
        dose_number: int,
        seq: int,
        kind: str,
        event_at: datetime,
        decision_action: str | None,
        reason: str | None,
        corrects: int | None,
        assessment: Json | None,
        decision: Json | None,
        recorded_by: str,
        at: datetime,
    ) -> InfusionEventRecord:
        """Keep event `seq` of the slot; ConflictError if that number is taken."""
        row = InfusionEventRow(
            course_id=course_id,
            cycle=cycle,
            dose_number=dose_number,
            seq=seq,
            kind=kind,
            event_at=event_at,
            decision_action=decision_action,
            reason=reason,
            corrects=corrects,
            assessment=assessment,
            decision=decision,
            recorded_by=recorded_by,
            recorded_at=at,
        )
        self._session.add(row)
        try:
            self._session.flush()
        except IntegrityError as error:
            raise ConflictError(
                f"infusion {cycle}.{dose_number} of course {course_id} changed meanwhile "
                f"(event {seq} is already recorded): read it again"
            ) from error
        return _record(row)

    def for_dose(
        self, course_id: int, cycle: int, dose_number: int
    ) -> Sequence[InfusionEventRecord]:
        """A dose slot's events, in order."""
        query = (
            select(InfusionEventRow)
            .where(
                InfusionEventRow.course_id == course_id,
                InfusionEventRow.cycle == cycle,
                InfusionEventRow.dose_number == dose_number,
            )
            .order_by(InfusionEventRow.seq)
        )
        return [_record(r) for r in self._session.scalars(query)]

    def stops_for_patient(self, patient_id: int) -> Sequence[InfusionEventRecord]:
        """The patient's infusion stops, every course, in recording order."""
        query = (
            select(InfusionEventRow)
            .join(CourseRow, CourseRow.id == InfusionEventRow.course_id)
            .where(CourseRow.patient_id == patient_id, InfusionEventRow.kind == "stop")
            .order_by(InfusionEventRow.id)
        )
        return [_record(r) for r in self._session.scalars(query)]
