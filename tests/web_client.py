"""A test client that submits il2's forms as its pages do: with the browser's CSRF token.

The web refuses a state-changing request without the token from the browser's CSRF cookie
(il2.web.defences). A page carries it in each form and in htmx's header; tests that post forms
directly send the header as htmx would, taking the value from the cookie jar (a page of
another site cannot do that: the cookie is HttpOnly and never readable across origins).
"""

from __future__ import annotations

import warnings
from typing import Any

import httpx

from il2.web.defences import CSRF_HEADER, UNSAFE_METHODS

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

_CSRF_COOKIES = ("il2_csrf", "__Host-il2_csrf")


class FormClient(TestClient):
    """TestClient sending the CSRF header on every state-changing request to a page."""

    def request(self, method: str, url: httpx.URL | str, **kwargs: Any) -> httpx.Response:  # type: ignore[override]
        """The request; a POST, PUT, PATCH or DELETE outside /api carries the CSRF token."""
        path = httpx.URL(str(url)).path
        if method.upper() in UNSAFE_METHODS and not path.startswith("/api"):
            headers = dict(kwargs.pop("headers", None) or {})
            if not any(name.lower() == CSRF_HEADER.lower() for name in headers):
                headers[CSRF_HEADER] = self.csrf_token()
            kwargs["headers"] = headers
        return super().request(method, url, **kwargs)

    def csrf_token(self) -> str:
        """This client's CSRF token, fetched with a page first if it has none yet."""
        for name in _CSRF_COOKIES:
            if name in self.cookies:
                return str(self.cookies[name])
        super().request("GET", "/sign-in")
        return next(str(self.cookies[name]) for name in _CSRF_COOKIES if name in self.cookies)
