"""Plan a course (with a preview from the planning engine), the course, and its schedule."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.datastructures import FormData

from il2.domain.errors import InvalidInputError, RefusedError
from il2.domain.records import Actor
from il2.domain.regimen import DoseBasis
from il2.rules.leaflet import load_patient_leaflet, site_contacts
from il2.rules.loader import RuleSet
from il2.services.courses import plan_course
from il2.services.documents import plan_document
from il2.services.patients import read_patient
from il2.services.permissions import require
from il2.services.pharmacy import plan_verification, verify_plan
from il2.services.planning import event_kinds, plan
from il2.web import forms, record
from il2.web.core import Form, RecordId, Web, form_values, see_other
from il2.web.pages.diary import diary_context
from il2.web.session import signed_in

_WEIGHT = "a body weight in kg, such as 70.5"
_HEIGHT = "a height in cm, such as 172"
_CYCLE_END = "cycle_end_rule"


def _weight(form: FormData) -> int | float | str:
    raw = forms.text(form, "weight_kg")
    return forms.number(raw, field="weight_kg", allowed=_WEIGHT) if raw else ""


def event_field(kind: str) -> str:
    """The plan form's field for an outside event of `kind` (its date, or date and time)."""
    return f"event_{kind}"


def _regimen_inputs(rules: RuleSet, form: FormData) -> dict[str, Any]:
    """Height, lesions and the anchoring event, read only where the chosen regimen needs
    them: a value left in a field the regimen does not use is not planned with."""
    chosen = rules.regimens.get(forms.text(form, "regimen"))
    if chosen is None:
        return {}
    inputs: dict[str, Any] = {}
    height = forms.text(form, "height_cm")
    if chosen.needs(DoseBasis.PER_M2) and height:
        inputs["height_cm"] = forms.number(height, field="height_cm", allowed=_HEIGHT)
    if chosen.needs(DoseBasis.PER_LESION):
        inputs["lesions"] = forms.text(form, "lesions") or None
    if chosen.anchor is not None:
        on = forms.text(form, event_field(chosen.anchor.event))
        inputs["events"] = [{"kind": chosen.anchor.event, "on": on}] if on else []
    return inputs


@contextmanager
def _event_named(rules: RuleSet, form: FormData) -> Iterator[None]:
    """A refused event is shown beside the form's field for it."""
    try:
        yield
    except InvalidInputError as error:
        chosen = rules.regimens.get(forms.text(form, "regimen"))
        if not error.field.startswith("events") or chosen is None or chosen.anchor is None:
            raise
        raise InvalidInputError(
            field=event_field(chosen.anchor.event), value=error.value, allowed=error.allowed
        ) from None


def _asked(error: InvalidInputError | None) -> bool:
    return error is not None and error.field == _CYCLE_END


def _cycle_end_choice(
    *, show: bool, chosen: str, error: InvalidInputError | None, site_rule: str, plan: Any = None
) -> dict[str, Any]:
    """What the plan form's cycle-end choice shows: whether, the choice made, and why."""
    cycle_end = plan.get("cycle_end") if plan else None
    return {
        "show": show,
        "chosen": chosen,
        "required": site_rule == "ask",
        "site_rule": site_rule,
        "shortfall": cycle_end.get("shortfall") if cycle_end else None,
        "error": error if _asked(error) else None,
    }


def routes(web: Web) -> APIRouter:
    """Plan, preview, course, schedule."""
    router = APIRouter(route_class=web.route_class)
    SignedIn = Annotated[Actor, Depends(signed_in(web))]  # noqa: N806 - a type alias
    zone = web.rules.site.time_zone
    site_rule = web.rules.plan_policy.cycle_end_rule.value
    leaflet = load_patient_leaflet()
    contacts = site_contacts(leaflet, {p.name: p for p in web.rules.policies})

    def plan_form(
        request: Request,
        patient_id: RecordId,
        actor: Actor,
        values: dict[str, Any] | None,
        error: InvalidInputError | None,
        *,
        refused: RefusedError | None = None,
    ) -> HTMLResponse:
        found = read_patient(web.services, actor, patient_id)
        if values is None:
            latest = found["screenings"][-1]["findings"] if found["screenings"] else {}
            weight = latest.get("weight_kg")
            values = {"weight_kg": "" if weight is None else str(weight)}
        chosen = str(values.get(_CYCLE_END, ""))
        return web.page(
            request,
            "plan_form.html",
            status=422 if error else 409 if refused else 200,
            refused=refused,
            record=found,
            label=record.label(found),
            regimens=web.rules.regimens.values(),
            event_kinds=event_kinds(web.rules),
            event_field=event_field,
            regimens_by_id=web.rules.regimens,
            per_m2=DoseBasis.PER_M2,
            per_lesion=DoseBasis.PER_LESION,
            before_dose_routes=web.rules.before_dose_routes,
            bsa_formula=web.rules.plan_policy.bsa_formula.value,
            diagnosis=found["patient"].get("diagnosis"),
            values=values,
            error=error,
            weight_basis=web.rules.plan_policy.dosing_weight_basis.words,
            cycle_end=_cycle_end_choice(
                show=_asked(error) or bool(chosen),
                chosen=chosen,
                error=error,
                site_rule=site_rule,
            ),
        )

    def plan_again(request: Request, form: FormData, error: InvalidInputError) -> HTMLResponse:
        patient_id = int(request.path_params["patient_id"])
        return plan_form(request, patient_id, request.state.actor, form_values(form), error)

    def preview_again(request: Request, form: FormData, error: InvalidInputError) -> HTMLResponse:
        # Only a refusal that asks for the cycle-end choice says whether to show it.
        choice = _cycle_end_choice(
            show=True, chosen=forms.text(form, _CYCLE_END), error=error, site_rule=site_rule
        )
        return web.page(
            request,
            "_plan_preview.html",
            status=422,
            plan=None,
            error=error,
            cycle_end=choice if _asked(error) else None,
        )

    @router.get("/patients/{patient_id}/courses/new", response_class=HTMLResponse)
    def plan_page(request: Request, patient_id: RecordId, actor: SignedIn) -> HTMLResponse:
        require(web.services, actor, "course.plan")
        return plan_form(request, patient_id, actor, None, None)

    @router.post("/patients/{patient_id}/courses/preview", response_class=HTMLResponse)
    @web.redisplay(preview_again)
    def preview(
        request: Request, patient_id: RecordId, form: Form, _actor: SignedIn
    ) -> HTMLResponse:
        with _event_named(web.rules, form):
            planned = plan(
                web.rules,
                regimen_id=forms.text(form, "regimen"),
                weight_kg=_weight(form),
                first_dose=forms.text(form, "first_dose"),
                cycle_end_rule=forms.text(form, _CYCLE_END),
                **_regimen_inputs(web.rules, form),
            )
        document = plan_document(planned, web.rules)
        return web.page(
            request,
            "_plan_preview.html",
            plan=document,
            cycles=[(c, record.days(c, zone)) for c in record.plan_cycles(document)],
            error=None,
            cycle_end=_cycle_end_choice(
                show=document["cycle_end"]["conflict"],
                chosen=forms.text(form, _CYCLE_END),
                error=None,
                site_rule=site_rule,
                plan=document,
            ),
        )

    @router.post("/patients/{patient_id}/courses", response_model=None)
    @web.redisplay(plan_again)
    def create(
        request: Request, patient_id: RecordId, form: Form, actor: SignedIn
    ) -> RedirectResponse | HTMLResponse:
        try:
            with _event_named(web.rules, form):
                course = plan_course(
                    web.services,
                    actor,
                    patient_id,
                    regimen=forms.text(form, "regimen"),
                    weight_kg=_weight(form),
                    first_dose=forms.text(form, "first_dose"),
                    cycle_end_rule=forms.text(form, _CYCLE_END),
                    override_reason=forms.text(form, "override_reason") or None,
                    **_regimen_inputs(web.rules, form),
                )
        except RefusedError as refused:
            return plan_form(request, patient_id, actor, form_values(form), None, refused=refused)
        return see_other(f"/patients/{patient_id}/courses/{course.id}")

    def course_view(
        request: Request,
        patient_id: RecordId,
        course_id: RecordId,
        actor: Actor,
        template: str,
        *,
        with_diary: bool = False,
        **extra: Any,
    ) -> HTMLResponse:
        found = read_patient(web.services, actor, patient_id)
        course = record.course(found, course_id)
        if with_diary:  # an outpatient course's diary, for staff who read records
            extra |= diary_context(web, actor, course)
        return web.page(
            request,
            template,
            record=found,
            label=record.label(found),
            course=course,
            plan=course.plan,
            cycles=[(c, record.days(c, zone)) for c in course.cycles],
            regimen=web.rules.regimens.get(course.regimen_id),
            **extra,
        )

    @router.get("/patients/{patient_id}/courses/{course_id}", response_class=HTMLResponse)
    def course_page(
        request: Request, patient_id: RecordId, course_id: RecordId, actor: SignedIn
    ) -> HTMLResponse:
        verified = (  # shown once course_view has found the course among this patient's
            plan_verification(web.services, actor, course_id)
            if web.can(actor, "patient.read")
            else None
        )
        return course_view(
            request, patient_id, course_id, actor, "course.html", verification=verified,
            with_diary=True,
        )  # fmt: skip

    @router.post("/patients/{patient_id}/courses/{course_id}/verify", response_model=None)
    def verify(
        request: Request, patient_id: RecordId, course_id: RecordId, actor: SignedIn
    ) -> RedirectResponse:
        found = read_patient(web.services, actor, patient_id)
        course = record.course(found, course_id)
        verify_plan(web.services, actor, course.id)
        return see_other(f"/patients/{patient_id}/courses/{course.id}")

    @router.get("/patients/{patient_id}/courses/{course_id}/schedule", response_class=HTMLResponse)
    def schedule(
        request: Request, patient_id: RecordId, course_id: RecordId, actor: SignedIn
    ) -> HTMLResponse:
        """The patient leaflet: the schedule in the site's time zone, what to expect, side
        effects, when to call (each statement with its source) and the site's numbers."""
        return course_view(
            request,
            patient_id,
            course_id,
            actor,
            "schedule.html",
            leaflet=leaflet,
            footnotes=leaflet.footnotes(),
            cited=leaflet.cited(),
            contacts=contacts,
        )

    return router
