"""The JSON API application: routers, the sign-in dependency and the error handlers.

The routes are async and call the services directly, so each request's database work runs on
the event loop, one request at a time per server process; concurrency comes from processes
(`il2 serve --workers`, PostgreSQL only). Handing the work to a worker thread instead cost
the dose write about 1 ms of CPU (measured with benchmarks/api.py: the database drivers
release the GIL at every call, and with the event loop busy each release became a contended
hand-off), more than SQLite's one writer or a server process's one core could ever regain.
The routes take turns in arrival order (il2.api.turns), so no connection waits behind others.
Only sign-in (argon2, slow on purpose, and releasing the GIL) still runs in a thread.
"""

from __future__ import annotations

from fastapi import Depends, FastAPI

from il2 import __version__
from il2.api import (
    answers,
    audit,
    clinical,
    courses,
    diary,
    engines,
    errors,
    patients,
    program,
    security,
    studies,
    study,
    users,
)
from il2.api.docs import install_docs
from il2.api.guard import BodyGuard
from il2.api.schemas import ERRORS, SIGN_IN_ERRORS
from il2.api.turns import in_turn
from il2.bootstrap import App

_DESCRIPTION = (
    "High-dose interleukin-2 (aldesleukin) programs: patients, screening, courses, the dose "
    "ledger, toxicities, responses, follow-up, the audit trail and the stateless engines. "
    "Sign in with POST /api/token; send the token as `Authorization: Bearer <token>`. "
    'Errors answer {"error", "message"} and, for unusable input (422), '
    '{"field", "value", "allowed"}.'
)


def create_api(app: App) -> FastAPI:
    """The API over `app`'s services; every /api path but sign-in needs a bearer token."""
    api = FastAPI(
        title="il2",
        version=__version__,
        description=_DESCRIPTION,
        docs_url=None,
        redoc_url=None,
    )
    install_docs(api)  # served from packaged files, no CDN
    api.state.services = app.services
    errors.install(api)
    api.add_middleware(BodyGuard)

    @api.get("/health", tags=["health"], response_model=answers.Health)
    async def health() -> dict[str, str]:
        """The server is up (no sign-in, no database)."""
        return {"status": "ok"}

    api.include_router(security.router, responses=SIGN_IN_ERRORS)
    # Included one level deep: each level of nesting costs every request a round of matching.
    # Each route runs in its turn, first come first served (il2.api.turns), then signs in.
    served = [Depends(in_turn, scope="function"), Depends(security.signed_in)]
    for module in (
        courses,
        diary,
        patients,
        clinical,
        audit,
        engines,
        program,
        users,
        study,
        studies,
    ):
        api.include_router(module.router, prefix="/api", dependencies=served, responses=ERRORS)
    return api
