"""What if: a course's ledger and other schedules given to the patient's virtual twins."""

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from il2.domain.errors import InvalidInputError
from il2.domain.records import Actor
from il2.services.patients import read_patient, read_study_record
from il2.services.whatif import course_whatif, study_course_whatif
from il2.web import record
from il2.web.core import RecordId, StudyNumber, Web
from il2.web.session import signed_in

MAX_WEB_TWINS = 5000
"""The most twins a page asks for (a page answers in seconds; the CLI takes more)."""
MAX_WEB_ALTERNATIVES = 6
"""The most schedules a page compares with the course (each is simulated for every twin)."""
FIELD = "alternative"


def _too_many(alternative: list[str] | None) -> InvalidInputError | None:
    """The refusal of more schedules than a page compares, else None."""
    if alternative is None or len(alternative) <= MAX_WEB_ALTERNATIVES:
        return None
    return InvalidInputError(
        field=FIELD,
        value=f"{len(alternative)} schedules",
        allowed=f"at most {MAX_WEB_ALTERNATIVES} schedules to compare with the course "
        "(il2 simulate whatif compares more)",
    )


def routes(web: Web) -> APIRouter:
    """The what-if page of a course."""
    router = APIRouter(route_class=web.route_class)
    SignedIn = Annotated[Actor, Depends(signed_in(web))]  # noqa: N806 - a type alias
    Alternatives = Annotated[list[str] | None, Query(max_length=40)]  # noqa: N806
    Twins = Annotated[int | None, Query(ge=1, le=MAX_WEB_TWINS)]  # noqa: N806
    Seed = Annotated[int | None, Query(ge=0, le=2**32 - 1)]  # noqa: N806

    def answered(
        simulate: Callable[[list[str] | None], tuple[Any, Any]], alternative: list[str] | None
    ) -> tuple[tuple[Any, Any], InvalidInputError | None]:
        """The what-if of the chosen schedules; when they are refused, the default comparison
        and the refusal, shown beside the field (a page never drops a choice silently)."""
        error = _too_many(alternative)
        if error is None:
            try:
                return simulate(alternative), None
            except InvalidInputError as refused:
                if refused.field != "alternatives":
                    raise
                error = InvalidInputError(field=FIELD, value=refused.value, allowed=refused.allowed)
        return simulate(None), error

    def shown(  # noqa: PLR0917 - the page's parts
        request: Request,
        found: dict[str, Any],
        course: Any,
        base: str,
        answer: tuple[Any, Any],
        chosen: list[str] | None,
        error: InvalidInputError | None,
    ) -> HTMLResponse:
        from il2.science.mechanism.whatif import band_figure  # noqa: PLC0415 - numba, here

        document, result = answer
        return web.page(
            request,
            "whatif.html",
            status=422 if error else 200,
            record=found,
            label=record.label(found),
            course=course,
            base=base,
            whatif=document,
            figure=band_figure(result),
            regimens=sorted(web.rules.regimens),
            chosen=chosen if chosen is not None else ["as_planned", "label"],
            max_alternatives=MAX_WEB_ALTERNATIVES,
            error=error,
        )

    @router.get("/patients/{patient_id}/courses/{course_id}/whatif", response_class=HTMLResponse)
    def whatif_page(  # noqa: PLR0917 - the path, the query and the actor
        request: Request,
        patient_id: RecordId,
        course_id: RecordId,
        actor: SignedIn,
        alternative: Alternatives = None,
        twins: Twins = None,
        seed: Seed = None,
    ) -> HTMLResponse:
        """The course as recorded and each alternative schedule: doses, ORR and CR with exact
        95% intervals, and the median tumour-size band of each (a model's what-if)."""
        found = read_patient(web.services, actor, patient_id)
        course = record.course(found, course_id)
        answer, error = answered(
            lambda chosen: course_whatif(
                web.services, actor, patient_id, course_id=course.id,
                alternatives=chosen, twins=twins, seed=seed,
            ),
            alternative,
        )  # fmt: skip
        base = f"/patients/{patient_id}/courses/{course.id}"
        return shown(request, found, course, base, answer, alternative, error)

    @router.get("/study/{number}/courses/{course_number}/whatif", response_class=HTMLResponse)
    def study_whatif_page(  # noqa: PLR0917 - the path, the query and the actor
        request: Request,
        number: StudyNumber,
        course_number: RecordId,
        actor: SignedIn,
        alternative: Alternatives = None,
        twins: Twins = None,
        seed: Seed = None,
    ) -> HTMLResponse:
        """A researcher's what-if, addressed by study number and course number."""
        found = read_study_record(web.services, actor, number, parts=frozenset())
        course = record.course(found, course_number)  # a researcher's course id is its number
        answer, error = answered(
            lambda chosen: study_course_whatif(
                web.services, actor, number, course_number=course.number,
                alternatives=chosen, twins=twins, seed=seed,
            ),
            alternative,
        )  # fmt: skip
        base = f"/study/{number}/courses/{course.number}"
        return shown(request, found, course, base, answer, alternative, error)

    return router
