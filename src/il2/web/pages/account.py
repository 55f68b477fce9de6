"""Sign in, sign out, one's own account (a new password), and the home page each role starts
from."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from il2.domain.errors import (
    InvalidInputError,
    InvalidInputsError,
    PermissionDeniedError,
    TooManyAttemptsError,
)
from il2.domain.records import Actor, Role
from il2.services.accounts import change_password, sign_in, sign_out
from il2.services.worklist import worklist
from il2.web.core import Form, Web, see_other
from il2.web.forms import text
from il2.web.session import (
    current_actor,
    end_session,
    session_token,
    signed_in,
    start_session,
)


def safe_next(target: str) -> str:
    """Only a path on this site (never //elsewhere or https://elsewhere)."""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def field_errors(error: InvalidInputError) -> dict[str, InvalidInputError]:
    """Each field's own error, so a form shows every problem beside its field at once."""
    problems = error.problems if isinstance(error, InvalidInputsError) else {}
    if not problems:
        return {error.field: error}
    return {
        field: InvalidInputError(field=field, value="(hidden)", allowed=allowed)
        for field, allowed in problems.items()
    }


# Where each role's day starts: its own page, if its role still has the permission the page
# needs (a site may change the matrix); otherwise, and for the nurse, the home page with today's
# doses.
LANDING: dict[Role, tuple[str, str]] = {
    Role.RESEARCHER: ("/outcomes", "outcomes.read"),
    Role.PHARMACIST: ("/pharmacy", "pharmacy.read"),
    Role.PHYSICIAN: ("/schedule", "schedule.read"),
    Role.COORDINATOR: ("/schedule", "schedule.read"),
}


def routes(web: Web) -> APIRouter:
    """Sign-in and home."""
    router = APIRouter(route_class=web.route_class)
    SignedIn = Annotated[Actor, Depends(signed_in(web))]  # noqa: N806 - a type alias

    @router.get("/sign-in", response_class=HTMLResponse)
    def sign_in_page(request: Request, next: str = "/") -> HTMLResponse:  # noqa: A002
        current_actor(web, request)
        return web.page(request, "sign_in.html", next=safe_next(next), values={}, message=None)

    @router.post("/sign-in", response_class=HTMLResponse)
    def sign_in_submit(request: Request, form: Form) -> Response:
        username, password = text(form, "username"), str(form.get("password") or "")
        target = safe_next(text(form, "next") or "/")
        try:
            address = request.client.host if request.client else ""
            token, _user = sign_in(
                web.services, username=username, password=password, address=address
            )
        except TooManyAttemptsError as locked:
            request.state.actor = None
            minutes = max(1, round(locked.retry_after / 60))
            return web.page(
                request,
                "sign_in.html",
                status=429,
                next=target,
                values={"username": username},
                message=f"Too many failed sign-ins. Try again in about {minutes} minutes, "
                "or ask an administrator to unlock the account.",
            )
        except PermissionDeniedError:
            # A failed sign-in is not a forbidden action: ask again, saying nothing more.
            request.state.actor = None
            return web.page(
                request,
                "sign_in.html",
                status=401,
                next=target,
                values={"username": username},
                message="Unknown user or wrong password.",
            )
        response = see_other(target)
        start_session(response, request, token)
        return response

    @router.post("/sign-out")
    def sign_out_submit(request: Request) -> RedirectResponse:
        """End the session: the token is revoked, not only forgotten by this browser."""
        token = session_token(request)
        if token:
            sign_out(web.services, token)
        response = see_other("/sign-in")
        end_session(response, request)
        return response

    def account_page(
        request: Request,
        *,
        status: int = 200,
        errors: dict[str, InvalidInputError] | None = None,
        message: str | None = None,
    ) -> HTMLResponse:
        changed = request.query_params.get("changed", "")
        return web.page(
            request, "account.html", status=status, errors=errors or {}, message=message,
            changed=changed,
        )  # fmt: skip

    @router.get("/account", response_class=HTMLResponse)
    def account(request: Request, _actor: SignedIn) -> HTMLResponse:
        return account_page(request)

    @router.post("/account/password", response_class=HTMLResponse)
    def account_password(request: Request, form: Form, actor: SignedIn) -> Response:
        """A new password for the signed-in user; their other sessions end, this one stays."""
        try:
            revoked = change_password(
                web.services,
                actor,
                current_password=str(form.get("current_password") or ""),
                new_password=str(form.get("new_password") or ""),
                confirm_password=str(form.get("confirm_password") or ""),
                keep_token=session_token(request),
                address=request.client.host if request.client else "",
            )
        except TooManyAttemptsError as locked:
            minutes = max(1, round(locked.retry_after / 60))
            return account_page(
                request,
                status=429,
                message=f"Too many wrong passwords. Try again in about {minutes} minutes, "
                "or ask an administrator to unlock the account.",
            )
        except InvalidInputError as error:
            return account_page(request, status=422, errors=field_errors(error))
        return see_other(f"/account?changed={revoked}")

    @router.get("/", response_class=HTMLResponse, response_model=None)
    def home(request: Request, actor: SignedIn) -> Response:
        landing = LANDING.get(actor.role)
        if landing is not None and web.can(actor, landing[1]):
            return RedirectResponse(landing[0], status_code=303)
        reads = web.can(actor, "patient.read") or web.can(actor, "patient.read_deidentified")
        ward = worklist(web.services, actor, limit=1) if reads else None
        return web.page(request, "home.html", ward=ward)

    return router
