"""The studies repository: studies with their arms, and the chains of arm assignments."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from il2.domain.errors import ConflictError
from il2.domain.studies import Arm, Assignment, AssignmentKind, Study
from il2.persistence.tables import ArmAssignmentRow, StudyArmRow, StudyRow


def _arm(row: StudyArmRow) -> Arm:
    return Arm(row.id, row.study_id, row.code, row.name, row.description)


def _study(row: StudyRow, arms: Sequence[StudyArmRow]) -> Study:
    return Study(
        row.id,
        row.name,
        row.registry_id,
        row.description,
        tuple(_arm(a) for a in arms),
        row.recorded_by,
        row.recorded_at,
    )


def _assignment(row: ArmAssignmentRow) -> Assignment:
    return Assignment(
        row.id,
        row.study_id,
        row.patient_id,
        row.sequence,
        AssignmentKind(row.kind),
        row.arm_id,
        row.on,
        row.reason,
        row.recorded_by,
        row.recorded_at,
    )


class SqlStudies:
    """Studies, their arms and the patients' assignments."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(
        self,
        *,
        name: str,
        registry_id: str | None,
        description: str,
        arms: Sequence[tuple[str, str, str]],
        recorded_by: str,
        at: datetime,
    ) -> Study:
        """Keep a study and its arms (code, name, description); ConflictError if its name or
        registry id is taken."""
        row = StudyRow(
            name=name,
            registry_id=registry_id,
            description=description,
            recorded_by=recorded_by,
            recorded_at=at,
        )
        self._session.add(row)
        try:
            self._session.flush()
            arm_rows = [
                StudyArmRow(study_id=row.id, code=code, name=arm_name, description=words)
                for code, arm_name, words in arms
            ]
            self._session.add_all(arm_rows)
            self._session.flush()
        except IntegrityError as error:
            named = f"study {name!r}" + (f" or registry id {registry_id!r}" if registry_id else "")
            raise ConflictError(f"a {named} is already recorded") from error
        return _study(row, arm_rows)

    def _arms(self, study_ids: Sequence[int]) -> dict[int, list[StudyArmRow]]:
        query = select(StudyArmRow).where(StudyArmRow.study_id.in_(study_ids))
        arms: dict[int, list[StudyArmRow]] = {i: [] for i in study_ids}
        for arm in self._session.scalars(query.order_by(StudyArmRow.id)):
            arms[arm.study_id].append(arm)
        return arms

    def all(self) -> Sequence[Study]:
        """Every study with its arms, oldest first."""
        rows = list(self._session.scalars(select(StudyRow).order_by(StudyRow.id)))
        arms = self._arms([r.id for r in rows])
        return [_study(r, arms[r.id]) for r in rows]

    def get(self, study_id: int) -> Study | None:
        """The study with this id."""
        row = self._session.get(StudyRow, study_id)
        return None if row is None else _study(row, self._arms([row.id])[row.id])

    def assign(
        self,
        *,
        study_id: int,
        patient_id: int,
        sequence: int,
        kind: AssignmentKind,
        arm_id: int | None,
        on: date,
        reason: str | None,
        recorded_by: str,
        at: datetime,
    ) -> Assignment:
        """Add the next record of a patient's chain; ConflictError if that number is taken
        (another record was added to the chain meanwhile)."""
        row = ArmAssignmentRow(
            study_id=study_id,
            patient_id=patient_id,
            sequence=sequence,
            kind=kind.value,
            arm_id=arm_id,
            on=on,
            reason=reason,
            recorded_by=recorded_by,
            recorded_at=at,
        )
        self._session.add(row)
        try:
            self._session.flush()
        except IntegrityError as error:
            raise ConflictError(
                f"patient {patient_id}'s assignment in study {study_id} changed meanwhile: "
                "read it again"
            ) from error
        return _assignment(row)

    def assignments(
        self, *, study_id: int | None = None, patient_id: int | None = None
    ) -> Sequence[Assignment]:
        """Assignment records of a study, of a patient, or both (oldest first)."""
        query = select(ArmAssignmentRow)
        if study_id is not None:
            query = query.where(ArmAssignmentRow.study_id == study_id)
        if patient_id is not None:
            query = query.where(ArmAssignmentRow.patient_id == patient_id)
        return [_assignment(r) for r in self._session.scalars(query.order_by(ArmAssignmentRow.id))]
