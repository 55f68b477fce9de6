"""Export jobs as rows (migration 0011), and their output files in a folder on disk."""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from il2.domain.errors import NotFoundError
from il2.domain.exports import ExportFile, ExportJob, ExportStatus
from il2.persistence.tables import ExportJobRow

_CHUNK = 1 << 16
_CLOSED = (ExportStatus.CANCELLED.value, ExportStatus.EXPIRED.value)


def _files(outputs: Sequence[ExportFile]) -> list[dict[str, Any]]:
    return [{"type": f.type, "name": f.name, "count": f.count} for f in outputs]


def _job(row: ExportJobRow) -> ExportJob:
    return ExportJob(
        id=row.id,
        username=row.username,
        request_url=row.request_url,
        types=tuple(row.types),
        mode=row.mode,
        status=ExportStatus(row.status),
        patients_total=row.patients_total,
        patients_done=row.patients_done,
        through_patient_id=row.through_patient_id,
        transaction_time=row.transaction_time,
        expires_at=row.expires_at,
        heartbeat_at=row.heartbeat_at,
        outputs=tuple(ExportFile(f["type"], f["name"], int(f["count"])) for f in row.outputs),
        error=row.error,
        finished_at=row.finished_at,
    )


class SqlExports:
    """Export jobs."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, job: ExportJob) -> None:
        """Keep a new job."""
        self._session.add(
            ExportJobRow(
                id=job.id,
                username=job.username,
                request_url=job.request_url,
                types=list(job.types),
                mode=job.mode,
                status=job.status.value,
                patients_total=job.patients_total,
                patients_done=job.patients_done,
                through_patient_id=job.through_patient_id,
                transaction_time=job.transaction_time,
                expires_at=job.expires_at,
                heartbeat_at=job.heartbeat_at,
                outputs=_files(job.outputs),
                error=job.error,
                finished_at=job.finished_at,
            )
        )
        self._session.flush()

    def get(self, job_id: str) -> ExportJob | None:
        """The job with this id."""
        row = self._session.get(ExportJobRow, job_id)
        return None if row is None else _job(row)

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
        """Note progress, in one statement that changes the row only while it is running (a
        cancellation in between is never overwritten)."""
        values: dict[str, Any] = {
            "patients_done": patients_done,
            "outputs": _files(outputs),
            "heartbeat_at": at,
            "status": status.value,
            "error": error,
        }
        if status is not ExportStatus.RUNNING:
            values["finished_at"] = at
        changed = self._session.execute(
            update(ExportJobRow)
            .where(ExportJobRow.id == job_id, ExportJobRow.status == ExportStatus.RUNNING.value)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(changed, "rowcount", 0))

    def close(self, job_id: str, *, status: ExportStatus, at: datetime, error: str | None) -> None:
        """End the job whatever it was doing."""
        self._session.execute(
            update(ExportJobRow)
            .where(ExportJobRow.id == job_id)
            .values(status=status.value, finished_at=at, heartbeat_at=at, error=error)
            .execution_options(synchronize_session=False)
        )

    def expired(self, now: datetime) -> Sequence[ExportJob]:
        """Jobs whose files expire before `now`, not yet closed."""
        query = select(ExportJobRow).where(
            ExportJobRow.expires_at < now, ExportJobRow.status.not_in(_CLOSED)
        )
        return [_job(row) for row in self._session.scalars(query.order_by(ExportJobRow.id))]


class DiskExportFiles:
    """Each job's files in the folder `root/<job id>/`, written by appending lines.

    Job ids and file names are made by il2 (a random URL-safe token, `<type>.<n>.ndjson`);
    a name with anything else is refused, so no request reaches outside the folder.
    """

    def __init__(self, root: Path) -> None:
        self._root = root

    def _path(self, job_id: str, name: str | None = None) -> Path:
        for part in (job_id, name or "x"):
            if not part or not all(c.isalnum() or c in "-_." for c in part) or part[0] == ".":
                raise NotFoundError(kind="export file", key=part[:64])
        folder = self._root / job_id
        return folder if name is None else folder / name

    def create(self, job_id: str) -> None:
        """Make the job's folder (owner-only: it holds patient records)."""
        self._root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._path(job_id).mkdir(mode=0o700)

    def append(self, job_id: str, name: str, lines: Sequence[bytes]) -> None:
        """Add lines to a file; NotFoundError when the folder is gone (cancelled)."""
        try:
            with self._path(job_id, name).open("ab") as out:
                out.writelines(lines)
        except FileNotFoundError:
            raise NotFoundError(kind="export", key=job_id) from None

    def read(self, job_id: str, name: str) -> Iterator[bytes]:
        """The file's bytes, 64 KiB at a time."""
        path = self._path(job_id, name)
        try:
            handle = path.open("rb")
        except FileNotFoundError:
            raise NotFoundError(kind="export file", key=name[:64]) from None
        return _chunks(handle)

    def remove(self, job_id: str) -> None:
        """Delete the job's folder."""
        shutil.rmtree(self._path(job_id), ignore_errors=True)


def _chunks(handle: Any) -> Iterator[bytes]:
    with handle:
        while chunk := handle.read(_CHUNK):
            yield chunk
