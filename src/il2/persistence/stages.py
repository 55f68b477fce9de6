"""Each patient's worklist stage as one SQL expression, so the worklist can count every page.

The stages are the domain's (domain/worklist.py `where`), decided here from columns: a death
recorded on follow-up; else the latest course (scheduled while its first dose is ahead, past
its doses once it started more than `lookback` ago: follow-up if a response or follow-up was
observed after its last planned dose day, else awaiting scans); else the latest screening.
A latest course that started within `lookback` may be in hospital or between cycles: the
expression answers "active" and the caller places those few patients from their records.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Date, case, exists, func, select, true
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from il2.persistence.tables import CourseRow, EntryRow, PatientRow, ScreeningRow

ACTIVE = "active"


class last_dose_day(FunctionElement[Any]):  # noqa: N801 - an SQL function's name
    """The day (as written in the plan) of a course plan's last planned dose."""

    type = Date()
    inherit_cache = True
    name = "last_dose_day"


@compiles(last_dose_day, "sqlite")
def _last_dose_day_sqlite(element: last_dose_day, compiler: SQLCompiler, **kw: Any) -> str:
    plan = compiler.process(element.clauses, **kw)
    return f"substr(json_extract({plan}, '$.cycles[#-1].doses[#-1].due_at'), 1, 10)"


@compiles(last_dose_day, "postgresql")
def _last_dose_day_postgresql(element: last_dose_day, compiler: SQLCompiler, **kw: Any) -> str:
    plan = compiler.process(element.clauses, **kw)
    return f"CAST(substr(({plan}) -> 'cycles' -> -1 -> 'doses' -> -1 ->> 'due_at', 1, 10) AS DATE)"


def _matching(text: str | None) -> ColumnElement[bool]:
    """Patients whose name or MRN contains `text` (any case); every patient when None."""
    if text is None:
        return true()
    wanted = text.lower()
    return func.lower(PatientRow.name).contains(wanted, autoescape=True) | func.lower(
        PatientRow.mrn
    ).contains(wanted, autoescape=True)


def stage_of_patient(now: datetime, lookback_start: datetime) -> ColumnElement[str]:
    """The stage of the patient row in scope (or ACTIVE: started within the lookback)."""
    dead = exists().where(
        EntryRow.patient_id == PatientRow.id,
        EntryRow.kind == "follow_up",
        EntryRow.content["status"].as_string() == "dead",
    )
    other = aliased(CourseRow)
    latest_number = (
        select(func.max(other.number))
        .where(other.patient_id == PatientRow.id)
        .correlate(PatientRow)
        .scalar_subquery()
    )
    latest = select(CourseRow).where(
        CourseRow.patient_id == PatientRow.id, CourseRow.number == latest_number
    )
    started = latest.with_only_columns(CourseRow.id)

    def latest_where(*conditions: ColumnElement[bool]) -> ColumnElement[bool]:
        return exists(started.where(*conditions))

    responded = exists().where(
        EntryRow.patient_id == CourseRow.patient_id,
        EntryRow.kind.in_(("response", "follow_up")),
        EntryRow.recorded_at >= CourseRow.recorded_at,
        EntryRow.observed_on > last_dose_day(CourseRow.plan),
    )
    verdict = (
        select(ScreeningRow.verdict)
        .where(ScreeningRow.patient_id == PatientRow.id)
        .order_by(ScreeningRow.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    return case(
        (dead, "deceased"),
        (latest_where(CourseRow.first_dose_at > now), "scheduled"),
        (latest_where(CourseRow.first_dose_at > lookback_start), ACTIVE),
        (latest_where(responded), "follow_up"),
        (exists(started), "awaiting_scans"),
        (verdict.is_(None), "referred"),
        (verdict == "ineligible", "not_eligible"),
        else_="screening",
    )


def stage_counts(
    session: Session, *, now: datetime, lookback_start: datetime, text: str | None
) -> tuple[Mapping[str, int], list[int]]:
    """How many matching patients are at each stage, counted in one grouped query; and the
    ids of the matching ACTIVE patients (not counted: the caller places them)."""
    stage = stage_of_patient(now, lookback_start).label("stage")
    staged = select(PatientRow.id.label("id"), stage).where(_matching(text)).subquery()
    counts = {
        str(name): int(n)
        for name, n in session.execute(
            select(staged.c.stage, func.count()).group_by(staged.c.stage)
        )
    }
    active = counts.pop(ACTIVE, 0)
    ids = (
        list(session.scalars(select(staged.c.id).where(staged.c.stage == ACTIVE))) if active else []
    )
    return counts, ids


def matching_count(session: Session, text: str | None) -> int:
    """How many patients match `text` (every patient when None)."""
    return int(
        session.scalar(select(func.count()).select_from(PatientRow).where(_matching(text))) or 0
    )


def matching_page(session: Session, text: str | None, *, limit: int, offset: int) -> list[Any]:
    """A page of the matching patient rows, newest referral first."""
    query = (
        select(PatientRow)
        .where(_matching(text))
        .order_by(PatientRow.referred_on.desc(), PatientRow.id.desc())
    )
    return list(session.scalars(query.limit(limit).offset(offset)))


def open_patients(session: Session, *, starting_before: datetime) -> list[int]:
    """The ids of patients with a course whose first dose is before `starting_before` and no
    current (uncorrected) death recorded on follow-up: those the pathway may still ask about.

    The corrected entries and the dead are each one uncorrelated subquery, read once (entries
    have no index on `corrects_id`: a correlated NOT EXISTS scans them once per entry).
    """
    corrected = aliased(EntryRow)
    superseded = select(corrected.corrects_id).where(corrected.corrects_id.is_not(None))
    dead = select(EntryRow.patient_id).where(
        EntryRow.kind == "follow_up",
        EntryRow.content["status"].as_string() == "dead",
        EntryRow.id.not_in(superseded),
    )
    query = (
        select(CourseRow.patient_id)
        .where(CourseRow.first_dose_at < starting_before, CourseRow.patient_id.not_in(dead))
        .group_by(CourseRow.patient_id)
        .order_by(CourseRow.patient_id)
    )
    return list(session.scalars(query))
