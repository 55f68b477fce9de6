"""Who is asking: the one dependency every protected route shares, and signing in."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from il2.api import answers
from il2.api.errors import NotAuthenticatedError
from il2.api.schemas import SignIn
from il2.domain.errors import PermissionDeniedError, TooManyAttemptsError
from il2.domain.records import Actor
from il2.domain.scopes import parse_scopes
from il2.services.accounts import actor_for_token, sign_in, sign_out
from il2.services.context import Services

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description="A session token from POST /api/token, sent as `Authorization: Bearer <token>`.",
)


async def services(request: Request) -> Services:
    """The services the API was built with (async: no thread hop for an attribute read)."""
    built: Services = request.app.state.services
    return built


Il2Services = Annotated[Services, Depends(services)]


async def signed_in(
    found: Il2Services,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Actor:
    """The actor behind the request's bearer token; 401 without a live one.

    Every request looks its token up in the database, so a sign-out (web or API), a
    deactivation, a role change or an expiry takes effect on the very next request; no cache
    may keep a revoked token alive. The lookup is one indexed query by primary key.
    """
    if credentials is None:
        raise NotAuthenticatedError(
            "sign in first: POST /api/token, then send Authorization: Bearer <token>"
        )
    actor = actor_for_token(found, credentials.credentials)
    if actor is None:
        raise NotAuthenticatedError("the token is unknown or has expired; sign in again")
    return actor


SignedIn = Annotated[Actor, Depends(signed_in)]

router = APIRouter(tags=["sign-in"])


@router.post("/api/token", response_model=answers.Token)
def token(body: SignIn, found: Il2Services, request: Request) -> dict[str, Any]:
    """Exchange a username and password for a session token, optionally SMART-scoped.

    `scope`: SMART resource scopes (hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html)
    narrowing what the token may read through /fhir; never more than the role. Unusable: 422.

    After too many failed sign-ins for the username or from the client's address, 429 with
    Retry-After (seconds) until the site's window has passed.
    """
    address = request.client.host if request.client else ""
    try:
        issued, user = sign_in(
            found,
            username=body.username,
            password=body.password,
            address=address,
            scope=body.scope,
        )
    except TooManyAttemptsError:
        raise  # 429 with Retry-After (il2.api.errors)
    except PermissionDeniedError as refused:
        # A wrong password at sign-in is a failed authentication, not a forbidden action.
        raise NotAuthenticatedError(str(refused)) from None
    granted = None if body.scope is None else parse_scopes(body.scope).text  # as stored
    return {
        "access_token": issued,
        "token_type": "bearer",
        "role": user.role.value,
        "scope": granted,
    }


@router.post("/api/sign-out", status_code=204, response_model=None)
def revoke(
    found: Il2Services,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Response:
    """End the session: the bearer token stops working at once (401 if it was not live)."""
    if credentials is None or not sign_out(found, credentials.credentials):
        raise NotAuthenticatedError("the token is unknown or has expired; nothing to sign out")
    return Response(status_code=204)
