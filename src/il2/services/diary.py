"""The outpatient self-injection diary: record, correct and read what the patient reports.

A nurse or coordinator (`diary.record`) enters, for each planned injection of a course the
patient injects at home (domain/diary.py), whether it was taken (when) or missed (why), the
side effects reported (CTCAE v5.0 term and grade), who reported it and a note. Entries are
never overwritten: a correction is a new entry pointing at the current one. Every write, every
refusal and every read is audited. Staff read a course's diary by its database id; a
researcher, who goes by study number only, is answered as for a course that does not exist.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

from il2.domain import limits
from il2.domain.diary import (
    DiaryEntry,
    DiarySummary,
    PlannedInjection,
    Report,
    Reporter,
    SideEffect,
    Taken,
    check_report,
    check_self_injected,
    current_entries,
    day_has_come,
    find_injection,
    percent,
    planned_injections,
    summarize,
    taken_too_soon,
)
from il2.domain.errors import ConflictError, InvalidInputError, NotFoundError
from il2.domain.records import Actor, CourseRecord, DoseOutcome
from il2.services.auditing import audit, refusals_audited
from il2.services.context import Services
from il2.services.parsing import aware, json_object, plain, text
from il2.services.permissions import reads_deidentified_only, require
from il2.services.ports import UnitOfWork

ENTRY_KEYS = (
    "cycle",
    "dose_number",
    "status",
    "taken_at",
    "missed_reason",
    "side_effects",
    "reported_by",
    "note",
)
SIDE_EFFECT_KEYS = ("term", "grade")


def _whole(raw: object, field: str) -> int:
    """A whole number (a form's digits too) within il2's bounds on ids and counts."""
    if isinstance(raw, str) and raw.strip().isascii() and raw.strip().isdigit():
        raw = int(raw.strip()[:20])
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise InvalidInputError(field=field, value=raw, allowed="a whole number")
    return limits.checked_id(raw, field)


def _words(raw: object, field: str) -> str | None:
    """Optional free text: None when absent or empty."""
    if raw is None or raw == "":
        return None
    return text(raw, field, limit=limits.MAX_FREE_TEXT, multiline=True)


def _side_effects(raw: object) -> tuple[SideEffect, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise InvalidInputError(
            field="side_effects",
            value=raw,
            allowed="a list of side effects, each a CTCAE term id and a grade",
        )
    effects = []
    for place, item in enumerate(raw):
        where = f"side_effects[{place}]"
        effect = json_object(item, where, SIDE_EFFECT_KEYS)
        term = effect.get("term")
        if not isinstance(term, str) or not term.strip():
            raise InvalidInputError(field=f"{where}.term", value=term, allowed="a CTCAE term id")
        effects.append(SideEffect(term.strip(), _whole(effect.get("grade"), f"{where}.grade")))
    return tuple(effects)


Choice = TypeVar("Choice", Taken, Reporter)


def _choice(raw: object, field: str, kind: type[Choice]) -> Choice:
    if raw not in tuple(kind):
        raise InvalidInputError(
            field=field, value=raw, allowed="one of " + ", ".join(k.value for k in kind)
        )
    return kind(str(raw))


def read_report(services: Services, raw: Mapping[str, object]) -> Report:
    """The report in a document (its types checked; `check_report` checks the rest)."""
    status = _choice(raw.get("status"), "status", Taken)
    taken_at = raw.get("taken_at")
    return Report(
        status=status,
        taken_at=None if taken_at in (None, "") else aware(taken_at, "taken_at", services),
        missed_reason=_words(raw.get("missed_reason"), "missed_reason"),
        side_effects=_side_effects(raw.get("side_effects")),
        reported_by=_choice(raw.get("reported_by"), "reported_by", Reporter),
        note=_words(raw.get("note"), "note"),
    )


def _course(uow: UnitOfWork, course_id: int) -> CourseRecord:
    course = uow.courses.get(course_id)
    if course is None:
        raise NotFoundError(kind="course", key=str(course_id))
    return course


def _planned(services: Services, course: CourseRecord) -> tuple[PlannedInjection, ...]:
    """The course's planned injections, refused unless the patient injects them at home."""
    regimen = services.rules.regimens.get(course.regimen_id)
    if regimen is None:
        raise InvalidInputError(
            field="course",
            value=course.regimen_id,
            allowed="a course of a regimen in il2's library",
        )
    check_self_injected(regimen, services.rules.regimens.values())
    return planned_injections(course.plan)


def _patient_of(services: Services, course_id: int) -> int | None:
    with services.uow() as uow:
        course = uow.courses.get(course_id)
    return None if course is None else course.patient_id


def entry_document(
    services: Services, entry: DiaryEntry, *, current: bool = True
) -> dict[str, Any]:
    """One diary entry as the edges answer it (staff): the side effects with their names."""
    terms = services.rules.ctcae.terms
    report = entry.report
    return {
        "id": entry.id,
        "course_id": entry.course_id,
        "cycle": entry.cycle,
        "dose_number": entry.dose_number,
        "status": report.status.value,
        "taken_at": plain(report.taken_at),
        "missed_reason": report.missed_reason,
        "side_effects": [
            {
                "term": e.term,
                "name": terms[e.term].name if e.term in terms else e.term,
                "grade": e.grade,
            }
            for e in report.side_effects
        ],
        "reported_by": report.reported_by.value,
        "note": report.note,
        "corrects_id": entry.corrects_id,
        "reason": entry.reason,
        "current": current,
        "recorded_by": entry.recorded_by,
        "recorded_at": plain(entry.recorded_at),
    }


def summary_document(summary: DiarySummary) -> dict[str, Any]:
    """The diary's summary as the edges answer it; adherence as the exact fraction taken over
    planned to date, unreduced (3/6, not 1/2), and as a percentage with one decimal."""
    adherence = summary.adherence
    return {
        "as_of": plain(summary.as_of),
        "planned": summary.planned,
        "planned_to_date": summary.planned_to_date,
        "taken": summary.taken,
        "missed": summary.missed,
        "not_reported": summary.not_reported,
        "in_clinic": summary.in_clinic,
        "adherence": None if adherence is None else f"{summary.taken}/{summary.planned_to_date}",
        "adherence_percent": percent(adherence),
        "taken_iu": summary.taken_iu,
        "side_effects": [
            {
                "term": s.term,
                "name": s.name,
                "highest_grade": s.highest_grade,
                "entries": s.entries,
            }
            for s in summary.side_effects
        ],
    }


def _keep(
    services: Services,
    actor: Actor,
    uow: UnitOfWork,
    course: CourseRecord,
    *,
    slot: tuple[int, int],
    report: Report,
    corrects: DiaryEntry | None = None,
    reason: str | None = None,
) -> DiaryEntry:
    """Keep the entry and audit it in the caller's transaction, then commit."""
    entry = uow.diary.add(
        course_id=course.id,
        cycle=slot[0],
        dose_number=slot[1],
        report=report,
        corrects_id=None if corrects is None else corrects.id,
        reason=reason,
        recorded_by=actor.username,
        at=services.clock(),
    )
    audit(
        uow,
        services,
        actor,
        action="create" if corrects is None else "correct",
        entity="diary_entry",
        entity_id=entry.id,
        patient_id=course.patient_id,
        before=None if corrects is None else entry_document(services, corrects, current=False),
        after=entry_document(services, entry),
    )
    uow.commit()
    return entry


def _checked(
    services: Services, course: CourseRecord, slot: tuple[int, int], report: Report
) -> None:
    """Check the injection is one of the plan's, due by today, and the report fits."""
    planned = _planned(services, course)
    now, zone = services.clock(), services.rules.site.time_zone
    find_injection(planned, cycle=slot[0], dose_number=slot[1], now=now, zone=zone)
    check_report(report, now=now, planned=planned, zone=zone, table=services.rules.ctcae)


def record_entry(services: Services, actor: Actor, course_id: int, document: object) -> DiaryEntry:
    """Record what the patient reports of one planned injection (the first entry for it; a
    second is a conflict that shows the first: correct it instead)."""
    require(services, actor, "diary.record")
    with refusals_audited(
        services,
        actor,
        action="record_diary",
        entity="diary_entry",
        entity_id="new",
        patient_id=_patient_of(services, course_id),
    ):
        raw = json_object(document, "document", ENTRY_KEYS)
        slot = (_whole(raw.get("cycle"), "cycle"), _whole(raw.get("dose_number"), "dose_number"))
        report = read_report(services, raw)
        with services.uow() as uow:
            course = _course(uow, course_id)
            _checked(services, course, slot, report)
            uow.patients.lock(course.patient_id)
            kept = uow.doses.by_slot(course_id, *slot)
            if kept is not None:
                raise ConflictError(
                    f"injection {slot[0]}.{slot[1]} is already in the dose ledger "
                    f"({kept.outcome.value}, recorded by {kept.recorded_by}): the diary is for "
                    "injections the patient gives at home; nothing was recorded",
                )
            first = current_entries(uow.diary.for_course(course_id)).get(slot)
            if first is not None:
                raise ConflictError(
                    f"injection {slot[0]}.{slot[1]} already has a diary entry, recorded by "
                    f"{first.recorded_by}: correct that entry (id {first.id}) to change it",
                    existing=entry_document(services, first),
                )
            return _keep(services, actor, uow, course, slot=slot, report=report)


def correct_diary_entry(
    services: Services,
    actor: Actor,
    course_id: int,
    entry_id: int,
    document: object,
    *,
    reason: object,
) -> DiaryEntry:
    """Correct an injection's current entry: a new entry for the same injection, checked like
    the first, pointing at it, with the reason; the old one is kept."""
    require(services, actor, "diary.record")
    with refusals_audited(
        services,
        actor,
        action="correct_diary",
        entity="diary_entry",
        entity_id=entry_id,
        patient_id=_patient_of(services, course_id),
    ):
        why = text(reason, "reason", limit=limits.MAX_FREE_TEXT, multiline=True)
        raw = json_object(document, "document", ENTRY_KEYS)
        report = read_report(services, raw)
        with services.uow() as uow:
            course = _course(uow, course_id)
            old = uow.diary.get(entry_id)
            if old is None or old.course_id != course_id:
                raise NotFoundError(kind="diary entry of this course", key=str(entry_id))
            slot = (old.cycle, old.dose_number)
            for field, value in zip(("cycle", "dose_number"), slot, strict=True):
                given = raw.get(field)
                if given not in (None, "") and _whole(given, field) != value:
                    raise InvalidInputError(
                        field=field,
                        value=given,
                        allowed=f"{value}, the injection of the entry corrected "
                        f"({slot[0]}.{slot[1]}); another injection takes an entry of its own",
                    )
            _checked(services, course, slot, report)
            uow.patients.lock(course.patient_id)
            newest = current_entries(uow.diary.for_course(course_id)).get(slot)
            if newest is not None and newest.id != old.id:
                raise ConflictError(
                    f"diary entry {old.id} was corrected already, by entry {newest.id} "
                    f"({newest.recorded_by}): correct the current entry instead",
                    existing=entry_document(services, newest),
                )
            return _keep(
                services, actor, uow, course, slot=slot, report=report, corrects=old, reason=why
            )


def recorded_entry(services: Services, entry: DiaryEntry) -> dict[str, Any]:
    """A just-kept entry as the edges answer it."""
    return entry_document(services, entry)


def diary_lines(services: Services, entries: Sequence[DiaryEntry]) -> list[dict[str, Any]]:
    """One course's entries as documents, oldest first, each marked current or not."""
    current = {e.id for e in current_entries(entries).values()}
    return [entry_document(services, e, current=e.id in current) for e in entries]


def course_diary(
    services: Services, actor: Actor, course_id: int, *, as_of: datetime | None = None
) -> dict[str, Any]:
    """A course's diary: every entry oldest first (corrected ones marked not current) and the
    summary up to now (or `as_of`). Staff who read patient records; audited as a read."""
    if reads_deidentified_only(services, actor):
        raise NotFoundError(kind="course", key=str(course_id))  # a researcher goes by study number
    require(services, actor, "patient.read")
    with services.uow() as uow:
        course = _course(uow, course_id)
        planned = _planned(services, course)
        entries = uow.diary.for_course(course_id)
        in_clinic = {(r.cycle, r.dose_number) for r in uow.doses.for_course(course_id)}
        given = [
            line.given_at
            for line in uow.doses.lines_for_patient(course.patient_id)
            if line.outcome is DoseOutcome.GIVEN and line.given_at is not None
        ]
        soon = taken_too_soon(
            entries, given=given, interval_h=services.rules.regimens[course.regimen_id].interval_h
        )
        now = as_of or services.clock()
        summary = summarize(
            planned,
            entries,
            now=now,
            zone=services.rules.site.time_zone,
            table=services.rules.ctcae,
            in_clinic=in_clinic,
        )
        audit(
            uow,
            services,
            actor,
            action="read",
            entity="diary",
            entity_id=course_id,
            patient_id=course.patient_id,
            after={"entries": len(entries)},
        )
        uow.commit()
    return {
        "course_id": course.id,
        "patient_id": course.patient_id,
        "regimen": course.regimen_id,
        "entries": diary_lines(services, entries),
        "summary": summary_document(summary),
        "too_soon": [
            {
                "cycle": t.cycle,
                "dose_number": t.dose_number,
                "taken_at": plain(t.taken_at),
                "after": plain(t.after),
                "hours": str(round(float(t.hours), 1)),
                "least_hours": services.rules.regimens[course.regimen_id].interval_h,
            }
            for t in soon
        ],
        "injections": [
            {
                "cycle": p.cycle,
                "dose_number": p.dose_number,
                "due_by_today": day_has_come(p, now=now, zone=services.rules.site.time_zone),
                "due_at": plain(p.due_at),
                "dose_iu": p.dose_iu,
                "in_clinic": (p.cycle, p.dose_number) in in_clinic,
            }
            for p in planned
        ],
    }


def self_injected(course: CourseRecord) -> bool:
    """Whether the course's plan is one the patient injects at home (outpatient,
    subcutaneous): its injections may be reported in the diary."""
    return course.plan.get("route") == "subcutaneous" and course.plan.get("setting") == "outpatient"


def reported_slots(uow: UnitOfWork, courses: Iterable[CourseRecord]) -> set[tuple[int, int, int]]:
    """The (course, cycle, dose number) injections the diaries of these courses report, taken
    or missed: not the ward's to give nor the pharmacy's to prepare."""
    found: set[tuple[int, int, int]] = set()
    for course in courses:
        if self_injected(course):
            entries = current_entries(uow.diary.for_course(course.id))
            found |= {(course.id, cycle, number) for cycle, number in entries}
    return found
