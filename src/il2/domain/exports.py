"""Bulk export jobs: what was asked, by whom, how far it got and the files it wrote.

A job is a record so that any server process can answer its status; the work itself runs in
the process that accepted it (services/exports.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


@dataclass(frozen=True, slots=True)
class ExportPolicy:
    """A site's export choices: how long files are kept, and patients read a batch."""

    expiry_h: int
    batch_patients: int


class ExportStatus(StrEnum):
    """Where a job is: running until it completes, fails or is cancelled."""

    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class ExportFile:
    """One output file: the resource type its lines are, its name in the job's folder and
    how many lines (resources) it holds."""

    type: str
    name: str
    count: int


@dataclass(frozen=True, slots=True)
class ExportJob:
    """One export: who asked, the request, the types, the mode it reads records in, where it
    is (`patients_done` of `patients_total`, the patients whose ids were at most
    `through_patient_id` at `transaction_time`, the moment it reads the program as of), its
    files and why it failed. `heartbeat_at` is the worker's last sign of life."""

    id: str
    username: str
    request_url: str
    types: tuple[str, ...]
    mode: str
    status: ExportStatus
    patients_total: int
    patients_done: int
    through_patient_id: int
    transaction_time: datetime
    expires_at: datetime
    heartbeat_at: datetime
    outputs: tuple[ExportFile, ...] = ()
    error: str | None = None
    finished_at: datetime | None = None
