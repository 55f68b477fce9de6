"""The self-injection diary on SQLite and PostgreSQL: the database itself keeps one current
entry per (course, cycle, dose number), whatever writes to it; the use cases round-trip."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from il2.bootstrap import App
from il2.domain.diary import Report, Reporter, SideEffect, Taken
from il2.domain.errors import ConflictError
from il2.domain.records import Actor, Role
from il2.services.context import Services
from il2.services.courses import course_fields
from il2.services.diary import correct_diary_entry, course_diary, record_entry
from il2.services.patients import create_patient
from tests.integration.builders import PATIENT, staff

FIRST = "2026-12-01T09:00:00+00:00"  # the clock stands at 2026-12-07 16:00 UTC: day 7
TAKEN = Report(Taken.TAKEN, datetime(2026, 12, 1, 9, 5, tzinfo=UTC), None,
               (SideEffect("injection_site_reaction", 2),), Reporter.PATIENT, "left arm")  # fmt: skip
MISSED = Report(Taken.MISSED, None, "ran out", (), Reporter.CAREGIVER, None)


@pytest.fixture
def outpatient(app: App) -> tuple[Services, dict[Role, Actor], int]:
    """Services that keep subcutaneous courses (their before-dose checks are another branch's),
    the staff, and an sc-eu course kept through the repository."""
    rules = app.services.rules
    services = replace(
        app.services,
        rules=replace(rules, before_dose_routes=(*rules.before_dose_routes, "subcutaneous")),
    )
    team = staff(app)
    patient = create_patient(services, team[Role.PHYSICIAN], PATIENT).id
    fields = course_fields(services, regimen="sc-eu", weight_kg=70, first_dose=FIRST)
    with services.uow() as uow:
        course = uow.courses.add(patient_id=patient, number=1, **fields, recorded_by="physician",
                                 at=services.clock())  # fmt: skip
        uow.commit()
    return services, team, course.id


def _add(
    services: Services, course: int, dose: int, report: Report, corrects: int | None = None
) -> int:
    with services.uow() as uow:
        entry = uow.diary.add(course_id=course, cycle=1, dose_number=dose, report=report,
                              corrects_id=corrects, reason=None if corrects is None else "fix",
                              recorded_by="nurse", at=services.clock())  # fmt: skip
        uow.commit()
    return entry.id


def _rows(app: App) -> int:
    with app.engine.connect() as connection:
        return int(connection.execute(text("SELECT count(*) FROM diary_entries")).scalar_one())


def test_the_database_refuses_a_second_first_entry_for_one_injection(
    app: App, outpatient: tuple[Services, dict[Role, Actor], int]
) -> None:
    services, _, course = outpatient
    _add(services, course, 1, TAKEN)
    with pytest.raises(ConflictError):
        _add(services, course, 1, MISSED)
    assert _rows(app) == 1


def test_the_database_lets_an_entry_be_corrected_once_and_only_by_its_own_injection(
    app: App, outpatient: tuple[Services, dict[Role, Actor], int]
) -> None:
    services, _, course = outpatient
    first = _add(services, course, 1, TAKEN)
    other = _add(services, course, 2, TAKEN)
    _add(services, course, 1, MISSED, corrects=first)
    with pytest.raises(ConflictError):  # a fork: the first entry corrected twice
        _add(services, course, 1, TAKEN, corrects=first)
    with pytest.raises(ConflictError):  # a correction of another injection's entry
        _add(services, course, 1, TAKEN, corrects=other)
    with pytest.raises(ConflictError):  # taken, with no time taken
        _add(services, course, 3, replace(TAKEN, taken_at=None))
    assert _rows(app) == 3


def test_a_diary_is_recorded_corrected_and_read_back_with_its_summary(
    app: App, outpatient: tuple[Services, dict[Role, Actor], int]
) -> None:
    services, team, course = outpatient
    taken = {"cycle": 1, "dose_number": 1, "status": "taken", "reported_by": "patient",
             "taken_at": "2026-12-01T09:05:00+00:00",
             "side_effects": [{"term": "injection_site_reaction", "grade": 2}]}  # fmt: skip
    first = record_entry(services, team[Role.NURSE], course, taken)
    with pytest.raises(ConflictError):
        record_entry(services, team[Role.COORDINATOR], course, taken)
    fixed = correct_diary_entry(services, team[Role.COORDINATOR], course, first.id,
                                taken | {"taken_at": "2026-12-01T21:00:00+00:00"},
                                reason="evening, not morning")  # fmt: skip
    diary = course_diary(services, team[Role.PHYSICIAN], course)
    assert [(e["id"], e["current"], e["corrects_id"]) for e in diary["entries"]] == [
        (first.id, False, None),
        (fixed.id, True, first.id),
    ]
    assert diary["entries"][1]["taken_at"] == "2026-12-01T21:00:00+00:00"
    summary = diary["summary"]
    assert (summary["taken"], summary["not_reported"], summary["adherence"]) == (1, 4, "1/5")
    assert summary["side_effects"][0]["highest_grade"] == 2
    with app.engine.connect() as connection:
        actions = [r[0] for r in connection.execute(text(
            "SELECT action FROM audit WHERE entity IN ('diary_entry', 'diary') ORDER BY id"))]  # fmt: skip
    assert actions == ["create", "refuse_record_diary", "correct", "read"]
