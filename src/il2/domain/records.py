"""The patient pathway as records: what il2 keeps, for years, about each patient.

Records are values. Nothing clinical is deleted or edited in place: a correction is a new
record whose `corrects_id` points at the one it replaces, and the newest record of a chain is
the current one. Every date-time is time-zone aware.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any, NamedTuple

Json = dict[str, Any]


class Role(StrEnum):
    """What a user does in the program; permissions follow from it."""

    NURSE = "nurse"
    PHYSICIAN = "physician"
    PHARMACIST = "pharmacist"
    COORDINATOR = "coordinator"
    RESEARCHER = "researcher"
    ADMINISTRATOR = "administrator"


class DoseOutcome(StrEnum):
    """What happened to a scheduled dose."""

    GIVEN = "given"
    HELD = "held"
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class User:
    """An account."""

    id: int
    username: str
    display_name: str
    role: Role
    password_hash: str
    active: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is acting: the user behind a request or command."""

    user_id: int
    username: str
    role: Role


@dataclass(frozen=True, slots=True)
class Patient:
    """A referred patient."""

    id: int
    mrn: str
    name: str
    birth_date: date
    sex: str
    diagnosis: str
    referred_on: date
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ScreeningRecord:
    """One screening: the findings as entered and the checklist il2 produced."""

    id: int
    patient_id: int
    findings: Json
    verdict: str
    result: Json
    rules_version: str
    recorded_by: str
    recorded_at: datetime


@dataclass(frozen=True, slots=True)
class CourseRecord:
    """A planned course: the regimen, the weight it was planned for, and its dose slots."""

    id: int
    patient_id: int
    number: int
    regimen_id: str
    weight_kg: str
    first_dose_at: datetime
    plan: Json
    recorded_by: str
    recorded_at: datetime


@dataclass(frozen=True, slots=True)
class PlannedDose:
    """A dose slot of a course's plan: which course, cycle and dose, and when it is due (the
    timeline and the worklist each add what they know of it)."""

    course_id: int
    cycle: int
    dose_number: int
    due_at: datetime


@dataclass(frozen=True, slots=True)
class PlanVerification:
    """A pharmacist's verification of a course's plan before its first dose."""

    course_id: int
    verified_by: str
    verified_at: datetime


@dataclass(frozen=True, slots=True)
class DoseRecord:
    """One entry of the dose ledger: one per (course, cycle, dose number)."""

    id: int
    course_id: int
    cycle: int
    dose_number: int
    outcome: DoseOutcome
    assessment: Json
    decision: Json
    decision_action: str
    rules_version: str
    given_at: datetime | None
    verified_by: str | None
    override_reason: str | None
    override_by: str | None
    idempotency_key: str | None
    recorded_by: str
    recorded_at: datetime


@dataclass(frozen=True, slots=True)
class InfusionEventRecord:
    """One event of a running continuous infusion (domain/infusion.py), as kept: numbered in
    the dose slot's order (`seq`, unique per slot), with the assessment and decision behind it.

    `kind` is pause, resume or stop; `event_at` when it happened; `decision_action` the
    assessment's before-dose decision (None: a clinician's reason alone); `corrects` the
    number of the event it replaces.
    """

    id: int
    course_id: int
    cycle: int
    dose_number: int
    seq: int
    kind: str
    event_at: datetime
    decision_action: str | None
    reason: str | None
    corrects: int | None
    assessment: Json | None
    decision: Json | None
    recorded_by: str
    recorded_at: datetime


@dataclass(frozen=True, slots=True)
class LedgerLine:
    """A dose record without its documents: what the ledger's rules need to read."""

    cycle: int
    dose_number: int
    outcome: DoseOutcome
    decision_action: str
    given_at: datetime | None


@dataclass(frozen=True, slots=True)
class CourseDoseLine:
    """A dose record without its documents, naming its course: what the rules that read the
    patient's ledger across courses need (the timeline and the ledger's counts)."""

    course_id: int
    cycle: int
    dose_number: int
    outcome: DoseOutcome
    decision_action: str
    given_at: datetime | None


@dataclass(frozen=True, slots=True)
class PatientLedgerLine(CourseDoseLine):
    """A line of the patient's whole ledger: which course it belongs to, what was done and
    when it was recorded."""

    recorded_at: datetime


@dataclass(frozen=True, slots=True)
class ClinicalEntry:
    """A toxicity, a response assessment or a follow-up: kind, content and the chain it is in."""

    id: int
    patient_id: int
    kind: str
    course_id: int | None
    observed_on: date
    content: Json
    summary: str
    corrects_id: int | None
    reason: str | None
    recorded_by: str
    recorded_at: datetime


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """Who did what, when, to which record, with the record before and after."""

    id: int
    at: datetime
    username: str
    action: str
    entity: str
    entity_id: str
    patient_id: int | None
    before: Json | None
    after: Json | None


# What outcome analysis reads, hundreds of thousands at a time: named tuples, which are
# quicker to make than records.


class Referral(NamedTuple):
    """A patient as outcome analysis reads them: no identifiers, the diagnosis, the referral."""

    id: int
    diagnosis: str
    referred_on: date


class CourseOutline(NamedTuple):
    """A course without its plan document: what outcome analysis reads of it."""

    id: int
    patient_id: int
    number: int
    regimen_id: str
    first_dose_on: date
    """The first dose's date in UTC, as every stored date-time is read."""
    vials_per_dose: int
    cycle_starts: tuple[tuple[int, str], ...]
    """Each planned cycle in plan order: its number and its first dose's due time (ISO 8601)."""


class CycleTally(NamedTuple):
    """One cycle of a course's ledger, counted: doses given and held, the last one given."""

    course_id: int
    cycle: int
    given: int
    held: int
    last_given_on: date | None
    """The date (UTC, as every stored date-time is read) of the last dose given."""


class RecistOutline(NamedTuple):
    """What outcome analysis reads of a RECIST result (dates as ISO 8601 text)."""

    best_overall_response: str
    response_on: str | None
    progression_on: str | None
    best_change_from_baseline_pct: float | None
    timepoints: tuple[tuple[str, float | None], ...]
    """Each time point, baseline first: its date and change from baseline (%)."""


class EntryOutline(NamedTuple):
    """An entry without its documents: the facts outcome analysis reads of it.

    `status`: a follow-up's; `grades`: a toxicity's (CTCAE term, grade) in order; `recist`: a
    response's, when it carries one.
    """

    id: int
    patient_id: int
    kind: str
    course_id: int | None
    observed_on: date
    corrects_id: int | None
    status: str | None
    grades: tuple[tuple[str, int], ...]
    recist: RecistOutline | None
