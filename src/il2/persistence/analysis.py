"""The whole program as outcome analysis reads it, without loading a document.

Patients and screening verdicts come from narrow columns and an index; each cycle's doses
counted from the tallies the database keeps as doses are added; courses and entries from their
outline tables (derived data, kept once per record). Works alike on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Insert,
    String,
    Table,
    Text,
    cast,
    exists,
    func,
    select,
    text,
    type_coerce,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from il2.domain.records import (
    CourseOutline,
    CycleTally,
    EntryOutline,
    RecistOutline,
    Referral,
)
from il2.persistence.tables import (
    UNTIMED_GIVEN,
    CourseOutlineRow,
    CourseRow,
    CycleTallyRow,
    DiaryEntryRow,
    DoseRow,
    EntryOutlineRow,
    EntryRow,
    PatientRow,
    ScreeningRow,
    table_of,
)

_COURSE_OUTLINES = table_of(CourseOutlineRow)
_ENTRY_OUTLINES = table_of(EntryOutlineRow)
_CYCLE_TALLIES = table_of(CycleTallyRow)


def _stored_day(value: str | date) -> date:
    """A stored date: SQLite gives ISO text, PostgreSQL a date (read without SQLAlchemy's
    per-value processing, which would cost more than the rest of the row)."""
    return date.fromisoformat(value) if isinstance(value, str) else value


def _utc_day(value: str | datetime | None) -> date | None:
    """The UTC date of a stored UtcDateTime (SQLite: UTC text; PostgreSQL: an aware moment)."""
    if value is None:
        return None
    if isinstance(value, str):
        return date.fromisoformat(value[:10])
    return value.astimezone(UTC).date()


def _pairs(items: Sequence[Any]) -> tuple[tuple[Any, Any], ...]:
    return tuple(zip(items[0::2], items[1::2], strict=True))


def _documents(texts: Sequence[str]) -> list[Any]:
    """Many small JSON documents parsed in one call (not one call per document)."""
    return list(json.loads("[" + ",".join(texts) + "]")) if texts else []


def referrals(session: Session) -> list[Referral]:
    """Every patient's id, diagnosis and referral date, newest referral first."""
    query = select(
        PatientRow.id, PatientRow.diagnosis, type_coerce(PatientRow.referred_on, String)
    ).order_by(PatientRow.referred_on.desc(), PatientRow.id.desc())
    return [
        Referral(key, diagnosis, _stored_day(day)) for key, diagnosis, day in session.execute(query)
    ]


def latest_verdicts(session: Session) -> dict[int, str]:
    """Each screened patient's latest verdict (read from the verdict index)."""
    query = select(ScreeningRow.patient_id, ScreeningRow.verdict).order_by(
        ScreeningRow.patient_id, ScreeningRow.id
    )
    return {row.patient_id: row.verdict for row in session.execute(query)}


def cycle_tallies(session: Session) -> list[CycleTally]:
    """Every cycle with recorded doses: given, held, and the last given (the ledger's, kept by
    a trigger), with the injections a self-injection diary reports taken counted as given."""
    table = _CYCLE_TALLIES.c
    query = select(
        table.course_id,
        table.cycle,
        table.given,
        table.held,
        type_coerce(table.last_given_at, String),
    )
    tallies = {
        (course_id, cycle): CycleTally(course_id, cycle, given, held, _utc_day(last))
        for course_id, cycle, given, held, last in session.execute(query)
    }
    for (course_id, cycle), (taken, last_day) in _diary_taken(session).items():
        kept = tallies.get((course_id, cycle), CycleTally(course_id, cycle, 0, 0, None))
        days = [d for d in (kept.last_given_on, last_day) if d is not None]
        tallies[course_id, cycle] = kept._replace(
            given=kept.given + taken, last_given_on=max(days) if days else None
        )
    return list(tallies.values())


def _diary_taken(session: Session) -> dict[tuple[int, int], tuple[int, date | None]]:
    """Each cycle's injections the diary reports taken (current entries: those no entry
    corrects), with the day of the last one."""
    row = DiaryEntryRow
    corrected = select(row.corrects_id).where(row.corrects_id.is_not(None))
    query = (
        select(row.course_id, row.cycle, func.count(), type_coerce(func.max(row.taken_at), String))
        .where(row.status == "taken", row.id.not_in(corrected))
        .group_by(row.course_id, row.cycle)
    )
    return {
        (course_id, cycle): (count, _utc_day(last))
        for course_id, cycle, count, last in session.execute(query)
    }


def untimed_given_doses(session: Session) -> dict[tuple[int, int], int]:
    """How many doses each cycle (course id, cycle) holds recorded as given with no time."""
    query = (
        select(DoseRow.course_id, DoseRow.cycle, func.count())
        .where(text(UNTIMED_GIVEN))  # as the partial index says it, so that it is used
        .group_by(DoseRow.course_id, DoseRow.cycle)
    )
    return {(course_id, cycle): count for course_id, cycle, count in session.execute(query)}


def course_outlines(session: Session) -> list[CourseOutline]:
    """Every kept course outline, by patient and number."""
    table = _COURSE_OUTLINES.c
    query = select(
        table.course_id,
        table.patient_id,
        table.number,
        table.regimen_id,
        type_coerce(table.first_dose_on, String),
        table.vials_per_dose,
        cast(table.cycle_starts, Text),
    ).order_by(table.patient_id, table.number)
    rows = session.execute(query).all()
    return [
        CourseOutline(
            id=course_id,
            patient_id=patient_id,
            number=number,
            regimen_id=regimen_id,
            first_dose_on=_stored_day(first_dose_on),
            vials_per_dose=vials_per_dose,
            cycle_starts=_pairs(starts),
        )
        for (
            course_id,
            patient_id,
            number,
            regimen_id,
            first_dose_on,
            vials_per_dose,
            _,
        ), starts in zip(rows, _documents([row[-1] for row in rows]), strict=True)
    ]


def _count(session: Session, table: Any) -> int:
    return int(session.scalar(select(func.count()).select_from(table)) or 0)


def courses_without_outline(session: Session) -> list[int]:
    """The ids of courses with no outline kept yet."""
    if _count(session, CourseRow) == _count(session, CourseOutlineRow):
        return []  # an outline is kept once per course: as many of each, none is missing
    kept = exists().where(CourseOutlineRow.course_id == CourseRow.id)
    return list(session.scalars(select(CourseRow.id).where(~kept).order_by(CourseRow.id)))


def _new_only(table: Table, dialect: str) -> Insert:
    """An insert that skips rows already there (a concurrent reader may have kept them)."""
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()


def add_course_outlines(connection: Connection, outlines: Sequence[CourseOutline]) -> None:
    """Keep course outlines (any already kept stay as they are)."""
    if not outlines:
        return
    rows = [
        {
            "course_id": o.id,
            "patient_id": o.patient_id,
            "number": o.number,
            "regimen_id": o.regimen_id,
            "first_dose_on": o.first_dose_on,
            "vials_per_dose": o.vials_per_dose,
            "cycle_starts": [item for start in o.cycle_starts for item in start],
        }
        for o in outlines
    ]
    connection.execute(_new_only(_COURSE_OUTLINES, connection.dialect.name), rows)


def _facts(outline: EntryOutline) -> list[Any]:
    """An entry outline's facts as one flat JSON array (quick to parse back):
    [status, number of grades, term, grade, ..., then a RECIST if any: best overall response,
    response on, progression on, best change, then each time point's date and change]."""
    facts: list[Any] = [outline.status, len(outline.grades)]
    facts.extend(item for grade in outline.grades for item in grade)
    if outline.recist is not None:
        recist = outline.recist
        facts.extend(
            (
                recist.best_overall_response,
                recist.response_on,
                recist.progression_on,
                recist.best_change_from_baseline_pct,
            )
        )
        facts.extend(item for point in recist.timepoints for item in point)
    return facts


def _outline(row: Sequence[Any], facts: list[Any]) -> EntryOutline:
    entry_id, patient_id, kind, course_id, observed_on, corrects_id, _ = row
    graded = 2 + 2 * facts[1]
    rest = facts[graded:]
    return EntryOutline(
        entry_id,
        patient_id,
        kind,
        course_id,
        _stored_day(observed_on),
        corrects_id,
        facts[0],
        _pairs(facts[2:graded]) if graded > 2 else (),
        RecistOutline(rest[0], rest[1], rest[2], rest[3], _pairs(rest[4:])) if rest else None,
    )


def add_entry_outlines(connection: Connection, outlines: Sequence[EntryOutline]) -> None:
    """Keep entry outlines (any already kept stay as they are)."""
    if not outlines:
        return
    rows = [
        {
            "entry_id": o.id,
            "patient_id": o.patient_id,
            "kind": o.kind,
            "course_id": o.course_id,
            "observed_on": o.observed_on,
            "corrects_id": o.corrects_id,
            "facts": _facts(o),
        }
        for o in outlines
    ]
    connection.execute(_new_only(_ENTRY_OUTLINES, connection.dialect.name), rows)


def entry_outlines(session: Session) -> list[EntryOutline]:
    """Every kept entry outline, oldest entry first."""
    table = _ENTRY_OUTLINES.c
    query = select(
        table.entry_id,
        table.patient_id,
        table.kind,
        table.course_id,
        type_coerce(table.observed_on, String),
        table.corrects_id,
        cast(table.facts, Text),
    ).order_by(table.entry_id)
    rows = session.execute(query).all()
    facts = _documents([row[-1] for row in rows])
    return [_outline(row, kept) for row, kept in zip(rows, facts, strict=True)]


def entries_without_outline(session: Session) -> list[int]:
    """The ids of entries with no outline kept yet."""
    if _count(session, EntryRow) == _count(session, EntryOutlineRow):
        return []
    kept = exists().where(EntryOutlineRow.entry_id == EntryRow.id)
    return list(session.scalars(select(EntryRow.id).where(~kept).order_by(EntryRow.id)))
