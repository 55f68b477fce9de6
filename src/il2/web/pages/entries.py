"""Follow-up, progression, death and discharge from the chart, and a correction of any entry."""

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.datastructures import FormData

from il2.domain.errors import InvalidInputError, NotFoundError
from il2.domain.records import Actor
from il2.services.clinical import (
    RECORDED_BY,
    correct_entry,
    record_discharge,
    record_follow_up,
    today,
)
from il2.services.patients import read_patient
from il2.services.permissions import require
from il2.web import forms, record
from il2.web.core import Form, RecordId, Web, form_values, see_other
from il2.web.pages.flowsheet import finding, unit_options
from il2.web.session import signed_in

_FINDING_FIELDS = (
    "term", "value", "unit", "uln", "lln", "baseline", "duration_h", "symptomatic",
    "clinical_grade",
)  # fmt: skip


def _entry(found: Mapping[str, Any], entry_id: RecordId) -> Mapping[str, Any]:
    for entry in found["entries"]:
        if entry["id"] == entry_id:
            return dict(entry)
    raise NotFoundError(kind="entry of this patient", key=str(entry_id))


def _newer(found: Mapping[str, Any], entry_id: RecordId) -> Mapping[str, Any] | None:
    return next((e for e in found["entries"] if e.get("corrects_id") == entry_id), None)


def correction_values(entry: Mapping[str, Any]) -> dict[str, Any]:
    """The entry's content as the correction form's values (what to change starts filled in)."""
    content = entry["content"]
    values: dict[str, Any] = {"observed_on": entry["observed_on"], "kind": entry["kind"]}
    if entry["kind"] == "discharge":
        values["discharged_on"] = content.get("discharged_on", entry["observed_on"])
        return values
    if entry["kind"] == "follow_up":
        values["status"] = content.get("status", "")
        values["notes"] = content.get("notes") or ""
        return values
    for index, item in enumerate(content.get("findings", {}).get("findings", [])):
        for name in _FINDING_FIELDS:
            value = item.get(name)
            if isinstance(value, bool):
                value = "yes" if value else "no"
            values[f"findings[{index}].{name}"] = "" if value is None else str(value)
    return values


def _course_id(form: FormData) -> int:
    """The form's course id (a hidden field), or the field named as unusable."""
    raw = forms.text(form, "course_id")
    if not raw.isdigit():
        raise InvalidInputError(field="course_id", value=raw, allowed="a course of this patient")
    return int(raw)


def _finding_count(values: Mapping[str, Any]) -> int:
    return sum(1 for key in values if key.startswith("findings[") and key.endswith("].term"))


def routes(web: Web) -> APIRouter:
    """The follow-up form, the discharge form and the correction form."""
    router = APIRouter(route_class=web.route_class)
    SignedIn = Annotated[Actor, Depends(signed_in(web))]  # noqa: N806 - a type alias
    terms = web.rules.ctcae.terms
    units = unit_options(terms)

    def follow_up_form(
        request: Request,
        patient_id: RecordId,
        actor: Actor,
        values: dict[str, Any],
        error: InvalidInputError | None,
    ) -> HTMLResponse:
        found = read_patient(web.services, actor, patient_id)
        return web.page(
            request,
            "follow_up.html",
            status=422 if error else 200,
            record=found,
            label=record.label(found),
            follow_up_values=values,
            follow_up_error=error,
        )

    def follow_up_again(request: Request, form: FormData, error: InvalidInputError) -> HTMLResponse:
        patient_id = int(request.path_params["patient_id"])
        return follow_up_form(request, patient_id, request.state.actor, form_values(form), error)

    @router.get("/patients/{patient_id}/follow-ups/new", response_class=HTMLResponse)
    def follow_up_page(request: Request, patient_id: RecordId, actor: SignedIn) -> HTMLResponse:
        require(web.services, actor, "followup.record")
        return follow_up_form(request, patient_id, actor, dict(request.query_params), None)

    @router.post("/patients/{patient_id}/follow-ups")
    @web.redisplay(follow_up_again)
    def add_follow_up(patient_id: RecordId, form: Form, actor: SignedIn) -> RedirectResponse:
        record_follow_up(
            web.services,
            actor,
            patient_id,
            observed_on=forms.text(form, "observed_on") or None,
            status=forms.text(form, "status") or None,
            notes=forms.text(form, "notes") or None,
        )
        return see_other(f"/patients/{patient_id}#entries-h")

    def discharge_again(request: Request, form: FormData, error: InvalidInputError) -> HTMLResponse:
        patient_id = int(request.path_params["patient_id"])
        found = read_patient(web.services, request.state.actor, patient_id)
        course = record.course(found, _course_id(form))
        return web.page(
            request,
            "discharge.html",
            status=422,
            record=found,
            label=record.label(found),
            course=course,
            values=form_values(form),
            error=error,
            today=today(web.services).isoformat(),
        )

    @router.post("/patients/{patient_id}/discharges")
    @web.redisplay(discharge_again)
    def add_discharge(patient_id: int, form: Form, actor: SignedIn) -> RedirectResponse:
        course_id = _course_id(form)
        record_discharge(
            web.services,
            actor,
            patient_id,
            course_id=course_id,
            discharged_on=forms.text(form, "discharged_on") or None,
        )
        return see_other(f"/patients/{patient_id}#discharge-{course_id}")

    def correction_form(
        request: Request,
        patient_id: RecordId,
        entry_id: RecordId,
        actor: Actor,
        *,
        values: dict[str, Any] | None,
        error: InvalidInputError | None,
    ) -> HTMLResponse:
        found = read_patient(web.services, actor, patient_id)
        entry = _entry(found, entry_id)
        shown = values if values is not None else correction_values(entry)
        return web.page(
            request,
            "entry_correct.html",
            status=422 if error else 200,
            record=found,
            label=record.label(found),
            entry=entry,
            newer=_newer(found, entry_id),
            terms=terms,
            units=units,
            findings=max(1, _finding_count(shown)),
            values=shown,
            error=error,
        )

    def correction_again(
        request: Request, form: FormData, error: InvalidInputError
    ) -> HTMLResponse:
        patient_id = int(request.path_params["patient_id"])
        entry_id = int(request.path_params["entry_id"])
        named = error
        if error.field.startswith("content."):
            field = error.field.removeprefix("content.")
            named = InvalidInputError(field=field, value=error.value, allowed=error.allowed)
        return correction_form(
            request,
            patient_id,
            entry_id,
            request.state.actor,
            values=form_values(form),
            error=named,
        )

    @router.get("/patients/{patient_id}/entries/{entry_id}/correct", response_model=None)
    def correction_page(
        request: Request, patient_id: RecordId, entry_id: RecordId, actor: SignedIn
    ) -> HTMLResponse | RedirectResponse:
        require(web.services, actor, "entry.correct")
        found = read_patient(web.services, actor, patient_id)
        kind = _entry(found, entry_id)["kind"]
        require(web.services, actor, RECORDED_BY.get(kind, "entry.correct"))
        if kind == "response":
            return see_other(f"/patients/{patient_id}/response?correct={entry_id}")
        return correction_form(request, patient_id, entry_id, actor, values=None, error=None)

    @router.post("/patients/{patient_id}/entries/{entry_id}/corrections")
    @web.redisplay(correction_again)
    def correct(
        patient_id: RecordId, entry_id: RecordId, form: Form, actor: SignedIn
    ) -> RedirectResponse:
        content: dict[str, Any]
        if forms.text(form, "kind") == "discharge":
            content = {"discharged_on": forms.text(form, "discharged_on") or None}
        elif forms.text(form, "kind") == "follow_up":
            content = {
                "status": forms.text(form, "status") or None,
                "notes": forms.text(form, "notes") or None,
            }
        else:
            count = _finding_count(form_values(form))
            content = {
                "ctcae_version": web.rules.ctcae.version,
                "findings": [finding(form, f"findings[{i}].", terms) for i in range(count)],
            }
        correct_entry(
            web.services,
            actor,
            patient_id,
            entry_id,
            content=content,
            observed_on=forms.text(form, "observed_on") or None,
            reason=forms.text(form, "reason") or None,
        )
        return see_other(f"/patients/{patient_id}#entries-h")

    return router
