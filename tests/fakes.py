"""In-memory fakes of the storage ports (services/ports.py), for testing the services' rules.

A FakeUnitOfWork keeps the records the dose ledger's use cases read and write (accounts,
patients, courses and plan verifications, doses, the audit trail) in dictionaries, with the
database's semantics those rules lean on: a unit of work sees a copy of what is committed,
`commit` makes its changes permanent, and leaving it (or `rollback`) forgets the rest; a dose
slot and a user's idempotency key on a course are each recorded once (ConflictError, as the
unique constraints uq_doses_course_cycle_dose and uq_doses_idempotency_scope); a username and
an MRN are each taken once. Records come back frozen, with the ids storage gave them.

What the ledger does not use (sign-in tokens, screenings, entries, worklist counts...) is not
faked: reaching for it raises NotImplementedError naming the member, so a use case that grows a
new read fails loudly here rather than reading an empty fake. The real-database tests
(tests/integration) hold the same rules against SQLite and PostgreSQL.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, NoReturn, Self

from il2.domain.diary import DiaryEntry
from il2.domain.errors import ConflictError
from il2.domain.records import (
    AuditEntry,
    CourseDoseLine,
    CourseRecord,
    DoseRecord,
    InfusionEventRecord,
    LedgerLine,
    Patient,
    PatientLedgerLine,
    PlanVerification,
    User,
)
from il2.services.ports import UnitOfWork


class _OnlyWhatTheLedgerUses:
    """A repository faking some of its port: any other member raises, naming itself.

    mypy reads `__getattr__` for the members a class lacks, so the fake is accepted as the
    port while each member it implements is checked against the port's signature (an `add`
    takes the port's keywords as `**fields`, as persistence's repositories do).
    """

    def __getattr__(self, name: str) -> NoReturn:
        raise NotImplementedError(f"{type(self).__name__}.{name} is not faked (tests/fakes.py)")


class _Repository(_OnlyWhatTheLedgerUses):
    """A fake repository over the records of one unit of work."""

    def __init__(self, store: Store) -> None:
        self._store = store


@dataclass
class Store:
    """Every record kept, by id, and the last id given to each kind."""

    users: dict[int, User] = field(default_factory=dict)
    patients: dict[int, Patient] = field(default_factory=dict)
    courses: dict[int, CourseRecord] = field(default_factory=dict)
    verifications: dict[int, PlanVerification] = field(default_factory=dict)
    doses: dict[int, DoseRecord] = field(default_factory=dict)
    diary: dict[int, DiaryEntry] = field(default_factory=dict)

    infusions: dict[int, InfusionEventRecord] = field(default_factory=dict)
    audit: list[AuditEntry] = field(default_factory=list)
    last_ids: dict[str, int] = field(default_factory=dict)

    def next_id(self, kind: str) -> int:
        """A new id for a record of `kind`."""
        self.last_ids[kind] = self.last_ids.get(kind, 0) + 1
        return self.last_ids[kind]


class FakeUsers(_Repository):
    """Accounts (services.ports.Users): added, found by username, listed."""

    def add(self, **fields: Any) -> User:
        """Create an account; ConflictError if the username is taken."""
        if self.by_username(fields["username"]) is not None:
            raise ConflictError(f"the username {fields['username']} is taken")
        at = fields.pop("at")
        user = User(id=self._store.next_id("users"), active=True, created_at=at, **fields)
        self._store.users[user.id] = user
        return user

    def by_username(self, username: str) -> User | None:
        """The account with this username."""
        return next((u for u in self._store.users.values() if u.username == username), None)

    def all(self) -> Sequence[User]:
        """Every account, by username."""
        return sorted(self._store.users.values(), key=lambda u: u.username)

    def update(self, user_id: int, **changes: Any) -> User:
        """Change an account's status, role or password hash (None: unchanged)."""
        kept = {name: value for name, value in changes.items() if value is not None}
        changed = replace(self._store.users[user_id], **kept)
        self._store.users[user_id] = changed
        return changed


class FakePatients(_Repository):
    """Patients (services.ports.Patients): registered and read by id."""

    def add(self, **fields: Any) -> Patient:
        """Register a patient; ConflictError if the MRN is taken."""
        if any(p.mrn == fields["mrn"] for p in self._store.patients.values()):
            raise ConflictError(f"the MRN {fields['mrn']} is taken")
        at = fields.pop("at")
        patient = Patient(id=self._store.next_id("patients"), created_at=at, **fields)
        self._store.patients[patient.id] = patient
        return patient

    def get(self, patient_id: int) -> Patient | None:
        """The patient with this id."""
        return self._store.patients.get(patient_id)

    def lock(self, patient_id: int) -> Patient | None:
        """The patient (one unit of work at a time runs here: nothing to lock against)."""
        return self.get(patient_id)

    def named(self, patient_ids: Sequence[int]) -> Mapping[int, Patient]:
        """Several patients by id (an unknown id is left out)."""
        return {i: self._store.patients[i] for i in patient_ids if i in self._store.patients}


class FakeCourses(_Repository):
    """Planned courses and their plan verifications (services.ports.Courses)."""

    def add(self, **fields: Any) -> CourseRecord:
        """Keep a planned course."""
        at = fields.pop("at")
        course = CourseRecord(id=self._store.next_id("courses"), recorded_at=at, **fields)
        self._store.courses[course.id] = course
        return course

    def get(self, course_id: int) -> CourseRecord | None:
        """The course with this id."""
        return self._store.courses.get(course_id)

    def get_with_user(
        self, course_id: int, username: str | None
    ) -> tuple[CourseRecord | None, User | None]:
        """The course with this id, and the account with this username."""
        users = FakeUsers(self._store)
        return self.get(course_id), None if username is None else users.by_username(username)

    def for_patient(self, patient_id: int) -> Sequence[CourseRecord]:
        """A patient's courses, by number."""
        mine = [c for c in self._store.courses.values() if c.patient_id == patient_id]
        return sorted(mine, key=lambda c: c.number)

    def for_patients(self, patient_ids: Sequence[int]) -> Mapping[int, Sequence[CourseRecord]]:
        """Several patients' courses, by number."""
        return {i: self.for_patient(i) for i in patient_ids if self.for_patient(i)}

    def verify(self, course_id: int, *, by: str, at: datetime) -> PlanVerification:
        """Keep a pharmacist's verification of the plan; a second one is a conflict."""
        if course_id in self._store.verifications:
            raise ConflictError(f"course {course_id}'s plan is already verified")
        verification = PlanVerification(course_id, by, at)
        self._store.verifications[course_id] = verification
        return verification

    def verifications(self, course_ids: Sequence[int]) -> Mapping[int, PlanVerification]:
        """The plan verifications of these courses, by course id."""
        kept = self._store.verifications
        return {i: kept[i] for i in course_ids if i in kept}


class FakeDoses(_Repository):
    """The dose ledger (services.ports.Doses), one record a slot and a key a user and course."""

    def add(self, **fields: Any) -> DoseRecord:
        """Record a dose; ConflictError if that slot or idempotency key is already recorded."""
        course_id, cycle, number = fields["course_id"], fields["cycle"], fields["dose_number"]
        key, recorded_by = fields["idempotency_key"], fields["recorded_by"]
        slot_taken = self.by_slot(course_id, cycle, number) is not None
        key_taken = key is not None and (
            self.by_idempotency_key(key, course_id=course_id, recorded_by=recorded_by) is not None
        )
        if slot_taken or key_taken:
            raise ConflictError(f"dose {cycle}.{number} of course {course_id} is already recorded")
        at = fields.pop("at")
        record = DoseRecord(id=self._store.next_id("doses"), recorded_at=at, **fields)
        self._store.doses[record.id] = record
        return record

    def by_slot(self, course_id: int, cycle: int, dose_number: int) -> DoseRecord | None:
        """The record of one dose slot."""
        slot = (course_id, cycle, dose_number)
        found = (
            d for d in self._store.doses.values() if (d.course_id, d.cycle, d.dose_number) == slot
        )
        return next(found, None)

    def by_idempotency_key(
        self, key: str, *, course_id: int, recorded_by: str
    ) -> DoseRecord | None:
        """The record this user first made on this course with this key."""
        scope = (key, course_id, recorded_by)
        found = (
            d
            for d in self._store.doses.values()
            if (d.idempotency_key, d.course_id, d.recorded_by) == scope
        )
        return next(found, None)

    def for_course(self, course_id: int) -> Sequence[DoseRecord]:
        """A course's ledger, in dose order."""
        mine = [d for d in self._store.doses.values() if d.course_id == course_id]
        return sorted(mine, key=lambda d: (d.cycle, d.dose_number))

    def lines_for_course(self, course_id: int) -> Sequence[LedgerLine]:
        """A course's ledger without the documents, in dose order."""
        return [
            LedgerLine(d.cycle, d.dose_number, d.outcome, d.decision_action, d.given_at)
            for d in self.for_course(course_id)
        ]

    def for_courses(
        self, course_ids: Sequence[int], *, decisions: bool | frozenset[str] = True
    ) -> Mapping[int, Sequence[DoseRecord]]:
        """Several courses' ledgers (`decisions=False`: each decision document left `{}`; a
        set of keys: only those keys of it, one absent or null left out)."""
        ledgers = {i: self.for_course(i) for i in course_ids}
        if decisions is not True:
            keys = decisions or frozenset()
            ledgers = {i: [_decision_keys(d, keys) for d in kept] for i, kept in ledgers.items()}
        return {i: kept for i, kept in ledgers.items() if kept}

    def lines_for_patient(self, patient_id: int) -> Sequence[PatientLedgerLine]:
        """The patient's whole ledger without the documents, in recording order."""
        courses = {c.id for c in self._store.courses.values() if c.patient_id == patient_id}
        return [
            PatientLedgerLine(
                d.course_id,
                d.cycle,
                d.dose_number,
                d.outcome,
                d.decision_action,
                d.given_at,
                d.recorded_at,
            )
            for d in sorted(self._store.doses.values(), key=lambda d: d.id)
            if d.course_id in courses
        ]

    def engine_holds(self) -> Sequence[DoseRecord]:
        """Every dose the engine held, with its decision, by course and dose."""
        held = [
            replace(d, assessment={})
            for d in self._store.doses.values()
            if d.decision_action == "hold"
        ]
        return sorted(held, key=lambda d: (d.course_id, d.cycle, d.dose_number))

    def ledger_lines(self) -> Sequence[CourseDoseLine]:
        """The whole ledger without the documents, by course, cycle and dose number."""
        return [
            CourseDoseLine(
                d.course_id, d.cycle, d.dose_number, d.outcome, d.decision_action, d.given_at
            )
            for d in sorted(
                self._store.doses.values(), key=lambda d: (d.course_id, d.cycle, d.dose_number)
            )
        ]


def _decision_keys(record: DoseRecord, keys: frozenset[str]) -> DoseRecord:
    kept = {k: v for k, v in record.decision.items() if k in keys and v is not None}
    return replace(record, decision=kept)


class FakeDiary(_Repository):
    """The self-injection diary (services.ports.Diary), with the database's chain rules: one
    first entry per injection, each entry corrected once and only by an entry of its injection
    (ConflictError, as uq_diary_entries_first and uq_diary_entries_corrects_id)."""

    def add(self, **fields: Any) -> DiaryEntry:
        """Keep an entry; ConflictError where the database's constraints would refuse it."""
        slot = (fields["course_id"], fields["cycle"], fields["dose_number"])
        corrects = fields["corrects_id"]
        kept = self._store.diary.values()
        if corrects is None:
            clash = any((e.course_id, e.cycle, e.dose_number) == slot for e in kept)
        else:
            old = self._store.diary.get(corrects)
            mismatch = old is None or (old.course_id, old.cycle, old.dose_number) != slot
            clash = mismatch or any(e.corrects_id == corrects for e in kept)
        if clash:
            raise ConflictError(f"injection {slot[1]}.{slot[2]} of course {slot[0]}: refused")
        at = fields.pop("at")
        entry = DiaryEntry(id=self._store.next_id("diary"), recorded_at=at, **fields)
        self._store.diary[entry.id] = entry
        return entry

    def get(self, entry_id: int) -> DiaryEntry | None:
        """The entry with this id."""
        return self._store.diary.get(entry_id)

    def for_course(self, course_id: int) -> Sequence[DiaryEntry]:
        """A course's entries, oldest first."""
        return [e for _, e in sorted(self._store.diary.items()) if e.course_id == course_id]


class FakeInfusions(_Repository):
    """Infusion events (services.ports.Infusions): one per slot and number, as the unique
    constraint uq_infusion_events_slot_seq keeps them."""

    def add(self, **fields: Any) -> InfusionEventRecord:
        """Keep an event; ConflictError if its number is taken in its slot."""
        slot = (fields["course_id"], fields["cycle"], fields["dose_number"])
        if any(e.seq == fields["seq"] for e in self.for_dose(*slot)):
            raise ConflictError(f"event {fields['seq']} of infusion {slot} is already recorded")
        at = fields.pop("at")
        event = InfusionEventRecord(id=self._store.next_id("infusions"), recorded_at=at, **fields)
        self._store.infusions[event.id] = event
        return event

    def for_dose(
        self, course_id: int, cycle: int, dose_number: int
    ) -> Sequence[InfusionEventRecord]:
        """A dose slot's events, in order."""
        slot = (course_id, cycle, dose_number)
        mine = [
            e
            for e in self._store.infusions.values()
            if (e.course_id, e.cycle, e.dose_number) == slot
        ]
        return sorted(mine, key=lambda e: e.seq)

    def stops_for_patient(self, patient_id: int) -> Sequence[InfusionEventRecord]:
        """The patient's infusion stops, in recording order."""
        courses = {c.id for c in self._store.courses.values() if c.patient_id == patient_id}
        return [
            e
            for e in sorted(self._store.infusions.values(), key=lambda e: e.id)
            if e.course_id in courses and e.kind == "stop"
        ]


class FakeAudit(_Repository):
    """The audit trail (services.ports.Audit): appended to, read oldest first."""

    def add(self, **fields: Any) -> None:
        """Append an entry."""
        self._store.audit.append(AuditEntry(id=self._store.next_id("audit"), **fields))

    def entries(self, *, since: datetime | None = None) -> Sequence[AuditEntry]:
        """Every entry (since a moment), oldest first."""
        return [e for e in self._store.audit if since is None or e.at >= since]


class _Unused(_OnlyWhatTheLedgerUses):
    """A repository the ledger never opens (screenings, clinical entries)."""


class FakeUnitOfWork(UnitOfWork):
    """One transaction over the fake repositories: a copy of the committed records, kept by
    `commit`, forgotten by `rollback` or on leaving the block. (It names the port it implements
    as its base, so its repositories are typed as the port's.)"""

    def __init__(self, database: FakeDatabase) -> None:
        self._database = database
        self._begin()

    def _begin(self) -> None:
        self.store = copy.deepcopy(self._database.committed)
        self.users = FakeUsers(self.store)
        self.patients = FakePatients(self.store)
        self.screenings = _Unused()
        self.courses = FakeCourses(self.store)
        self.doses = FakeDoses(self.store)
        self.entries = _Unused()
        self.studies = _Unused()
        self.diary = FakeDiary(self.store)

        self.infusions = FakeInfusions(self.store)
        self.audit = FakeAudit(self.store)

    def __enter__(self) -> Self:
        """Begin: read what is committed now."""
        self._begin()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        """Roll back whatever was not committed."""
        self.rollback()

    def commit(self) -> None:
        """Make everything added so far permanent."""
        self._database.committed = copy.deepcopy(self.store)
        self._database.commits += 1

    def rollback(self) -> None:
        """Forget everything added since the last commit."""
        self._begin()


@dataclass
class FakeDatabase:
    """The committed records, and a factory of units of work over them (a UnitOfWorkFactory)."""

    committed: Store = field(default_factory=Store)
    commits: int = 0

    def __call__(self) -> FakeUnitOfWork:
        """A new unit of work."""
        return FakeUnitOfWork(self)

    @property
    def audit(self) -> Sequence[AuditEntry]:
        """The committed audit trail, oldest first."""
        return list(self.committed.audit)

    @property
    def doses(self) -> Sequence[DoseRecord]:
        """The committed ledger, in recording order."""
        return sorted(self.committed.doses.values(), key=lambda d: d.id)


class FixedClock:
    """A clock the test moves by hand (services.ports.Clock)."""

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or datetime(2026, 12, 7, 16, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        """The moment the test set."""
        return self.now
