"""What if: a course's ledger and other schedules given to the patient's virtual twins."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from il2.domain.records import Actor
from il2.services.patients import read_patient, read_study_record
from il2.services.whatif import course_whatif, study_course_whatif
from il2.web import record
from il2.web.core import RecordId, StudyNumber, Web
from il2.web.session import signed_in

MAX_WEB_TWINS = 5000
"""The most twins a page asks for (a page answers in seconds; the CLI takes more)."""


def routes(web: Web) -> APIRouter:
    """The what-if page of a course."""
    router = APIRouter(route_class=web.route_class)
    SignedIn = Annotated[Actor, Depends(signed_in(web))]  # noqa: N806 - a type alias
    Alternatives = Annotated[list[str] | None, Query(max_length=40)]  # noqa: N806
    Twins = Annotated[int | None, Query(ge=1, le=MAX_WEB_TWINS)]  # noqa: N806
    Seed = Annotated[int | None, Query(ge=0, le=2**32 - 1)]  # noqa: N806

    def shown(
        request: Request, found: dict[str, Any], course: Any, base: str, answer: tuple[Any, Any]
    ) -> HTMLResponse:
        from il2.science.mechanism.whatif import band_figure  # noqa: PLC0415 - numba, here

        document, result = answer
        return web.page(
            request,
            "whatif.html",
            record=found,
            label=record.label(found),
            course=course,
            base=base,
            whatif=document,
            figure=band_figure(result),
            regimens=sorted(web.rules.regimens),
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
        answer = course_whatif(
            web.services, actor, patient_id, course_id=course.id,
            alternatives=alternative[:6] if alternative else None, twins=twins, seed=seed,
        )  # fmt: skip
        return shown(request, found, course, f"/patients/{patient_id}/courses/{course.id}", answer)

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
        answer = study_course_whatif(
            web.services, actor, number, course_number=course.number,
            alternatives=alternative[:6] if alternative else None, twins=twins, seed=seed,
        )  # fmt: skip
        return shown(request, found, course, f"/study/{number}/courses/{course.number}", answer)

    return router
