"""What the facade is built from: a mapping context, search parameters and resource types.

A resource type is a name, the profiles its resources declare, a function that builds them
from one patient's record (the document `il2.services.patients` answers, identified or
de-identified by the caller's role), and the search parameters it answers. Every resource but
Patient lives in a patient's compartment: a search names the patient (`patient=` or
`subject=`), and the whole program is read by `$export`. A program-level type (AuditEvent)
lives in no compartment: its `program_search` and `program_read` hooks answer from a service
of their own, which checks the reader's permission.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from zoneinfo import ZoneInfo

from il2.domain.coding import CodeTable
from il2.domain.records import Actor
from il2.rules.loader import RuleSet
from il2.services.context import Services

Resource = dict[str, Any]
Record = Mapping[str, Any]
"""One patient's record as `il2.services.patients.read_patient` answers it."""

SearchKind = Literal["token", "date", "reference", "string"]

MRN_SYSTEM = "urn:il2:mrn"
"""The identifier system of a patient's medical record number at an il2 site."""
STUDY_SYSTEM = "urn:il2:study-number"
"""The identifier system of a de-identified patient's study number."""


@dataclass(frozen=True, slots=True)
class Context:
    """What every mapping needs: the codes, the rules, the site's time zone and who reads.

    `patient_id` is the FHIR id of the record's patient: its database id for staff, its study
    number for a researcher (whose record has no identifier, free text or real date).
    """

    rules: RuleSet
    codes: CodeTable
    zone: ZoneInfo
    identified: bool
    patient_id: str
    base: str = ""

    @property
    def patient_reference(self) -> dict[str, str]:
        """The reference to the record's Patient."""
        return {"reference": f"Patient/{self.patient_id}"}

    def resource_id(self, *parts: object) -> str:
        """An id unique in the program: the patient's id, a dot, then the parts joined by `-`
        (FHIR id characters only), so a read by id finds the patient's record at once."""
        return f"{self.patient_id}.{'-'.join(str(part) for part in parts)}"


def patient_of(resource_id: str) -> str:
    """The patient's id within a compartment resource's id (`Context.resource_id`)."""
    return resource_id.split(".", 1)[0]


@dataclass(frozen=True, slots=True)
class SearchParam:
    """A search parameter: its kind (how a value is matched) and the values a resource has.

    `values` returns, for a token, codings ({"system", "code"}) or plain codes; for a date,
    ISO 8601 dates or date-times; for a reference, "Type/id" strings; for a string, text.
    `target` is the type a reference parameter points at (for `_include`).
    """

    name: str
    kind: SearchKind
    values: Callable[[Resource], Iterable[Any]]
    description: str
    target: str | None = None


Criteria = list[tuple[SearchParam, str]]
"""A search's parameters with the value of each occurrence, as the query gave them."""

ProgramSearch = Callable[[Services, Actor, Criteria, int, int], tuple[list[Resource], int]]
"""A program-level search: (services, actor, criteria, count, offset) to the page of
resources and the total matching."""

ProgramRead = Callable[[Services, Actor, str], Resource]
"""A program-level read by id (NotFoundError when there is none)."""


@dataclass(frozen=True, slots=True)
class ResourceType:
    """One FHIR resource type the facade answers.

    A compartment type is built from each patient's record (`build`); a program-level type sets
    `program_search` and `program_read` instead, and its `build` yields nothing.
    """

    name: str
    profiles: tuple[str, ...]
    build: Callable[[Record, Context], Iterable[Resource]]
    search: Mapping[str, SearchParam] = field(default_factory=dict)
    description: str = ""
    program_search: ProgramSearch | None = None
    program_read: ProgramRead | None = None
    parts: frozenset[str] = frozenset()
    """The parts of a patient's record `build` reads beyond the patient and the courses
    (il2.services.patients.RECORD_PARTS): a read or search reads only those."""
    decision_keys: frozenset[str] = frozenset()
    """The keys of a dose's before-dose decision `build` reads: a bulk export reads only
    those of each decision (the rest, every rule checked with its source, is most of a
    dose's bytes)."""

    @property
    def in_compartment(self) -> bool:
        """Whether a search names a patient (`patient=`, `subject=`): every type but Patient
        and the program-level ones."""
        return self.name != "Patient" and self.program_search is None

    def includes(self) -> tuple[str, ...]:
        """The `_include` values it answers: its reference parameters."""
        return tuple(f"{self.name}:{param.name}" for param in self.search.values() if param.target)


def subject_values(resource: Resource) -> list[str]:
    """A resource's patient reference, wherever its type keeps it."""
    for key in ("subject", "patient", "entity"):
        found = resource.get(key)
        if isinstance(found, Mapping) and "reference" in found:
            return [str(found["reference"])]
    return []


PATIENT_PARAMS = {
    name: SearchParam(name, "reference", subject_values, "the patient", target="Patient")
    for name in ("patient", "subject")
}
"""`patient=` and `subject=`, which every compartment resource answers."""
