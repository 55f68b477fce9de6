"""The toxicity flowsheet: assessments and toxicity entries across an admission, with a trend."""

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.datastructures import FormData

from il2.domain.ctcae import Term
from il2.domain.errors import InvalidInputError
from il2.domain.records import Actor
from il2.science import plots
from il2.services.clinical import record_toxicity
from il2.services.doses import RECHECK
from il2.services.patients import read_patient, read_study_record
from il2.web import flowsheet, forms, record
from il2.web.core import Form, RecordId, StudyNumber, Web, form_values, see_other
from il2.web.session import signed_in

_LIMITS = ("creatinine_uln_mg_dl", "bilirubin_uln_mg_dl", "platelets_lln_per_ul")
_NUMBERS = ("value", "uln", "lln", "baseline", "duration_h")


def _with_rechecks(found: dict[str, Any], course: record.Course | None) -> list[Any]:
    """The course's doses with the bedside rechecks, each before the dose it rechecked."""
    if course is None:
        return []
    rechecks = [
        {
            "cycle": e["content"]["cycle"],
            "dose_number": e["content"]["dose_number"],
            "assessment": e["content"]["assessment"],
            "given_at": None,
            "recorded_at": e["content"]["assessed_at"],
            "outcome": RECHECK,
            "decision_action": e["content"]["decision"]["decision"],
        }
        for e in record.current(found["entries"], RECHECK)
        if e["course_id"] == course.id
    ]
    ordered: list[tuple[int, Any, Any, Any, Mapping[str, Any]]]
    ordered = [(0, r["cycle"], r["dose_number"], r["recorded_at"], r) for r in rechecks]
    ordered += [(1, d["cycle"], d["dose_number"], "", d) for d in course.doses]
    return [row for *_, row in sorted(ordered, key=lambda o: (o[1], o[2], o[0], o[3]))]


def _limits(query: dict[str, str]) -> flowsheet.Limits:
    found: dict[str, float | None] = {}
    for name in _LIMITS:
        raw = query.get(name, "").strip()
        found[name] = (
            float(forms.number(raw, field=name, allowed="a number in the assessment's unit"))
            if raw
            else None
        )
    return flowsheet.Limits(**found)


def unit_options(terms: Mapping[str, Term]) -> list[tuple[str, str]]:
    """Every accepted unit as (id, what a clinician reads), by what they read."""
    found = {unit: c.label for term in terms.values() for unit, c in term.units.items()}
    return sorted(found.items(), key=lambda item: (item[1].lower(), item[0]))


def finding(
    form: FormData, prefix: str = "", terms: Mapping[str, Term] | None = None
) -> dict[str, Any]:
    """One CTCAE finding from the toxicity form (its fields named `prefix` + name).

    A value with no unit chosen ("the term's own unit") is in the term's CTCAE unit.
    """
    finding: dict[str, Any] = {"term": forms.text(form, f"{prefix}term")}
    for name in _NUMBERS:
        raw = forms.text(form, f"{prefix}{name}")
        if raw:
            finding[name] = forms.number(raw, field=f"{prefix}{name}", allowed="a number")
    if forms.text(form, f"{prefix}unit"):
        finding["unit"] = forms.text(form, f"{prefix}unit")
    elif "value" in finding and terms and finding["term"] in terms and terms[finding["term"]].unit:
        finding["unit"] = terms[finding["term"]].unit
    symptomatic = forms.text(form, f"{prefix}symptomatic")
    if symptomatic:
        finding["symptomatic"] = symptomatic == "yes"
    grade = forms.text(form, f"{prefix}clinical_grade")
    if grade:
        finding["clinical_grade"] = forms.number(
            grade, field=f"{prefix}clinical_grade", allowed="0 to 5"
        )
    return finding


def routes(web: Web) -> APIRouter:
    """The flowsheet and the toxicity form on it."""
    router = APIRouter(route_class=web.route_class)
    SignedIn = Annotated[Actor, Depends(signed_in(web))]  # noqa: N806 - a type alias
    terms = web.rules.ctcae.terms
    units = unit_options(terms)

    def sheet(
        request: Request,
        found: dict[str, Any],
        values: dict[str, Any],
        error: InvalidInputError | None,
    ) -> HTMLResponse:
        query = dict(request.query_params)
        limits = _limits(query)
        courses = record.courses(found)
        chosen = query.get("course", "")
        course = next((c for c in courses if str(c.id) == chosen), courses[-1] if courses else None)
        table = flowsheet.rows(web.rules, _with_rechecks(found, course), limits)
        return web.page(
            request,
            "flowsheet.html",
            status=422 if error else 200,
            record=found,
            label=record.label(found),
            courses=courses,
            course=course,
            columns=flowsheet.COLUMNS,
            table=table,
            limits=query,
            limit_names=_LIMITS,
            plot=plots.trend(tuple(r.label for r in table), flowsheet.series(table)),
            toxicities=record.current(found["entries"], "toxicity"),
            terms=terms,
            units=units,
            values=values,
            error=error,
        )

    def toxicity_again(request: Request, form: FormData, error: InvalidInputError) -> HTMLResponse:
        field = error.field.removeprefix("findings[0].")
        named = InvalidInputError(field=field, value=error.value, allowed=error.allowed)
        patient_id = int(request.path_params["patient_id"])
        found = read_patient(web.services, request.state.actor, patient_id)
        return sheet(request, found, form_values(form), named)

    @router.get("/patients/{patient_id}/flowsheet", response_class=HTMLResponse)
    def flowsheet_page(request: Request, patient_id: RecordId, actor: SignedIn) -> HTMLResponse:
        return sheet(request, read_patient(web.services, actor, patient_id), {}, None)

    @router.get("/study/{number}/flowsheet", response_class=HTMLResponse)
    def study_flowsheet(request: Request, number: StudyNumber, actor: SignedIn) -> HTMLResponse:
        """A researcher's flowsheet, addressed by study number."""
        return sheet(request, read_study_record(web.services, actor, number), {}, None)

    @router.post("/patients/{patient_id}/toxicities")
    @web.redisplay(toxicity_again)
    def add_toxicity(patient_id: RecordId, form: Form, actor: SignedIn) -> RedirectResponse:
        course = forms.text(form, "course_id")
        record_toxicity(
            web.services,
            actor,
            patient_id,
            observed_on=forms.text(form, "observed_on"),
            course_id=int(course) if course.isdigit() else None,
            findings={
                "ctcae_version": web.rules.ctcae.version,
                "findings": [finding(form, terms=terms)],
            },
        )
        return see_other(f"/patients/{patient_id}/flowsheet#toxicities")

    return router
