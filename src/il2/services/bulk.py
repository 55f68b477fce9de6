"""A demo writer for large programs: the records the use cases keep, written in batches.

Each record is computed by the helper its use case uses (patient_fields, screening_fields,
course_fields, dose_fields, toxicity_entry, response_entry, follow_up_entry) and each gets the
audit entry the use case would append (audit_entry); a dose is refused by the same rules
(holds_still_open, refuse_unverified_first_dose, dose_fields' own). Nothing is written until
a batch of patients is complete; then the batch goes in one bulk transaction, ids reserved
first, with the outlines outcome analysis reads (services/outlines.py).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from il2.domain.bedside import holds_still_open
from il2.domain.records import (
    Actor,
    AuditEntry,
    ClinicalEntry,
    CourseRecord,
    DoseOutcome,
    DoseRecord,
    Json,
    LedgerLine,
    Patient,
    PatientLedgerLine,
    ScreeningRecord,
    User,
)
from il2.services.accounts import RunPasswordCheck
from il2.services.admission import judge_admission, patient_records
from il2.services.auditing import audit_entry
from il2.services.clinical import follow_up_entry, response_entry, toxicity_entry
from il2.services.context import Services
from il2.services.courses import course_fields
from il2.services.doses import (
    DoseSubmission,
    dose_fields,
    engine_holds_overridably,
    ledger_line,
    refuse_unverified_first_dose,
)
from il2.services.history import retreatment_on
from il2.services.outlines import course_outline, entry_outline
from il2.services.patients import patient_fields, screening_fields
from il2.services.permissions import require
from il2.services.planning import find_regimen
from il2.services.ports import BulkRecords, RecordTable

BATCH_PATIENTS = 500


@dataclass(frozen=True, slots=True)
class _Pending:
    """A record waiting for its id: its use case's fields, who recorded it, and the keys of
    its patient and of its course (for a course: its own key)."""

    table: RecordTable
    fields: dict[str, Any]
    actor: Actor
    patient: int
    course: int | None = None


@dataclass
class _Timeline:
    """What dose_fields needs of a pending patient: their courses (keyed) and ledger so far."""

    courses: dict[int, CourseRecord] = field(default_factory=dict)
    ledger: list[PatientLedgerLine] = field(default_factory=list)
    decisions: dict[int, list[tuple[int, int, str, Mapping[str, object]]]] = field(
        default_factory=dict
    )
    """Each course's doses as holds_still_open reads them: (cycle, number, outcome, decision)."""


class BulkWriter:
    """Computes every record as its use case would and writes batches of `batch` patients."""

    def __init__(self, services: Services, *, batch: int = BATCH_PATIENTS) -> None:
        if services.bulk is None:
            raise ValueError("bulk writing needs storage that offers it (Services.bulk)")
        if batch < 1:
            raise ValueError(f"a batch holds 1 or more patients, not {batch}")
        self._services = services
        self._bulk = services.bulk
        self._batch = batch
        self._pending: list[_Pending] = []
        self._courses: dict[int, CourseRecord] = {}
        self._timelines: dict[int, _Timeline] = {}
        self._passwords = RunPasswordCheck()
        self._accounts: dict[str, User | None] = {}
        self._numbers: Counter[int] = Counter()
        self._screenings: dict[int, list[ScreeningRecord]] = {}
        self._assessments: dict[int, list[Json]] = {}
        self._keys = {"patients": 0, "courses": 0}
        self._patients_pending = 0
        self._patients_written = 0

    def _now(self) -> datetime:
        return self._services.clock()

    def _key(self, table: str) -> int:
        self._keys[table] += 1
        return self._keys[table]

    def _verify(self, username: str, password: object) -> User | None:
        """As record_dose authenticates the second person (accounts read once per run)."""
        if username not in self._accounts:
            with self._services.uow() as uow:
                self._accounts[username] = uow.users.by_username(username)
        account = self._accounts[username]
        return account if self._passwords(account, password) else None

    def patient(self, actor: Actor, document: Json) -> int:
        """As create_patient."""
        require(self._services, actor, "patient.create")
        fields = patient_fields(self._services, document)
        key = self._key("patients")
        self._pending.append(_Pending("patients", fields, actor, key))
        return key

    def screening(self, actor: Actor, patient: int, findings: Json) -> str:
        """As record_screening."""
        require(self._services, actor, "screening.record")
        fields = screening_fields(self._services, findings)
        fields.update(recorded_by=actor.username, at=self._now())
        self._pending.append(_Pending("screenings", fields, actor, patient))
        self._screenings.setdefault(patient, []).append(
            _record(ScreeningRecord, 0, {**fields, "patient_id": patient})
        )
        return str(fields["verdict"])

    def course(
        self,
        actor: Actor,
        patient: int,
        *,
        regimen: str,
        weight_kg: float,
        first_dose: str,
        events: Sequence[Json] = (),
    ) -> tuple[int, Json]:
        """As plan_course (a patient's records are all in one batch, so are their courses)."""
        require(self._services, actor, "course.plan")
        planned = course_fields(
            self._services,
            regimen=regimen,
            weight_kg=weight_kg,
            first_dose=first_dose,
            events=list(events),
        )
        timeline = self._timelines.get(patient, _Timeline())
        ledgers = {
            key: [
                LedgerLine(d.cycle, d.dose_number, d.outcome, d.decision_action, d.given_at)
                for d in timeline.ledger
                if d.course_id == key
            ]
            for key in timeline.courses
        }
        records = patient_records(
            self._services,
            screenings=self._screenings.get(patient, []),
            courses=list(timeline.courses.values()),
            ledgers=ledgers,
        )
        judge_admission(
            self._services,
            actor,
            records,
            retreatment_on(self._services, self._assessments.get(patient, [])),
            regimen=find_regimen(self._services.rules, regimen),
            first_dose=planned["first_dose_at"],
            override_reason=None,
        )
        self._numbers[patient] += 1
        fields = {
            "number": self._numbers[patient],
            **planned,
            "recorded_by": actor.username,
            "at": self._now(),
        }
        key = self._key("courses")
        self._pending.append(_Pending("courses", fields, actor, patient, key))
        record = _record(CourseRecord, key, {**fields, "patient_id": patient})
        self._courses[key] = record
        self._timelines.setdefault(patient, _Timeline()).courses[key] = record
        return key, planned["plan"]

    def dose(self, actor: Actor, course: int, submission: DoseSubmission) -> DoseOutcome:
        """As record_dose, the ledger read from the doses pending for the course."""
        require(self._services, actor, "dose.record")
        record = self._courses[course]
        timeline = self._timelines[record.patient_id]
        fields = dose_fields(
            self._services,
            actor,
            record,
            submission,
            courses=timeline.courses,
            ledger=timeline.ledger,
            verify=self._verify,
            open_holds=holds_still_open(
                timeline.decisions.get(course, []), submission.cycle, submission.dose_number
            ),
        )
        outcome: DoseOutcome = fields["outcome"]
        if outcome is DoseOutcome.GIVEN:
            # a plan planned in this run has had no pharmacist to verify it
            refuse_unverified_first_dose(
                self._services, record, timeline.ledger, verified=lambda: False
            )
        decision = fields["decision"]
        timeline.decisions.setdefault(course, []).append(
            (
                submission.cycle,
                submission.dose_number,
                outcome.value,
                decision if isinstance(decision, Mapping) else {},
            )
        )
        self._assessments.setdefault(record.patient_id, []).append(fields["assessment"])
        timeline.ledger.append(
            PatientLedgerLine(
                course,
                submission.cycle,
                submission.dose_number,
                outcome,
                fields["decision_action"],
                fields["given_at"],
                fields["at"],
            )
        )
        self._pending.append(_Pending("doses", fields, actor, record.patient_id, course))
        return outcome

    def overridable_hold(self, actor: Actor, course: int, submission: DoseSubmission) -> bool:
        """As the demo's ServiceWriter: the engine's decision on the pending ledger, nothing
        recorded."""
        record = self._courses[course]
        timeline = self._timelines[record.patient_id]
        return engine_holds_overridably(
            self._services,
            actor,
            record,
            submission,
            courses=timeline.courses,
            ledger=timeline.ledger,
            open_holds=holds_still_open(
                timeline.decisions.get(course, []), submission.cycle, submission.dose_number
            ),
        )

    def _entry(self, actor: Actor, patient: int, fields: dict[str, Any]) -> None:
        course = fields.pop("course_id")
        fields.update(corrects_id=None, reason=None, recorded_by=actor.username, at=self._now())
        self._pending.append(_Pending("entries", fields, actor, patient, course))

    def toxicity(
        self, actor: Actor, patient: int, *, observed_on: str, course: int, findings: Json
    ) -> None:
        """As record_toxicity."""
        require(self._services, actor, "toxicity.record")
        fields = toxicity_entry(
            self._services, observed_on=observed_on, course_id=course, findings=findings
        )
        self._entry(actor, patient, fields)

    def response(self, actor: Actor, patient: int, *, course: int, measurements: Json) -> None:
        """As record_response."""
        require(self._services, actor, "response.record")
        fields = response_entry(self._services, course_id=course, measurements=measurements)
        self._entry(actor, patient, fields)

    def follow_up(self, actor: Actor, patient: int, *, observed_on: str, status: str) -> None:
        """As record_follow_up."""
        require(self._services, actor, "followup.record")
        self._entry(actor, patient, follow_up_entry(observed_on=observed_on, status=status))

    def end_patient(self) -> int:
        """Write the batch once it holds `batch` patients; returns the patients written."""
        self._patients_pending += 1
        if self._patients_pending >= self._batch:
            self._write()
        return self._patients_written

    def close(self) -> int:
        """Write the last, partial batch; returns the patients written."""
        if self._patients_pending:
            self._write()
        return self._patients_written

    def _write(self) -> None:
        with self._bulk() as store:
            _Batch(store, self._pending).write()
            store.commit()
        self._patients_written += self._patients_pending
        self._patients_pending = 0
        self._pending = []
        self._courses = {}
        self._timelines = {}
        self._numbers.clear()
        self._screenings = {}
        self._assessments = {}


_TABLES: tuple[RecordTable, ...] = ("patients", "screenings", "courses", "doses", "entries")
_KINDS: dict[str, tuple[Callable[..., Any], tuple[str, ...]]] = {
    "screenings": (ScreeningRecord, ("patient_id",)),
    "courses": (CourseRecord, ("patient_id",)),
    "doses": (DoseRecord, ("course_id",)),
    "entries": (ClinicalEntry, ("patient_id", "course_id")),
}
_ENTITY = {"patients": "patient", "screenings": "screening", "courses": "course", "doses": "dose"}


def _record(kind: Callable[..., Any], key: int, fields: dict[str, Any]) -> Any:
    """A record from its use case's fields (`at`: when it was recorded)."""
    values = dict(fields)
    at = values.pop("at")
    stamp = "created_at" if kind is Patient else "recorded_at"
    return kind(id=key, **values, **{stamp: at})


class _Batch:
    """One batch in one bulk transaction: ids reserved, records and audit entries built."""

    def __init__(self, store: BulkRecords, pending: Sequence[_Pending]) -> None:
        self._store = store
        self._pending = pending
        self._patient_ids: dict[int, int] = {}
        self._course_ids: dict[int, int] = {}
        self._records: dict[str, list[Any]] = {table: [] for table in _TABLES}

    def write(self) -> None:
        """Reserve ids, build every record and its audit entry, insert parents first."""
        ids = {
            table: iter(
                self._store.reserve_ids(table, sum(1 for p in self._pending if p.table == table))
            )
            for table in _TABLES
        }
        audit_ids = iter(self._store.reserve_ids("audit", len(self._pending)))
        audit = []
        for pending in self._pending:
            record, patient_id, after = self._build(pending, next(ids[pending.table]))
            audit.append(
                AuditEntry(
                    id=next(audit_ids),
                    **audit_entry(
                        pending.fields["at"],
                        pending.actor,
                        action="create",
                        entity=_ENTITY.get(pending.table) or record.kind,
                        entity_id=record.id,
                        patient_id=patient_id,
                        after=after,
                    ),
                )
            )
        self._store.add_patients(self._records["patients"])
        self._store.add_screenings(self._records["screenings"])
        self._store.add_courses(self._records["courses"])
        self._store.add_doses(self._records["doses"])
        self._store.add_entries(self._records["entries"])
        self._store.add_course_outlines([course_outline(c) for c in self._records["courses"]])
        self._store.add_entry_outlines([entry_outline(e) for e in self._records["entries"]])
        self._store.add_audit(audit)

    def _build(self, pending: _Pending, key: int) -> tuple[Any, int, object]:
        """The record with its id, its patient's id, and what its audit entry keeps."""
        table, fields = pending.table, pending.fields
        if table == "patients":
            self._patient_ids[pending.patient] = key
            record = _record(Patient, key, fields)
            self._records[table].append(record)
            return record, key, record
        if table == "courses" and pending.course is not None:
            self._course_ids[pending.course] = key
        patient_id = self._patient_ids[pending.patient]
        parents = {
            "patient_id": patient_id,
            "course_id": None if pending.course is None else self._course_ids[pending.course],
        }
        kind, keys = _KINDS[table]
        record = _record(kind, key, {**fields, **{name: parents[name] for name in keys}})
        self._records[table].append(record)
        after = ledger_line(record) if table == "doses" else record
        return record, patient_id, after
