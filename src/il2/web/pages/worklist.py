"""The worklist: patients by stage with the next action and its date; today's doses."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from il2.domain.errors import InvalidInputError
from il2.domain.limits import MAX_ID
from il2.domain.records import Actor
from il2.domain.worklist import Stage
from il2.services.patients import SEARCH_LIMIT, search_patients
from il2.services.worklist import worklist
from il2.web.core import Web
from il2.web.session import signed_in

PAGE = 50


def routes(web: Web) -> APIRouter:
    """The worklist page."""
    router = APIRouter(route_class=web.route_class)
    SignedIn = Annotated[Actor, Depends(signed_in(web))]  # noqa: N806 - a type alias

    def _search(actor: Actor, query: str) -> dict[str, Any] | None:
        """The patient search offered to identified readers: what was asked, who was found."""
        if not web.can(actor, "patient.read"):
            return None
        if not query.strip():
            return {"query": "", "found": None, "message": None}
        try:
            found = search_patients(web.services, actor, query)
        except InvalidInputError as error:
            return {"query": query, "found": None, "message": f"Type {error.allowed}."}
        return {"query": query, "found": found, "message": None, "limit": SEARCH_LIMIT}

    @router.get("/worklist", response_class=HTMLResponse)
    def worklist_page(
        request: Request,
        actor: SignedIn,
        offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
        q: Annotated[str, Query(max_length=200)] = "",
    ) -> HTMLResponse:
        search = _search(actor, q)
        matching = search["query"].strip() if search and search["found"] is not None else None
        found = worklist(web.services, actor, limit=PAGE, offset=offset, matching=matching)
        by_stage = {stage: [r for r in found.rows if r.stage is stage] for stage in Stage}
        return web.page(
            request,
            "worklist.html",
            found=found,
            by_stage={s: rows for s, rows in by_stage.items() if rows},
            offset=offset,
            page=PAGE,
            search=search,
            matching=matching,
        )

    return router
