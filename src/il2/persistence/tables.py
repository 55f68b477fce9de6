"""The database tables. Dose slots are unique per course; nothing clinical is ever deleted.

The outline tables and cycle_tallies are derived, for outcome analysis: what it reads of each
course and entry, kept once so a large program is read without its documents (records never
change, so neither do their outlines); and each cycle's doses given and held and the last
given, kept by the database itself as doses are added (a trigger; migration 0002).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
JsonType = JSON().with_variant(JSONB(), "postgresql")


class UtcDateTime(TypeDecorator[datetime]):
    """Aware date-times stored as UTC; read back as aware UTC on every database."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Refuse naive values; store UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive date-time: il2 stores only time-zone-aware moments")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Attach UTC where the database dropped it (SQLite)."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Shared metadata with stable constraint names (for migrations)."""

    metadata = MetaData(naming_convention=NAMING)


def table_of(row: type[Base]) -> Table:
    """The table a row class maps (for Core statements)."""
    table = row.__table__
    if not isinstance(table, Table):  # pragma: no cover - every il2 row class maps one table
        raise TypeError(row)
    return table


class UserRow(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class SessionRow(Base):
    __tablename__ = "sessions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_seen_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # The SMART scopes the token was asked with (migration 0011); None: all the role allows.
    scope: Mapped[str | None] = mapped_column(Text, nullable=True)


class SignInFailureRow(Base):
    __tablename__ = "sign_in_failures"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(80), index=True)
    address: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)


class PatientRow(Base):
    __tablename__ = "patients"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mrn: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    birth_date: Mapped[date] = mapped_column(Date)
    sex: Mapped[str] = mapped_column(String(10))
    diagnosis: Mapped[str] = mapped_column(String(40))
    referred_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ScreeningRow(Base):
    __tablename__ = "screenings"
    __table_args__ = (Index("ix_screenings_verdicts", "patient_id", "id", "verdict"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    findings: Mapped[dict[str, Any]] = mapped_column(JsonType)
    verdict: Mapped[str] = mapped_column(String(20))
    result: Mapped[dict[str, Any]] = mapped_column(JsonType)
    rules_version: Mapped[str] = mapped_column(String(40))
    recorded_by: Mapped[str] = mapped_column(String(80))
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime)


class CourseRow(Base):
    __tablename__ = "courses"
    __table_args__ = (UniqueConstraint("patient_id", "number", name="uq_courses_patient_number"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    regimen_id: Mapped[str] = mapped_column(String(40))
    weight_kg: Mapped[str] = mapped_column(String(20))
    first_dose_at: Mapped[datetime] = mapped_column(UtcDateTime)
    plan: Mapped[dict[str, Any]] = mapped_column(JsonType)
    recorded_by: Mapped[str] = mapped_column(String(80))
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime)


class PlanVerificationRow(Base):
    """A pharmacist's verification of a course's plan: one per course, who and when."""

    __tablename__ = "plan_verifications"
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id"), primary_key=True)
    verified_by: Mapped[str] = mapped_column(String(80))
    verified_at: Mapped[datetime] = mapped_column(UtcDateTime)


UNTIMED_GIVEN = "outcome = 'given' AND given_at IS NULL"


class DoseRow(Base):
    __tablename__ = "doses"
    __table_args__ = (
        UniqueConstraint("course_id", "cycle", "dose_number", name="uq_doses_course_cycle_dose"),
        # A retry's key names a submission only with its user and course (migration 0004).
        UniqueConstraint(
            "recorded_by", "course_id", "idempotency_key", name="uq_doses_idempotency_scope"
        ),
        # Doses given with no time (none in a sound ledger): outcome analysis lists them.
        Index(
            "ix_doses_given_untimed",
            "course_id",
            "cycle",
            sqlite_where=text(UNTIMED_GIVEN),
            postgresql_where=text(UNTIMED_GIVEN),
        ),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id"), index=True)
    cycle: Mapped[int] = mapped_column(Integer)
    dose_number: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(10))
    assessment: Mapped[dict[str, Any]] = mapped_column(JsonType)
    decision: Mapped[dict[str, Any]] = mapped_column(JsonType)
    decision_action: Mapped[str] = mapped_column(String(20))
    rules_version: Mapped[str] = mapped_column(String(40))
    given_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    verified_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    override_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    override_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    recorded_by: Mapped[str] = mapped_column(String(80))
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime)


class InfusionEventRow(Base):
    """An event of a running continuous infusion (migration 0009): the database keeps one
    per (course, cycle, dose number, seq), so two events never take the same place in its
    order; never updated or deleted (a correction is a new event naming the old)."""

    __tablename__ = "infusion_events"
    __table_args__ = (
        UniqueConstraint(
            "course_id", "cycle", "dose_number", "seq", name="uq_infusion_events_slot_seq"
        ),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id"), index=True)
    cycle: Mapped[int] = mapped_column(Integer)
    dose_number: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(10))
    event_at: Mapped[datetime] = mapped_column(UtcDateTime)
    decision_action: Mapped[str | None] = mapped_column(String(20), nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    corrects: Mapped[int | None] = mapped_column(Integer, nullable=True)
    assessment: Mapped[dict[str, Any] | None] = mapped_column(JsonType, nullable=True)
    decision: Mapped[dict[str, Any] | None] = mapped_column(JsonType, nullable=True)
    recorded_by: Mapped[str] = mapped_column(String(80))
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime)


class EntryRow(Base):
    __tablename__ = "entries"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    course_id: Mapped[int | None] = mapped_column(ForeignKey("courses.id"), nullable=True)
    observed_on: Mapped[date] = mapped_column(Date)
    content: Mapped[dict[str, Any]] = mapped_column(JsonType)
    summary: Mapped[str] = mapped_column(Text)
    corrects_id: Mapped[int | None] = mapped_column(ForeignKey("entries.id"), nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    recorded_by: Mapped[str] = mapped_column(String(80))
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime)


class AuditRow(Base):
    __tablename__ = "audit"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    username: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(40))
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str] = mapped_column(String(40))
    patient_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    before: Mapped[dict[str, Any] | None] = mapped_column(JsonType, nullable=True)
    after: Mapped[dict[str, Any] | None] = mapped_column(JsonType, nullable=True)


class CourseOutlineRow(Base):
    __tablename__ = "course_outlines"
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id"), primary_key=True)
    patient_id: Mapped[int] = mapped_column(Integer)
    number: Mapped[int] = mapped_column(Integer)
    regimen_id: Mapped[str] = mapped_column(String(40))
    first_dose_on: Mapped[date] = mapped_column(Date)
    vials_per_dose: Mapped[int] = mapped_column(Integer)
    cycle_starts: Mapped[list[Any]] = mapped_column(JsonType)


class EntryOutlineRow(Base):
    __tablename__ = "entry_outlines"
    entry_id: Mapped[int] = mapped_column(ForeignKey("entries.id"), primary_key=True)
    patient_id: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))
    course_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    observed_on: Mapped[date] = mapped_column(Date)
    corrects_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    facts: Mapped[dict[str, Any]] = mapped_column(JsonType)


class CycleTallyRow(Base):
    __tablename__ = "cycle_tallies"
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id"), primary_key=True)
    cycle: Mapped[int] = mapped_column(Integer, primary_key=True)
    given: Mapped[int] = mapped_column(Integer)
    held: Mapped[int] = mapped_column(Integer)
    last_given_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class StudyRow(Base):
    """A study the program runs (program data, migration 0007)."""

    __tablename__ = "studies"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    registry_id: Mapped[str | None] = mapped_column(String(40), unique=True, nullable=True)
    description: Mapped[str] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(String(80))
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime)


class StudyArmRow(Base):
    """One arm of a study; its short id is unique in the study."""

    __tablename__ = "study_arms"
    __table_args__ = (UniqueConstraint("study_id", "code", name="uq_study_arms_study_code"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"), index=True)
    code: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)


class ArmAssignmentRow(Base):
    """One record of a patient's chain in a study: numbered 1, 2, ... and never overwritten;
    the database keeps one record per (study, patient, number), so a chain never forks."""

    __tablename__ = "arm_assignments"
    __table_args__ = (
        UniqueConstraint(
            "study_id", "patient_id", "sequence", name="uq_arm_assignments_study_patient_sequence"
        ),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    sequence: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))
    arm_id: Mapped[int | None] = mapped_column(ForeignKey("study_arms.id"), nullable=True)
    on: Mapped[date] = mapped_column(Date)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    recorded_by: Mapped[str] = mapped_column(String(80))
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime)


DIARY_FIRST = "corrects_id IS NULL"
DIARY_TAKEN_AT = (
    "(status = 'taken' AND taken_at IS NOT NULL) OR (status = 'missed' AND taken_at IS NULL)"
)


class DiaryEntryRow(Base):
    """One entry of an outpatient's self-injection diary (migration 0008), never overwritten.

    One current entry per (course, cycle, dose number), kept by the database: one first entry
    per injection (a partial unique index), each entry corrected at most once (unique
    corrects_id), and a correction of the same injection only (a foreign key on the slot), so
    each injection's entries form one chain whose last entry is the current one.
    """

    __tablename__ = "diary_entries"
    __table_args__ = (
        Index(
            "uq_diary_entries_first",
            "course_id",
            "cycle",
            "dose_number",
            unique=True,
            sqlite_where=text(DIARY_FIRST),
            postgresql_where=text(DIARY_FIRST),
        ),
        UniqueConstraint("corrects_id", name="uq_diary_entries_corrects_id"),
        UniqueConstraint(
            "id", "course_id", "cycle", "dose_number", name="uq_diary_entries_slot_key"
        ),
        ForeignKeyConstraint(
            ["corrects_id", "course_id", "cycle", "dose_number"],
            [
                "diary_entries.id",
                "diary_entries.course_id",
                "diary_entries.cycle",
                "diary_entries.dose_number",
            ],
            name="fk_diary_entries_corrects_same_injection",
        ),
        CheckConstraint("status IN ('taken', 'missed')", name="ck_diary_entries_status"),
        CheckConstraint(DIARY_TAKEN_AT, name="ck_diary_entries_taken_at"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id"), index=True)
    cycle: Mapped[int] = mapped_column(Integer)
    dose_number: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(10))
    taken_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    missed_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    side_effects: Mapped[list[Any]] = mapped_column(JsonType)
    reported_by: Mapped[str] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    corrects_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    recorded_by: Mapped[str] = mapped_column(String(80))
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ExportJobRow(Base):
    """A bulk export job (migration 0011): who asked, what, where it is and its files. The id
    is random (it is the job's URL); the worker notes its progress and its heartbeat."""

    __tablename__ = "export_jobs"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    username: Mapped[str] = mapped_column(String(80), index=True)
    request_url: Mapped[str] = mapped_column(Text)
    types: Mapped[list[Any]] = mapped_column(JsonType)
    mode: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    patients_total: Mapped[int] = mapped_column(Integer)
    patients_done: Mapped[int] = mapped_column(Integer)
    through_patient_id: Mapped[int] = mapped_column(Integer)
    transaction_time: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    heartbeat_at: Mapped[datetime] = mapped_column(UtcDateTime)
    outputs: Mapped[list[Any]] = mapped_column(JsonType)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
