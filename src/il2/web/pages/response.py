"""Response: lesions per scan (or the RECIST JSON), RECIST per time point, waterfall and spider."""

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.datastructures import FormData

from il2.domain.errors import InvalidInputError, NotFoundError
from il2.domain.records import Actor
from il2.science.plots import Bar, Frame, Line, Thresholds, spider, waterfall
from il2.services.clinical import correct_entry, record_response
from il2.services.patients import read_patient, read_study_record
from il2.web import recist_form, record
from il2.web.core import Form, RecordId, StudyNumber, Web, form_values, see_other
from il2.web.session import signed_in


def _correcting(
    request: Request, found: Mapping[str, Any], submitted: tuple[dict[str, Any], Any] | None
) -> Mapping[str, Any] | None:
    """The response entry being corrected (`?correct=ID`, or the form's `corrects_id`)."""
    raw = str(submitted[0].get("corrects_id", "")) if submitted else ""
    raw = raw or request.query_params.get("correct", "")
    if not raw:
        return None
    for entry in found["entries"]:
        if str(entry["id"]) == raw and entry["kind"] == "response":
            return dict(entry)
    raise NotFoundError(kind="response entry of this patient", key=raw)


_AXIS = "change from baseline (%)"


def figures(
    recist: Mapping[str, Any], shaped: recist_form.Shape, thresholds: Thresholds
) -> tuple[str, str]:
    """The patient's waterfall and spider (SVG; empty when there is nothing to draw).

    A bar shows one lesion's (or the sum's) best change from baseline; RECIST gives no category
    to a single lesion nor to a best change, so every bar takes the patient's best overall
    response, as each patient's bar does on the program's waterfall. Progression is marked on
    the spider's sum at the assessments RECIST judged PD, which it measures from the nadir.
    """
    best = recist.get("best_overall_response")
    bars = tuple(
        Bar(lesion, change, best)
        for lesion, change in zip(shaped.lesion_ids, shaped.best_changes, strict=True)
    )
    progressed = tuple(p.get("overall") == "PD" for p in recist.get("timepoints", []))
    weeks = tuple(shaped.weeks)
    lines = tuple(
        Line(
            name,
            weeks,
            tuple(values),
            bold=name == "sum",
            progressed=progressed if name == "sum" else (),
        )
        for name, values in shaped.lines
    )
    drawn_bars = waterfall(
        bars, thresholds, Frame("Waterfall: best change from baseline", ylabel=_AXIS)
    )
    drawn_lines = spider(
        lines,
        thresholds,
        Frame("Spider: change over time", xlabel="weeks from baseline", ylabel=_AXIS),
    )
    return (drawn_bars if bars else "", drawn_lines if len(weeks) >= 2 else "")


def routes(web: Web) -> APIRouter:
    """The response page and its form."""
    router = APIRouter(route_class=web.route_class)
    SignedIn = Annotated[Actor, Depends(signed_in(web))]  # noqa: N806 - a type alias
    thresholds = Thresholds.of(web.rules.recist)

    def page(
        request: Request,
        found: dict[str, Any],
        submitted: tuple[dict[str, Any], recist_form.Grid] | None,
        error: InvalidInputError | None,
    ) -> HTMLResponse:
        entries = record.current(found["entries"], "response")
        latest = entries[-1] if entries else None
        recist = latest["content"]["recist"] if latest else None
        correcting = _correcting(request, found, submitted)
        shown = correcting or latest
        measurements = shown["content"]["measurements"] if shown else None
        values, grid = submitted or (
            recist_form.values_for(measurements),
            recist_form.grid_for(measurements),
        )
        if correcting and not submitted:
            values["corrects_id"] = str(correcting["id"])
        shaped = recist_form.shape(recist) if recist else None
        drawn = figures(recist, shaped, thresholds) if recist and shaped else ("", "")
        return web.page(
            request,
            "response.html",
            status=422 if error else 200,
            record=found,
            label=record.label(found),
            courses=record.courses(found),
            latest=latest,
            recist=recist,
            earlier=entries[:-1],
            waterfall=drawn[0],
            spider=drawn[1],
            shaped=shaped,
            grid=grid,
            non_target=recist_form.NON_TARGET,
            values=values,
            error=error,
            correcting=correcting,
        )

    def again(request: Request, form: FormData, error: InvalidInputError) -> HTMLResponse:
        grid = recist_form.grid_of_form(form)
        try:
            _document, names = recist_form.document(form, grid)
        except InvalidInputError:
            names = {}
        pasted = bool(str(form.get("measurements_json") or "").strip())
        if pasted and error.field != "measurements_json":
            named = InvalidInputError(
                field="measurements_json",
                value=error.value,
                allowed=f"{error.field}: {error.allowed}",
            )
        elif error.field == "assessments":
            named = InvalidInputError(
                field="scan0.date",
                value=None,
                allowed="the baseline scan's date and its target lesion diameters",
            )
        else:
            named = InvalidInputError(
                field=names.get(error.field, error.field), value=error.value, allowed=error.allowed
            )
        patient_id = int(request.path_params["patient_id"])
        found = read_patient(web.services, request.state.actor, patient_id)
        return page(request, found, (form_values(form), grid), named)

    @router.get("/patients/{patient_id}/response", response_class=HTMLResponse)
    def response_page(request: Request, patient_id: RecordId, actor: SignedIn) -> HTMLResponse:
        return page(request, read_patient(web.services, actor, patient_id), None, None)

    @router.get("/study/{number}/response", response_class=HTMLResponse)
    def study_response(request: Request, number: StudyNumber, actor: SignedIn) -> HTMLResponse:
        """A researcher's response page, addressed by study number."""
        return page(request, read_study_record(web.services, actor, number), None, None)

    @router.post("/patients/{patient_id}/responses")
    @web.redisplay(again)
    def add_response(patient_id: RecordId, form: Form, actor: SignedIn) -> RedirectResponse:
        measurements, _names = recist_form.document(form, recist_form.grid_of_form(form))
        course = str(form.get("course_id") or "")
        corrects = str(form.get("corrects_id") or "")
        if corrects.isdigit():
            correct_entry(
                web.services,
                actor,
                patient_id,
                int(corrects),
                content=measurements,
                reason=str(form.get("reason") or "").strip() or None,
            )
        else:
            record_response(
                web.services,
                actor,
                patient_id,
                course_id=int(course) if course.isdigit() else None,
                measurements=measurements,
            )
        return see_other(f"/patients/{patient_id}/response")

    return router
