"""The JSON API application: routers, the sign-in dependency and the error handlers."""

from __future__ import annotations

from fastapi import APIRouter, Depends, FastAPI

from il2 import __version__
from il2.api import audit, clinical, courses, engines, errors, patients, security
from il2.api.work import Runner
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
    api = FastAPI(title="il2", version=__version__, description=_DESCRIPTION)
    api.state.services = app.services
    api.state.runner = Runner(inline=app.one_writer)
    errors.install(api)

    @api.get("/health", tags=["health"])
    async def health() -> dict[str, str]:
        """The server is up (no sign-in, no database)."""
        return {"status": "ok"}

    api.include_router(security.router)
    protected = APIRouter(prefix="/api", dependencies=[Depends(security.signed_in)])
    for module in (patients, clinical, courses, audit, engines):
        protected.include_router(module.router)
    api.include_router(protected)
    return api
