"""What every record-keeping use case needs: rules, storage, a clock; and finding a patient.

Permissions are services/permissions.py, the audit trail's writing services/auditing.py, and
reading inputs services/parsing.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from il2.domain.errors import NotFoundError
from il2.domain.records import Patient
from il2.rules.loader import RuleSet
from il2.services.ports import (
    BulkRecordsFactory,
    Clock,
    EhrRecords,
    ExportFiles,
    UnitOfWork,
    UnitOfWorkFactory,
)


@dataclass(frozen=True, slots=True)
class Services:
    """The rule tables in force, a way to open transactions, and the clock.

    `bulk` opens bulk transactions, for writing large synthetic programs (None: not offered).
    `ehr` reads the site's EHR over FHIR (None: no EHR is configured, and the features that
    read it say so).
    """

    rules: RuleSet
    uow: UnitOfWorkFactory
    clock: Clock
    bulk: BulkRecordsFactory | None = None
    ehr: EhrRecords | None = None
    study_key: bytes = field(default=b"", repr=False)
    """The site's secret key for study numbers (domain/deidentify.py); never logged."""
    export_files: ExportFiles | None = field(default=None, repr=False, compare=False)
    """Where bulk exports keep their files (None: exports are not offered)."""
    answers: dict[tuple[str, int], tuple[object, Any]] = field(
        default_factory=dict, repr=False, compare=False
    )
    """Answers worked out from one patient's records, by (use, patient id), each kept with the
    marks of the records it was worked out from (services/schedule.py): records are only ever
    added, so an answer whose marks still match is still the answer. Per app, so per database;
    a copy made with `dataclasses.replace` shares it."""


def patient_or_404(uow: UnitOfWork, patient_id: int) -> Patient:
    """The patient, or NotFoundError."""
    patient = uow.patients.get(patient_id)
    if patient is None:
        raise NotFoundError(kind="patient", key=str(patient_id))
    return patient
