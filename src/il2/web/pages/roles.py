"""Each role's day: the pharmacist's preparation list and vial use, the physician's and
coordinator's pending decisions and admissions."""

from datetime import date, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from il2.domain.records import Actor
from il2.services.parsing import iso_date
from il2.services.pharmacy import preparation_list, vial_use
from il2.services.schedule import schedule
from il2.web.core import Web
from il2.web.session import signed_in

VIAL_USE_DAYS = 7  # the period shown unless another is asked for: the last week


def routes(web: Web) -> APIRouter:
    """The preparation list, vial use and the schedule."""
    router = APIRouter(route_class=web.route_class)
    SignedIn = Annotated[Actor, Depends(signed_in(web))]  # noqa: N806 - a type alias

    @router.get("/pharmacy", response_class=HTMLResponse)
    def pharmacy_page(request: Request, actor: SignedIn) -> HTMLResponse:
        return web.page(request, "pharmacy.html", found=preparation_list(web.services, actor))

    @router.get("/pharmacy/vials", response_class=HTMLResponse)
    def vials_page(
        request: Request,
        actor: SignedIn,
        start: Annotated[str, Query(max_length=10)] = "",
        end: Annotated[str, Query(max_length=10)] = "",
    ) -> HTMLResponse:
        today = web.services.clock().astimezone(web.rules.site.time_zone).date()
        last: date = iso_date(end, "end") if end else today
        first: date = (
            iso_date(start, "start") if start else last - timedelta(days=VIAL_USE_DAYS - 1)
        )
        used = vial_use(web.services, actor, start=first, end=last)
        return web.page(request, "vial_use.html", used=used)

    @router.get("/schedule", response_class=HTMLResponse)
    def schedule_page(request: Request, actor: SignedIn) -> HTMLResponse:
        return web.page(request, "schedule_day.html", found=schedule(web.services, actor))

    return router
