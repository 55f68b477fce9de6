"""The server process's application: the JSON API and the web pages joined into one ASGI app.

It sits beside `il2.api` and `il2.web`, above both: they stay independent of each other, and
this module is the one place they meet. The command line only starts it (`il2 serve` hands
uvicorn `SERVER_APP`, a factory each server process calls once).
"""

from __future__ import annotations

import gc

from fastapi import FastAPI

from il2.api.app import create_api
from il2.bootstrap import App, build_app
from il2.interop.cds.app import create_cds
from il2.interop.fhir.app import create_fhir
from il2.web.app import web_router, with_browser_defences

SERVER_APP = "il2.server:server_app"
"""The import string uvicorn calls (with factory=True) in each server process."""


def create_server(app: App) -> FastAPI:
    """The API, the pages, the FHIR facade (/fhir) and the CDS Hooks services (/cds-services)
    over `app`'s services, every answer with the browser defences."""
    server = create_api(app)
    server.include_router(web_router(app))
    server.mount("/fhir", create_fhir(app))
    server.mount("/cds-services", create_cds(app))
    return with_browser_defences(server)


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
