"""The diary's use cases (services/diary.py) on in-memory fakes: who may record, conflicts,
corrections, the refusals and reads audited. tests/integration/test_diary.py holds the same
chain rules on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

import pytest
from tests.fakes import FakeDatabase, FixedClock
from tests.integration.builders import PATIENT

from il2.domain.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
)
from il2.domain.records import Actor, Role
from il2.rules.loader import RuleSet, load_rules
from il2.services.context import Services
from il2.services.courses import course_fields
from il2.services.diary import correct_diary_entry, course_diary, record_entry

BASE = load_rules()
# Keeping a subcutaneous course waits for its before-dose checks (another branch): these
# tests keep one with the route allowed, as a site would once those checks are in.
RULES: RuleSet = replace(BASE, before_dose_routes=(*BASE.before_dose_routes, "subcutaneous"))
FIRST = "2026-12-01T09:00:00+00:00"  # the clock stands at 2026-12-07 16:00 UTC: day 7


class Clinic:
    """A patient with an sc-eu course (and an hd-label one) and an account of every role."""

    def __init__(self) -> None:
        self.database = FakeDatabase()
        self.clock = FixedClock()
        self.services = Services(rules=RULES, uow=self.database, clock=self.clock)
        with self.database() as uow:
            self.people = {
                role: Actor(uow.users.add(username=role.value, display_name=role.value,
                                          role=role, password_hash="-", at=self.clock.now).id,  # noqa: S106
                            role.value, role)
                for role in Role
            }  # fmt: skip
            given: dict[str, Any] = dict(PATIENT)
            for key in ("birth_date", "referred_on"):
                given[key] = date.fromisoformat(PATIENT[key])
            patient = uow.patients.add(**given, at=self.clock.now)
            self.course = self._course(uow, patient.id, 1, "sc-eu")
            self.bolus = self._course(uow, patient.id, 2, "hd-label")
            uow.commit()

    def _course(self, uow: Any, patient_id: int, number: int, regimen: str) -> int:
        fields = course_fields(self.services, regimen=regimen, weight_kg=70, first_dose=FIRST)
        return int(
            uow.courses.add(
                patient_id=patient_id, number=number, **fields, recorded_by="physician",
                at=self.clock.now,
            ).id
        )  # fmt: skip

    def record(self, role: Role = Role.NURSE, course: int | None = None, **changes: Any) -> Any:
        document = {"cycle": 1, "dose_number": 1, "status": "taken",
                    "taken_at": "2026-12-01T09:10:00+00:00", "reported_by": "patient",
                    "side_effects": [{"term": "injection_site_reaction", "grade": 1}],
                    "note": "left thigh"} | changes  # fmt: skip
        return record_entry(self.services, self.people[role], course or self.course, document)

    def audited(self, action: str) -> list[tuple[str, str, str]]:
        return [
            (e.username, e.entity, e.entity_id) for e in self.database.audit if e.action == action
        ]


@pytest.fixture
def clinic() -> Clinic:
    return Clinic()


def test_a_nurse_records_a_taken_injection_and_the_write_is_audited(clinic: Clinic) -> None:
    entry = clinic.record()
    assert (entry.cycle, entry.dose_number, entry.report.status.value) == (1, 1, "taken")
    assert clinic.audited("create") == [("nurse", "diary_entry", str(entry.id))]


def test_a_coordinator_records_a_missed_injection_with_its_reason(clinic: Clinic) -> None:
    entry = clinic.record(Role.COORDINATOR, dose_number=2, status="missed", taken_at=None,
                          missed_reason="vomited", side_effects=[])  # fmt: skip
    assert (entry.report.missed_reason, entry.recorded_by) == ("vomited", "coordinator")


@pytest.mark.parametrize(
    "role", [r for r in Role if not BASE.permissions.allows(r, "diary.record")]
)
def test_only_nurses_and_coordinators_record_the_diary(clinic: Clinic, role: Role) -> None:
    with pytest.raises(PermissionDeniedError):
        clinic.record(role)
    assert clinic.database.committed.diary == {}
    assert {Role.NURSE, Role.COORDINATOR}.isdisjoint({role})


def test_a_second_entry_for_one_injection_conflicts_and_shows_the_first(clinic: Clinic) -> None:
    first = clinic.record()
    with pytest.raises(ConflictError) as caught:
        clinic.record(Role.COORDINATOR, status="missed", taken_at=None)
    assert caught.value.existing["id"] == first.id  # type: ignore[index]
    assert "correct that entry" in str(caught.value)
    assert list(clinic.database.committed.diary) == [first.id]
    assert clinic.audited("refuse_record_diary") == [("coordinator", "diary_entry", "new")]


def test_a_correction_is_a_new_entry_pointing_at_the_current_one(clinic: Clinic) -> None:
    first = clinic.record()
    fixed = correct_diary_entry(
        clinic.services, clinic.people[Role.COORDINATOR], clinic.course, first.id,
        {"status": "missed", "reported_by": "caregiver"}, reason="the wife says he skipped it",
    )  # fmt: skip
    assert (fixed.corrects_id, fixed.report.status.value, fixed.dose_number) == (
        first.id,
        "missed",
        1,
    )
    assert clinic.database.committed.diary[first.id] == first  # kept, never changed
    (audited,) = [e for e in clinic.database.audit if e.action == "correct"]
    assert audited.before["id"] == first.id  # type: ignore[index]
    diary = course_diary(clinic.services, clinic.people[Role.NURSE], clinic.course)
    assert [(e["id"], e["current"]) for e in diary["entries"]] == [
        (first.id, False),
        (fixed.id, True),
    ]
    assert (diary["summary"]["taken"], diary["summary"]["missed"]) == (0, 1)


def test_an_entry_already_corrected_is_refused_naming_the_current_one(clinic: Clinic) -> None:
    first = clinic.record()
    nurse = clinic.people[Role.NURSE]
    fixed = correct_diary_entry(clinic.services, nurse, clinic.course, first.id,
                                {"status": "missed", "reported_by": "patient"}, reason="wrong")  # fmt: skip
    with pytest.raises(ConflictError) as caught:
        correct_diary_entry(clinic.services, nurse, clinic.course, first.id,
                            {"status": "missed", "reported_by": "patient"}, reason="again")  # fmt: skip
    assert caught.value.existing["id"] == fixed.id  # type: ignore[index]


def test_a_correction_needs_a_reason_and_keeps_its_injection(clinic: Clinic) -> None:
    first = clinic.record()
    nurse = clinic.people[Role.NURSE]
    with pytest.raises(InvalidInputError) as caught:
        correct_diary_entry(clinic.services, nurse, clinic.course, first.id,
                            {"status": "missed", "reported_by": "patient"}, reason="")  # fmt: skip
    assert caught.value.field == "reason"
    with pytest.raises(InvalidInputError) as caught:
        correct_diary_entry(clinic.services, nurse, clinic.course, first.id,
                            {"dose_number": 2, "status": "missed", "reported_by": "patient"},
                            reason="moved")  # fmt: skip
    assert caught.value.field == "dose_number"


def test_a_course_the_patient_does_not_inject_at_home_has_no_diary(clinic: Clinic) -> None:
    with pytest.raises(InvalidInputError) as caught:
        clinic.record(course=clinic.bolus)
    assert caught.value.field == "course"
    assert "sc-eu" in caught.value.allowed
    with pytest.raises(InvalidInputError):
        course_diary(clinic.services, clinic.people[Role.NURSE], clinic.bolus)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"dose_number": 21}, "dose_number"),
        ({"dose_number": 6}, "dose_number"),  # planned on day 8: not yet
        ({"taken_at": "2026-12-08T09:00:00+00:00"}, "taken_at"),
        ({"taken_at": "2026-11-30T09:00:00+00:00"}, "taken_at"),
        ({"side_effects": [{"term": "chills", "grade": 4}]}, "side_effects[0].grade"),
        ({"side_effects": [{"term": "itchy", "grade": 1}]}, "side_effects[0].term"),
        ({"status": "skipped"}, "status"),
        ({"reported_by": "neighbour"}, "reported_by"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_unusable_reports_are_refused_naming_the_field_and_nothing_is_kept(
    clinic: Clinic, changes: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidInputError) as caught:
        clinic.record(**changes)
    assert caught.value.field == field
    assert clinic.database.committed.diary == {}
    assert len(clinic.audited("refuse_record_diary")) == 1


def test_an_unknown_course_is_not_found(clinic: Clinic) -> None:
    with pytest.raises(NotFoundError):
        clinic.record(course=999)


def test_staff_read_the_diary_with_its_summary_and_the_read_is_audited(clinic: Clinic) -> None:
    clinic.record()
    clinic.record(dose_number=2, taken_at="2026-12-02T09:00:00+00:00", side_effects=[])
    diary = course_diary(clinic.services, clinic.people[Role.PHYSICIAN], clinic.course)
    summary = diary["summary"]
    assert (summary["planned_to_date"], summary["taken"], summary["not_reported"]) == (5, 2, 3)
    assert (summary["adherence"], summary["adherence_percent"]) == ("2/5", "40.0")
    assert summary["taken_iu"] == 36_000_000
    assert summary["side_effects"] == [
        {"term": "injection_site_reaction", "name": "Injection site reaction",
         "highest_grade": 1, "entries": 1}
    ]  # fmt: skip
    assert clinic.audited("read") == [("physician", "diary", str(clinic.course))]


def test_a_researcher_reading_by_database_id_is_answered_not_found(clinic: Clinic) -> None:
    clinic.record()
    with pytest.raises(NotFoundError):
        course_diary(clinic.services, clinic.people[Role.RESEARCHER], clinic.course)
    with pytest.raises(PermissionDeniedError):
        course_diary(clinic.services, clinic.people[Role.ADMINISTRATOR], clinic.course)
