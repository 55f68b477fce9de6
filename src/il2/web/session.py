"""The session cookie: it holds the token from sign-in, and every page but sign-in needs it."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request, Response

from il2.domain.errors import NotFoundError
from il2.domain.records import Actor
from il2.services.accounts import SESSION_HOURS, actor_for_token
from il2.web.core import Web
from il2.web.defences import secure_request, session_cookie
from il2.web.errors import SignInRequiredError


def current_actor(web: Web, request: Request) -> Actor | None:
    """Who the request's session cookie belongs to, if anyone."""
    token = session_token(request)
    actor = actor_for_token(web.services, token) if token else None
    request.state.actor = actor
    return actor


def signed_in(web: Web) -> Callable[[Request], Actor]:
    """The dependency of every page but sign-in: the actor, or off to the sign-in page."""

    def dependency(request: Request) -> Actor:
        actor = current_actor(web, request)
        if actor is None:
            raise SignInRequiredError
        if web.deidentified(actor) and request.url.path.startswith("/patients/"):
            # A researcher's pages go by study number (/study/...): an address holding a
            # record's database id is no page of theirs, whatever the id.
            raise NotFoundError(kind="page", key=request.url.path[:80])
        return actor

    return dependency


def start_session(response: Response, request: Request, token: str) -> None:
    """Keep the token in a cookie scripts cannot read and other sites cannot send; Secure over
    https or when the site forces it (defences.secure_request)."""
    response.set_cookie(
        session_cookie(request),
        token,
        max_age=SESSION_HOURS * 3600,
        path="/",
        httponly=True,
        samesite="strict",
        secure=secure_request(request),
    )


def session_token(request: Request) -> str | None:
    """The session token the request's cookie holds, if any."""
    return request.cookies.get(session_cookie(request))


def end_session(response: Response, request: Request) -> None:
    """Forget the token in this browser."""
    secure = secure_request(request)
    response.delete_cookie(
        session_cookie(request), path="/", httponly=True, samesite="strict", secure=secure
    )
