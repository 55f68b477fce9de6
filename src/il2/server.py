"""The server process's application: the JSON API and the web pages joined into one ASGI app.

It sits beside `il2.api` and `il2.web`, above both: they stay independent of each other, and
this module is the one place they meet. The command line only starts it (`il2 serve` hands
uvicorn `SERVER_APP`, a factory each server process calls once).
"""

from __future__ import annotations

import gc
from collections.abc import Callable

import httpx
from fastapi import FastAPI, Request

from il2.api.app import create_api
from il2.bootstrap import App, build_app
from il2.domain.records import Actor
from il2.interop.cds.app import create_cds
from il2.interop.fhir.app import create_fhir
from il2.interop.smart import create_smart
from il2.services.accounts import actor_for_token
from il2.web.app import web_router, with_browser_defences
from il2.web.session import session_token

SERVER_APP = "il2.server:server_app"
"""The import string uvicorn calls (with factory=True) in each server process."""


def create_server(app: App, *, ehr_http: httpx.Client | None = None) -> FastAPI:
    """The API, the pages, the FHIR facade (/fhir), the CDS Hooks services (/cds-services) and
    the SMART launch (/smart) over `app`'s services, every answer with the browser defences.
    `ehr_http` talks to the EHRs that launch il2 (tests pass one that reaches a test EHR); by
    default, the network."""
    server = create_api(app)
    server.include_router(web_router(app))
    server.include_router(create_smart(app, web_actor=_web_actor(app), http=ehr_http))
    server.mount("/fhir", create_fhir(app))
    server.mount("/cds-services", create_cds(app))
    return with_browser_defences(server)


def _web_actor(app: App) -> Callable[[Request], Actor | None]:
    """Who is signed in to il2's pages in a request's browser (the web's session cookie): the
    SMART launch opens a chart as that user, never as the EHR's."""

    def actor(request: Request) -> Actor | None:
        request.state.secure_cookies = app.settings.secure_cookies
        token = session_token(request)
        return actor_for_token(app.services, token) if token else None

    return actor


def server_app() -> FastAPI:
    """The web app and the JSON API over the configured database (uvicorn's factory).

    Each server process builds its own; whatever start-up built (rule tables, templates,
    routes) lives as long as the process, so it is moved out of the garbage collector's sight:
    full collections stay short and no request waits long behind one.
    """
    server = create_server(build_app())
    gc.collect()
    gc.freeze()
    return server
