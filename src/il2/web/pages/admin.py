"""Administration: users and roles, the site policy in force, and the audit trail."""

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.datastructures import FormData

from il2.domain.errors import InvalidInputError
from il2.domain.records import Actor, Role
from il2.services.accounts import (
    add_user,
    deactivate_user,
    list_users,
    lockouts,
    reactivate_user,
    reset_password,
    set_role,
    unlock_user,
)
from il2.services.audit import audit_page, may_see_content
from il2.services.documents import policy_document
from il2.services.parsing import aware
from il2.services.ports import AuditQuery
from il2.web import forms
from il2.web.core import Form, Web, form_values, see_other
from il2.web.session import signed_in

AUDIT_PAGE = 100
AUDIT_DAYS = 7  # the trail opens on the last week; an earlier "since" shows more


def routes(web: Web) -> APIRouter:
    """Users, policy, audit."""
    router = APIRouter(route_class=web.route_class)
    SignedIn = Annotated[Actor, Depends(signed_in(web))]  # noqa: N806 - a type alias

    def users_page(
        request: Request, actor: Actor, values: dict[str, Any], error: InvalidInputError | None
    ) -> HTMLResponse:
        return web.page(
            request,
            "admin_users.html",
            status=422 if error else 200,
            users=list_users(web.services, actor),
            locked=lockouts(web.services, actor),
            roles=[r.value for r in Role],
            values=values,
            error=error,
            added=request.query_params.get("added", ""),
            changed=request.query_params.get("changed", ""),
            unlocked=request.query_params.get("unlocked", ""),
        )

    def users_again(request: Request, form: FormData, error: InvalidInputError) -> HTMLResponse:
        values = form_values(form)
        values.pop("password", None)
        return users_page(request, request.state.actor, values, error)

    @router.get("/admin", response_class=HTMLResponse)
    def admin(request: Request, actor: SignedIn) -> HTMLResponse:
        return users_page(request, actor, {}, None)

    @router.post("/admin/users")
    @web.redisplay(users_again)
    def create_user(form: Form, actor: SignedIn) -> RedirectResponse:
        user = add_user(
            web.services,
            actor,
            username=forms.text(form, "username"),
            display_name=forms.text(form, "display_name"),
            role=forms.text(form, "role"),
            password=str(form.get("password") or ""),
        )
        return see_other(f"/admin?added={user.username}")

    @router.post("/admin/users/{username}")
    @web.redisplay(users_again)
    def change_user(username: str, form: Form, actor: SignedIn) -> RedirectResponse:
        """One account change from its row: deactivate, reactivate, role, password or unlock."""
        change = forms.text(form, "change")
        if change == "unlock":
            unlock_user(web.services, actor, username)
            return see_other(f"/admin?unlocked={username}")
        if change == "deactivate":
            user = deactivate_user(web.services, actor, username)
        elif change == "reactivate":
            user = reactivate_user(web.services, actor, username)
        elif change == "role":
            user = set_role(web.services, actor, username, forms.text(form, "role"))
        elif change == "password":
            user = reset_password(web.services, actor, username, str(form.get("password") or ""))
        else:
            raise InvalidInputError(
                field="change",
                value=change,
                allowed="deactivate, reactivate, role, password or unlock",
            )
        return see_other(f"/admin?changed={user.username}")

    @router.get("/admin/audit", response_class=HTMLResponse)
    def audit_trail(
        request: Request,
        actor: SignedIn,
        *,
        since: str = "",
        who: Annotated[str, Query(max_length=80)] = "",
        patient: Annotated[str, Query(max_length=12)] = "",
        before: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    ) -> HTMLResponse:
        if not since:
            zone = web.rules.site.time_zone
            today = web.services.clock().astimezone(zone).date()
            since = (today - timedelta(days=AUDIT_DAYS)).isoformat()
        start: datetime = aware(since + "T00:00", "since", web.services)
        patient_id = int(patient) if patient.strip().isdigit() else None
        if patient.strip() and patient_id is None:
            raise InvalidInputError(field="patient", value=patient, allowed="a patient id (digits)")
        query = AuditQuery(since=start, username=who.strip() or None, patient_id=patient_id)
        found = audit_page(web.services, actor, query, limit=AUDIT_PAGE, before_id=before)
        return web.page(
            request,
            "admin_audit.html",
            entries=found.entries,
            matching=found.matching,
            older=found.older,
            first_page=before is None,
            withheld=not may_see_content(web.services, actor),
            filters={"since": since, "who": who, "patient": patient},
        )

    @router.get("/policy", response_class=HTMLResponse)
    def policy(request: Request, _actor: SignedIn) -> HTMLResponse:
        return web.page(request, "policy.html", policy=policy_document(web.rules))

    return router
