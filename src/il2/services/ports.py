"""What the services need from storage, as Protocols; persistence implements them.

A unit of work is one transaction: everything added inside it is committed together or not at
all. Repositories return frozen records; new records come back with their ids.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from types import TracebackType
from typing import Any, Literal, Protocol, Self

from il2.domain.diary import DiaryEntry, Report
from il2.domain.exports import ExportFile, ExportJob, ExportStatus
from il2.domain.records import (
    AuditEntry,
    ClinicalEntry,
    CourseDoseLine,
    CourseOutline,
    CourseRecord,
    CycleTally,
    DoseOutcome,
    DoseRecord,
    EntryOutline,
    InfusionEventRecord,
    Json,
    LedgerLine,
    Patient,
    PatientLedgerLine,
    PlanVerification,
    Referral,
    Role,
    ScreeningRecord,
    User,
)
from il2.domain.studies import Assignment, AssignmentKind, Study


class Users(Protocol):
    """Accounts."""

    def add(
        self, *, username: str, display_name: str, role: Role, password_hash: str, at: datetime
    ) -> User:
        """Create an account; ConflictError if the username is taken."""
        ...

    def by_username(self, username: str) -> User | None:
        """The account with this username."""
        ...

    def all(self) -> Sequence[User]:
        """Every account, by username."""
        ...

    def by_token(self, token_hash: str, now: datetime, idle_since: datetime) -> User | None:
        """The account a live session token belongs to: not expired at `now`, and used since
        `idle_since` (a session without a last use is bounded by its expiry only). Notes the
        use at `now`, written only when the last note is a minute old or more."""
        ...

    def session_by_token(
        self, token_hash: str, now: datetime, idle_since: datetime
    ) -> tuple[User, str | None] | None:
        """As `by_token`, with the scope the token was asked with (None: unscoped, all the
        role allows)."""
        ...

    def touch_token(self, token_hash: str, now: datetime) -> None:
        """Note that the session was used at `now` (at most about once a minute is written)."""
        ...

    def add_failure(self, *, username: str, address: str, at: datetime) -> None:
        """Remember a failed sign-in under the name tried and the client address."""
        ...

    def failures(
        self, *, since: datetime, username: str | None = None, address: str | None = None
    ) -> list[datetime]:
        """When sign-ins failed since `since` for this name, or from this address, oldest first."""
        ...

    def clear_failures(self, username: str) -> int:
        """Forget an account's failed sign-ins (after a success, or an unlock); how many."""
        ...

    def add_token(
        self, *, user_id: int, token_hash: str, expires_at: datetime, scope: str | None = None
    ) -> None:
        """Remember a session token (only its hash) and the SMART scope it was asked with."""
        ...

    def remove_token(self, token_hash: str) -> User | None:
        """Forget a session token; the account it belonged to, if it was known."""
        ...

    def remove_tokens(self, user_id: int, *, keep: str | None = None) -> int:
        """Forget every session token of an account but the one hashed `keep`; how many."""
        ...

    def update(
        self,
        user_id: int,
        *,
        active: bool | None = None,
        role: Role | None = None,
        password_hash: str | None = None,
    ) -> User:
        """Change an account's status, role or password hash (None: unchanged)."""
        ...

    def active_administrators(self) -> int:
        """How many active accounts have the administrator role."""
        ...


class Patients(Protocol):
    """Patients."""

    def add(
        self,
        *,
        mrn: str,
        name: str,
        birth_date: date,
        sex: str,
        diagnosis: str,
        referred_on: date,
        at: datetime,
    ) -> Patient:
        """Register a patient; ConflictError if the MRN is taken."""
        ...

    def get(self, patient_id: int) -> Patient | None:
        """The patient with this id."""
        ...

    def lock(self, patient_id: int) -> Patient | None:
        """The patient, locked until the transaction ends: writes that read the patient's
        whole timeline (a dose, a new course) take it first, so two never interleave."""
        ...

    def named(self, patient_ids: Sequence[int]) -> Mapping[int, Patient]:
        """Several patients by id, in one query (an unknown id is left out)."""
        ...

    def count(self, *, matching: str | None = None) -> int:
        """How many patients there are (whose name or MRN contains `matching`, if given)."""
        ...

    def page(self, *, limit: int, offset: int, matching: str | None = None) -> Sequence[Patient]:
        """Patients, newest referral first (whose name or MRN contains `matching`, if given)."""
        ...

    def stage_counts(
        self, *, now: datetime, lookback_start: datetime, matching: str | None = None
    ) -> tuple[Mapping[str, int], Sequence[int]]:
        """How many patients (matching, if given) are at each worklist stage, counted in SQL;
        and the ids of those whose latest course started since `lookback_start`, whose stage
        (in hospital or between cycles) the caller places from their records."""
        ...

    def search(self, text: str, *, limit: int) -> Sequence[Patient]:
        """Patients whose name or MRN contains `text` (any case), by name then id."""
        ...

    def referrals(self) -> Sequence[Referral]:
        """Every patient's id, diagnosis and referral date, newest referral first (as `page`)."""
        ...

    def span(self) -> tuple[int, int]:
        """How many patients there are and the highest id (0 with none), read together."""
        ...

    def after(self, patient_id: int, *, through: int, limit: int) -> Sequence[Patient]:
        """Up to `limit` patients with ids above `patient_id` and at most `through`, by id
        (keyset paging: each page costs the same however far into the program)."""
        ...


class Screenings(Protocol):
    """Screenings."""

    def add(
        self,
        *,
        patient_id: int,
        findings: Json,
        verdict: str,
        result: Json,
        rules_version: str,
        recorded_by: str,
        at: datetime,
    ) -> ScreeningRecord:
        """Keep a screening."""
        ...

    def for_patient(self, patient_id: int) -> Sequence[ScreeningRecord]:
        """A patient's screenings, oldest first."""
        ...

    def for_patients(self, patient_ids: Sequence[int]) -> Mapping[int, Sequence[ScreeningRecord]]:
        """Several patients' screenings, oldest first, in one query."""
        ...

    def latest_verdicts(self) -> Mapping[int, str]:
        """Each screened patient's latest verdict, by patient id."""
        ...


class Courses(Protocol):
    """Planned courses."""

    def add(
        self,
        *,
        patient_id: int,
        number: int,
        regimen_id: str,
        weight_kg: str,
        first_dose_at: datetime,
        plan: Json,
        recorded_by: str,
        at: datetime,
    ) -> CourseRecord:
        """Keep a planned course."""
        ...

    def get(self, course_id: int) -> CourseRecord | None:
        """The course with this id."""
        ...

    def get_with_user(
        self, course_id: int, username: str | None
    ) -> tuple[CourseRecord | None, User | None]:
        """The course with this id, and the account with this username, in one query."""
        ...

    def for_patient(self, patient_id: int) -> Sequence[CourseRecord]:
        """A patient's courses, by number."""
        ...

    def for_patients(self, patient_ids: Sequence[int]) -> Mapping[int, Sequence[CourseRecord]]:
        """Several patients' courses, by number, in one query."""
        ...

    def open_patients(self, *, starting_before: datetime) -> Sequence[int]:
        """The patients still on the pathway: a course whose first dose is before
        `starting_before`, and no current death recorded; by id."""
        ...

    def record_marks(self, patient_ids: Sequence[int]) -> Mapping[int, tuple[int, ...]]:
        """Each patient's courses, doses and entries as (count, highest id) pairs: records
        are only ever added, so equal marks mean the same records."""
        ...

    def starting_between(self, start: datetime, end: datetime) -> Sequence[CourseRecord]:
        """Courses whose first dose falls in [start, end)."""
        ...

    def verify(self, course_id: int, *, by: str, at: datetime) -> PlanVerification:
        """Keep a pharmacist's verification of the course's plan; a second one is a conflict."""
        ...

    def verifications(self, course_ids: Sequence[int]) -> Mapping[int, PlanVerification]:
        """The plan verifications of these courses, by course id (absent: not verified)."""
        ...

    def outlines(self) -> Sequence[CourseOutline]:
        """Every kept course outline (vials per dose, cycle starts), by patient and number."""
        ...

    def without_outline(self) -> Sequence[CourseRecord]:
        """The courses with no outline kept yet."""
        ...

    def add_outlines(self, kept: Sequence[CourseOutline]) -> None:
        """Keep course outlines (one already kept stays as it is)."""
        ...


class Doses(Protocol):
    """The dose ledger."""

    def add(
        self,
        *,
        course_id: int,
        cycle: int,
        dose_number: int,
        outcome: DoseOutcome,
        assessment: Json,
        decision: Json,
        decision_action: str,
        rules_version: str,
        given_at: datetime | None,
        verified_by: str | None,
        override_reason: str | None,
        override_by: str | None,
        idempotency_key: str | None,
        recorded_by: str,
        at: datetime,
    ) -> DoseRecord:
        """Record a dose; ConflictError if that slot or idempotency key is already recorded."""
        ...

    def by_slot(self, course_id: int, cycle: int, dose_number: int) -> DoseRecord | None:
        """The record of one dose slot."""
        ...

    def by_idempotency_key(
        self, key: str, *, course_id: int, recorded_by: str
    ) -> DoseRecord | None:
        """The record this user first made on this course with this idempotency key (a key
        reused on another course, or by another user, is not a replay of their record)."""
        ...

    def for_course(self, course_id: int) -> Sequence[DoseRecord]:
        """A course's ledger, in dose order."""
        ...

    def lines_for_course(self, course_id: int) -> Sequence[LedgerLine]:
        """A course's ledger without the documents (cheap), in dose order."""
        ...

    def held_since(self, at: datetime, *, course_ids: Sequence[int]) -> Sequence[DoseRecord]:
        """The doses of these courses recorded as held at or after `at`, oldest first
        (decisions unread)."""
        ...

    def for_courses(
        self, course_ids: Sequence[int], *, decisions: bool | frozenset[str] = True
    ) -> Mapping[int, Sequence[DoseRecord]]:
        """Several courses' ledgers, in one query; `decisions=False` leaves each record's
        decision document unread (`{}`), for readers of outcomes, times and assessments; a set
        of keys reads only those keys of each decision (one absent or null left out)."""
        ...

    def lines_for_patient(self, patient_id: int) -> Sequence[PatientLedgerLine]:
        """The patient's whole ledger without the documents, every course, in recording order."""
        ...

    def engine_holds(self) -> Sequence[DoseRecord]:
        """Every dose the before-dose engine held (given against the hold or not), by course
        and dose: of its decision at least the `reasons` and `assessed_at`, of its assessment
        nothing needed."""
        ...

    def ledger_lines(self) -> Sequence[CourseDoseLine]:
        """The whole ledger without the documents, by course, cycle and dose number."""
        ...

    def cycle_tallies(self) -> Sequence[CycleTally]:
        """Every cycle with doses recorded: given, held, last given (kept as doses are added)."""
        ...

    def untimed_given(self) -> Mapping[tuple[int, int], int]:
        """Doses recorded as given without a time, counted by (course id, cycle)."""
        ...


class Infusions(Protocol):
    """The events of running continuous infusions: only ever added, numbered per dose slot."""

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
        """Keep event `seq` of a dose slot; ConflictError if that number is taken (another
        event was recorded meanwhile)."""
        ...

    def for_dose(
        self, course_id: int, cycle: int, dose_number: int
    ) -> Sequence[InfusionEventRecord]:
        """A dose slot's events, in order."""
        ...

    def stops_for_patient(self, patient_id: int) -> Sequence[InfusionEventRecord]:
        """The patient's infusion stops, every course, in recording order."""
        ...


class Entries(Protocol):
    """Toxicities, responses, follow-ups and corrections."""

    def add(
        self,
        *,
        patient_id: int,
        kind: str,
        course_id: int | None,
        observed_on: date,
        content: Json,
        summary: str,
        corrects_id: int | None,
        reason: str | None,
        recorded_by: str,
        at: datetime,
    ) -> ClinicalEntry:
        """Keep an entry."""
        ...

    def get(self, entry_id: int) -> ClinicalEntry | None:
        """The entry with this id."""
        ...

    def for_patient(self, patient_id: int) -> Sequence[ClinicalEntry]:
        """A patient's entries, oldest first."""
        ...

    def for_patients(self, patient_ids: Sequence[int]) -> Mapping[int, Sequence[ClinicalEntry]]:
        """Several patients' entries, oldest first, in one query."""
        ...

    def outlines(self) -> Sequence[EntryOutline]:
        """Every kept entry outline, oldest entry first."""
        ...

    def without_outline(self) -> Sequence[ClinicalEntry]:
        """The entries with no outline kept yet."""
        ...

    def add_outlines(self, kept: Sequence[EntryOutline]) -> None:
        """Keep entry outlines (one already kept stays as it is)."""
        ...


class Studies(Protocol):
    """Studies with their arms, and each patient's chain of arm assignments."""

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
        ...

    def all(self) -> Sequence[Study]:
        """Every study with its arms, oldest first."""
        ...

    def get(self, study_id: int) -> Study | None:
        """The study with this id."""
        ...

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
        """Add record number `sequence` of a patient's chain in a study; ConflictError if that
        number is taken."""
        ...

    def assignments(
        self, *, study_id: int | None = None, patient_id: int | None = None
    ) -> Sequence[Assignment]:
        """Assignment records of a study, of a patient, or both (oldest first)."""
        ...


class Diary(Protocol):
    """Outpatients' self-injection diary entries (domain/diary.py), chained by corrections."""

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
        """Keep an entry; ConflictError if the injection has a first entry already (and this
        one corrects none) or the entry it corrects is corrected already."""
        ...

    def get(self, entry_id: int) -> DiaryEntry | None:
        """The entry with this id."""
        ...

    def for_course(self, course_id: int) -> Sequence[DiaryEntry]:
        """A course's entries, oldest first (corrected ones included)."""
        ...

    def for_courses(self, course_ids: Sequence[int]) -> Mapping[int, Sequence[DiaryEntry]]:
        """Several courses' entries, oldest first, in one query."""
        ...


class Exports(Protocol):
    """Bulk export jobs (domain/exports.py): kept so any server process answers a status."""

    def add(self, job: ExportJob) -> None:
        """Keep a new job."""
        ...

    def get(self, job_id: str) -> ExportJob | None:
        """The job with this id."""
        ...

    def advance(
        self,
        job_id: str,
        *,
        patients_done: int,
        outputs: Sequence[ExportFile],
        at: datetime,
        status: ExportStatus = ExportStatus.RUNNING,
        error: str | None = None,
    ) -> bool:
        """Note a running job's progress (and its end, with `status`); False, and nothing
        written, when the job is no longer running (cancelled, or marked failed)."""
        ...

    def close(self, job_id: str, *, status: ExportStatus, at: datetime, error: str | None) -> None:
        """End the job whatever it was doing (cancelled, expired, or failed by a restart)."""
        ...

    def expired(self, now: datetime) -> Sequence[ExportJob]:
        """The jobs whose files expire before `now` and are not yet closed for it."""
        ...


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """Which audit entries: each filter narrows (None = any), applied in SQL."""

    since: datetime | None = None
    until: datetime | None = None
    username: str | None = None
    patient_id: int | None = None
    action: str | None = None


class Audit(Protocol):
    """The audit trail: append only."""

    def add(
        self,
        *,
        at: datetime,
        username: str,
        action: str,
        entity: str,
        entity_id: str,
        patient_id: int | None,
        before: Json | None,
        after: Json | None,
    ) -> None:
        """Append an entry."""
        ...

    def entries(self, *, since: datetime | None = None) -> Sequence[AuditEntry]:
        """Every entry (since a moment), oldest first."""
        ...

    def page(
        self,
        query: AuditQuery,
        *,
        limit: int,
        before_id: int | None = None,
        offset: int = 0,
        oldest_first: bool = False,
    ) -> Sequence[AuditEntry]:
        """Up to `limit` matching entries, newest first (or oldest first), older than
        `before_id` if given, after skipping `offset` of them."""
        ...

    def count(self, query: AuditQuery) -> int:
        """How many entries match."""
        ...

    def stream(self, query: AuditQuery, *, batch: int) -> Iterator[AuditEntry]:
        """Every matching entry, oldest first, read `batch` rows at a time."""
        ...


class Transaction(Protocol):
    """A `with` block that begins a transaction and rolls back what it did not commit."""

    def __enter__(self) -> Self:
        """Begin."""
        ...

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        """Roll back whatever was not committed."""
        ...

    def commit(self) -> None:
        """Make everything added so far permanent."""
        ...


class UnitOfWork(Transaction, Protocol):
    """One transaction over every repository."""

    users: Users
    patients: Patients
    screenings: Screenings
    courses: Courses
    doses: Doses
    entries: Entries
    studies: Studies
    diary: Diary
    infusions: Infusions
    exports: Exports
    audit: Audit

    def rollback(self) -> None:
        """Forget everything added since the last commit."""
        ...


class UnitOfWorkFactory(Protocol):
    """Makes a fresh unit of work for each use case."""

    def __call__(self) -> UnitOfWork:
        """A new unit of work."""
        ...


class ExportFiles(Protocol):
    """Where export jobs keep their output files: a folder per job, NDJSON files in it."""

    def create(self, job_id: str) -> None:
        """Make the job's folder."""
        ...

    def append(self, job_id: str, name: str, lines: Sequence[bytes]) -> None:
        """Add lines (each ending in a newline) to one of the job's files; NotFoundError if the
        job's folder is gone (the job was cancelled)."""
        ...

    def read(self, job_id: str, name: str) -> Iterator[bytes]:
        """The file's bytes, a chunk at a time; NotFoundError if it does not exist."""
        ...

    def remove(self, job_id: str) -> None:
        """Delete the job's folder and its files (nothing if it is gone)."""
        ...


class Clock(Protocol):
    """Where services get "now" from (a fixed clock in tests)."""

    def __call__(self) -> datetime:
        """The current, time-zone-aware moment."""
        ...


RecordTable = Literal["patients", "screenings", "courses", "doses", "entries", "audit"]


class BulkRecords(Transaction, Protocol):
    """New records written many rows a statement in one transaction (large synthetic programs).

    Ids are reserved first, so records and their audit entries can carry them; reserved ids
    are used only by this transaction. Add parents before the records that point at them. A
    record that clashes with one already kept (an MRN, a dose slot) is a ConflictError.
    """

    def reserve_ids(self, table: RecordTable, count: int) -> Sequence[int]:
        """`count` new ids for rows of `table`, ascending."""
        ...

    def add_patients(self, records: Sequence[Patient]) -> None:
        """Insert patients with their reserved ids."""
        ...

    def add_screenings(self, records: Sequence[ScreeningRecord]) -> None:
        """Insert screenings."""
        ...

    def add_courses(self, records: Sequence[CourseRecord]) -> None:
        """Insert planned courses."""
        ...

    def add_doses(self, records: Sequence[DoseRecord]) -> None:
        """Insert dose ledger entries."""
        ...

    def add_entries(self, records: Sequence[ClinicalEntry]) -> None:
        """Insert clinical entries."""
        ...

    def add_course_outlines(self, records: Sequence[CourseOutline]) -> None:
        """Keep the outlines of courses added (services/outlines.py)."""
        ...

    def add_entry_outlines(self, records: Sequence[EntryOutline]) -> None:
        """Keep the outlines of entries added."""
        ...

    def add_audit(self, entries: Sequence[AuditEntry]) -> None:
        """Append audit entries."""
        ...


class BulkRecordsFactory(Protocol):
    """Opens a bulk transaction."""

    def __call__(self) -> BulkRecords:
        """A new bulk transaction."""
        ...


class EhrRecords(Protocol):
    """An EHR's FHIR R4 server, read only: resources come back as FHIR JSON objects.

    Each call raises UnavailableError when the EHR cannot be reached, does not answer in time
    or answers an error, so that nothing half-read is ever used.
    """

    @property
    def where(self) -> str:
        """The EHR's base URL, as a page or an audit entry names it."""
        ...

    def patient_by_identifier(self, system: str, value: str) -> Mapping[str, Any] | None:
        """The one Patient with this identifier, or None; ConflictError if several have it."""
        ...

    def conditions(self, patient_id: str) -> Sequence[Mapping[str, Any]]:
        """The patient's Conditions, as the EHR lists them."""
        ...

    def latest_observations(
        self, patient_id: str, codes: Sequence[tuple[str, str]]
    ) -> Sequence[Mapping[str, Any]]:
        """The patient's latest Observation of each (system, code), by date; none for a code
        the EHR has no Observation of."""
        ...
