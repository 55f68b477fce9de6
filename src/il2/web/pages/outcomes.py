"""Outcomes: the program's de-identified outcome report, as il2 report writes it."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from il2.domain.records import Actor
from il2.services.outcomes import report
from il2.web.core import Web
from il2.web.session import signed_in


def routes(web: Web) -> APIRouter:
    """The outcomes page."""
    router = APIRouter(route_class=web.route_class)
    SignedIn = Annotated[Actor, Depends(signed_in(web))]  # noqa: N806 - a type alias

    @router.get("/outcomes", response_class=HTMLResponse)
    def outcomes(request: Request, actor: SignedIn) -> HTMLResponse:
        """Response rates, survival, toxicity, doses, capacity and the four plots."""
        _summary, html = report(web.services, actor, as_of=web.services.clock().date())
        back = '<p><a href="/">Back to il2</a></p>'
        return HTMLResponse(html.replace("<body>", "<body>" + back, 1))

    return router
