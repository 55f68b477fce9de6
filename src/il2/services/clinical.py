"""Toxicities, responses and follow-up as entries; corrections as new entries pointing back."""

from __future__ import annotations

from datetime import date
from typing import Any

from il2.domain.errors import InvalidInputError, NotFoundError
from il2.domain.records import Actor, ClinicalEntry, Json
from il2.services.context import Services, as_json, audit, iso_date, patient_or_404, require, text
from il2.services.documents import recist_document
from il2.services.grading import grade_document, grading_document
from il2.services.recist import assess_response

_FOLLOW_UP_STATUS = ("alive_no_progression", "alive_progression", "dead", "lost_to_follow_up")


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
) -> ClinicalEntry:
    with services.uow() as uow:
        patient_or_404(uow, patient_id)
        if course_id is not None:
            course = uow.courses.get(course_id)
            if course is None or course.patient_id != patient_id:
                raise NotFoundError(kind="course of this patient", key=str(course_id))
        before = None
        if corrects_id is not None:
            before = uow.entries.get(corrects_id)
            if before is None or before.patient_id != patient_id:
                raise NotFoundError(kind="entry of this patient", key=str(corrects_id))
        entry = uow.entries.add(
            patient_id=patient_id,
            kind=kind,
            course_id=course_id,
            observed_on=observed_on,
            content=content,
            summary=summary,
            corrects_id=corrects_id,
            reason=reason,
            recorded_by=actor.username,
            at=services.clock(),
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


def record_toxicity(
    services: Services,
    actor: Actor,
    patient_id: int,
    *,
    observed_on: object,
    course_id: int | None,
    findings: object,
) -> ClinicalEntry:
    """Grade the findings by CTCAE and keep them with their grades."""
    require(services, actor, "toxicity.record")
    return _add(
        services,
        actor,
        patient_id,
        **toxicity_entry(services, observed_on=observed_on, course_id=course_id, findings=findings),
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
    """Assess RECIST from the measurements and keep both."""
    require(services, actor, "response.record")
    return _add(
        services,
        actor,
        patient_id,
        **response_entry(services, course_id=course_id, measurements=measurements),
    )


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
    """Keep a follow-up contact: alive with or without progression, dead, or lost."""
    require(services, actor, "followup.record")
    return _add(
        services,
        actor,
        patient_id,
        **follow_up_entry(observed_on=observed_on, status=status, notes=notes),
    )


def follow_up_entry(*, observed_on: object, status: object, notes: object = None) -> dict[str, Any]:
    """What a follow-up entry keeps: the status and any notes."""
    if status not in _FOLLOW_UP_STATUS:
        raise InvalidInputError(
            field="status", value=status, allowed="one of " + ", ".join(_FOLLOW_UP_STATUS)
        )
    return {
        "kind": "follow_up",
        "course_id": None,
        "observed_on": iso_date(observed_on, "observed_on"),
        "content": {"status": status, "notes": text(notes, "notes", required=False)},
        "summary": str(status),
    }


def _corrected(services: Services, kind: str, content: object) -> tuple[Json, str]:
    """A correction's content, checked and computed as the original kind's was."""
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
    if status not in _FOLLOW_UP_STATUS:
        raise InvalidInputError(
            field="content.status", value=status, allowed="one of " + ", ".join(_FOLLOW_UP_STATUS)
        )
    return {
        "status": status,
        "notes": text(body.get("notes"), "content.notes", required=False),
    }, str(status)


def correct_entry(
    services: Services,
    actor: Actor,
    patient_id: int,
    entry_id: int,
    *,
    content: object,
    reason: object,
) -> ClinicalEntry:
    """A correction: a new entry of the same kind, checked like the first, pointing at it.

    `content` is what the original kind takes: CTCAE findings for a toxicity (graded again),
    lesion measurements for a response (RECIST again), {status, notes} for a follow-up.
    """
    require(services, actor, "entry.correct")
    why = text(reason, "reason")
    with services.uow() as uow:
        old = uow.entries.get(entry_id)
    if old is None or old.patient_id != patient_id:
        raise NotFoundError(kind="entry of this patient", key=str(entry_id))
    corrected, summary = _corrected(services, old.kind, content)
    return _add(
        services,
        actor,
        patient_id,
        kind=old.kind,
        course_id=old.course_id,
        observed_on=old.observed_on,
        content=corrected,
        summary=f"{summary} (correction of entry {entry_id}: {why})",
        corrects_id=entry_id,
        reason=why,
    )
