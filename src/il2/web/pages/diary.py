"""The self-injection diary of an outpatient course: the course page's Diary section (summary,
entries and the form to enter an injection) and the correction of an entry."""

import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.datastructures import FormData

from il2.domain.diary import Reporter, Taken, is_self_injected
from il2.domain.errors import InvalidInputError, NotFoundError
from il2.domain.records import Actor
from il2.services.diary import correct_diary_entry, course_diary, record_entry
from il2.services.patients import read_patient
from il2.services.permissions import require
from il2.services.pharmacy import plan_verification
from il2.web import forms, record
from il2.web.core import Form, RecordId, Web, form_values, see_other
from il2.web.session import signed_in

SIDE_EFFECT_ROWS = 3
"""Side effects one form entry takes (each a term and a grade); more go in a correction."""
INJECTION = "injection"
_ROW = re.compile(r"side_effects\[(\d+)\]\.(term|grade)")


def diary_for(web: Web, actor: Actor, course: record.Course) -> dict[str, Any] | None:
    """The course's diary for its page: None unless the patient injects it at home and the
    actor reads identified records (the read is audited)."""
    regimen = web.rules.regimens.get(course.regimen_id)
    if regimen is None or not is_self_injected(regimen) or not web.can(actor, "patient.read"):
        return None
    return course_diary(web.services, actor, course.id)


def form_options(web: Web) -> dict[str, Any]:
    """The choices of the diary's forms: CTCAE terms by name, statuses, who reported."""
    terms = sorted(
        ((t.id, t.name) for t in web.rules.ctcae.terms.values()), key=lambda t: t[1].casefold()
    )
    return {
        "terms": terms,
        "statuses": [(s.value, s.value.capitalize()) for s in Taken],
        "reporters": [(r.value, r.value.capitalize()) for r in Reporter],
        "rows": SIDE_EFFECT_ROWS,
    }


def diary_context(
    web: Web,
    actor: Actor,
    course: record.Course,
    *,
    values: dict[str, Any] | None = None,
    error: InvalidInputError | None = None,
) -> dict[str, Any]:
    """What the course page's Diary section shows (nothing for a course without a diary)."""
    diary = diary_for(web, actor, course)
    return {
        "diary": diary,
        "diary_options": form_options(web)
        | {"injections": open_injections(diary) if diary else []},
        "diary_values": values or {},
        "diary_error": error,
    }


def open_injections(diary: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(value, words) of the injections due by today with no entry yet and not given or held
    in clinic (the dose ledger's), for the form."""
    reported = {(e["cycle"], e["dose_number"]) for e in diary["entries"]}
    return [
        (
            f"{i['cycle']}.{i['dose_number']}",
            f"Injection {i['cycle']}.{i['dose_number']} ({i['due_at'][:10]}, {i['dose_iu']:,} IU)",
        )
        for i in diary["injections"]
        if i["due_by_today"]
        and not i["in_clinic"]
        and (i["cycle"], i["dose_number"]) not in reported
    ]


def _slot(form: FormData) -> tuple[str, str]:
    """The chosen injection's cycle and dose number ('' when none was chosen)."""
    chosen = forms.text(form, INJECTION)
    cycle, _, number = chosen.partition(".")
    if not chosen or not cycle.isdigit() or not number.isdigit():
        raise InvalidInputError(
            field=INJECTION, value=chosen or None, allowed="one of the course's planned injections"
        )
    return cycle, number


def _report(form: FormData) -> tuple[dict[str, Any], list[int]]:
    """The report a form gives, and which form row each side effect listed comes from."""
    rows = [
        i
        for i in range(SIDE_EFFECT_ROWS)
        if forms.text(form, f"side_effects[{i}].term")
        or forms.text(form, f"side_effects[{i}].grade")
    ]
    document = {
        "status": forms.text(form, "status") or None,
        "taken_at": forms.text(form, "taken_at") or None,
        "missed_reason": forms.text(form, "missed_reason") or None,
        "reported_by": forms.text(form, "reported_by") or None,
        "note": forms.text(form, "note") or None,
        "side_effects": [
            {
                "term": forms.text(form, f"side_effects[{i}].term"),
                "grade": forms.text(form, f"side_effects[{i}].grade") or None,
            }
            for i in rows
        ],
    }
    return document, rows


@contextmanager
def _named_in_the_form(rows: Sequence[int]) -> Iterator[None]:
    """Name a refused field as the form names it: the injection chosen, the side effect's row."""
    try:
        yield
    except InvalidInputError as error:
        field = error.field
        if field in ("cycle", "dose_number"):
            field = INJECTION
        elif found := _ROW.fullmatch(field):
            field = f"side_effects[{rows[int(found[1])]}].{found[2]}"
        if field == error.field:
            raise
        raise InvalidInputError(field=field, value=error.value, allowed=error.allowed) from error


def _entry(diary: Mapping[str, Any], entry_id: int) -> dict[str, Any]:
    for entry in diary["entries"]:
        if entry["id"] == entry_id:
            return dict(entry)
    raise NotFoundError(kind="diary entry of this course", key=str(entry_id))


def entry_values(entry: Mapping[str, Any]) -> dict[str, Any]:
    """An entry as the correction form's values (what to change starts filled in)."""
    values: dict[str, Any] = {
        "status": entry["status"],
        "taken_at": (entry["taken_at"] or "")[:16],
        "missed_reason": entry["missed_reason"] or "",
        "reported_by": entry["reported_by"],
        "note": entry["note"] or "",
    }
    for index, effect in enumerate(entry["side_effects"][:SIDE_EFFECT_ROWS]):
        values[f"side_effects[{index}].term"] = effect["term"]
        values[f"side_effects[{index}].grade"] = str(effect["grade"])
    return values


def routes(web: Web) -> APIRouter:
    """Enter an injection from the course page; correct an entry on a page of its own."""
    router = APIRouter(route_class=web.route_class)
    SignedIn = Annotated[Actor, Depends(signed_in(web))]  # noqa: N806 - a type alias
    options = form_options(web)

    def course_page(
        request: Request,
        patient_id: int,
        course_id: int,
        actor: Actor,
        *,
        values: dict[str, Any],
        error: InvalidInputError,
    ) -> HTMLResponse:
        found = read_patient(web.services, actor, patient_id)
        course = record.course(found, course_id)
        return web.page(
            request,
            "course.html",
            status=422,
            record=found,
            label=record.label(found),
            course=course,
            plan=course.plan,
            cycles=[(c, record.days(c, web.rules.site.time_zone)) for c in course.cycles],
            regimen=web.rules.regimens.get(course.regimen_id),
            verification=plan_verification(web.services, actor, course.id),
            **diary_context(web, actor, course, values=values, error=error),
        )

    def entry_again(request: Request, form: FormData, error: InvalidInputError) -> HTMLResponse:
        params = request.path_params
        return course_page(request, int(params["patient_id"]), int(params["course_id"]),
                           request.state.actor, values=form_values(form), error=error)  # fmt: skip

    @router.post("/patients/{patient_id}/courses/{course_id}/diary")
    @web.redisplay(entry_again)
    def add(
        patient_id: RecordId, course_id: RecordId, form: Form, actor: SignedIn
    ) -> RedirectResponse:
        require(web.services, actor, "diary.record")
        course = record.course(read_patient(web.services, actor, patient_id), course_id)
        document, rows = _report(form)
        with _named_in_the_form(rows):
            cycle, number = _slot(form)
            record_entry(web.services, actor, course.id,
                         {"cycle": cycle, "dose_number": number, **document})  # fmt: skip
        return see_other(f"/patients/{patient_id}/courses/{course_id}#diary")

    def correction_form(
        request: Request,
        patient_id: int,
        course_id: int,
        entry_id: int,
        actor: Actor,
        *,
        values: dict[str, Any] | None,
        error: InvalidInputError | None,
    ) -> HTMLResponse:
        found = read_patient(web.services, actor, patient_id)
        course = record.course(found, course_id)
        diary = diary_for(web, actor, course)
        if diary is None:
            raise NotFoundError(kind="diary of this course", key=str(course_id))
        entry = _entry(diary, entry_id)
        return web.page(
            request,
            "diary_correct.html",
            status=422 if error else 200,
            record=found,
            label=record.label(found),
            course=course,
            entry=entry,
            diary_options=options,
            values=values if values is not None else entry_values(entry),
            error=error,
        )

    def correction_again(
        request: Request, form: FormData, error: InvalidInputError
    ) -> HTMLResponse:
        params = request.path_params
        return correction_form(
            request, int(params["patient_id"]), int(params["course_id"]),
            int(params["entry_id"]), request.state.actor, values=form_values(form), error=error,
        )  # fmt: skip

    @router.get(
        "/patients/{patient_id}/courses/{course_id}/diary/{entry_id}/correct",
        response_class=HTMLResponse,
    )
    def correction_page(
        request: Request,
        patient_id: RecordId,
        course_id: RecordId,
        entry_id: RecordId,
        actor: SignedIn,
    ) -> HTMLResponse:
        require(web.services, actor, "diary.record")
        return correction_form(
            request, patient_id, course_id, entry_id, actor, values=None, error=None
        )

    @router.post("/patients/{patient_id}/courses/{course_id}/diary/{entry_id}/corrections")
    @web.redisplay(correction_again)
    def correct(
        patient_id: RecordId, course_id: RecordId, entry_id: RecordId, form: Form, actor: SignedIn
    ) -> RedirectResponse:
        require(web.services, actor, "diary.record")
        course = record.course(read_patient(web.services, actor, patient_id), course_id)
        document, rows = _report(form)
        with _named_in_the_form(rows):
            correct_diary_entry(web.services, actor, course.id, entry_id, document,
                                reason=forms.text(form, "reason") or None)  # fmt: skip
        return see_other(f"/patients/{patient_id}/courses/{course_id}#diary")

    return router
