"""The browser's defences: the CSRF token, the origin check, secure cookies and the headers.

**CSRF token (double submit, per browser).** Every browser gets a random token (32 bytes from
`secrets`) in a cookie of its own, HttpOnly and SameSite=Strict, named with the `__Host-`
prefix when the cookie is Secure (so no other host of the domain can set or overwrite it).
Every form carries the same value in a hidden field (`{{ csrf_input() }}` inside the form);
htmx sends it as the `X-CSRF-Token` header (`hx-headers` on <body>). A POST, PUT, PATCH or
DELETE to a page is answered only when the submitted value equals the cookie's
(`hmac.compare_digest`). A page of another origin can make the browser send the cookie at
most, never read it, so it cannot fill the field. The token is not tied to the session on
purpose: sign-in needs it before there is a session (login CSRF), and forms open in other tabs
keep working after a new sign-in.

**Origin check.** Cookie tossing (a sibling host setting a cookie for the parent domain when
the site runs over plain http) could plant a token the attacker knows, so a state-changing
request is also refused when the browser says it comes from elsewhere: an `Origin` (else a
`Referer`) naming another origin than the request's own, or `Sec-Fetch-Site: cross-site` or
`same-site`. A request that carries none of these (not from a browser) is judged by the token.

**Headers.** `SecurityHeaders` adds to every answer (pages, API, static files, errors,
redirects) a Content-Security-Policy without inline script, X-Frame-Options: DENY,
X-Content-Type-Options: nosniff and Referrer-Policy: same-origin (no address, which can name
a patient, leaves for another site; `no-referrer` would also make Chromium send `Origin: null`
on il2's own forms, which the origin check must refuse); and Cache-Control: no-store
everywhere but /static and /health, since any other answer may hold patient data.
`style-src` allows inline styles: the plots are matplotlib SVG drawn inline, which styles its
shapes with `style` attributes and a `<style>` element. Inline style cannot run script, and
every value shown is escaped, so nothing a user typed becomes a style. The API documentation
(/docs, /redoc; il2/api/docs.py) is served from il2's own files, no inline script, no other
site: its policy is the site's, with `data:` images (the viewers' icons) and a `blob:` worker
(ReDoc's search) added. Those pages hold no patient data and the API takes no cookie.

**Secure cookies.** The session and CSRF cookies are Secure when the request came over https
(behind a proxy, uvicorn applies `X-Forwarded-Proto` only from the addresses `il2 serve
--forwarded-allow-ips` trusts), or always when the site sets IL2_SECURE_COOKIES.
"""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request, Response

SESSION_COOKIE = "il2_session"
_SESSION_COOKIE_SECURE = "__Host-il2_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
_CSRF_COOKIE = "il2_csrf"
_CSRF_COOKIE_SECURE = "__Host-il2_csrf"
_TOKEN_BYTES = 32
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{43}")
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_FOREIGN_FETCH_SITES = frozenset({"cross-site", "same-site"})

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)
DOCS_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; worker-src 'self' blob:; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
_DOCS_PATHS = frozenset({"/docs", "/redoc"})
_UNCACHED_EXCEPT = ("/static/", "/health", "/api-docs/")


def secure_request(request: Request) -> bool:
    """Whether cookies set in answer to `request` are Secure: it came over https (the
    proxy's word counts only from a trusted address), or the site forces Secure cookies."""
    forced = bool(getattr(request.state, "secure_cookies", False))
    return forced or request.url.scheme == "https"


def session_cookie(request: Request) -> str:
    """The session cookie's name: `__Host-` prefixed when Secure, so that no other host of the
    domain, and no page over plain http, can set or overwrite it (RFC 6265bis, cookie
    prefixes)."""
    return _SESSION_COOKIE_SECURE if secure_request(request) else SESSION_COOKIE


def _cookie_name(request: Request) -> str:
    return _CSRF_COOKIE_SECURE if secure_request(request) else _CSRF_COOKIE


def _cookie_token(request: Request) -> str | None:
    value = request.cookies.get(_cookie_name(request), "")
    return value if _TOKEN_SHAPE.fullmatch(value) else None


def csrf_token(request: Request) -> str:
    """This browser's CSRF token: the cookie's, or a new one (set by `keep_csrf_cookie`)."""
    token: str | None = getattr(request.state, "csrf_token", None)
    if token is None:
        token = _cookie_token(request)
        if token is None:
            token = secrets.token_urlsafe(_TOKEN_BYTES)
            request.state.csrf_new = True
        request.state.csrf_token = token
    return token


def keep_csrf_cookie(request: Request, response: Response) -> None:
    """Give the browser its token with any page's answer, when it did not have it yet (the
    token a page was rendered with, if it was)."""
    csrf_token(request)
    if not getattr(request.state, "csrf_new", False):
        return
    secure = secure_request(request)
    response.set_cookie(
        _CSRF_COOKIE_SECURE if secure else _CSRF_COOKIE,
        request.state.csrf_token,
        path="/",
        httponly=True,
        samesite="strict",
        secure=secure,
    )


def _origin(url: str) -> str | None:
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def foreign_origin(request: Request) -> str | None:
    """Why a state-changing request comes from another origin than the app's, if it does."""
    own = f"{request.url.scheme}://{request.url.netloc}".lower()
    fetch_site = request.headers.get("Sec-Fetch-Site", "").lower()
    if fetch_site in _FOREIGN_FETCH_SITES:
        return f"the browser says the request came from a {fetch_site} page"
    origin = request.headers.get("Origin")
    if origin is not None:
        if origin.lower() != own:
            return f"the request came from {origin[:100]!r}, not from {own!r}"
        return None
    referer = request.headers.get("Referer")
    if referer is not None and _origin(referer) != own:
        return f"the request came from a page outside {own!r}"
    return None


async def csrf_refusal(request: Request) -> str | None:
    """Why a state-changing request to a page must be refused, if it must: another origin, or
    no CSRF token matching this browser's cookie (in the form field or the htmx header)."""
    if request.method not in UNSAFE_METHODS:
        return None
    foreign = foreign_origin(request)
    if foreign is not None:
        return f"Refused: {foreign}. Open the form in il2 itself and submit it again."
    expected = _cookie_token(request)
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and _is_form(request):
        value = (await request.form()).get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if expected is None or sent is None or not hmac.compare_digest(sent, expected):
        return (
            "Refused: the form's security token (csrf_token) is missing or does not match "
            "this browser's. Reload the page and submit the form again."
        )
    return None


def _is_form(request: Request) -> bool:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return kind in {"application/x-www-form-urlencoded", "multipart/form-data"}


# --- Headers on every answer -----------------------------------------------------------------

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def security_headers(path: str, policy: str = CONTENT_SECURITY_POLICY) -> list[tuple[str, str]]:
    """The headers every answer at `path` carries."""
    headers = [
        ("content-security-policy", policy),
        ("x-frame-options", "DENY"),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "same-origin"),
    ]
    if not path.startswith(_UNCACHED_EXCEPT):
        headers.append(("cache-control", "no-store"))
    return headers


def _with(message: Message, added: list[tuple[str, str]]) -> Message:
    names = {name for name, _ in added}
    kept = [
        (k, v) for k, v in message.get("headers", []) if k.decode("latin-1").lower() not in names
    ]
    message["headers"] = kept + [(k.encode("latin-1"), v.encode("latin-1")) for k, v in added]
    return message


class SecurityHeaders:
    """ASGI middleware: the browser security headers on every HTTP answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; add the headers to the answer's start."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        policy = DOCS_POLICY if path in _DOCS_PATHS else CONTENT_SECURITY_POLICY

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = _with(message, security_headers(path, policy))
            await send(message)

        await self.app(scope, receive, send_with_headers)
