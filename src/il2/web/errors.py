"""The one place where errors become pages; an error il2 raises on purpose is answered with
its own `status` (il2.domain.errors), the status the JSON API answers it with too.

    CSRF refusal             403 a state-changing request from another origin or without the
                                 browser's CSRF token (defences.py), audited as a denial
    SignInRequired           303 to /sign-in (htmx: HX-Redirect), keeping where the user was going
    Il2Error                     what the services raise on purpose:
     ├── InvalidInputError   422 the form again, the message naming the field
     │                           (a page with no form to show answers the message alone)
     ├── NotFoundError       404
     ├── ConflictError       409 the record that was there first (a dose recorded twice)
     ├── RefusedError        409 each reason the action must not happen now
     ├── PermissionDeniedError 403
     └── RuleTableError      500
    RequestValidationError   404 a path that names no record (/patients/abc)

Routes raise; they never build an error page themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from il2.domain.errors import (
    ConflictError,
    Il2Error,
    InvalidInputError,
    PermissionDeniedError,
)
from il2.services.accounts import actor_for_token
from il2.services.audit import audit_denial
from il2.services.parsing import plain
from il2.web.core import Web, is_htmx
from il2.web.defences import csrf_refusal, keep_csrf_cookie, session_cookie
from il2.web.labels import label_for

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class SignInRequiredError(Exception):
    """The request carries no live session: the user has to sign in first."""


def problem_text(error: InvalidInputError) -> str:
    """The refusal in words, naming the field as the form labels it."""
    where = f"{label_for(error.field)} ({error.field})"
    return f"{where}: {error.value!r} is not allowed; expected {error.allowed}"


def _next_path(request: Request) -> str:
    if is_htmx(request):
        current = urlsplit(request.headers.get("HX-Current-URL", "/"))
        return current.path + (f"?{current.query}" if current.query else "")
    if request.method == "GET":
        return request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return "/"


def _sign_in(request: Request) -> Response:
    url = f"/sign-in?next={quote(_next_path(request), safe='/')}"
    if is_htmx(request):
        return Response(status_code=200, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


def _page(web: Web, request: Request, status: int, title: str, message: str) -> HTMLResponse:
    template = "_error.html" if is_htmx(request) else "error.html"
    return web.page(request, template, status=status, title=title, message=message)


_TITLES = {
    400: "Refused",
    403: "Not allowed",
    404: "Not found",
    409: "Refused: nothing was recorded",
    422: "Input not usable",
    429: "Not allowed",
    500: "A rule file is broken",
}
"""An error page's title by the error's status (il2.domain.errors sets the status)."""


def il2_page(web: Web, request: Request, error: Il2Error) -> HTMLResponse:
    """The page for an error a service raised on purpose (but a form's unusable input), with
    the error's own status, as the API answers it."""
    if isinstance(error, ConflictError):
        existing = plain(error.existing) if error.existing is not None else None
        return web.page(
            request, "conflict.html", status=error.status, message=str(error), existing=existing
        )
    if isinstance(error, PermissionDeniedError):
        audit_denial(web.services, error)
    message = problem_text(error) if isinstance(error, InvalidInputError) else str(error)
    return _page(web, request, error.status, _TITLES.get(error.status, "Refused"), message)


async def _redisplay(
    web: Web, request: Request, endpoint: Any, error: InvalidInputError
) -> Response:
    """The form again with the message, when the endpoint has one; else the message alone."""
    view = web.redisplays.get(endpoint)
    if view is None:
        return il2_page(web, request, error)
    form = await request.form()
    try:
        return await run_in_threadpool(view, request, form, error)
    except Il2Error as again:
        return await run_in_threadpool(il2_page, web, request, again)


def refuse_forgery(web: Web, request: Request, reason: str) -> HTMLResponse:
    """403 for a request that may be forged, audited as a denial when a session is named."""
    token = request.cookies.get(session_cookie(request))
    actor = actor_for_token(web.services, token) if token else None
    request.state.actor = actor
    if actor is not None:
        audit_denial(
            web.services,
            PermissionDeniedError(reason, username=actor.username, action="csrf.check"),
        )
    return _page(web, request, 403, "Not allowed", reason)


def route_class(web: Web) -> type[APIRoute]:
    """Routes whose errors are answered here, as pages; a state-changing request is first
    checked for forgery (origin and CSRF token), and every answer gives the browser its CSRF
    cookie if a page rendered a new token."""

    class PageRoute(APIRoute):
        def get_route_handler(self) -> Handler:
            handler = super().get_route_handler()
            endpoint = self.endpoint

            async def guarded(request: Request) -> Response:
                request.state.secure_cookies = web.secure_cookies
                refusal = await csrf_refusal(request)
                response: Response
                if refusal is not None:
                    response = await run_in_threadpool(refuse_forgery, web, request, refusal)
                else:
                    response = await answered(request)
                keep_csrf_cookie(request, response)
                return response

            async def answered(request: Request) -> Response:
                try:
                    return await handler(request)
                except SignInRequiredError:
                    return _sign_in(request)
                except InvalidInputError as error:
                    return await _redisplay(web, request, endpoint, error)
                except Il2Error as error:
                    return await run_in_threadpool(il2_page, web, request, error)
                except RequestValidationError:
                    return _page(web, request, 404, "Not found", "There is no such page.")

            return guarded

    return PageRoute
