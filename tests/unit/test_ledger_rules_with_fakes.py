"""The dose ledger's rules on in-memory fakes of the ports: override, verifier, idempotency, audit.

The same rules run on SQLite and PostgreSQL in tests/integration (test_records.py,
test_timeline.py, test_audit.py); these tests mirror their assertions through the same use cases
(services.doses), in milliseconds, so each rule can be tried for every role the permission
matrix names. A unit of work here keeps nothing on rollback and refuses a second record of a
slot or of a user's idempotency key on a course, as the database does (tests/fakes.py).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from functools import cache
from typing import Any

import pytest
from argon2 import PasswordHasher
from tests.fakes import FakeDatabase, FixedClock
from tests.integration.builders import PASSWORD, PATIENT, stable_assessment

from il2.domain.errors import (
    ConflictError,
    Il2Error,
    InvalidInputError,
    PermissionDeniedError,
    RefusedError,
)
from il2.domain.records import Actor, DoseOutcome, Role
from il2.rules.loader import RuleSet, load_rules
from il2.services.context import Services
from il2.services.courses import course_fields
from il2.services.doses import (
    DoseResult,
    DoseSubmission,
    ledger_line,
    submit_dose,
)
from il2.services.ports import Doses, UnitOfWork, UnitOfWorkFactory

FIRST = "2026-12-07T08:00:00-08:00"  # the FixedClock's start, 16:00 UTC (as test_timeline.py)
RULES = load_rules()
MATRIX = RULES.permissions
RECORDERS = [role for role in Role if MATRIX.allows(role, "dose.record")]
OVERRIDERS = [role for role in RECORDERS if MATRIX.allows(role, "dose.override")]
VERIFIERS = [role for role in Role if MATRIX.allows(role, "dose.verify")]


@cache
def _password_hash() -> str:
    """The test password hashed cheaply (the real check reads the cost from the hash)."""
    return PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD)


class Ward:
    """A patient with one planned hd-label course, one account of every role and a second nurse
    ('nurse2'), kept in a fake database; the clock at the first dose's due time."""

    def __init__(self, rules: RuleSet = RULES) -> None:
        self.database = FakeDatabase()
        self.clock = FixedClock()
        factory: UnitOfWorkFactory = self.database
        self.services = Services(rules=rules, uow=factory, clock=self.clock)
        with self.database() as uow:
            self.people = {role: self.account(uow, role.value, role) for role in Role}
            self.account(uow, "nurse2", Role.NURSE)
            self.patient, self.course = self.another_course(uow, PATIENT)
            uow.commit()

    def another_course(self, uow: UnitOfWork, patient: dict[str, str]) -> tuple[int, int]:
        """Register a patient and plan their hd-label course from now: (patient id, course id)."""
        given: dict[str, Any] = dict(patient)
        for key in ("birth_date", "referred_on"):
            given[key] = date.fromisoformat(patient[key])
        added = uow.patients.add(**given, at=self.clock.now)
        fields = course_fields(self.services, regimen="hd-label", weight_kg=70, first_dose=FIRST)
        course = uow.courses.add(
            patient_id=added.id, number=1, **fields, recorded_by="physician", at=self.clock.now
        )
        return added.id, course.id

    def account(self, uow: UnitOfWork, username: str, role: Role) -> Actor:
        user = uow.users.add(
            username=username,
            display_name=username.title(),
            role=role,
            password_hash=_password_hash(),
            at=self.clock.now,
        )
        return Actor(user.id, user.username, user.role)

    def give(self, number: int, **changes: Any) -> DoseSubmission:
        """Dose `number` of cycle 1 given now, verified by nurse2."""
        base = DoseSubmission(
            cycle=1,
            dose_number=number,
            assessment=stable_assessment(),
            outcome=DoseOutcome.GIVEN,
            given_at=self.clock.now,
            verified_by="nurse2",
            verifier_password=PASSWORD,
        )
        return replace(base, **changes)

    def submit(self, submission: DoseSubmission, role: Role = Role.NURSE) -> DoseResult:
        return submit_dose(self.services, self.people[role], self.course, submission)

    def audited(self, *actions: str) -> list[tuple[str, str, str, str]]:
        """(username, action, entity, entity id) of the committed audit entries named."""
        return [
            (e.username, e.action, e.entity, e.entity_id)
            for e in self.database.audit
            if e.action in actions
        ]

    def refused(self, submission: DoseSubmission, role: Role = Role.NURSE) -> Il2Error:
        """Submit, expect a refusal; check nothing was stored and exactly one refusal audited."""
        doses, refusals = len(self.database.doses), len(self.audited("refuse_record_dose"))
        with pytest.raises(Il2Error) as caught:
            self.submit(submission, role)
        assert len(self.database.doses) == doses
        assert len(self.audited("refuse_record_dose")) == refusals + 1
        return caught.value


@pytest.fixture
def ward() -> Ward:
    return Ward()


def _low_sbp() -> dict[str, Any]:
    low = stable_assessment()
    low["vitals"]["sbp_mmhg"] = 85
    return low


def _codes(error: Il2Error) -> list[str]:
    assert isinstance(error, RefusedError), error
    return [reason.code for reason in error.reasons]


def test_the_fake_is_the_port() -> None:
    database = FakeDatabase()
    factory: UnitOfWorkFactory = database
    with factory() as uow:
        port: UnitOfWork = uow
        doses: Doses = port.doses
        assert doses.for_course(1) == []
        with pytest.raises(NotImplementedError, match="stage_counts"):
            port.patients.stage_counts  # noqa: B018 - the member's lookup is what fails


def test_a_unit_of_work_keeps_only_what_it_commits(ward: Ward) -> None:
    with ward.database() as uow:
        ward.account(uow, "kept", Role.NURSE)
        uow.commit()
        ward.account(uow, "dropped", Role.NURSE)
    with ward.database() as uow:
        names = {u.username for u in uow.users.all()}
        assert "kept" in names
        assert "dropped" not in names
        ward.account(uow, "rolled", Role.NURSE)
        uow.rollback()
        assert uow.users.by_username("rolled") is None


def test_the_fake_refuses_a_second_record_of_a_slot_or_a_key(ward: Ward) -> None:
    fields: dict[str, Any] = {
        "cycle": 1,
        "outcome": DoseOutcome.HELD,
        "assessment": {},
        "decision": {},
        "decision_action": "hold",
        "rules_version": "v",
        "given_at": None,
        "verified_by": None,
        "override_reason": None,
        "override_by": None,
        "recorded_by": "nurse",
        "at": ward.clock.now,
    }
    with ward.database() as uow:
        uow.doses.add(course_id=ward.course, dose_number=1, idempotency_key="k", **fields)
        with pytest.raises(ConflictError):
            uow.doses.add(course_id=ward.course, dose_number=1, idempotency_key=None, **fields)
        with pytest.raises(ConflictError):
            uow.doses.add(course_id=ward.course, dose_number=2, idempotency_key="k", **fields)
        again = {**fields, "recorded_by": "nurse2"}  # another user's key is their own
        uow.doses.add(course_id=ward.course, dose_number=2, idempotency_key="k", **again)


# ---------------------------------------------------------------- override


def test_a_low_sbp_is_held_and_giving_it_needs_a_physician_override(ward: Ward) -> None:
    held = ward.submit(DoseSubmission(cycle=1, dose_number=1, assessment=_low_sbp()))
    assert held.record.outcome is DoseOutcome.HELD
    assert held.record.decision["reasons"][0]["rule"] == "label-sbp-low"
    ward.clock.now += timedelta(hours=8)
    give_anyway = ward.give(2, assessment=_low_sbp())
    error = ward.refused(give_anyway)
    assert "only a physician may give it" in str(error)
    assert isinstance(error, RefusedError)
    # held twice over: by the rule, and by dose 1's hold still open in the ledger
    assert sorted((r.code, r.overridable) for r in error.reasons) == [
        ("label-sbp-low", True),
        ("open-hold-sbp", True),
    ]
    unexplained = ward.refused(give_anyway, Role.PHYSICIAN)
    assert isinstance(unexplained, InvalidInputError)
    assert unexplained.field == "override_reason"
    overridden = ward.submit(
        replace(give_anyway, override_reason="SBP 85 after a bolus, 96 on recheck"),
        Role.PHYSICIAN,
    )
    assert overridden.record.override_by == "physician"
    assert sorted(overridden.record.decision["overridden"]) == ["label-sbp-low", "open-hold-sbp"]


@pytest.mark.parametrize("role", RECORDERS, ids=[r.value for r in RECORDERS])
def test_only_a_role_that_may_override_gives_a_held_dose(ward: Ward, role: Role) -> None:
    submission = ward.give(1, assessment=_low_sbp(), override_reason="SBP 96 after a bolus")
    if role in OVERRIDERS:
        done = ward.submit(submission, role)
        assert (done.record.override_by, done.record.decision["overridden"]) == (
            role.value,
            ["label-sbp-low"],
        )
        return
    error = ward.refused(submission, role)
    assert isinstance(error, RefusedError)
    assert error.overridable
    assert _codes(error) == ["label-sbp-low"]


def test_the_matrix_lets_only_physicians_override() -> None:
    assert OVERRIDERS == [Role.PHYSICIAN]  # permissions.toml: dose.override


def test_an_override_names_only_reasons_the_decision_holds_the_dose_for(ward: Ward) -> None:
    unnamed = ward.refused(
        ward.give(1, assessment=_low_sbp(), override_reason="x", overrides=("regimen-interval",)),
        Role.PHYSICIAN,
    )
    assert isinstance(unnamed, InvalidInputError)
    assert unnamed.field == "overrides"
    nothing_held = ward.refused(
        ward.give(1, override_reason="x", overrides=("label-sbp-low",)), Role.PHYSICIAN
    )
    assert isinstance(nothing_held, InvalidInputError)
    assert nothing_held.field == "overrides"


def test_an_override_never_waives_the_interval(ward: Ward) -> None:
    ward.clock.now += timedelta(minutes=50)
    ward.submit(ward.give(1))
    ward.clock.now += timedelta(hours=7, minutes=10)  # dose 2's due time: 7 h 10 min after dose 1
    error = ward.refused(
        ward.give(2, assessment=_low_sbp(), override_reason="reviewed"), Role.PHYSICIAN
    )
    assert _codes(error) == ["not-due"]


def test_a_stop_is_never_overridden(ward: Ward) -> None:
    fibrillating = stable_assessment()
    fibrillating["vitals"]["rhythm"] = "atrial_fibrillation"
    error = ward.refused(
        ward.give(1, assessment=fibrillating, override_reason="rate controlled"), Role.PHYSICIAN
    )
    assert isinstance(error, RefusedError)
    never = [r.code for r in error.reasons if not r.overridable]
    assert "consensus-atrial-arrhythmia-absolute" in never
    assert not error.overridable


# ---------------------------------------------------------------- verifier


@pytest.mark.parametrize(
    ("verifier", "password"),
    [
        ("nurse", PASSWORD),
        ("nurse2", "not the password"),
        ("nobody", PASSWORD),
        *[(r.value, PASSWORD) for r in Role if r not in VERIFIERS],
    ],
)
def test_the_verifier_is_another_active_user_whose_role_may_verify(
    ward: Ward, verifier: str, password: str
) -> None:
    error = ward.refused(ward.give(1, verified_by=verifier, verifier_password=password))
    assert isinstance(error, InvalidInputError)
    assert error.field == "verified_by"
    assert password not in str(error)
    assert all(password not in str(e) for e in ward.database.audit)


def test_a_deactivated_verifier_is_refused_in_the_words_of_an_unknown_one(ward: Ward) -> None:
    with ward.database() as uow:
        user = uow.users.by_username("nurse2")
        assert user is not None
        uow.users.update(user.id, active=False)
        uow.commit()
    answers = []
    for name in ("nurse2", "nobody"):
        error = ward.refused(ward.give(1, verified_by=name))
        assert isinstance(error, InvalidInputError)
        assert (error.field, error.value) == ("verified_by", name)
        assert "another active user signing" in error.allowed
        answers.append(error.allowed)
    assert len(set(answers)) == 1


@pytest.mark.parametrize("role", VERIFIERS, ids=[r.value for r in VERIFIERS])
def test_any_role_that_may_verify_signs_for_a_dose_someone_else_records(
    ward: Ward, role: Role
) -> None:
    recorder = Role.PHYSICIAN if role is Role.NURSE else Role.NURSE
    done = ward.submit(ward.give(1, verified_by=role.value), recorder)
    assert done.record.verified_by == role.value


# ---------------------------------------------------------------- idempotency


def test_a_dose_is_recorded_once_and_a_second_submission_conflicts_with_the_first(
    ward: Ward,
) -> None:
    first = ward.submit(ward.give(1))
    assert first.created
    assert first.record.decision_action == "give"
    with pytest.raises(ConflictError) as clash:
        ward.submit(ward.give(1), Role.PHYSICIAN)
    assert clash.value.existing == first.record


def test_a_retry_with_the_same_key_returns_the_first_result(ward: Ward) -> None:
    first = ward.submit(ward.give(1, idempotency_key="k-1"))
    again = ward.submit(ward.give(1, idempotency_key="k-1"))
    assert (again.created, again.record) == (False, first.record)
    assert len(ward.database.doses) == 1


def test_the_same_key_on_another_slot_is_answered_with_the_first_record(ward: Ward) -> None:
    first = ward.submit(ward.give(1, idempotency_key="k-1"))
    ward.clock.now += timedelta(hours=8)
    again = ward.submit(ward.give(2, idempotency_key="k-1"))
    # the key names the first submission: a retry answered with its record, nothing added
    assert (again.created, again.record) == (False, first.record)
    assert len(ward.database.doses) == 1


def test_another_users_key_is_theirs_alone(ward: Ward) -> None:
    ward.submit(ward.give(1, idempotency_key="k-1"))
    with pytest.raises(ConflictError):  # the physician's k-1 is no replay of the nurse's
        ward.submit(ward.give(1, idempotency_key="k-1"), Role.PHYSICIAN)


def test_a_key_reused_on_another_course_records_that_course(ward: Ward) -> None:
    first = ward.submit(ward.give(1, idempotency_key="k-1"))
    with ward.database() as uow:
        _, other = ward.another_course(uow, PATIENT | {"mrn": "MRN-0002"})
        uow.commit()
    nurse = ward.people[Role.NURSE]
    there = submit_dose(ward.services, nurse, other, ward.give(1, idempotency_key="k-1"))
    assert there.created
    assert (there.record.course_id, first.record.course_id) == (other, ward.course)


# ---------------------------------------------------------------- audit


def test_a_recorded_dose_is_audited_once_as_a_create_with_its_ledger_line(ward: Ward) -> None:
    done = ward.submit(ward.give(1, idempotency_key="k-1"))
    (entry,) = [e for e in ward.database.audit if e.entity == "dose"]
    assert (entry.username, entry.action, entry.entity_id, entry.patient_id) == (
        "nurse",
        "create",
        str(done.record.id),
        ward.patient,
    )
    assert entry.after == {k: _plain(v) for k, v in ledger_line(done.record).items()}


def _plain(value: object) -> object:
    """What the audit keeps of a value: enums as their value, moments as ISO text."""
    if isinstance(value, DoseOutcome):
        return value.value
    isoformat = getattr(value, "isoformat", None)
    return isoformat() if isoformat else value


def test_a_conflict_and_a_replay_audit_who_was_shown_the_first_record(ward: Ward) -> None:
    first = ward.submit(ward.give(1, idempotency_key="k-1"))
    shown = ("read_dose_conflict", "read_dose_replay")
    assert ward.audited(*shown) == []  # the write is audited as a create, not a read
    with pytest.raises(ConflictError):
        ward.submit(ward.give(1), Role.PHYSICIAN)
    ward.submit(ward.give(1, idempotency_key="k-1"))
    dose = str(first.record.id)
    assert ward.audited(*shown) == [
        ("physician", "read_dose_conflict", "dose", dose),
        ("nurse", "read_dose_replay", "dose", dose),
    ]
    assert {e.patient_id for e in ward.database.audit if e.action in shown} == {ward.patient}


def test_each_refusal_records_nothing_but_its_audit_entry(ward: Ward) -> None:
    ward.refused(ward.give(1, given_at=ward.clock.now + timedelta(minutes=6)))
    ward.refused(ward.give(1, verified_by="nurse"))
    (last,) = [e for e in ward.database.audit if e.action == "refuse_record_dose"][-1:]
    assert (last.entity, last.entity_id, last.patient_id) == (
        "course",
        str(ward.course),
        ward.patient,
    )
    assert last.after == {
        "error": "InvalidInputError",
        "field": "verified_by",
        "allowed": "a second user, not the one recording",
    }


def test_a_role_that_may_not_record_is_denied_before_anything_is_read(ward: Ward) -> None:
    for role in (r for r in Role if r not in RECORDERS):
        audited = len(ward.database.audit)
        with pytest.raises(PermissionDeniedError):
            ward.submit(ward.give(1), role)
        assert len(ward.database.audit) == audited  # the edge audits the denial
    assert ward.database.doses == []
