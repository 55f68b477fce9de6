"""What every page needs: the services, the templates, and how a page is rendered."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    pass_context,
    select_autoescape,
)
from jinja2.runtime import Context
from markupsafe import Markup
from starlette.datastructures import FormData

from il2.domain.deidentify import day_label
from il2.domain.errors import InvalidInputError
from il2.domain.limits import MAX_ID
from il2.domain.quantities import plain
from il2.domain.records import Actor
from il2.rules.loader import RuleSet
from il2.services.context import Services
from il2.services.permissions import may, reads_deidentified_only
from il2.web.defences import CSRF_FIELD, csrf_token
from il2.web.labels import choices, label_for, words

RecordId = Annotated[int, PathParam(ge=1, le=MAX_ID)]
StudyNumber = Annotated[str, PathParam(min_length=1, max_length=40)]
"""A study number in a researcher's address (/study/S-...): the record's, never its id."""
"""A record id in a page's path: a number past 2^63-1 names no record (404), never a lookup."""

SlotNumber = Annotated[int, PathParam(ge=1, le=1000)]
"""A cycle or dose number in a path."""

HERE = Path(__file__).parent
STATIC = HERE / "static"
TEMPLATES = HERE / "templates"

# The request a page is being rendered for: the CSRF field needs it even inside a macro
# imported without the page's context.
_RENDERING: ContextVar[Request] = ContextVar("rendering")

# A page that shows a form again when the service refused its input (see errors.py).
FormView = Callable[[Request, FormData, InvalidInputError], HTMLResponse]


@dataclass(frozen=True, slots=True)
class NavLink:
    """One entry of the top navigation."""

    href: str
    label: str


@dataclass(slots=True)
class Web:
    """The services pages call, the templates they render, and the forms they redisplay."""

    services: Services
    templates: Environment
    redisplays: dict[Callable[..., Any], FormView] = field(default_factory=dict)
    route_class: type[APIRoute] = APIRoute  # set by web_router to the error-translating one
    secure_cookies: bool = False  # cookies Secure even over http (IL2_SECURE_COOKIES)
    # a demo database (IL2_DEMO): the accounts (username, role) and password sign-in shows
    demo_accounts: tuple[tuple[str, str], ...] = ()
    demo_password: str = ""

    @property
    def rules(self) -> RuleSet:
        """The rule tables in force (field specs, regimens, permissions for navigation)."""
        return self.services.rules

    def can(self, actor: Actor | None, action: str) -> bool:
        """Whether to offer an action; the services still check every one."""
        return actor is not None and may(self.services, actor, action)

    def deidentified(self, actor: Actor | None) -> bool:
        """Whether pages show this actor de-identified records (dates as `day N`)."""
        return actor is not None and reads_deidentified_only(self.services, actor)

    def nav(self, actor: Actor | None) -> list[NavLink]:
        """The links a role can use."""
        if actor is None:
            return []
        links = [NavLink("/", "Home")]
        if self.can(actor, "patient.read") or self.can(actor, "patient.read_deidentified"):
            links.append(NavLink("/worklist", "Worklist"))
        if self.can(actor, "pharmacy.read"):
            links.append(NavLink("/pharmacy", "Preparation"))
            links.append(NavLink("/pharmacy/vials", "Vial use"))
        if self.can(actor, "schedule.read"):
            links.append(NavLink("/schedule", "Decisions and admissions"))
        if self.can(actor, "patient.create"):
            links.append(NavLink("/patients/new", "Register patient"))
        if self.can(actor, "users.manage") or self.can(actor, "audit.read"):
            links.append(NavLink("/admin", "Administration"))
        if self.can(actor, "study.read"):
            links.append(NavLink("/studies", "Studies"))
        if self.can(actor, "outcomes.read"):
            links.append(NavLink("/outcomes", "Outcomes"))
        if self.can(actor, "simulation.run"):
            links.append(NavLink("/research/simulator", "Simulator"))
        links.append(NavLink("/policy", "Site policy"))
        links.append(NavLink("/account", "My account"))
        return links

    def redisplay(self, view: FormView) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Mark a form's POST endpoint: on unusable input, show `view` with the message."""

        def mark(endpoint: Callable[..., Any]) -> Callable[..., Any]:
            self.redisplays[endpoint] = view
            return endpoint

        return mark

    def render(self, request: Request, template: str, **context: Any) -> str:
        """A template rendered with what every page shows (who is signed in, navigation)."""
        actor: Actor | None = getattr(request.state, "actor", None)
        rendering = _RENDERING.set(request)
        try:
            return self.templates.get_template(template).render(
                request=request,
                actor=actor,
                deidentified=self.deidentified(actor),
                nav=self.nav(actor),
                path=request.url.path,
                can=lambda action: self.can(actor, action),
                site=self.rules.site,
                demo_accounts=self.demo_accounts,
                demo_password=self.demo_password,
                **context,
            )
        finally:
            _RENDERING.reset(rendering)

    def page(
        self, request: Request, template: str, *, status: int = 200, **context: Any
    ) -> HTMLResponse:
        """An HTML answer; pages and htmx fragments alike."""
        return HTMLResponse(self.render(request, template, **context), status_code=status)


async def _read_form(request: Request) -> FormData:
    return await request.form()


# A POSTed form, read before the (synchronous) endpoint runs in the thread pool.
Form = Annotated[FormData, Depends(_read_form)]


def see_other(url: str) -> RedirectResponse:
    """After a successful POST: go to the page that shows the result (no resubmission)."""
    return RedirectResponse(url, status_code=303)


def is_htmx(request: Request) -> bool:
    """Whether htmx sent the request (answer a fragment, not a page)."""
    return request.headers.get("HX-Request") == "true"


def _static_versions() -> dict[str, str]:
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()[:12]
        for path in STATIC.iterdir()
        if path.is_file()
    }


def _moment(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        return datetime.fromisoformat(value)
    return None


def _shown_number(value: object) -> str:
    """A value as a page shows it: a dash for nothing, yes/no, numbers as `plain` writes them."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float | Decimal):
        return plain(Decimal(str(value)))
    return str(value)


def brief(value: object, limit: int = 240) -> str:
    """A record's fields in one short line (an audit entry's before and after)."""
    if not isinstance(value, Mapping):
        return str(value)[:limit]
    parts: list[str] = []
    size = 0
    for key, item in value.items():
        text = f"{key}: {item if not isinstance(item, Mapping | list) else '…'}"
        parts.append(text[:60])
        size += len(parts[-1])
        if size > limit:
            parts.append("…")
            break
    return "; ".join(parts)


class _Undefined(StrictUndefined):
    """Printing a missing name fails loudly; asking whether an optional key is set does not."""

    def __bool__(self) -> bool:  # type: ignore[override]  # StrictUndefined fails here
        return False


def templates(rules: RuleSet) -> Environment:
    """The Jinja2 environment: autoescaped, strict about undefined names, with il2's filters."""
    zone = rules.site.time_zone
    versions = _static_versions()

    @pass_context
    def when(context: Context, value: object, style: str = "long") -> str:
        moment = _moment(value)
        if moment is None:
            return "—"
        if context.get("deidentified"):  # a shifted record: the day only, never the hour
            return day_label(moment, zone) or "—"
        local = moment.astimezone(zone) if moment.tzinfo else moment
        if style == "time":
            return local.strftime("%H:%M")
        if style == "input":
            return local.strftime("%Y-%m-%dT%H:%M")
        return local.strftime("%a %-d %b %Y, %H:%M")

    @pass_context
    def day(context: Context, value: object) -> str:
        if isinstance(value, str) and value:
            value = date.fromisoformat(value[:10])
        if context.get("deidentified"):
            return day_label(value, zone) or "—"
        if isinstance(value, date):
            return value.strftime("%a %-d %b %Y")
        return "—"

    def static(name: str) -> str:
        return f"/static/{name}?v={versions.get(name, '0')}"

    def csrf_value() -> str:
        return csrf_token(_RENDERING.get())

    def csrf_input() -> Markup:
        return Markup('<input type="hidden" name="{}" value="{}">').format(CSRF_FIELD, csrf_value())

    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        undefined=_Undefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        when=when, day=day, words=words, number=_shown_number, label=label_for, brief=brief
    )
    env.globals.update(static=static, choices=choices, csrf_input=csrf_input, csrf_token=csrf_value)
    return env


def form_values(form: FormData | Mapping[str, str]) -> dict[str, Any]:
    """A form's values for redisplay: a list for repeated names (check boxes), else the text."""
    if isinstance(form, FormData):
        values: dict[str, Any] = {}
        for key in form:
            items = [v for v in form.getlist(key) if isinstance(v, str)]
            values[key] = items if len(items) > 1 else (items[0] if items else "")
        return values
    return dict(form)
