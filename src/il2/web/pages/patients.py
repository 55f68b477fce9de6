"""Patients: register a referral, the chart, and screening a candidate."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.datastructures import FormData

from il2.domain.errors import ConflictError, InvalidInputError, NotFoundError, UnavailableError
from il2.domain.records import Actor
from il2.services.clinical import today
from il2.services.ehr import ehr_configured, ehr_referral_fields, fill_form
from il2.services.patient_pathway import next_for_record
from il2.services.patients import (
    SEXES,
    create_patient,
    read_patient,
    read_study_record,
    record_screening,
)
from il2.services.permissions import require
from il2.services.studies import patient_studies
from il2.web import forms, record
from il2.web.core import Form, RecordId, StudyNumber, Web, form_values, see_other
from il2.web.labels import label_for
from il2.web.session import signed_in

_PATIENT_FIELDS = ("mrn", "name", "birth_date", "sex", "diagnosis", "referred_on")
DIAGNOSES = ("melanoma", "renal_cell_carcinoma")


def routes(web: Web) -> APIRouter:
    """Register, chart, screen."""
    router = APIRouter(route_class=web.route_class)
    SignedIn = Annotated[Actor, Depends(signed_in(web))]  # noqa: N806 - a type alias
    term_names = {key: term.name for key, term in web.rules.ctcae.terms.items()}

    def register_form(
        request: Request,
        values: dict[str, Any],
        error: InvalidInputError | None,
        ehr: dict[str, Any] | None = None,
    ) -> HTMLResponse:
        where = web.services.ehr.where if web.services.ehr else ""
        panel = {"where": where, "found": None, "error": None, "marks": {}} | (ehr or {})
        return web.page(
            request,
            "patient_new.html",
            status=422 if error else 200,
            values=values,
            error=error,
            sexes=SEXES,
            diagnoses=DIAGNOSES,
            ehr=panel if ehr_configured(web.services) else None,
        )

    def register_again(request: Request, form: FormData, error: InvalidInputError) -> HTMLResponse:
        return register_form(request, form_values(form), error)

    @router.get("/patients/new", response_class=HTMLResponse)
    def register_page(request: Request, actor: SignedIn) -> HTMLResponse:
        require(web.services, actor, "patient.create")  # no form for who may not submit it
        return register_form(request, {}, None)

    @router.post("/patients/new/ehr", response_class=HTMLResponse)
    @web.redisplay(register_again)
    def register_from_ehr(request: Request, form: Form, actor: SignedIn) -> HTMLResponse:
        """The referral form with its empty fields filled from the EHR's patient with the
        typed MRN, each marked; nothing is registered until the form is submitted."""
        typed = {k: forms.text(form, k) for k in _PATIENT_FIELDS}
        try:
            found = ehr_referral_fields(web.services, actor, typed["mrn"])
        except (NotFoundError, UnavailableError, ConflictError) as problem:
            return register_form(request, typed, None, {"error": str(problem)})
        values, marks = fill_form(found, typed)
        return register_form(request, values, None, {"found": found, "marks": marks})

    @router.post("/patients")
    @web.redisplay(register_again)
    def register(form: Form, actor: SignedIn) -> RedirectResponse:
        document = {k: forms.text(form, k) for k in _PATIENT_FIELDS if forms.text(form, k)}
        patient = create_patient(web.services, actor, document)
        return see_other(f"/patients/{patient.id}")

    @router.get("/patients/{patient_id}", response_class=HTMLResponse)
    def chart(request: Request, patient_id: RecordId, actor: SignedIn) -> HTMLResponse:
        return chart_page(request, actor, read_patient(web.services, actor, patient_id))

    @router.get("/study/{number}", response_class=HTMLResponse)
    def study_chart(request: Request, number: StudyNumber, actor: SignedIn) -> HTMLResponse:
        """A researcher's chart, addressed by study number (no database id in the address)."""
        return chart_page(request, actor, read_study_record(web.services, actor, number))

    def chart_page(request: Request, actor: Actor, found: dict[str, Any]) -> HTMLResponse:
        entries = found["entries"]
        toxicities = record.current(entries, "toxicity")
        next_step, problem = None, None
        try:  # researchers: no next step (it is dated, and their record's dates are shifted)
            next_step = None if web.deidentified(actor) else next_for_record(web.services, found)
        except InvalidInputError as error:  # an odd record never takes the chart down
            problem = f"{label_for(error.field)}: expected {error.allowed}"
        return web.page(
            request,
            "chart.html",
            next_step=next_step,
            pathway_problem=problem,
            record=found,
            label=record.label(found),
            courses=record.courses(found),
            screening=found["screenings"][-1] if found["screenings"] else None,
            toxicities=toxicities,
            worst_grades=record.worst_grades(toxicities, term_names),
            term_names=term_names,
            responses=record.current(entries, "response"),
            follow_ups=record.current(entries, "follow_up"),
            discharge_entries=record.current(entries, "discharge"),
            discharges=record.discharges(entries),
            treated={d["course_id"] for d in found["doses"] if d["outcome"] == "given"},
            today=today(web.services).isoformat(),
            studies=(
                patient_studies(web.services, actor, found["patient"]["id"])
                if web.can(actor, "study.read") and not web.deidentified(actor)
                else []
            ),
        )

    def screening_form(
        request: Request,
        patient_id: RecordId,
        actor: Actor,
        values: dict[str, Any] | None,
        error: InvalidInputError | None,
    ) -> HTMLResponse:
        found = read_patient(web.services, actor, patient_id)
        latest = found["screenings"][-1] if found["screenings"] else None
        if values is None:
            values = forms.flatten(latest["findings"]) if latest else {}
            values.setdefault("diagnosis", found["patient"].get("diagnosis", ""))
        return web.page(
            request,
            "screening_form.html",
            status=422 if error else 200,
            patient_id=patient_id,
            label=record.label(found),
            latest=latest,
            sections=forms.sections(web.rules.screening_fields),
            values=values,
            error=error,
        )

    def screening_again(request: Request, form: FormData, error: InvalidInputError) -> HTMLResponse:
        patient_id = int(request.path_params["patient_id"])
        return screening_form(request, patient_id, request.state.actor, form_values(form), error)

    @router.get("/patients/{patient_id}/screening", response_class=HTMLResponse)
    def screening_page(request: Request, patient_id: RecordId, actor: SignedIn) -> HTMLResponse:
        require(web.services, actor, "screening.record")
        return screening_form(request, patient_id, actor, None, None)

    @router.post("/patients/{patient_id}/screening")
    @web.redisplay(screening_again)
    def screen(patient_id: RecordId, form: Form, actor: SignedIn) -> RedirectResponse:
        findings = forms.document(form, web.rules.screening_fields)
        record_screening(web.services, actor, patient_id, findings)
        return see_other(f"/patients/{patient_id}#screening")

    return router
