"""Patients and screenings: register, read (identified or de-identified), screen."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import date
from hmac import compare_digest as hmac_equal
from typing import Any

from il2.domain import limits
from il2.domain.deidentify import (
    WITHHELD,
    age_category,
    as_day_labels,
    day_zero_shift,
    shift_dates,
    study_number,
    withhold_free_text,
)
from il2.domain.diary import DiaryEntry
from il2.domain.errors import InvalidInputError, NotFoundError
from il2.domain.records import (
    Actor,
    ClinicalEntry,
    CourseRecord,
    DoseRecord,
    Json,
    Patient,
    ScreeningRecord,
)
from il2.services.auditing import audit, stamp
from il2.services.context import Services, patient_or_404
from il2.services.diary import diary_lines
from il2.services.parsing import iso_date, plain, text
from il2.services.permissions import (
    read_mode,
    reads_deidentified_only,
    reads_identified,
    require,
)
from il2.services.ports import UnitOfWork
from il2.services.screening import screening_answer

_PATIENT_KEYS = ("mrn", "name", "birth_date", "sex", "diagnosis", "referred_on")
SEXES = ("female", "male", "other", "unknown")
DIAGNOSES = ("melanoma", "renal_cell_carcinoma")


RECORD_PARTS: frozenset[str] = frozenset({"screenings", "doses", "entries", "diary"})
"""The parts of a record a reader may leave out; the patient and the courses are always read
(the courses give a researcher's day 0 and number what points at them)."""


def _fields(document: object) -> Mapping[str, Any]:
    if not isinstance(document, Mapping):
        raise InvalidInputError(field="document", value=document, allowed="a JSON object")
    for key in document:
        if key not in _PATIENT_KEYS:
            raise InvalidInputError(
                field=key, value=document[key], allowed="one of " + ", ".join(_PATIENT_KEYS)
            )
    return document


def patient_fields(services: Services, document: object) -> dict[str, Any]:
    """What registering the patient in `document` keeps (checked; nothing read or written)."""
    raw = _fields(document)
    sex = raw.get("sex", "unknown")
    if sex not in SEXES:
        raise InvalidInputError(field="sex", value=sex, allowed="one of " + ", ".join(SEXES))
    diagnosis = raw.get("diagnosis")
    if diagnosis not in DIAGNOSES:
        raise InvalidInputError(
            field="diagnosis", value=diagnosis, allowed="one of " + ", ".join(DIAGNOSES)
        )
    now = services.clock()
    birth = iso_date(raw.get("birth_date"), "birth_date")
    referred = iso_date(raw.get("referred_on", now.date().isoformat()), "referred_on")
    if birth > referred:
        raise InvalidInputError(
            field="birth_date", value=birth.isoformat(), allowed="a date before the referral"
        )
    return {
        "mrn": str(text(raw.get("mrn"), "mrn", limit=limits.MAX_IDENTIFIER)),
        "name": str(text(raw.get("name"), "name")),
        "birth_date": birth,
        "sex": str(sex),
        "diagnosis": str(diagnosis),
        "referred_on": referred,
        "at": now,
    }


def create_patient(services: Services, actor: Actor, document: object) -> Patient:
    """Register a referred patient."""
    require(services, actor, "patient.create")
    fields = patient_fields(services, document)
    with services.uow() as uow:
        patient = uow.patients.add(**fields)
        audit(
            uow,
            services,
            actor,
            action="create",
            entity="patient",
            entity_id=patient.id,
            patient_id=patient.id,
            after=patient,
        )
        uow.commit()
    return patient


def _age(patient: Patient) -> int:
    born, then = patient.birth_date, patient.referred_on
    return then.year - born.year - ((then.month, then.day) < (born.month, born.day))


def deidentified(services: Services, patient: Patient) -> dict[str, Any]:
    """A patient without identifiers (Safe Harbor, domain/deidentify.py): a study number, age
    at referral (over 89: `90 or older`), sex, diagnosis and the year of referral."""
    return {
        "id": patient.id,
        "study_id": study_number(patient.id, key=services.study_key),
        "age_at_referral_years": age_category(_age(patient)),
        "sex": patient.sex,
        "diagnosis": patient.diagnosis,
        "referral_year": patient.referred_on.year,
    }


def day_zero(services: Services, patient: Patient, courses: Sequence[CourseRecord]) -> date:
    """The patient's day 0: the local date of the first dose, else the date of referral."""
    if not courses:
        return patient.referred_on
    zone = services.rules.site.time_zone
    return min(c.first_dose_at.astimezone(zone).date() for c in courses)


def _deidentified_record(
    services: Services, patient: Patient, courses: Sequence[CourseRecord], record: Json
) -> dict[str, Any]:
    """`record` for a researcher: no identifiers, no free text, dates shifted to day 0."""
    shift = day_zero_shift(day_zero(services, patient, courses))
    kept = {key: value for key, value in record.items() if key != "patient"}
    for screening in kept["screenings"]:
        screening["recorded_by"] = None
    for entry in kept["entries"]:  # a correction's summary quotes its reason
        content = entry.get("content")
        notes = content.get("notes") if isinstance(content, Mapping) else None
        for typed in (entry.get("reason"), notes):
            if isinstance(typed, str) and typed.strip():
                entry["summary"] = str(entry.get("summary", "")).replace(typed, WITHHELD)
    shifted = shift_dates(withhold_free_text(kept), days=shift, zone=services.rules.site.time_zone)
    return {
        "patient": deidentified(services, patient)
        | {"day_zero": "first dose" if courses else "referral"},
        **shifted,
    }


def read_patient_document(services: Services, actor: Actor, patient_id: int) -> dict[str, Any]:
    """The patient's record as the API answers it, by database id: staff only. A researcher
    is answered NotFoundError, as for a page that does not exist (read_study_document); a
    role that may read no record at all is refused (PermissionDeniedError, audited)."""
    if reads_deidentified_only(services, actor):
        raise NotFoundError(kind="patient", key=str(patient_id))
    return read_patient(services, actor, patient_id)


def read_study_document(services: Services, actor: Actor, number: str) -> dict[str, Any]:
    """A researcher's record as the API answers it, by study number: every date `day N`."""
    found = read_study_record(services, actor, number)
    return dict(as_day_labels(found, services.rules.site.time_zone))


def _study_patient_id(services: Services, number: str) -> int:
    """The record behind a study number, or NotFoundError.

    The study number is a keyed hash of the record number and is not stored, so this hashes
    every patient's record number (one short query, then HMACs in memory): linear in the
    number of patients, about a millisecond per thousand, which suits a program of a few
    thousand patients. A larger site would store the study number, indexed, at registration.
    """
    wanted = number.strip().upper()
    with services.uow() as uow:
        referrals = uow.patients.referrals()
    for referral in referrals:
        if hmac_equal(study_number(referral.id, key=services.study_key), wanted):
            return referral.id
    raise NotFoundError(kind="study number", key=number[:40])


def _renumbered(record: dict[str, Any]) -> dict[str, Any]:
    """A researcher's record without database ids: a course goes by its number in the
    patient's program, an entry (and a diary entry) by its place in the patient's record
    (1, 2, ...), and what points at them (a dose's or entry's course, a correction's original)
    follows suit."""
    courses = {c["id"]: c["number"] for c in record["courses"]}
    entries = {e["id"]: place for place, e in enumerate(record["entries"], start=1)}
    record["patient"].pop("id", None)
    for screening in record["screenings"]:
        screening.pop("id", None)
        screening.pop("patient_id", None)
    for course in record["courses"]:
        course["id"] = courses[course["id"]]
        course.pop("patient_id", None)
    for dose in record["doses"]:
        dose.pop("id", None)
        dose["course_id"] = courses.get(dose["course_id"])
    diary = {e["id"]: place for place, e in enumerate(record["diary"], start=1)}
    for line in record["diary"]:
        line["id"] = diary[line["id"]]
        line["course_id"] = courses.get(line["course_id"])
        line["corrects_id"] = diary.get(line["corrects_id"])
    for entry in record["entries"]:
        entry["id"] = entries[entry["id"]]
        entry.pop("patient_id", None)
        entry["course_id"] = courses.get(entry.get("course_id"))
        entry["corrects_id"] = entries.get(entry.get("corrects_id"))
    return record


def read_study_record(
    services: Services, actor: Actor, number: str, *, parts: frozenset[str] = RECORD_PARTS
) -> dict[str, Any]:
    """A researcher's de-identified record, found by study number and holding no database id
    (see _renumbered): `id`, `course_id` and `corrects_id` are numbers within the record.
    `parts` as for read_patient."""
    if reads_identified(services, actor):
        raise NotFoundError(kind="study number", key=number[:40])  # staff read /patients/{id}
    require(services, actor, "patient.read_deidentified")
    patient_id = _study_patient_id(services, number)
    return _renumbered(read_patient(services, actor, patient_id, parts=parts))


@dataclass(frozen=True, slots=True)
class PatientRows:
    """Everything a patient's record is built from, already read (one patient, or one of a
    batch read together: services/exports.py)."""

    patient: Patient
    screenings: Sequence[ScreeningRecord]
    courses: Sequence[CourseRecord]
    doses: Mapping[int, Sequence[DoseRecord]]
    """Each course's ledger, by course id."""
    entries: Sequence[ClinicalEntry]
    diary: Mapping[int, Sequence[DiaryEntry]]
    """Each course's diary entries, by course id."""


def patient_rows(
    uow: UnitOfWork, patient: Patient, parts: frozenset[str] = RECORD_PARTS
) -> PatientRows:
    """One patient's rows, read course by course (a single record's read); a part not in
    `parts` is not read and stays empty."""
    courses = uow.courses.for_patient(patient.id)
    return PatientRows(
        patient=patient,
        screenings=uow.screenings.for_patient(patient.id) if "screenings" in parts else (),
        courses=courses,
        doses={c.id: uow.doses.for_course(c.id) for c in courses} if "doses" in parts else {},
        entries=uow.entries.for_patient(patient.id) if "entries" in parts else (),
        diary={c.id: uow.diary.for_course(c.id) for c in courses} if "diary" in parts else {},
    )


DOCUMENTS = frozenset({"findings", "result", "plan", "assessment", "decision", "content"})
"""The fields of a record's rows that hold a stored JSON document (Json in domain/records.py).

Read back from a JSON column, a document is already plain JSON data (dicts, lists, text,
numbers, true, false, null), so a record takes it as read: `plain` would only copy it, and
copying every dose's decision was most of the time a record took to build."""


_COLUMNS: dict[type, tuple[tuple[str, bool], ...]] = {
    kind: tuple((f.name, f.name in DOCUMENTS) for f in fields(kind))
    for kind in (Patient, ScreeningRecord, CourseRecord, DoseRecord, ClinicalEntry)
}
"""Each row type's field names, with whether the field holds a stored document."""


def _row(row: Patient | ScreeningRecord | CourseRecord | DoseRecord | ClinicalEntry) -> Json:
    """A row as plain data: its columns through `plain`, its stored documents as read."""
    return {
        name: getattr(row, name) if document else plain(getattr(row, name))
        for name, document in _COLUMNS[type(row)]
    }


def patient_record(services: Services, rows: PatientRows, *, identified: bool) -> dict[str, Any]:
    """The record `read_patient` answers, built from rows already read: identified, or (for a
    researcher) de-identified with dates shifted to day 0. The one place a record is built.

    The rows' stored documents (DOCUMENTS) are taken as read, not copied: the rows must come
    from the database (as every caller's do), and the record owns them from then on."""
    courses = rows.courses
    record: dict[str, Any] = {
        "patient": _row(rows.patient),
        "screenings": [_row(s) for s in rows.screenings],
        "courses": [_row(c) for c in courses],
        "doses": [_row(d) for c in courses for d in rows.doses.get(c.id, ())],
        "entries": [_row(e) for e in rows.entries],
        "diary": [
            line for c in courses for line in diary_lines(services, rows.diary.get(c.id, ()))
        ],
    }
    if identified:
        return record
    return _deidentified_record(services, rows.patient, courses, record)


def study_record(services: Services, rows: PatientRows) -> dict[str, Any]:
    """The record `read_study_record` answers (de-identified, no database ids), from rows."""
    return _renumbered(patient_record(services, rows, identified=False))


def read_patient(
    services: Services, actor: Actor, patient_id: int, *, parts: frozenset[str] = RECORD_PARTS
) -> dict[str, Any]:
    """A patient's record with screenings, courses, doses, entries and the self-injection
    diary of outpatient courses; de-identified for researchers.

    A researcher's record has a study number for identifiers, free text withheld, and dates
    shifted so that the patient's day 0 is SHIFTED_DAY_ZERO (pages print them as `day N`).
    A reader that needs only some `parts` (RECORD_PARTS) gets the others as empty lists: the
    FHIR facade, whose resource types each name what they read, so a Patient read does not
    build every dose.
    """
    identified = read_mode(services, actor) == "identified"
    with services.uow() as uow:
        patient = patient_or_404(uow, patient_id)
        rows = patient_rows(uow, patient, parts)
        record = patient_record(services, rows, identified=identified)
        audit(
            uow,
            services,
            actor,
            action="read" if identified else "read_deidentified",
            entity="patient",
            entity_id=patient_id,
            patient_id=patient_id,
        )
        uow.commit()
    return record


def screening_fields(services: Services, findings: object) -> dict[str, Any]:
    """What a screening of `findings` keeps: the findings, verdict, checklist (with the
    prognostic scores under `prognosis`) and rule version."""
    answer = screening_answer(services.rules, findings)
    return {
        "findings": dict(findings) if isinstance(findings, Mapping) else {},
        "verdict": answer["verdict"],
        "result": answer,
        "rules_version": answer["rules_version"],
    }


def record_screening(
    services: Services, actor: Actor, patient_id: int, findings: object
) -> ScreeningRecord:
    """Screen the patient's findings and keep the checklist with its rule version."""
    require(services, actor, "screening.record")
    fields = screening_fields(services, findings)
    with services.uow() as uow:
        patient_or_404(uow, patient_id)
        record = uow.screenings.add(patient_id=patient_id, **fields, **stamp(services, actor))
        audit(
            uow,
            services,
            actor,
            action="create",
            entity="screening",
            entity_id=record.id,
            patient_id=patient_id,
            after=record,
        )
        uow.commit()
    return record


def patient_count(services: Services) -> int:
    """How many patients there are (no patient data; used to decide whether to load a demo)."""
    with services.uow() as uow:
        return uow.patients.count()


SEARCH_LIMIT = 50
SEARCH_LENGTH = (2, 100)


def search_patients(
    services: Services, actor: Actor, query: str, *, limit: int = SEARCH_LIMIT
) -> list[dict[str, Any]]:
    """Patients whose name or MRN contains `query` (any case), by name; at most `limit`.

    Needs the identified read: a search by name or MRN would re-identify a de-identified
    record. The search (what was asked and who was found) is audited.
    """
    require(services, actor, "patient.read")
    wanted = query.strip()
    shortest, longest = SEARCH_LENGTH
    if not shortest <= len(wanted) <= longest:
        raise InvalidInputError(
            field="q",
            value=query,
            allowed=f"{shortest} to {longest} characters of a name or an MRN",
        )
    with services.uow() as uow:
        found = uow.patients.search(wanted, limit=limit)
        audit(
            uow,
            services,
            actor,
            action="search_patients",
            entity="patient",
            entity_id="*",
            patient_id=None,
            after={"query": wanted, "patients": [p.id for p in found]},
        )
        uow.commit()
    return [
        {
            "id": p.id,
            "mrn": p.mrn,
            "name": p.name,
            "birth_date": p.birth_date.isoformat(),
            "sex": p.sex,
            "diagnosis": p.diagnosis,
            "referred_on": p.referred_on.isoformat(),
        }
        for p in found
    ]


def lookup_study_number(services: Services, actor: Actor, number: str) -> list[int]:
    """The patient records whose study number is `number` (normally one; none if unknown).

    Re-identification: administrators only, with the site's study key, and audited.
    """
    require(services, actor, "study_id.lookup")
    wanted = number.strip().upper()
    with services.uow() as uow:
        found = [
            p.id
            for p in uow.patients.referrals()
            if study_number(p.id, key=services.study_key) == wanted
        ]
        audit(
            uow,
            services,
            actor,
            action="study_id_lookup",
            entity="patient",
            entity_id=found[0] if len(found) == 1 else "*",
            patient_id=found[0] if len(found) == 1 else None,
            after={"study_id": wanted, "patients": found},
        )
        uow.commit()
    return found


def patient_keys(
    services: Services, actor: Actor, *, limit: int, offset: int
) -> tuple[list[str], int]:
    """A page of the program's patients as the actor may name them, and how many there are:
    record numbers for staff, study numbers for a researcher (whose page is the same patients
    in the same order, with nothing else of them). Reading a record is audited, not listing."""
    mode = read_mode(services, actor)
    with services.uow() as uow:
        total = uow.patients.count()
        page = uow.patients.page(limit=limit, offset=offset)
    if mode == "identified":
        return [str(p.id) for p in page], total
    return [study_number(p.id, key=services.study_key) for p in page], total
