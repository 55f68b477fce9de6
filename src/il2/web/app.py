"""The web app's router: every page, mounted at `/`, with its static files at `/static`."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles

from il2.bootstrap import App
from il2.services.demo import DEMO_PASSWORD, STAFF
from il2.web.core import STATIC, Web, templates
from il2.web.defences import SecurityHeaders
from il2.web.errors import route_class
from il2.web.pages import (
    account,
    admin,
    bedside,
    courses,
    diary,
    entries,
    flowsheet,
    outcomes,
    patients,
    response,
    roles,
    simulator,
    studies,
    whatif,
    worklist,
)


def web_router(app: App) -> APIRouter:
    """The pages over `app`'s services; every page but sign-in needs a session cookie."""
    web = Web(
        services=app.services,
        templates=templates(app.rules),
        secure_cookies=app.settings.secure_cookies,
        demo_accounts=tuple(STAFF.items()) if app.settings.demo else (),
        demo_password=DEMO_PASSWORD if app.settings.demo else "",
    )
    web.route_class = route_class(web)
    router = APIRouter(route_class=web.route_class, include_in_schema=False)
    pages = (
        account, worklist, patients, courses, diary, bedside, flowsheet, response, entries, admin,
        outcomes, roles, studies, simulator, whatif,
    )  # fmt: skip
    for module in pages:
        router.include_router(module.routes(web), include_in_schema=False)
    router.mount("/static", StaticFiles(directory=STATIC), name="static")
    return router


def with_browser_defences(asgi: FastAPI) -> FastAPI:
    """`asgi` answering every request (pages, API, static files, errors) with the browser
    security headers (defences.py); the web router checks its own forms for forgery."""
    asgi.add_middleware(SecurityHeaders)
    return asgi
