"""Who is asking: the one dependency every protected route shares, and signing in."""

from __future__ import annotations

import threading
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from il2.api.errors import NotAuthenticatedError
from il2.api.schemas import SignIn
from il2.domain.errors import PermissionDeniedError
from il2.domain.records import Actor
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


class _TokenCache:
    """Recently seen tokens, for a few seconds: most requests skip the database lookup.

    A token stays valid here at most TOKEN_CACHE_SECONDS past its expiry, an account's
    deactivation, or a sign-out through another server process (the process that signs it
    out forgets it at once); tokens live 12 hours, so the window is small and bounded.
    """

    def __init__(self, seconds: float, size: int = 10_000) -> None:
        self._seconds, self._size = seconds, size
        self._seen: dict[str, tuple[Actor, float]] = {}
        self._lock = threading.Lock()

    def get(self, token: str) -> Actor | None:
        with self._lock:
            found = self._seen.get(token)
            if found is None or found[1] < time.monotonic():
                self._seen.pop(token, None)
                return None
            return found[0]

    def forget(self, token: str) -> None:
        with self._lock:
            self._seen.pop(token, None)

    def put(self, token: str, actor: Actor) -> None:
        with self._lock:
            if len(self._seen) >= self._size:
                self._seen.clear()
            self._seen[token] = (actor, time.monotonic() + self._seconds)


TOKEN_CACHE_SECONDS = 30
_CACHE = _TokenCache(TOKEN_CACHE_SECONDS)


async def signed_in(
    found: Il2Services,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Actor:
    """The actor behind the request's bearer token; 401 without a live one.

    Async so that a cached token costs nothing; only a lookup goes to the database.
    """
    if credentials is None:
        raise NotAuthenticatedError(
            "sign in first: POST /api/token, then send Authorization: Bearer <token>"
        )
    actor = _CACHE.get(credentials.credentials)
    if actor is None:
        actor = actor_for_token(found, credentials.credentials)
        if actor is not None:
            _CACHE.put(credentials.credentials, actor)
    if actor is None:
        raise NotAuthenticatedError("the token is unknown or has expired; sign in again")
    return actor


SignedIn = Annotated[Actor, Depends(signed_in)]

router = APIRouter(tags=["sign-in"])


@router.post("/api/token")
def token(body: SignIn, found: Il2Services) -> dict[str, Any]:
    """Exchange a username and password for a session token."""
    try:
        issued, user = sign_in(found, username=body.username, password=body.password)
    except PermissionDeniedError as refused:
        # A wrong password at sign-in is a failed authentication, not a forbidden action.
        raise NotAuthenticatedError(str(refused)) from None
    return {"access_token": issued, "token_type": "bearer", "role": user.role.value}


@router.post("/api/sign-out", status_code=204, response_model=None)
def revoke(
    found: Il2Services,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Response:
    """End the session: the bearer token stops working at once (401 if it was not live)."""
    if credentials is None or not sign_out(found, credentials.credentials):
        raise NotAuthenticatedError("the token is unknown or has expired; nothing to sign out")
    _CACHE.forget(credentials.credentials)
    return Response(status_code=204)
