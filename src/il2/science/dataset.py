"""One program's records, as the outcome analytics read them.

The services layer builds a `Program` from storage; science never reads storage itself. Every
record is a frozen value with plain fields (dates, not date-times: analytics count days). Each
record refuses values that cannot be right (an unknown diagnosis, a grade of 7, a discharge
before admission), and `Program` refuses records that point at patients or courses it does not
hold, and follow-up that ends (death, else last contact) before a dose, response or progression.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, replace
from datetime import date
from typing import Literal, NoReturn, get_args

from il2.domain.errors import InvalidInputError
from il2.domain.findings import Value

Diagnosis = Literal["renal_cell_carcinoma", "melanoma"]
BestResponse = Literal["CR", "PR", "SD", "PD", "NE"]

DIAGNOSES: tuple[Diagnosis, ...] = get_args(Diagnosis)
BEST_RESPONSES: tuple[BestResponse, ...] = get_args(BestResponse)
RESPONDERS: frozenset[BestResponse] = frozenset({"CR", "PR"})
CTCAE_GRADES = (1, 2, 3, 4, 5)


def _require(*, ok: bool, field: str, value: object, allowed: str) -> None:
    if not ok:
        raise InvalidInputError(field=field, value=value, allowed=allowed)


def _refuse(field: str, value: object, allowed: str) -> NoReturn:
    # The records' own checks test first and call this only to fail: a program holds hundreds
    # of thousands of records, and a message (a date formatted) per record would cost seconds.
    raise InvalidInputError(field=field, value=value, allowed=allowed)


@dataclass(frozen=True, slots=True)
class Patient:
    """A referred patient: diagnosis, whether eligible and treated, and vital status."""

    patient_id: int
    diagnosis: Diagnosis
    referred_on: date
    eligible: bool
    treated: bool
    death_on: date | None
    last_contact_on: date
    """Last date known alive (the death date at the latest); censoring happens here."""
    progression_on: date | None = None
    """The first progression a follow-up contact recorded ("alive with progression"), on or after
    the first dose; RECIST progression is the response's own `progression_on`."""

    def __post_init__(self) -> None:
        if self.diagnosis not in DIAGNOSES:
            _refuse("patient.diagnosis", self.diagnosis, " or ".join(DIAGNOSES))
        if self.last_contact_on < self.referred_on:
            _refuse(
                "patient.last_contact_on",
                self.last_contact_on,
                f"on or after referral ({self.referred_on})",
            )
        if self.progression_on is not None and not (
            self.referred_on <= self.progression_on <= self.last_contact_on
        ):
            _refuse(
                "patient.progression_on",
                self.progression_on,
                f"from referral ({self.referred_on}) to the last contact ({self.last_contact_on})",
            )
        if self.death_on is not None and self.death_on < self.last_contact_on:
            _refuse(
                "patient.death_on",
                self.death_on,
                f"on or after the last contact ({self.last_contact_on})",
            )

    @property
    def followed_to(self) -> date:
        """The end of follow-up: the death date, or the last date known alive."""
        return self.death_on or self.last_contact_on


@dataclass(frozen=True, slots=True)
class Course:
    """One course of IL-2 (`number` 1, 2, ...) for one patient."""

    patient_id: int
    course_id: int
    number: int
    regimen_id: str
    first_dose_on: date
    last_dose_on: date
    vials_per_dose: int

    def __post_init__(self) -> None:
        if self.number < 1:
            _refuse("course.number", self.number, "1 or more")
        if self.vials_per_dose < 0:
            _refuse("course.vials_per_dose", self.vials_per_dose, "0 or more")
        if self.last_dose_on < self.first_dose_on:
            _refuse(
                "course.last_dose_on",
                self.last_dose_on,
                f"on or after the first dose ({self.first_dose_on})",
            )


@dataclass(frozen=True, slots=True)
class Cycle:
    """One inpatient cycle of a course: doses given and held, admission and discharge."""

    course_id: int
    cycle: int
    doses_given: int
    doses_held: int
    admitted_on: date
    discharged_on: date

    def __post_init__(self) -> None:
        if self.doses_given < 0 or self.doses_held < 0:
            _refuse(
                "cycle.doses_given/doses_held", (self.doses_given, self.doses_held), "0 or more"
            )
        if self.discharged_on < self.admitted_on:
            _refuse(
                "cycle.discharged_on",
                self.discharged_on,
                f"on or after admission ({self.admitted_on})",
            )


@dataclass(frozen=True, slots=True)
class Toxicity:
    """One adverse event: a CTCAE term (as its id, e.g. "hypotension") and grade 1-5."""

    patient_id: int
    course_id: int
    term: str
    grade: int

    def __post_init__(self) -> None:
        if self.grade not in CTCAE_GRADES:
            _refuse("toxicity.grade", self.grade, "1-5")


@dataclass(frozen=True, slots=True)
class Response:
    """A patient's response assessment: best overall response (RECIST 1.1) and its dates.

    `response_on`: the first date a CR or PR was documented (None for other categories; a
    responder without it counts in the rates but not in duration of response).
    `progression_on`: the first date of progression. `best_change_pct`: the best change in the
    sum of target diameters from baseline (negative is shrinkage). `timepoints`: the
    (date, change %) of each assessment after baseline.
    """

    patient_id: int
    best_overall_response: BestResponse
    response_on: date | None
    progression_on: date | None
    best_change_pct: float | None
    timepoints: tuple[tuple[date, float], ...]
    first_dose_on: date

    def __post_init__(self) -> None:
        if self.best_overall_response not in BEST_RESPONSES:
            _refuse(
                "response.best_overall_response",
                self.best_overall_response,
                ", ".join(BEST_RESPONSES),
            )
        if self.response_on is not None and self.best_overall_response not in RESPONDERS:
            _refuse(
                "response.response_on",
                self.response_on,
                "a date only when the best overall response is CR or PR",
            )
        if self.best_change_pct is not None and not self.best_change_pct >= -100.0:  # NaN too
            _refuse("response.best_change_pct", self.best_change_pct, "-100 or more")
        for name, day in (
            ("response_on", self.response_on),
            ("progression_on", self.progression_on),
        ):
            if day is not None and day < self.first_dose_on:
                _refuse(
                    f"response.{name}", day, f"on or after the first dose ({self.first_dose_on})"
                )
        if self.response_on and self.progression_on and self.progression_on < self.response_on:
            _refuse(
                "response.progression_on",
                self.progression_on,
                f"on or after the response ({self.response_on})",
            )

    @property
    def latest_on(self) -> date:
        """The latest date this record documents."""
        return max(d for d in (self.first_dose_on, self.response_on, self.progression_on) if d)


@dataclass(frozen=True, slots=True)
class Baseline:
    """A treated patient's prognostic factors, as the last screening on or before the first
    dose recorded them: `findings` maps dotted field paths (`labs.ldh_u_l`, `tumour.ca_ix_pct`)
    to their checked values (il2.domain.findings: Decimal, str, bool or frozenset of terms);
    a field the screening left empty is absent."""

    patient_id: int
    screened_on: date
    findings: Mapping[str, Value]


@dataclass(frozen=True, slots=True)
class Program:
    """Every record of one program, read at `as_of` (the data cut-off)."""

    patients: tuple[Patient, ...]
    courses: tuple[Course, ...]
    cycles: tuple[Cycle, ...]
    toxicities: tuple[Toxicity, ...]
    responses: tuple[Response, ...]
    as_of: date
    unfollowed: frozenset[int] = frozenset()
    """Patients left out of every time-to-event figure (overall and progression-free survival,
    duration of response, the swimmer plot): their follow-up dates cannot be trusted."""
    unprogressed: frozenset[int] = frozenset()
    """Patients left out of progression-free survival, duration of response and the swimmer
    plot: their response record was left out, so a response or progression may be missing."""
    baselines: tuple[Baseline, ...] = ()
    """At most one per patient: the prognostic factors the responder model and the published
    scores read."""

    def __post_init__(self) -> None:
        patient_ids = {p.patient_id for p in self.patients}
        _require(
            ok=len(patient_ids) == len(self.patients),
            field="program.patients",
            value="duplicate patient_id",
            allowed="one record per patient",
        )
        course_ids = {c.course_id for c in self.courses}
        _require(
            ok=len(course_ids) == len(self.courses),
            field="program.courses",
            value="duplicate course_id",
            allowed="one record per course",
        )
        responded = [r.patient_id for r in self.responses]
        _require(
            ok=len(set(responded)) == len(responded),
            field="program.responses",
            value="two responses for one patient",
            allowed="at most one best overall response per patient",
        )
        _known("course.patient_id", (c.patient_id for c in self.courses), patient_ids)
        _known("cycle.course_id", (c.course_id for c in self.cycles), course_ids)
        _known("toxicity.patient_id", (t.patient_id for t in self.toxicities), patient_ids)
        _known("toxicity.course_id", (t.course_id for t in self.toxicities), course_ids)
        _known("response.patient_id", responded, patient_ids)
        based = [b.patient_id for b in self.baselines]
        _require(
            ok=len(set(based)) == len(based),
            field="program.baselines",
            value="two baselines for one patient",
            allowed="at most one baseline per patient",
        )
        _known("baseline.patient_id", based, patient_ids)
        followed_to = {p.patient_id: p.followed_to for p in self.patients}
        late = [c.patient_id for c in self.courses if c.last_dose_on > followed_to[c.patient_id]]
        late += [r.patient_id for r in self.responses if r.latest_on > followed_to[r.patient_id]]
        _require(
            ok=not late,
            field="patient.last_contact_on",
            value=sorted(late)[:5],
            allowed="on or after every dose, response and progression of the patient",
        )


def restricted(program: Program, kept: AbstractSet[int]) -> Program:
    """The program's records of the patients in `kept`, and nothing else of anyone."""
    courses = tuple(c for c in program.courses if c.patient_id in kept)
    course_ids = {c.course_id for c in courses}
    return replace(
        program,
        patients=tuple(p for p in program.patients if p.patient_id in kept),
        courses=courses,
        cycles=tuple(c for c in program.cycles if c.course_id in course_ids),
        toxicities=tuple(t for t in program.toxicities if t.patient_id in kept),
        responses=tuple(r for r in program.responses if r.patient_id in kept),
        baselines=tuple(b for b in program.baselines if b.patient_id in kept),
        unfollowed=program.unfollowed & kept,
        unprogressed=program.unprogressed & kept,
    )


def _known(field: str, ids: Iterable[int], known: set[int]) -> None:
    unknown = set(ids) - known
    _require(
        ok=not unknown,
        field=field,
        value=sorted(unknown)[:5],
        allowed="an id held in the program",
    )
