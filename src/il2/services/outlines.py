"""Outlines: what outcome analysis reads of a course or an entry, taken from its documents.

A record never changes, so neither does its outline: storage keeps each outline once, beside
its record, and a large program is then read without loading a document. The bulk writer
keeps outlines with the records it writes; outcome analysis outlines any record still
without one (records written through the use cases) before it reads. Changing what an
outline holds needs a migration that empties the outline tables (they refill on the next
read).
"""

from __future__ import annotations

from datetime import UTC

from il2.domain.records import (
    ClinicalEntry,
    CourseOutline,
    CourseRecord,
    EntryOutline,
    RecistOutline,
)


def course_outline(course: CourseRecord) -> CourseOutline:
    """The course's vials per dose and the first dose of each planned cycle."""
    plan = course.plan
    return CourseOutline(
        id=course.id,
        patient_id=course.patient_id,
        number=course.number,
        regimen_id=course.regimen_id,
        first_dose_on=course.first_dose_at.astimezone(UTC).date(),
        vials_per_dose=int(plan["vials_per_dose"]),
        cycle_starts=tuple(
            (int(cycle["cycle"]), str(cycle["doses"][0]["due_at"]))
            for cycle in plan["cycles"]
            if cycle["doses"]
        ),
    )


def _recist(entry: ClinicalEntry) -> RecistOutline | None:
    if entry.kind != "response" or "recist" not in entry.content:
        return None
    result = entry.content["recist"]
    return RecistOutline(
        best_overall_response=result["best_overall_response"],
        response_on=result["response_on"],
        progression_on=result["progression_on"],
        best_change_from_baseline_pct=result["best_change_from_baseline_pct"],
        timepoints=tuple(
            (point["date"], point["change_from_baseline_pct"]) for point in result["timepoints"]
        ),
    )


def entry_outline(entry: ClinicalEntry) -> EntryOutline:
    """The entry without its documents: a follow-up's status, a toxicity's grades, a RECIST."""
    content = entry.content
    grades = content.get("grades", {}).get("grades", []) if entry.kind == "toxicity" else []
    return EntryOutline(
        id=entry.id,
        patient_id=entry.patient_id,
        kind=entry.kind,
        course_id=entry.course_id,
        observed_on=entry.observed_on,
        corrects_id=entry.corrects_id,
        status=content.get("status") if entry.kind == "follow_up" else None,
        grades=tuple((grade["term"], grade["grade"]) for grade in grades),
        recist=_recist(entry),
    )
