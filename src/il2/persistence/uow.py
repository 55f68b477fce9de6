"""The unit of work: one session, one transaction, every repository."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy.orm import Session, sessionmaker

from il2.persistence.diary import SqlDiary
from il2.persistence.exports import SqlExports
from il2.persistence.infusions import SqlInfusions
from il2.persistence.repositories import (
    SqlAudit,
    SqlCourses,
    SqlDoses,
    SqlEntries,
    SqlPatients,
    SqlScreenings,
    SqlUsers,
)
from il2.persistence.studies import SqlStudies
from il2.services.ports import (
    Audit,
    Courses,
    Diary,
    Doses,
    Entries,
    Exports,
    Infusions,
    Patients,
    Screenings,
    Studies,
    Users,
)


class RolledBackOnExit:
    """A transaction used as a `with` block: leaving the block ends it (`_end`), and whatever
    was not committed is rolled back. The unit of work and the bulk writer share this exit."""

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        """Roll back anything uncommitted and let the connection go."""
        self._end()

    def _end(self) -> None:
        """Roll back anything uncommitted and close (each transaction knows how)."""
        raise NotImplementedError


class SqlUnitOfWork(RolledBackOnExit):
    """A transaction; whatever is not committed is rolled back on leaving the block."""

    session: Session
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

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def __enter__(self) -> Self:
        """Open a session and its repositories."""
        self.session = self._sessions()
        self.users = SqlUsers(self.session)
        self.patients = SqlPatients(self.session)
        self.screenings = SqlScreenings(self.session)
        self.courses = SqlCourses(self.session)
        self.doses = SqlDoses(self.session)
        self.entries = SqlEntries(self.session)
        self.studies = SqlStudies(self.session)
        self.diary = SqlDiary(self.session)
        self.infusions = SqlInfusions(self.session)
        self.exports = SqlExports(self.session)
        self.audit = SqlAudit(self.session)
        return self

    def _end(self) -> None:
        """Roll back anything uncommitted and close the session."""
        self.session.rollback()
        self.session.close()

    def commit(self) -> None:
        """Commit the transaction."""
        self.session.commit()

    def rollback(self) -> None:
        """Roll back the transaction."""
        self.session.rollback()


class SqlUnitOfWorkFactory:
    """Makes units of work on one engine's sessions."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def __call__(self) -> SqlUnitOfWork:
        """A fresh unit of work."""
        return SqlUnitOfWork(self._sessions)
