"""Bulk export of the whole program: jobs, their background work, status, files and cancelling.

The protocol is the edge's (FHIR Bulk Data `$export`, il2.interop.fhir.export); here are the
use cases it calls. A job is a record (any server process answers its status); its work runs
in a background thread of the process that accepted it, reading the program in batches of
patients (`program_pages`: a handful of queries a batch, never a query per patient) so memory
stays at one batch whatever the program's size, and appending lines to one file per resource
type (split every FILE_LINES lines) in the job's folder. Of each dose's before-dose decision it
reads only the keys the mapping reads (`decisions`): the rest is most of a program's bytes.

Who may: `program.export`, in the caller's read mode (staff identified, researchers
de-identified, as every read), audited once per export at kick-off (types, patients, mode),
never once per patient. A job is only ever seen by the user who asked for it, in the mode it
was made in. The program is read as of the job's transaction time: the patients registered
then (ids up to the highest then) and the records kept by then (records are only ever added),
so an export is one consistent picture of the program however long it runs.

A server restart ends the thread: the job's heartbeat (noted after every batch) then stops,
and the next status read marks the job failed once it is HEARTBEAT_STALE old, and deletes its
files. Files are deleted on cancelling and, at the latest, `export_expiry_h` hours (site
policy) after the kick-off: every kick-off and status read sweeps the expired jobs.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

from il2.domain.deidentify import study_number
from il2.domain.errors import NotFoundError
from il2.domain.exports import ExportFile, ExportJob, ExportStatus
from il2.domain.records import Actor
from il2.services.auditing import audit
from il2.services.context import Services
from il2.services.patients import PatientRows, patient_record, study_record
from il2.services.permissions import ReadMode, read_mode, require
from il2.services.ports import ExportFiles, UnitOfWork

Mapper = Callable[[Mapping[str, Any], str, ReadMode], Iterable[tuple[str, bytes]]]
"""Turns one patient's record, its FHIR id and the mode it was read in into lines (each
ending in a newline) by resource type: the edge's FHIR mapping."""
Decisions = bool | frozenset[str]
"""What a mapping reads of each dose's before-dose decision: all of it (True), nothing
(False), or only these keys (a key absent or null in a decision is left out)."""
Spawn = Callable[[Callable[[], None]], None]
"""Runs a job's work (by default in a new daemon thread)."""

FILE_LINES = 100_000
"""Lines an output file holds before the next file of its type begins."""
HEARTBEAT_STALE = timedelta(minutes=10)
"""A running job whose worker has not noted progress for this long is taken as stopped (its
process ended): a batch takes seconds, so ten minutes is never a slow batch."""
JOB_ID_BYTES = 24
"""Random bytes in a job's id (32 URL-safe characters): its URL cannot be guessed."""

_log = logging.getLogger(__name__)


class _Kept(Protocol):
    @property
    def recorded_at(self) -> datetime: ...


Row = TypeVar("Row", bound=_Kept)


def _thread(work: Callable[[], None]) -> None:
    threading.Thread(target=work, name="il2-export", daemon=True).start()


def _files(services: Services) -> ExportFiles:
    if services.export_files is None:
        raise NotFoundError(kind="bulk export", key="(no export folder configured)")
    return services.export_files


def start_export(
    services: Services,
    actor: Actor,
    *,
    request_url: str,
    types: Sequence[str],
    build: Mapper,
    decisions: Decisions = True,
    spawn: Spawn = _thread,
) -> ExportJob:
    """Accept an export of the whole program's `types`, audited once, and start its work;
    `build` reads only `decisions` of each dose's decision."""
    require(services, actor, "program.export")
    mode = read_mode(services, actor)
    files = _files(services)
    sweep_expired(services)
    now = services.clock()
    job_id = secrets.token_urlsafe(JOB_ID_BYTES)
    with services.uow() as uow:
        total, through = uow.patients.span()
        job = ExportJob(
            id=job_id,
            username=actor.username,
            request_url=request_url,
            types=tuple(types),
            mode=mode,
            status=ExportStatus.RUNNING,
            patients_total=total,
            patients_done=0,
            through_patient_id=through,
            transaction_time=now,
            expires_at=now + timedelta(hours=services.rules.exports.expiry_h),
            heartbeat_at=now,
        )
        uow.exports.add(job)
        audit(
            uow,
            services,
            actor,
            action="export" if mode == "identified" else "export_deidentified",
            entity="program",
            entity_id=job_id,
            patient_id=None,
            after={"types": list(types), "patients": total, "mode": mode},
        )
        uow.commit()
    files.create(job_id)
    spawn(lambda: run_export(services, job, build, decisions=decisions))
    return job


def _as_of(rows: Iterable[Row], moment: datetime) -> list[Row]:
    """The rows kept by `moment` (every record has `recorded_at`; records are only added)."""
    return [row for row in rows if row.recorded_at <= moment]


def _batch(
    uow: UnitOfWork, ids: list[int], as_of: datetime, decisions: Decisions
) -> dict[int, PatientRows]:
    """The rows of a batch of patients: five queries, whatever the batch's size."""
    patients = uow.patients.named(ids)
    screenings = uow.screenings.for_patients(ids)
    courses = {k: _as_of(v, as_of) for k, v in uow.courses.for_patients(ids).items()}
    course_ids = [c.id for found in courses.values() for c in found]
    doses = uow.doses.for_courses(course_ids, decisions=decisions) if course_ids else {}
    diary = uow.diary.for_courses(course_ids) if course_ids else {}
    entries = uow.entries.for_patients(ids)
    return {
        pid: PatientRows(
            patient=patients[pid],
            screenings=_as_of(screenings.get(pid, ()), as_of),
            courses=courses.get(pid, []),
            doses={c.id: _as_of(doses.get(c.id, ()), as_of) for c in courses.get(pid, [])},
            entries=_as_of(entries.get(pid, ()), as_of),
            diary={c.id: _as_of(diary.get(c.id, ()), as_of) for c in courses.get(pid, [])},
        )
        for pid in ids
    }


def program_pages(
    services: Services,
    *,
    identified: bool,
    through: int,
    as_of: datetime,
    batch: int,
    decisions: Decisions = True,
) -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """The program's records a batch at a time, by patient id up to `through`, as of a moment:
    each as (FHIR id, record), the record exactly as `read_patient` (identified: the id is the
    database id) or `read_study_record` (de-identified: the study number) answers it, but for
    each dose's decision: only its keys in `decisions` (all when True).

    Not audited here: the export that reads them is, once (start_export).
    """
    after = 0
    while True:
        with services.uow() as uow:
            page = [p.id for p in uow.patients.after(after, through=through, limit=batch)]
            rows = _batch(uow, page, as_of, decisions) if page else {}
        if not page:
            return
        if identified:
            yield [(str(pid), patient_record(services, rows[pid], identified=True)) for pid in page]
        else:
            key = services.study_key
            yield [(study_number(pid, key=key), study_record(services, rows[pid])) for pid in page]
        if len(page) < batch:
            return
        after = page[-1]


class _Outputs:
    """The job's files as they grow: one per type, the next begun every FILE_LINES lines."""

    def __init__(self, files: ExportFiles, job_id: str) -> None:
        self.files, self.job_id = files, job_id
        self.kept: list[ExportFile] = []
        self.current: dict[str, int] = {}  # type -> index in `kept` of its open file

    def add(self, kind: str, lines: list[bytes]) -> None:
        while lines:
            place = self.current.get(kind)
            if place is None or self.kept[place].count >= FILE_LINES:
                parts = sum(1 for f in self.kept if f.type == kind)
                self.kept.append(ExportFile(kind, f"{kind}.{parts + 1}.ndjson", 0))
                place = self.current[kind] = len(self.kept) - 1
            open_file = self.kept[place]
            room = FILE_LINES - open_file.count
            taken, lines = lines[:room], lines[room:]
            self.files.append(self.job_id, open_file.name, taken)
            self.kept[place] = ExportFile(kind, open_file.name, open_file.count + len(taken))


def _advance(
    services: Services,
    job: ExportJob,
    done: int,
    outputs: _Outputs,
    *,
    status: ExportStatus = ExportStatus.RUNNING,
    error: str | None = None,
) -> bool:
    with services.uow() as uow:
        running = uow.exports.advance(
            job.id,
            patients_done=done,
            outputs=outputs.kept,
            at=services.clock(),
            status=status,
            error=error,
        )
        uow.commit()
    return running


def run_export(
    services: Services, job: ExportJob, build: Mapper, *, decisions: Decisions = True
) -> None:
    """The job's work: every batch mapped and appended to its files, progress noted after
    each; stops (and deletes what it wrote) when the job was cancelled meanwhile. `build`
    reads only `decisions` of each dose's decision."""
    files = _files(services)
    outputs = _Outputs(files, job.id)
    done = 0
    mode: ReadMode = "identified" if job.mode == "identified" else "deidentified"
    try:
        pages = program_pages(
            services,
            identified=mode == "identified",
            through=job.through_patient_id,
            as_of=job.transaction_time,
            batch=services.rules.exports.batch_patients,
            decisions=decisions,
        )
        for page in pages:
            lines: dict[str, list[bytes]] = {}
            for key, record in page:
                for kind, line in build(record, key, mode):
                    lines.setdefault(kind, []).append(line)
            for kind, found in lines.items():
                outputs.add(kind, found)
            done += len(page)
            if not _advance(services, job, done, outputs):
                files.remove(job.id)  # cancelled meanwhile
                return
        if not _advance(services, job, done, outputs, status=ExportStatus.COMPLETED):
            files.remove(job.id)
    except NotFoundError:  # the folder went: cancelled (or expired) meanwhile
        files.remove(job.id)
    except Exception as error:  # a worker thread's last resort: the job says it failed
        _log.exception("export %s failed", job.id[:8])
        _advance(
            services, job, done, outputs, status=ExportStatus.FAILED, error=type(error).__name__
        )
        files.remove(job.id)


def sweep_expired(services: Services) -> int:
    """Delete the files of every job past its expiry and mark it expired; how many."""
    files = _files(services)
    now = services.clock()
    with services.uow() as uow:
        expired = uow.exports.expired(now)
        for job in expired:
            uow.exports.close(job.id, status=ExportStatus.EXPIRED, at=now, error=None)
        uow.commit()
    for job in expired:
        files.remove(job.id)
    return len(expired)


def _own_job(services: Services, actor: Actor, job_id: str) -> ExportJob:
    """The actor's own job, in the mode they read in now; NotFoundError for anyone else's (a
    job's existence is not confirmed to another user), and for a closed one."""
    require(services, actor, "program.export")
    mode = read_mode(services, actor)
    with services.uow() as uow:
        job = uow.exports.get(job_id[:64])
    if job is None or job.username != actor.username or job.mode != mode:
        raise NotFoundError(kind="export", key=job_id[:64])
    if job.status in (ExportStatus.CANCELLED, ExportStatus.EXPIRED):
        raise NotFoundError(kind=f"export ({job.status.value})", key=job_id[:64])
    return job


def export_status(services: Services, actor: Actor, job_id: str) -> ExportJob:
    """The actor's job as it stands; a running job whose worker stopped (a restart) is marked
    failed here, its files deleted."""
    sweep_expired(services)
    job = _own_job(services, actor, job_id)
    now = services.clock()
    if job.status is ExportStatus.RUNNING and now - job.heartbeat_at > HEARTBEAT_STALE:
        error = "the server process running the export stopped (a restart); ask again"
        with services.uow() as uow:
            uow.exports.close(job.id, status=ExportStatus.FAILED, at=now, error=error)
            uow.commit()
        _files(services).remove(job.id)
        return _own_job(services, actor, job_id)
    return job


def export_file(services: Services, actor: Actor, job_id: str, name: str) -> Iterator[bytes]:
    """One file of the actor's completed job, a chunk at a time (streamed from disk)."""
    job = export_status(services, actor, job_id)
    if job.status is not ExportStatus.COMPLETED or name not in {f.name for f in job.outputs}:
        raise NotFoundError(kind="export file", key=name[:64])
    return _files(services).read(job.id, name)


def cancel_export(services: Services, actor: Actor, job_id: str) -> None:
    """Cancel the actor's job (running or completed) and delete its files; its worker, if
    running, stops at its next batch."""
    job = _own_job(services, actor, job_id)
    with services.uow() as uow:
        uow.exports.close(job.id, status=ExportStatus.CANCELLED, at=services.clock(), error=None)
        uow.commit()
    _files(services).remove(job.id)
