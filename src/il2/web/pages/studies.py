"""Studies: the program's studies with enrolment by arm, defining one, and assigning a patient
to an arm from the chart (correcting the arm, or withdrawing the patient)."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.datastructures import FormData

from il2.domain.errors import ConflictError, InvalidInputError
from il2.domain.records import Actor
from il2.domain.studies import MAX_ARMS, AssignmentKind
from il2.services.clinical import today
from il2.services.patients import read_patient
from il2.services.permissions import require
from il2.services.studies import (
    create_study,
    list_studies,
    patient_studies,
    record_assignment,
    study_assignments,
)
from il2.web import forms, record
from il2.web.core import Form, RecordId, Web, form_values, see_other
from il2.web.session import signed_in

ARM_ROWS = 4
"""Arm rows the form offers (rows left blank are not arms); a study has at most MAX_ARMS."""
_ARM_FIELDS = ("id", "name", "description")


def study_document_of(form: FormData) -> dict[str, Any]:
    """The study a form describes: its fields, and each arm row with anything typed in it."""
    arms = []
    for row in range(min(ARM_ROWS, MAX_ARMS)):
        typed = {k: forms.text(form, f"arms[{row}].{k}") for k in _ARM_FIELDS}
        if any(typed.values()):
            arms.append({k: v for k, v in typed.items() if v or k != "description"})
    document: dict[str, Any] = {"name": forms.text(form, "name"), "arms": arms}
    for key in ("registry_id", "description"):
        if forms.text(form, key):
            document[key] = forms.text(form, key)
    return document


def routes(web: Web) -> APIRouter:
    """The studies page, defining a study, a study's enrolment, and the chart's assignment."""
    router = APIRouter(route_class=web.route_class)
    SignedIn = Annotated[Actor, Depends(signed_in(web))]  # noqa: N806 - a type alias

    def studies_page(
        request: Request, actor: Actor, values: dict[str, Any], error: InvalidInputError | None
    ) -> HTMLResponse:
        return web.page(
            request,
            "studies.html",
            status=422 if error else 200,
            studies=list_studies(web.services, actor),
            values=values,
            error=error,
            arm_rows=range(ARM_ROWS),
        )

    @router.get("/studies", response_class=HTMLResponse)
    def studies(request: Request, actor: SignedIn) -> HTMLResponse:
        """Every study with its arms and patients; the form to define one (who may)."""
        return studies_page(request, actor, {}, None)

    def define_again(request: Request, form: FormData, error: InvalidInputError) -> HTMLResponse:
        return studies_page(request, request.state.actor, form_values(form), error)

    @router.post("/studies")
    @web.redisplay(define_again)
    def define(form: Form, actor: SignedIn) -> RedirectResponse:
        try:
            study = create_study(web.services, actor, study_document_of(form))
        except ConflictError as clash:  # a name or registry id kept: beside the name
            raise InvalidInputError(
                field="name", value=forms.text(form, "name"), allowed=f"a new study ({clash})"
            ) from clash
        return see_other(f"/studies/{study.id}")

    @router.get("/studies/{study_id}", response_class=HTMLResponse)
    def study(request: Request, study_id: RecordId, actor: SignedIn) -> HTMLResponse:
        """A study's enrolment by arm and every assignment record (researchers: by study
        number, without dates or reasons)."""
        return web.page(
            request, "study.html", study=study_assignments(web.services, actor, study_id)
        )

    def assignment_form(
        request: Request,
        patient_id: int,
        study_id: int,
        values: dict[str, Any],
        error: InvalidInputError | None,
    ) -> HTMLResponse:
        actor = request.state.actor
        found = read_patient(web.services, actor, patient_id)
        mine = [s for s in patient_studies(web.services, actor, patient_id) if s["id"] == study_id]
        return web.page(
            request,
            "study_assignment.html",
            status=422 if error else 200,
            record=found,
            label=record.label(found),
            study=mine[0] if mine else None,
            values=values,
            error=error,
            today=today(web.services).isoformat(),
        )

    def assign_again(request: Request, form: FormData, error: InvalidInputError) -> HTMLResponse:
        patient_id = int(request.path_params["patient_id"])
        study_id = int(request.path_params["study_id"])
        return assignment_form(request, patient_id, study_id, form_values(form), error)

    @router.get("/patients/{patient_id}/studies/{study_id}", response_class=HTMLResponse)
    def assignment_page(
        request: Request, patient_id: RecordId, study_id: RecordId, actor: SignedIn
    ) -> HTMLResponse:
        require(web.services, actor, "study.assign")  # no form for who may not submit it
        return assignment_form(request, patient_id, study_id, {}, None)

    @router.post("/patients/{patient_id}/studies/{study_id}")
    @web.redisplay(assign_again)
    def assign(
        patient_id: RecordId, study_id: RecordId, form: Form, actor: SignedIn
    ) -> RedirectResponse:
        kind = forms.text(form, "kind") or AssignmentKind.ASSIGNED.value
        try:
            record_assignment(
                web.services,
                actor,
                study_id,
                patient_id,
                kind=kind,
                arm=forms.text(form, "arm") or None,
                on=forms.text(form, "on") or None,
                reason=forms.text(form, "reason") or None,
            )
        except ConflictError as clash:  # the chain is not where the form assumed: beside it
            raise InvalidInputError(field="kind", value=kind, allowed=str(clash)) from clash
        return see_other(f"/patients/{patient_id}#study-{study_id}")

    return router
