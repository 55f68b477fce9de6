"""Repositories over SQLAlchemy sessions, implementing the services' ports."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime, timedelta
from types import SimpleNamespace
from typing import Any, TypeVar

from sqlalchemy import (
    Executable,
    Result,
    Select,
    String,
    Table,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from il2.domain.errors import ConflictError, NotFoundError
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
from il2.persistence import analysis, stages
from il2.persistence.tables import (
    AuditRow,
    Base,
    CourseRow,
    DoseRow,
    EntryRow,
    PatientRow,
    PlanVerificationRow,
    ScreeningRow,
    SessionRow,
    SignInFailureRow,
    UserRow,
)
from il2.services.ports import AuditQuery

Row = TypeVar("Row", bound=Base)
Record = TypeVar("Record")


def _grouped(rows: Iterable[Record], key: Callable[[Record], int]) -> dict[int, list[Record]]:
    groups: dict[int, list[Record]] = defaultdict(list)
    for row in rows:
        groups[key(row)].append(row)
    return dict(groups)


def _core(session: Session, statement: Executable, values: dict[str, Any] | None = None) -> Any:
    """Run a Core statement in the session's transaction, skipping the ORM's bookkeeping.

    The ledger's hot path (read the course and its ledger lines, add the dose and its audit
    entry) goes this way: the same SQL, a fraction of the Python per statement.
    """
    result: Result[Any] = session.connection().execute(statement, values)
    return result


def _table(row: type[Base]) -> Table:
    table = row.__table__
    assert isinstance(table, Table)  # noqa: S101 - every il2 row class maps one table
    return table


_USERS, _COURSES, _DOSES, _AUDIT = (_table(r) for r in (UserRow, CourseRow, DoseRow, AuditRow))
# The hot path's statements, built once: each call only binds its values.
_SESSIONS = _table(SessionRow)
_TOUCH_EVERY = timedelta(minutes=1)
"""How stale a session's last-use note may get before a request writes it again."""
_USER_BY_TOKEN = (
    select(
        _USERS,
        _SESSIONS.c.id.label("session_id"),
        _SESSIONS.c.last_seen_at,
        _SESSIONS.c.scope.label("session_scope"),
    )
    .join(_SESSIONS, _SESSIONS.c.user_id == _USERS.c.id)
    .where(
        _SESSIONS.c.token_hash == bindparam("token_hash"),
        _SESSIONS.c.expires_at > bindparam("now"),
        or_(_SESSIONS.c.last_seen_at.is_(None), _SESSIONS.c.last_seen_at > bindparam("idle")),
        _USERS.c.active,
    )
)
_TOUCH_SESSION = (
    update(_SESSIONS)
    .where(_SESSIONS.c.id == bindparam("session_id"))
    .values(last_seen_at=bindparam("now"))
)
_USER_BY_NAME = select(_USERS).where(_USERS.c.username == bindparam("username"))
_COURSE_BY_ID = select(_COURSES).where(_COURSES.c.id == bindparam("course_id"))
_LEDGER_LINES = (
    select(
        _DOSES.c.cycle,
        _DOSES.c.dose_number,
        _DOSES.c.outcome,
        _DOSES.c.decision_action,
        _DOSES.c.given_at,
    )
    .where(_DOSES.c.course_id == bindparam("course_id"))
    .order_by(_DOSES.c.cycle, _DOSES.c.dose_number)
)
# The whole ledger's lines, course by course in dose order (override analysis reads them).
_ALL_LINES = select(
    _DOSES.c.course_id,
    _DOSES.c.cycle,
    _DOSES.c.dose_number,
    _DOSES.c.outcome,
    _DOSES.c.decision_action,
    _DOSES.c.given_at,
).order_by(_DOSES.c.course_id, _DOSES.c.cycle, _DOSES.c.dose_number)
# The patient's whole timeline: every course's ledger lines, in the order they were recorded.
_PATIENT_LINES = (
    select(
        _DOSES.c.course_id,
        _DOSES.c.cycle,
        _DOSES.c.dose_number,
        _DOSES.c.outcome,
        _DOSES.c.decision_action,
        _DOSES.c.given_at,
        _DOSES.c.recorded_at,
    )
    .select_from(_DOSES.join(_COURSES, _COURSES.c.id == _DOSES.c.course_id))
    .where(_COURSES.c.patient_id == bindparam("patient_id"))
    .order_by(_DOSES.c.id)
)
_ADD_DOSE, _ADD_AUDIT = insert(_DOSES), insert(_AUDIT)
# A dose's course and its verifier's account in one round trip (one of seven on PostgreSQL).
_USER_AS = {f"user_{column.name}": column.name for column in _USERS.c}
_COURSE_WITH_USER = (
    select(_COURSES, *(_USERS.c[name].label(label) for label, name in _USER_AS.items()))
    .select_from(
        _COURSES.outerjoin(_USERS, _USERS.c.username == bindparam("username", type_=String))
    )
    .where(_COURSES.c.id == bindparam("course_id"))
)


def _insert(session: Session, row: Row, what: str) -> Row:
    """Add a row and flush, turning a uniqueness clash into a ConflictError."""
    session.add(row)
    try:
        session.flush()
    except IntegrityError as error:
        raise ConflictError(f"{what} is already recorded") from error
    return row


def _chunks(ids: Sequence[int], size: int = 2000) -> list[Sequence[int]]:
    return [ids[start : start + size] for start in range(0, len(ids), size)]


def _user(row: UserRow | SimpleNamespace) -> User:
    return User(
        row.id,
        row.username,
        row.display_name,
        Role(row.role),
        row.password_hash,
        row.active,
        row.created_at,
    )


class SqlUsers:
    """Accounts and their session tokens."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(
        self, *, username: str, display_name: str, role: Role, password_hash: str, at: datetime
    ) -> User:
        """Create an account."""
        row = UserRow(
            username=username,
            display_name=display_name,
            role=role.value,
            password_hash=password_hash,
            active=True,
            created_at=at,
        )
        return _user(_insert(self._session, row, f"user {username!r}"))

    def by_username(self, username: str) -> User | None:
        """The account with this username."""
        row = _core(self._session, _USER_BY_NAME, {"username": username}).first()
        return None if row is None else _user(row)

    def all(self) -> Sequence[User]:
        """Every account, by username."""
        return [
            _user(row) for row in self._session.scalars(select(UserRow).order_by(UserRow.username))
        ]

    def by_token(self, token_hash: str, now: datetime, idle_since: datetime) -> User | None:
        """The account a live token belongs to: unexpired, used recently, account active. The
        use is noted when the last note is a minute old or more (most requests write nothing)."""
        found = self.session_by_token(token_hash, now, idle_since)
        return None if found is None else found[0]

    def session_by_token(
        self, token_hash: str, now: datetime, idle_since: datetime
    ) -> tuple[User, str | None] | None:
        """As `by_token`, with the scope the token was asked with (None: unscoped)."""
        found = _core(
            self._session,
            _USER_BY_TOKEN,
            {"token_hash": token_hash, "now": now, "idle": idle_since},
        ).first()
        if found is None:
            return None
        if found.last_seen_at is None or found.last_seen_at < now - _TOUCH_EVERY:
            _core(self._session, _TOUCH_SESSION, {"session_id": found.session_id, "now": now})
        return _user(found), found.session_scope

    def touch_token(self, token_hash: str, now: datetime) -> None:
        """Note the session's use; written only when the last note is a minute old or more."""
        self._session.execute(
            update(SessionRow)
            .where(
                SessionRow.token_hash == token_hash,
                or_(
                    SessionRow.last_seen_at.is_(None),
                    SessionRow.last_seen_at < now - _TOUCH_EVERY,
                ),
            )
            .values(last_seen_at=now)
        )

    def add_failure(self, *, username: str, address: str, at: datetime) -> None:
        """Remember a failed sign-in."""
        self._session.add(SignInFailureRow(username=username, address=address, at=at))
        self._session.flush()

    def failures(
        self, *, since: datetime, username: str | None = None, address: str | None = None
    ) -> list[datetime]:
        """When sign-ins failed since `since` for this name or from this address, oldest first."""
        query = select(SignInFailureRow.at).where(SignInFailureRow.at > since)
        if username is not None:
            query = query.where(SignInFailureRow.username == username)
        if address is not None:
            query = query.where(SignInFailureRow.address == address)
        return list(self._session.scalars(query.order_by(SignInFailureRow.at)))

    def clear_failures(self, username: str) -> int:
        """Forget an account's failed sign-ins; how many there were."""
        result = self._session.execute(
            delete(SignInFailureRow).where(SignInFailureRow.username == username)
        )
        self._session.flush()
        return int(getattr(result, "rowcount", 0) or 0)

    def add_token(
        self, *, user_id: int, token_hash: str, expires_at: datetime, scope: str | None = None
    ) -> None:
        """Remember a token's hash, and the scope it was asked with."""
        _insert(
            self._session,
            SessionRow(
                user_id=user_id,
                token_hash=token_hash,
                expires_at=expires_at,
                last_seen_at=None,
                scope=scope,
            ),
            "token",
        )

    def remove_token(self, token_hash: str) -> User | None:
        """Forget a token's hash; the account it belonged to, if any."""
        found = self._session.scalars(
            select(SessionRow).where(SessionRow.token_hash == token_hash)
        ).first()
        if found is None:
            return None
        user = self._session.get(UserRow, found.user_id)
        self._session.delete(found)
        self._session.flush()
        return None if user is None else _user(user)

    def remove_tokens(self, user_id: int, *, keep: str | None = None) -> int:
        """Forget every token of an account but the one hashed `keep`; how many there were."""
        query = delete(SessionRow).where(SessionRow.user_id == user_id)
        if keep is not None:
            query = query.where(SessionRow.token_hash != keep)
        result = self._session.execute(query)
        self._session.flush()
        return int(getattr(result, "rowcount", 0) or 0)

    def update(
        self,
        user_id: int,
        *,
        active: bool | None = None,
        role: Role | None = None,
        password_hash: str | None = None,
    ) -> User:
        """Change an account's status, role or password hash (None: unchanged)."""
        row = self._session.get(UserRow, user_id)
        if row is None:
            raise NotFoundError(kind="user", key=str(user_id))
        if active is not None:
            row.active = active
        if role is not None:
            row.role = role.value
        if password_hash is not None:
            row.password_hash = password_hash
        self._session.flush()
        return _user(row)

    def active_administrators(self) -> int:
        """How many active accounts have the administrator role."""
        query = select(func.count()).where(UserRow.active, UserRow.role == Role.ADMINISTRATOR.value)
        return int(self._session.scalar(query) or 0)


def _patient(row: PatientRow) -> Patient:
    return Patient(
        row.id,
        row.mrn,
        row.name,
        row.birth_date,
        row.sex,
        row.diagnosis,
        row.referred_on,
        row.created_at,
    )


class SqlPatients:
    """Patients."""

    def __init__(self, session: Session) -> None:
        self._session = session

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
        """Register a patient."""
        row = PatientRow(
            mrn=mrn,
            name=name,
            birth_date=birth_date,
            sex=sex,
            diagnosis=diagnosis,
            referred_on=referred_on,
            created_at=at,
        )
        return _patient(_insert(self._session, row, f"patient with MRN {mrn!r}"))

    def get(self, patient_id: int) -> Patient | None:
        """The patient with this id."""
        row = self._session.get(PatientRow, patient_id)
        return None if row is None else _patient(row)

    def lock(self, patient_id: int) -> Patient | None:
        """The patient, its row locked to the end of the transaction.

        PostgreSQL takes a row lock (SELECT ... FOR UPDATE); SQLite's transactions already
        begin IMMEDIATE, holding the database's write lock, so FOR UPDATE is not needed there.
        """
        query = select(PatientRow).where(PatientRow.id == patient_id).with_for_update()
        row = self._session.scalars(query).first()
        return None if row is None else _patient(row)

    def named(self, patient_ids: Sequence[int]) -> Mapping[int, Patient]:
        """Several patients by id, in one query (an unknown id is left out)."""
        query = select(PatientRow).where(PatientRow.id.in_(patient_ids))
        return {row.id: _patient(row) for row in self._session.scalars(query)}

    def count(self, *, matching: str | None = None) -> int:
        """How many patients there are (whose name or MRN contains `matching`, if given)."""
        return stages.matching_count(self._session, matching)

    def page(self, *, limit: int, offset: int, matching: str | None = None) -> Sequence[Patient]:
        """Patients, newest referral first (whose name or MRN contains `matching`, if given)."""
        rows = stages.matching_page(self._session, matching, limit=limit, offset=offset)
        return [_patient(row) for row in rows]

    def stage_counts(
        self, *, now: datetime, lookback_start: datetime, matching: str | None = None
    ) -> tuple[Mapping[str, int], Sequence[int]]:
        """How many patients (matching, if given) are at each worklist stage, counted in SQL;
        and the ids of those whose latest course started since `lookback_start`, whose stage
        (in hospital or between cycles) the caller places from their records."""
        return stages.stage_counts(
            self._session, now=now, lookback_start=lookback_start, text=matching
        )

    def referrals(self) -> Sequence[Referral]:
        """Every patient's id, diagnosis and referral date, newest referral first."""
        return analysis.referrals(self._session)

    def span(self) -> tuple[int, int]:
        """How many patients there are and the highest id (0 with none), in one statement."""
        found = self._session.execute(select(func.count(PatientRow.id), func.max(PatientRow.id)))
        count, highest = found.one()
        return int(count or 0), int(highest or 0)

    def after(self, patient_id: int, *, through: int, limit: int) -> Sequence[Patient]:
        """Up to `limit` patients with ids in (`patient_id`, `through`], by id."""
        query = (
            select(PatientRow)
            .where(PatientRow.id > patient_id, PatientRow.id <= through)
            .order_by(PatientRow.id)
            .limit(limit)
        )
        return [_patient(row) for row in self._session.scalars(query)]

    def search(self, text: str, *, limit: int) -> Sequence[Patient]:
        """Patients whose name or MRN contains `text` (any case), by name then id."""
        wanted = text.lower()
        query = (
            select(PatientRow)
            .where(
                func.lower(PatientRow.name).contains(wanted, autoescape=True)
                | func.lower(PatientRow.mrn).contains(wanted, autoescape=True)
            )
            .order_by(PatientRow.name, PatientRow.id)
            .limit(limit)
        )
        return [_patient(row) for row in self._session.scalars(query)]


def _screening(row: ScreeningRow) -> ScreeningRecord:
    return ScreeningRecord(
        row.id,
        row.patient_id,
        row.findings,
        row.verdict,
        row.result,
        row.rules_version,
        row.recorded_by,
        row.recorded_at,
    )


class SqlScreenings:
    """Screenings."""

    def __init__(self, session: Session) -> None:
        self._session = session

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
        row = ScreeningRow(
            patient_id=patient_id,
            findings=findings,
            verdict=verdict,
            result=result,
            rules_version=rules_version,
            recorded_by=recorded_by,
            recorded_at=at,
        )
        return _screening(_insert(self._session, row, "screening"))

    def for_patient(self, patient_id: int) -> Sequence[ScreeningRecord]:
        """A patient's screenings, oldest first."""
        query = (
            select(ScreeningRow)
            .where(ScreeningRow.patient_id == patient_id)
            .order_by(ScreeningRow.id)
        )
        return [_screening(row) for row in self._session.scalars(query)]

    def for_patients(self, patient_ids: Sequence[int]) -> dict[int, list[ScreeningRecord]]:
        """Several patients' screenings in one query."""
        query = (
            select(ScreeningRow)
            .where(ScreeningRow.patient_id.in_(patient_ids))
            .order_by(ScreeningRow.id)
        )
        return _grouped(
            (_screening(r) for r in self._session.scalars(query)), lambda r: r.patient_id
        )

    def latest_verdicts(self) -> dict[int, str]:
        """Each screened patient's latest verdict."""
        return analysis.latest_verdicts(self._session)


def _course(row: CourseRow) -> CourseRecord:
    return CourseRecord(
        row.id,
        row.patient_id,
        row.number,
        row.regimen_id,
        row.weight_kg,
        row.first_dose_at,
        row.plan,
        row.recorded_by,
        row.recorded_at,
    )


class SqlCourses:
    """Planned courses."""

    def __init__(self, session: Session) -> None:
        self._session = session

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
        row = CourseRow(
            patient_id=patient_id,
            number=number,
            regimen_id=regimen_id,
            weight_kg=weight_kg,
            first_dose_at=first_dose_at,
            plan=plan,
            recorded_by=recorded_by,
            recorded_at=at,
        )
        return _course(_insert(self._session, row, f"course {number} of patient {patient_id}"))

    def get(self, course_id: int) -> CourseRecord | None:
        """The course with this id."""
        row = _core(self._session, _COURSE_BY_ID, {"course_id": course_id}).first()
        return None if row is None else _course(row)

    def get_with_user(
        self, course_id: int, username: str | None
    ) -> tuple[CourseRecord | None, User | None]:
        """The course with this id, and the account with this username, in one query."""
        values = {"course_id": course_id, "username": username}
        row = _core(self._session, _COURSE_WITH_USER, values).first()
        if row is None:
            return None, None
        mapping = row._mapping
        if mapping["user_id"] is None:
            return _course(row), None
        account = SimpleNamespace(**{name: mapping[label] for label, name in _USER_AS.items()})
        return _course(row), _user(account)

    def for_patient(self, patient_id: int) -> Sequence[CourseRecord]:
        """A patient's courses, by number."""
        query = (
            select(CourseRow).where(CourseRow.patient_id == patient_id).order_by(CourseRow.number)
        )
        return [_course(row) for row in self._session.scalars(query)]

    def for_patients(self, patient_ids: Sequence[int]) -> dict[int, list[CourseRecord]]:
        """Several patients' courses in one query."""
        query = (
            select(CourseRow)
            .where(CourseRow.patient_id.in_(patient_ids))
            .order_by(CourseRow.number)
        )
        return _grouped((_course(r) for r in self._session.scalars(query)), lambda r: r.patient_id)

    def open_patients(self, *, starting_before: datetime) -> Sequence[int]:
        """The patients still on the pathway: a course whose first dose is before
        `starting_before`, and no current death recorded; by id."""
        return stages.open_patients(self._session, starting_before=starting_before)

    def record_marks(self, patient_ids: Sequence[int]) -> Mapping[int, tuple[int, ...]]:
        """Each patient's courses, doses and entries as (count, highest id) pairs, in two
        grouped queries: records are only ever added, so equal marks mean the same records."""
        courses = (
            select(
                CourseRow.patient_id,
                func.count(func.distinct(CourseRow.id)),
                func.max(CourseRow.id),
                func.count(DoseRow.id),
                func.coalesce(func.max(DoseRow.id), 0),
            )
            .outerjoin(DoseRow, DoseRow.course_id == CourseRow.id)
            .where(CourseRow.patient_id.in_(patient_ids))
            .group_by(CourseRow.patient_id)
        )
        entries = (
            select(EntryRow.patient_id, func.count(EntryRow.id), func.max(EntryRow.id))
            .where(EntryRow.patient_id.in_(patient_ids))
            .group_by(EntryRow.patient_id)
        )
        written: dict[int, tuple[int, ...]] = {
            patient: tuple(counts) for patient, *counts in self._session.execute(entries)
        }
        return {
            patient: (*counts, *written.get(patient, (0, 0)))
            for patient, *counts in self._session.execute(courses)
        }

    def starting_between(self, start: datetime, end: datetime) -> Sequence[CourseRecord]:
        """Courses whose first dose falls in [start, end)."""
        query = select(CourseRow).where(
            CourseRow.first_dose_at >= start, CourseRow.first_dose_at < end
        )
        return [_course(row) for row in self._session.scalars(query.order_by(CourseRow.id))]

    def verify(self, course_id: int, *, by: str, at: datetime) -> PlanVerification:
        """Keep a pharmacist's verification of the course's plan; a second one is a conflict."""
        row = PlanVerificationRow(course_id=course_id, verified_by=by, verified_at=at)
        _insert(self._session, row, f"the verification of course {course_id}'s plan")
        return PlanVerification(course_id, by, at)

    def verifications(self, course_ids: Sequence[int]) -> dict[int, PlanVerification]:
        """The plan verifications of these courses, by course id (absent: not verified)."""
        if not course_ids:
            return {}
        query = select(PlanVerificationRow).where(PlanVerificationRow.course_id.in_(course_ids))
        return {
            r.course_id: PlanVerification(r.course_id, r.verified_by, r.verified_at)
            for r in self._session.scalars(query)
        }

    def outlines(self) -> Sequence[CourseOutline]:
        """Every kept course outline, by patient and number."""
        return analysis.course_outlines(self._session)

    def without_outline(self) -> Sequence[CourseRecord]:
        """The courses with no outline kept yet."""
        ids = analysis.courses_without_outline(self._session)
        return [
            _course(row)
            for chunk in _chunks(ids)
            for row in self._session.scalars(
                select(CourseRow).where(CourseRow.id.in_(chunk)).order_by(CourseRow.id)
            )
        ]

    def add_outlines(self, kept: Sequence[CourseOutline]) -> None:
        """Keep course outlines."""
        analysis.add_course_outlines(self._session.connection(), kept)


def _dose(row: DoseRow | Any, *, decision: Json | None = None) -> DoseRecord:
    """The record of a dose row: an ORM object, or a Core row without the decision column,
    `decision` then giving what was read of it."""
    return DoseRecord(
        row.id,
        row.course_id,
        row.cycle,
        row.dose_number,
        DoseOutcome(row.outcome),
        row.assessment,
        row.decision if decision is None else decision,
        row.decision_action,
        row.rules_version,
        row.given_at,
        row.verified_by,
        row.override_reason,
        row.override_by,
        row.idempotency_key,
        row.recorded_by,
        row.recorded_at,
    )


def _picked(keys: Sequence[str], values: Sequence[Any]) -> Json:
    """The keys of a document read one by one, those absent or null left out (SQLite reads
    both as null)."""
    return {key: value for key, value in zip(keys, values, strict=True) if value is not None}


class SqlDoses:
    """The dose ledger."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, **fields: Any) -> DoseRecord:
        """Record a dose; the database refuses a second record of the same slot or key."""
        at, outcome = fields.pop("at"), fields.pop("outcome")
        values = {**fields, "outcome": outcome.value, "recorded_at": at}
        try:
            added = _core(self._session, _ADD_DOSE, values)
        except IntegrityError as error:
            slot = f"dose {fields['cycle']}.{fields['dose_number']} of course {fields['course_id']}"
            raise ConflictError(f"{slot} is already recorded") from error
        return DoseRecord(
            id=added.inserted_primary_key[0],
            outcome=outcome,
            recorded_at=at,
            **fields,
        )

    def by_slot(self, course_id: int, cycle: int, dose_number: int) -> DoseRecord | None:
        """The record of one dose slot."""
        query = select(DoseRow).where(
            DoseRow.course_id == course_id,
            DoseRow.cycle == cycle,
            DoseRow.dose_number == dose_number,
        )
        row = self._session.scalars(query).first()
        return None if row is None else _dose(row)

    def by_idempotency_key(
        self, key: str, *, course_id: int, recorded_by: str
    ) -> DoseRecord | None:
        """The record this user first made on this course with this key."""
        query = select(DoseRow).where(
            DoseRow.idempotency_key == key,
            DoseRow.course_id == course_id,
            DoseRow.recorded_by == recorded_by,
        )
        row = self._session.scalars(query).first()
        return None if row is None else _dose(row)

    def lines_for_course(self, course_id: int) -> Sequence[LedgerLine]:
        """A course's ledger without the documents, in dose order."""
        rows = _core(self._session, _LEDGER_LINES, {"course_id": course_id})
        return [
            LedgerLine(cycle, number, DoseOutcome(outcome), action, given_at)
            for cycle, number, outcome, action, given_at in rows
        ]

    def lines_for_patient(self, patient_id: int) -> Sequence[PatientLedgerLine]:
        """The patient's whole ledger without the documents, every course, in recording order."""
        rows = _core(self._session, _PATIENT_LINES, {"patient_id": patient_id})
        return [
            PatientLedgerLine(course, cycle, number, DoseOutcome(outcome), action, given, at)
            for course, cycle, number, outcome, action, given, at in rows
        ]

    def for_courses(
        self, course_ids: Sequence[int], *, decisions: bool | frozenset[str] = True
    ) -> dict[int, list[DoseRecord]]:
        """Several courses' ledgers in one query.

        `decisions=False` leaves each record's decision document unread (`{}`): for lists that
        read outcomes, times and assessments only. The decision, with every rule checked and
        its source, is most of a dose's bytes; a worklist of 50 treated patients reads it in
        seconds. A set of keys reads only those keys of each decision (the database's JSON
        functions pick them out, so the rest is neither sent nor parsed); a key absent from a
        decision, or null in it, is left out.
        """
        if decisions is True:
            query = (
                select(DoseRow)
                .where(DoseRow.course_id.in_(course_ids))
                .order_by(DoseRow.cycle, DoseRow.dose_number)
            )
            return _grouped((_dose(r) for r in self._session.scalars(query)), lambda r: r.course_id)
        # Core rows, not ORM objects: the lists read thousands of doses at 10,000 patients
        keys = sorted(decisions or ())
        columns = [c for c in DoseRow.__table__.columns if c.name != "decision"]
        picked = [DoseRow.decision[key].label(f"decision_{n}") for n, key in enumerate(keys)]
        lean = (
            select(*columns, *picked)
            .where(DoseRow.course_id.in_(course_ids))
            .order_by(DoseRow.cycle, DoseRow.dose_number)
        )
        width = len(columns)
        return _grouped(
            (_dose(r, decision=_picked(keys, r[width:])) for r in _core(self._session, lean)),
            lambda r: r.course_id,
        )

    def held_since(self, at: datetime, *, course_ids: Sequence[int]) -> Sequence[DoseRecord]:
        """The doses of these courses recorded as held at or after `at`, oldest first
        (decisions unread)."""
        columns = [c for c in DoseRow.__table__.columns if c.name != "decision"]
        query = (
            select(*columns)
            .where(
                DoseRow.course_id.in_(course_ids),
                DoseRow.outcome == DoseOutcome.HELD.value,
                DoseRow.recorded_at >= at,
            )
            .order_by(DoseRow.recorded_at, DoseRow.id)
        )
        return [_dose(r, decision={}) for r in _core(self._session, query)]

    def for_course(self, course_id: int) -> Sequence[DoseRecord]:
        """A course's ledger in dose order."""
        query = (
            select(DoseRow)
            .where(DoseRow.course_id == course_id)
            .order_by(DoseRow.cycle, DoseRow.dose_number)
        )
        return [_dose(row) for row in self._session.scalars(query)]

    def engine_holds(self) -> Sequence[DoseRecord]:
        """Every dose the before-dose engine held, by course and dose: of its decision only the
        reasons and `assessed_at` (every rule checked is most of a decision's bytes), of its
        assessment nothing (`{}`)."""
        columns = [c for c in DoseRow.__table__.columns if c.name not in ("assessment", "decision")]
        query = (
            select(
                *columns,
                DoseRow.decision["reasons"].label("reasons"),
                DoseRow.decision["assessed_at"].as_string().label("assessed_at"),
            )
            .where(DoseRow.decision_action == "hold")
            .order_by(DoseRow.course_id, DoseRow.cycle, DoseRow.dose_number)
        )
        held = []
        for row in _core(self._session, query):
            fields = dict(row._mapping)
            kept = {
                "reasons": fields.pop("reasons") or [],
                "assessed_at": fields.pop("assessed_at"),
            }
            held.append(_dose(SimpleNamespace(**fields, assessment={}, decision=kept)))
        return held

    def ledger_lines(self) -> Sequence[CourseDoseLine]:
        """The whole ledger without the documents, by course, cycle and dose number."""
        rows = _core(self._session, _ALL_LINES)
        return [
            CourseDoseLine(course, cycle, number, DoseOutcome(outcome), action, given_at)
            for course, cycle, number, outcome, action, given_at in rows
        ]

    def cycle_tallies(self) -> Sequence[CycleTally]:
        """Every cycle with doses recorded, counted by the database."""
        return analysis.cycle_tallies(self._session)

    def untimed_given(self) -> Mapping[tuple[int, int], int]:
        """Doses recorded as given without a time, counted by (course id, cycle)."""
        return analysis.untimed_given_doses(self._session)


def _entry(row: EntryRow) -> ClinicalEntry:
    return ClinicalEntry(
        row.id,
        row.patient_id,
        row.kind,
        row.course_id,
        row.observed_on,
        row.content,
        row.summary,
        row.corrects_id,
        row.reason,
        row.recorded_by,
        row.recorded_at,
    )


class SqlEntries:
    """Toxicities, responses, follow-ups and corrections."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, *, at: datetime, **fields: Any) -> ClinicalEntry:
        """Keep an entry."""
        return _entry(_insert(self._session, EntryRow(**fields, recorded_at=at), "entry"))

    def get(self, entry_id: int) -> ClinicalEntry | None:
        """The entry with this id."""
        row = self._session.get(EntryRow, entry_id)
        return None if row is None else _entry(row)

    def for_patient(self, patient_id: int) -> Sequence[ClinicalEntry]:
        """A patient's entries, oldest first."""
        query = select(EntryRow).where(EntryRow.patient_id == patient_id).order_by(EntryRow.id)
        return [_entry(row) for row in self._session.scalars(query)]

    def for_patients(self, patient_ids: Sequence[int]) -> dict[int, list[ClinicalEntry]]:
        """Several patients' entries in one query."""
        query = select(EntryRow).where(EntryRow.patient_id.in_(patient_ids)).order_by(EntryRow.id)
        return _grouped((_entry(r) for r in self._session.scalars(query)), lambda r: r.patient_id)

    def outlines(self) -> Sequence[EntryOutline]:
        """Every kept entry outline, oldest entry first."""
        return analysis.entry_outlines(self._session)

    def without_outline(self) -> Sequence[ClinicalEntry]:
        """The entries with no outline kept yet."""
        ids = analysis.entries_without_outline(self._session)
        return [
            _entry(row)
            for chunk in _chunks(ids)
            for row in self._session.scalars(
                select(EntryRow).where(EntryRow.id.in_(chunk)).order_by(EntryRow.id)
            )
        ]

    def add_outlines(self, kept: Sequence[EntryOutline]) -> None:
        """Keep entry outlines."""
        analysis.add_entry_outlines(self._session.connection(), kept)


def _audit(r: AuditRow) -> AuditEntry:
    return AuditEntry(
        r.id, r.at, r.username, r.action, r.entity, r.entity_id, r.patient_id, r.before, r.after
    )


def _audit_where(chosen: Select[Any], query: AuditQuery) -> Select[Any]:
    if query.since is not None:
        chosen = chosen.where(AuditRow.at >= query.since)
    if query.until is not None:
        chosen = chosen.where(AuditRow.at < query.until)
    if query.username is not None:
        chosen = chosen.where(AuditRow.username == query.username)
    if query.patient_id is not None:
        chosen = chosen.where(AuditRow.patient_id == query.patient_id)
    if query.action is not None:
        chosen = chosen.where(AuditRow.action == query.action)
    return chosen


class SqlAudit:
    """The audit trail: rows are only ever added."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, **fields: Any) -> None:
        """Append an entry."""
        _core(self._session, _ADD_AUDIT, fields)

    def entries(self, *, since: datetime | None = None) -> Sequence[AuditEntry]:
        """Every entry (since a moment), oldest first."""
        return list(self.stream(AuditQuery(since=since), batch=1000))

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
        chosen = _audit_where(select(AuditRow), query)
        if before_id is not None:
            chosen = chosen.where(AuditRow.id < before_id)
        order = AuditRow.id if oldest_first else AuditRow.id.desc()
        ordered = chosen.order_by(order).offset(offset).limit(limit)
        rows = self._session.scalars(ordered)
        return [_audit(r) for r in rows]

    def count(self, query: AuditQuery) -> int:
        """How many entries match."""
        return int(self._session.scalar(_audit_where(select(func.count(AuditRow.id)), query)) or 0)

    def stream(self, query: AuditQuery, *, batch: int) -> Iterator[AuditEntry]:
        """Every matching entry, oldest first, read `batch` rows at a time (keyset paging, so
        memory stays at one batch however long the trail)."""
        after = 0
        while True:
            chosen = _audit_where(select(AuditRow), query).where(AuditRow.id > after)
            rows = list(self._session.scalars(chosen.order_by(AuditRow.id).limit(batch)))
            yield from (_audit(r) for r in rows)
            if len(rows) < batch:
                return
            after = rows[-1].id
            self._session.expunge_all()
