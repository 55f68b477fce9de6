"""Toxicities, responses, follow-up and discharges as entries; corrections as new entries
pointing back."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any, NotRequired, TypedDict

from il2.domain import limits
from il2.domain.errors import InvalidInputError, NotFoundError, Refusal, RefusedError
from il2.domain.records import Actor, ClinicalEntry, DoseOutcome, Json, LedgerLine, Patient
from il2.services.auditing import audit, refusals_audited, stamp
from il2.services.context import Services, patient_or_404
from il2.services.documents import recist_document
from il2.services.grading import grade_document, grading_document
from il2.services.parsing import as_json, iso_date, text
from il2.services.permissions import require
from il2.services.recist import assess_response

FOLLOW_UP_STATUSES = ("alive_no_progression", "alive_progression", "dead", "lost_to_follow_up")
# Who may record an entry of each kind may also correct one (with `entry.correct`).
RECORDED_BY = {"toxicity": "toxicity.record", "response": "response.record",
                "follow_up": "followup.record", "discharge": "discharge.record"}  # fmt: skip

Dated = Sequence[tuple[str, date]]


class Correction(TypedDict):
    """What correct_entry takes besides whose entry: its content, why, and maybe its date."""

    content: object
    reason: object
    observed_on: NotRequired[object]


def latest_discharges(entries: Sequence[ClinicalEntry]) -> dict[int, date]:
    """Each course's latest current discharge date (a corrected entry no longer counts)."""
    corrected = {e.corrects_id for e in entries if e.corrects_id}
    found: dict[int, date] = {}
    for entry in entries:
        if entry.kind != "discharge" or entry.id in corrected or entry.course_id is None:
            continue
        known = found.get(entry.course_id)
        if known is None or entry.observed_on > known:
            found[entry.course_id] = entry.observed_on
    return found


def today(services: Services) -> date:
    """Today's date in the site's time zone."""
    return services.clock().astimezone(services.rules.site.time_zone).date()


def check_dates(services: Services, patient: Patient, dates: Dated) -> None:
    """Refuse a clinical date in the future or before the patient was born."""
    now = today(services)
    for field, when in dates:
        if when > now:
            raise InvalidInputError(
                field=field,
                value=when.isoformat(),
                allowed=f"a date not after today ({now.isoformat()})",
            )
        if when < patient.birth_date:
            born = patient.birth_date.isoformat()
            raise InvalidInputError(
                field=field,
                value=when.isoformat(),
                allowed=f"a date on or after the patient's birth ({born})",
            )


def scan_dates(measurements: Mapping[str, Any]) -> list[tuple[str, date]]:
    """Each scan's date, named as its field; refused unless each comes after the one before.

    The first scan is the baseline: a later column dated earlier is a mislabelled scan, and
    re-sorting it silently would take a follow-up scan as the baseline.
    """
    found: list[tuple[str, date]] = []
    for index, scan in enumerate(measurements.get("assessments", [])):
        field = f"assessments[{index}].date"
        when = iso_date(scan.get("date"), field)
        if found and when <= found[-1][1]:
            raise InvalidInputError(
                field=field,
                value=when.isoformat(),
                allowed=f"a date after the scan before it ({found[-1][1].isoformat()}); "
                "the baseline scan comes first",
            )
        found.append((field, when))
    return found


def _add(
    services: Services,
    actor: Actor,
    patient_id: int,
    *,
    kind: str,
    course_id: int | None,
    observed_on: date,
    content: Json,
    summary: str,
    corrects_id: int | None = None,
    reason: str | None = None,
    dates: Dated = (),
) -> ClinicalEntry:
    """Store one entry, checked against the patient's record, and audit it (one transaction)."""
    with services.uow() as uow:
        patient = uow.patients.lock(patient_id)
        if patient is None:
            patient = patient_or_404(uow, patient_id)
        check_dates(services, patient, dates)
        entries = uow.entries.for_patient(patient_id)
        _after_death(entries, kind=kind, content=content, corrects_id=corrects_id, dates=dates)
        if course_id is not None:
            course = uow.courses.get(course_id)
            if course is None or course.patient_id != patient_id:
                raise NotFoundError(kind="course of this patient", key=str(course_id))
            if kind == "discharge":
                _after_last_dose(
                    services, course_id, uow.doses.lines_for_course(course_id), observed_on
                )
        before = None
        if corrects_id is not None:
            before = uow.entries.get(corrects_id)
            if before is None or before.patient_id != patient_id:
                raise NotFoundError(kind="entry of this patient", key=str(corrects_id))
            _not_corrected_yet(entries, corrects_id)
        entry = uow.entries.add(
            patient_id=patient_id,
            kind=kind,
            course_id=course_id,
            observed_on=observed_on,
            content=content,
            summary=summary,
            corrects_id=corrects_id,
            reason=reason,
            **stamp(services, actor),
        )
        audit(
            uow,
            services,
            actor,
            action="correct" if corrects_id else "create",
            entity=kind,
            entity_id=entry.id,
            patient_id=patient_id,
            before=before,
            after=entry,
        )
        uow.commit()
    return entry


add_entry = _add
"""Store one entry of a kind another service checks (a bedside recheck), audited."""


def _after_death(
    entries: Sequence[ClinicalEntry],
    *,
    kind: str,
    content: Json,
    corrects_id: int | None,
    dates: Dated,
) -> None:
    """Nothing follows a recorded death: no later date, no second death, no new follow-up.

    The death entry itself can still be corrected (then it is not counted).
    """
    corrected = {e.corrects_id for e in entries if e.corrects_id}
    death = next(
        (
            e
            for e in entries
            if e.kind == "follow_up"
            and e.content.get("status") == "dead"
            and e.id not in corrected
            and e.id != corrects_id
        ),
        None,
    )
    if death is None:
        return
    died = death.observed_on.isoformat()
    if kind == "follow_up" and (corrects_id is None or content.get("status") == "dead"):
        message = (
            f"The patient's death is recorded on {died} by {death.recorded_by}; no follow-up "
            "comes after it. If the death was recorded in error, correct that entry."
        )
        raise RefusedError([Refusal("death_recorded", message)])
    for field, when in dates:
        if when > death.observed_on:
            raise InvalidInputError(
                field=field,
                value=when.isoformat(),
                allowed=f"a date not after the patient's death ({died})",
            )


def _after_last_dose(
    services: Services, course_id: int, ledger: Sequence[LedgerLine], discharged_on: date
) -> None:
    """Refuse a discharge from a course with no dose given, or dated before its last dose."""
    given: list[datetime] = [
        line.given_at
        for line in ledger
        if line.outcome is DoseOutcome.GIVEN and line.given_at is not None
    ]
    if not given:
        raise InvalidInputError(
            field="course_id",
            value=course_id,
            allowed="a course with a dose given (a discharge follows the doses of a course)",
        )
    last = max(given).astimezone(services.rules.site.time_zone).date()
    if discharged_on < last:
        raise InvalidInputError(
            field="discharged_on",
            value=discharged_on.isoformat(),
            allowed=f"a date on or after the course's last dose given ({last.isoformat()})",
        )


def _not_corrected_yet(entries: Sequence[ClinicalEntry], entry_id: int) -> None:
    """Refuse a second correction of one entry: the newest of a chain is the one to correct."""
    newer = next((e for e in entries if e.corrects_id == entry_id), None)
    if newer is not None:
        message = (
            f"This entry was already corrected on {newer.recorded_at.date().isoformat()} "
            f"by {newer.recorded_by}; correct the corrected entry instead."
        )
        raise RefusedError([Refusal("already_corrected", message)])


def record_toxicity(
    services: Services,
    actor: Actor,
    patient_id: int,
    *,
    observed_on: object,
    course_id: int | None,
    findings: object,
) -> ClinicalEntry:
    """Grade the findings by CTCAE and keep them with their grades.

    `observed_on` is refused in the future or before the patient's birth.
    """
    require(services, actor, "toxicity.record")
    with refusals_audited(
        services, actor, action="create", entity="toxicity", entity_id="new", patient_id=patient_id
    ):
        fields = toxicity_entry(
            services, observed_on=observed_on, course_id=course_id, findings=findings
        )
        return _add(
            services, actor, patient_id, **fields, dates=[("observed_on", fields["observed_on"])]
        )


def toxicity_entry(
    services: Services, *, observed_on: object, course_id: int | None, findings: object
) -> dict[str, Any]:
    """What a toxicity entry keeps: the findings graded by CTCAE, and a summary of the grades."""
    graded = grading_document(grade_document(services.rules.ctcae, findings))
    summary = "; ".join(f"{g['term']} grade {g['grade']}" for g in graded["grades"])
    return {
        "kind": "toxicity",
        "course_id": course_id,
        "observed_on": iso_date(observed_on, "observed_on"),
        "content": {"findings": as_json(findings, "findings"), "grades": graded},
        "summary": summary,
    }


def record_response(
    services: Services,
    actor: Actor,
    patient_id: int,
    *,
    course_id: int | None,
    measurements: object,
) -> ClinicalEntry:
    """Assess RECIST from the measurements and keep both.

    Scans come in date order, the baseline first, none in the future or before birth.
    """
    require(services, actor, "response.record")
    with refusals_audited(
        services, actor, action="create", entity="response", entity_id="new", patient_id=patient_id
    ):
        fields = response_entry(services, course_id=course_id, measurements=measurements)
        dates = scan_dates(fields["content"]["measurements"])
        return _add(services, actor, patient_id, **fields, dates=dates)


def response_entry(
    services: Services, *, course_id: int | None, measurements: object
) -> dict[str, Any]:
    """What a response entry keeps: the measurements and their RECIST assessment."""
    result = recist_document(assess_response(services.rules, measurements))
    last = result["timepoints"][-1]["date"]
    summary = f"best overall response {result['best_overall_response']}" + (
        " (confirmed)" if result["confirmed"] else ""
    )
    return {
        "kind": "response",
        "course_id": course_id,
        "observed_on": date.fromisoformat(last),
        "content": {"measurements": as_json(measurements, "measurements"), "recist": result},
        "summary": summary,
    }


def record_follow_up(
    services: Services,
    actor: Actor,
    patient_id: int,
    *,
    observed_on: object,
    status: object,
    notes: object = None,
) -> ClinicalEntry:
    """Keep a follow-up contact: alive with or without progression, dead, or lost.

    `observed_on` (the contact, the progression or the death) is refused in the future or
    before the patient's birth.
    """
    require(services, actor, "followup.record")
    with refusals_audited(
        services, actor, action="create", entity="follow_up", entity_id="new", patient_id=patient_id
    ):
        fields = follow_up_entry(observed_on=observed_on, status=status, notes=notes)
        return _add(
            services, actor, patient_id, **fields, dates=[("observed_on", fields["observed_on"])]
        )


def follow_up_entry(*, observed_on: object, status: object, notes: object = None) -> dict[str, Any]:
    """What a follow-up entry keeps: the status and any notes."""
    if status not in FOLLOW_UP_STATUSES:
        raise InvalidInputError(
            field="status", value=status, allowed="one of " + ", ".join(FOLLOW_UP_STATUSES)
        )
    return {
        "kind": "follow_up",
        "course_id": None,
        "observed_on": iso_date(observed_on, "observed_on"),
        "content": {
            "status": status,
            "notes": text(
                notes, "notes", required=False, limit=limits.MAX_FREE_TEXT, multiline=True
            ),
        },
        "summary": str(status),
    }


def record_discharge(
    services: Services,
    actor: Actor,
    patient_id: int,
    *,
    course_id: object,
    discharged_on: object,
) -> ClinicalEntry:
    """Keep the day the patient left hospital after a course; the rest is counted from it.

    `discharged_on` is refused in the future, before birth, after a recorded death, before the
    course's last dose given, or when the course has no dose given. A later discharge of the
    same course (after a re-admission) is kept too: the latest current one counts.
    """
    require(services, actor, "discharge.record")
    with refusals_audited(
        services, actor, action="create", entity="discharge", entity_id="new", patient_id=patient_id
    ):
        fields = discharge_entry(
            services, patient_id, course_id=course_id, discharged_on=discharged_on
        )
        return _add(
            services, actor, patient_id, **fields, dates=[("discharged_on", fields["observed_on"])]
        )


def _course_number(services: Services, patient_id: int, course_id: object) -> tuple[int, int]:
    """The course's id and number, refused unless it is a course of this patient."""
    if isinstance(course_id, bool) or not isinstance(course_id, int):
        raise InvalidInputError(
            field="course_id", value=course_id, allowed="the id of a course of this patient"
        )
    with services.uow() as uow:
        course = uow.courses.get(course_id)
    if course is None or course.patient_id != patient_id:
        raise NotFoundError(kind="course of this patient", key=str(course_id))
    return course.id, course.number


def discharge_entry(
    services: Services, patient_id: int, *, course_id: object, discharged_on: object
) -> dict[str, Any]:
    """What a discharge entry keeps: the day of discharge, for one course of the patient."""
    course, number = _course_number(services, patient_id, course_id)
    when = iso_date(discharged_on, "discharged_on")
    return {
        "kind": "discharge",
        "course_id": course,
        "observed_on": when,
        "content": {"discharged_on": when.isoformat()},
        "summary": f"discharged on {when.isoformat()} after course {number}",
    }


def _corrected(
    services: Services, kind: str, content: object, old: ClinicalEntry
) -> tuple[Json, str]:
    """A correction's content, checked and computed as the original kind's was."""
    if kind == "discharge":
        body = as_json(content, "content")
        fields = discharge_entry(
            services,
            old.patient_id,
            course_id=old.course_id,
            discharged_on=body.get("discharged_on"),
        )
        return fields["content"], fields["summary"]
    if kind == "toxicity":
        graded = grading_document(grade_document(services.rules.ctcae, content))
        summary = "; ".join(f"{g['term']} grade {g['grade']}" for g in graded["grades"])
        return {"findings": as_json(content, "content"), "grades": graded}, summary
    if kind == "response":
        result = recist_document(assess_response(services.rules, content))
        return {"measurements": as_json(content, "content"), "recist": result}, (
            f"best overall response {result['best_overall_response']}"
        )
    body = as_json(content, "content")
    status = body.get("status")
    if status not in FOLLOW_UP_STATUSES:
        raise InvalidInputError(
            field="content.status", value=status, allowed="one of " + ", ".join(FOLLOW_UP_STATUSES)
        )
    return {
        "status": status,
        "notes": text(
            body.get("notes"),
            "content.notes",
            required=False,
            limit=limits.MAX_FREE_TEXT,
            multiline=True,
        ),
    }, str(status)


def correct_entry(
    services: Services,
    actor: Actor,
    patient_id: int,
    entry_id: int,
    *,
    content: object,
    reason: object,
    observed_on: object = None,
) -> ClinicalEntry:
    """A correction: a new entry of the same kind, checked like the first, pointing at it.

    `content` is what the original kind takes: CTCAE findings for a toxicity (graded again),
    lesion measurements for a response (RECIST again), {status, notes} for a follow-up,
    {discharged_on} for a discharge (checked again against the course's last dose).
    `observed_on` corrects a toxicity's or follow-up's date (kept when absent); a response
    takes its date from its scans. Correcting needs `entry.correct` and the right to record
    the entry's kind; an entry already corrected is refused (correct the newest instead).
    """
    require(services, actor, "entry.correct")
    with refusals_audited(
        services, actor, action="correct", entity="entry", entity_id=entry_id, patient_id=patient_id
    ):
        why = text(reason, "reason", limit=limits.MAX_FREE_TEXT, multiline=True)
        with services.uow() as uow:
            old = uow.entries.get(entry_id)
        if old is None or old.patient_id != patient_id:
            raise NotFoundError(kind="entry of this patient", key=str(entry_id))
        require(services, actor, RECORDED_BY[old.kind])
        corrected, summary = _corrected(services, old.kind, content, old)
        when = old.observed_on
        dates: list[tuple[str, date]] = []
        if old.kind == "discharge":
            when = date.fromisoformat(corrected["discharged_on"])
            dates = [("discharged_on", when)]
        elif old.kind == "response":
            dates = scan_dates(corrected["measurements"])
            when = dates[-1][1]
        elif observed_on not in (None, ""):
            when = iso_date(observed_on, "observed_on")
            dates = [("observed_on", when)]
        return _add(
            services,
            actor,
            patient_id,
            kind=old.kind,
            course_id=old.course_id,
            observed_on=when,
            content=corrected,
            summary=f"{summary} (correction of entry {entry_id}: {why})",
            corrects_id=entry_id,
            reason=why,
            dates=dates,
        )
