"""il2 launched from an EHR as a SMART app: the EHR's current patient opens in il2's chart.

SMART App Launch 2.2, EHR launch (https://hl7.org/fhir/smart-app-launch/app-launch.html),
as a public client with PKCE:

1. `GET /smart/launch?iss=&launch=`: `iss` must be one of the site's trusted EHRs (else il2
   would send browsers wherever a link told it: an open redirector); il2 reads
   `<iss>/.well-known/smart-configuration` (conformance.html) and sends the browser (302) to
   its `authorization_endpoint` with response_type=code, client_id, redirect_uri (il2's
   /smart/callback), launch, scope, state (256 random bits; the page asks 122 or more),
   aud=iss, and code_challenge (S256 of a random code_verifier, RFC 7636).
2. `GET /smart/callback?code=&state=`: the state must equal the one il2 put in this browser's
   launch cookie ("securely tied to the user's current session"); il2 trades the code for a
   token (grant_type=authorization_code, code, redirect_uri, client_id, code_verifier), takes
   the token response's `patient`, reads that Patient from the EHR with the token, and keeps
   its MRN (the identifier in the site's MRN system). The EHR's token is then dropped: il2
   reads its own records as the il2 user, never as the EHR's.
3. `GET /smart/open`: as the il2 user signed in in this browser (il2's own session; none:
   the sign-in page, coming back here), the il2 patient with that MRN, through the services
   (which check the role and audit the search): their chart, or a page saying the EHR's patient
   is not in the il2 program.

Why step 3 is a page of its own: il2's session cookie is SameSite=Strict, so a browser does
not send it on the navigation the EHR started (its redirect to /smart/callback). The callback
answers a page that moves on to /smart/open by itself (a meta refresh: the CSP allows no inline
script); that navigation starts on il2's own page, so the session cookie comes with it.

The launch cookie carries the state, the code_verifier and then the MRN between the steps,
signed (HMAC-SHA256 with `il2.bootstrap.launch_cookie_key`) so that any server process can
finish the flow and no one can forge it; HttpOnly, SameSite=Lax (it must come back on the
EHR's redirect), Secure over https, and valid for ten minutes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from html import escape
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import httpx
import orjson
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from il2.bootstrap import App, launch_cookie_key
from il2.domain.errors import InvalidInputError, PermissionDeniedError
from il2.domain.records import Actor
from il2.services.audit import audit_denial
from il2.services.ehr import ehr_mrn_system
from il2.services.patients import search_patients

SCOPE = "launch openid fhirUser patient/Patient.rs"
"""What il2 asks the EHR for: the launch context, who the EHR user is, and the Patient."""
CHART = "/patients/{id}"
"""il2's chart page of a patient (il2.web.pages.patients)."""
SIGN_IN = "/sign-in"
OPEN = "/smart/open"
COOKIE = "il2_smart"
COOKIE_SECURE = "__Host-il2_smart"
COOKIE_SECONDS = 600
HTTP_SECONDS = 10.0
_FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")  # FHIR's id datatype
_LONGEST_PARAMETER = 2000


class LaunchError(Exception):
    """The launch cannot go on: answered as a page with `status`, `title` and the sentence."""

    def __init__(self, status: int, title: str, message: str) -> None:
        self.status, self.title = status, title
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class SmartSite:
    """The site's SMART launch settings, from il2.config through the composition root."""

    client_id: str
    issuers: frozenset[str]
    mrn_system: str

    @classmethod
    def of(cls, app: App) -> SmartSite:
        """The settings `app` was built with."""
        settings = app.settings
        return cls(
            client_id=settings.smart_client_id,
            issuers=frozenset(_issuer(i) for i in settings.smart_issuers),
            mrn_system=ehr_mrn_system(app.services),
        )


def _issuer(url: str) -> str:
    return url.strip().rstrip("/")


def challenge_of(verifier: str) -> str:
    """The S256 code challenge of a code verifier (RFC 7636 section 4.2)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


# ---------------------------------------------------------------- the signed cookie


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def seal(key: bytes, content: Mapping[str, Any]) -> str:
    """`content` as cookie text: its JSON and an HMAC-SHA256 of it, both base64url."""
    body = orjson.dumps(dict(content))
    return f"{_b64(body)}.{_b64(hmac.new(key, body, hashlib.sha256).digest())}"


def unseal(key: bytes, text: str | None, *, now: float, stage: str) -> dict[str, Any] | None:
    """The cookie's content if il2 signed it, it is at `stage` and under ten minutes old."""
    if not text or text.count(".") != 1:
        return None
    body_text, signature = text.split(".")
    try:
        body, sent = _unb64(body_text), _unb64(signature)
    except ValueError:
        return None
    if not hmac.compare_digest(sent, hmac.new(key, body, hashlib.sha256).digest()):
        return None
    content = orjson.loads(body)  # il2 wrote it: JSON
    if not isinstance(content, dict) or content.get("stage") != stage:
        return None
    age = now - float(content.get("at", 0))
    return content if 0 <= age <= COOKIE_SECONDS else None


# ---------------------------------------------------------------- pages


def page(status: int, title: str, message: str) -> HTMLResponse:
    """A plain page of il2's (no script, every value escaped)."""
    return HTMLResponse(
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)} - '
        f"il2</title></head><body><main><h1>{escape(title)}</h1><p>{escape(message)}</p>"
        "</main></body></html>",
        status_code=status,
    )


def _moving_on() -> HTMLResponse:
    return HTMLResponse(
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="refresh" content="0; url={OPEN}"><title>Opening the chart - il2'
        f'</title></head><body><main><p><a href="{OPEN}">Open the chart in il2</a></p></main>'
        "</body></html>"
    )


# ---------------------------------------------------------------- talking to the EHR


def _absolute(url: object, what: str) -> str:
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in {"https", "http"} or not parts.netloc:
        raise LaunchError(502, "The EHR's answer is not usable", f"{what} is not an http(s) URL")
    return str(url)


def _json(answer: httpx.Response, what: str) -> dict[str, Any]:
    if answer.status_code != httpx.codes.OK:
        raise LaunchError(
            502, "The EHR refused", f"{what} answered HTTP {answer.status_code}; ask the EHR team"
        )
    try:
        found = answer.json()
    except ValueError:
        found = None
    if not isinstance(found, dict):
        raise LaunchError(502, "The EHR's answer is not usable", f"{what} is not a JSON object")
    return found


def _get(http: httpx.Client, url: str, what: str, **headers: str) -> dict[str, Any]:
    try:
        return _json(http.get(url, headers=headers), what)
    except httpx.HTTPError as failed:
        raise LaunchError(
            502, "The EHR did not answer", f"{what}: {type(failed).__name__}"
        ) from None


def _mrn(patient: Mapping[str, Any], system: str) -> str | None:
    """The value of the Patient's identifier in `system`, if it has one."""
    for identifier in patient.get("identifier") or []:
        if isinstance(identifier, dict) and identifier.get("system") == system:
            value = identifier.get("value")
            if isinstance(value, str) and value.strip():
                return value.strip()
    return None


# ---------------------------------------------------------------- the router


def _parameter(value: str | None, name: str) -> str:
    if not value or len(value) > _LONGEST_PARAMETER:
        raise LaunchError(400, "Not a launch", f"the EHR's request has no usable `{name}`")
    return value


def _answered(step: Callable[[], Response]) -> Response:
    """The step's answer, or the page saying why the launch cannot go on."""
    try:
        return step()
    except LaunchError as failed:
        return page(failed.status, failed.title, str(failed))


class Launcher:
    """The three steps of a launch over one il2 site (see the module's docstring)."""

    def __init__(
        self, app: App, web_actor: Callable[[Request], Actor | None], http: httpx.Client | None
    ) -> None:
        self.site = SmartSite.of(app)
        self.services = app.services
        self.web_actor = web_actor
        self._key = launch_cookie_key(app)
        self._http = http
        self._secure_cookies = app.settings.secure_cookies

    # -- the launch cookie

    def _secure(self, request: Request) -> bool:
        return self._secure_cookies or request.url.scheme == "https"

    def _cookie_name(self, request: Request) -> str:
        return COOKIE_SECURE if self._secure(request) else COOKIE

    def _keep(self, response: Response, request: Request, content: dict[str, Any]) -> None:
        content["at"] = self.services.clock().timestamp()
        response.set_cookie(
            self._cookie_name(request), seal(self._key, content), max_age=COOKIE_SECONDS,
            path="/", httponly=True, samesite="lax", secure=self._secure(request),
        )  # fmt: skip

    def _forget(self, response: Response, request: Request) -> None:
        response.delete_cookie(
            self._cookie_name(request), path="/", httponly=True, samesite="lax",
            secure=self._secure(request),
        )  # fmt: skip

    def _cookie(self, request: Request, stage: str) -> dict[str, Any]:
        found = unseal(
            self._key,
            request.cookies.get(self._cookie_name(request)),
            now=self.services.clock().timestamp(),
            stage=stage,
        )
        if found is None:
            raise LaunchError(
                400,
                "The launch has expired",
                "this browser holds no launch il2 started in the last ten minutes; "
                "open il2 from the EHR again",
            )
        return found

    @contextmanager
    def _client(self) -> Iterator[httpx.Client]:
        """The client to the EHRs: the one given, else one for this step (closed after)."""
        if self._http is not None:
            yield self._http
            return
        with httpx.Client(follow_redirects=False, timeout=HTTP_SECONDS) as http:
            yield http

    # -- step 1

    def _trusted(self, iss: str | None) -> str:
        issuer = _issuer(_parameter(iss, "iss"))
        if not self.site.client_id:
            raise LaunchError(
                503, "Not set up", "this il2 site has no SMART client id (IL2_SMART_CLIENT_ID)"
            )
        if issuer not in self.site.issuers:
            raise LaunchError(
                403,
                "Not a trusted EHR",
                f"{issuer[:200]} is not one of the EHRs this site trusts (IL2_SMART_ISSUERS)",
            )
        return issuer

    def start(self, request: Request, iss: str | None, launch: str | None) -> Response:
        """Step 1: check the EHR, read its configuration, then off to its authorization."""
        issuer = self._trusted(iss)
        context = _parameter(launch, "launch")
        with self._client() as http:
            found = _get(
                http,
                f"{issuer}/.well-known/smart-configuration",
                "the EHR's smart-configuration",
                Accept="application/json",
            )
        authorize = _absolute(found.get("authorization_endpoint"), "authorization_endpoint")
        token = _absolute(found.get("token_endpoint"), "token_endpoint")
        state, verifier = secrets.token_urlsafe(32), secrets.token_urlsafe(64)
        redirect_uri = str(request.url_for("smart_callback"))
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.site.client_id,
                "redirect_uri": redirect_uri,
                "launch": context,
                "scope": SCOPE,
                "state": state,
                "aud": issuer,
                "code_challenge": challenge_of(verifier),
                "code_challenge_method": "S256",
            }
        )
        response = RedirectResponse(
            f"{authorize}{'&' if '?' in authorize else '?'}{query}", status_code=302
        )
        self._keep(
            response,
            request,
            {"stage": "launch", "state": state, "verifier": verifier, "iss": issuer,
             "token": token, "redirect_uri": redirect_uri},
        )  # fmt: skip
        return response

    # -- step 2

    def _exchange(self, flow: dict[str, Any], code: str) -> tuple[str, str]:
        """The EHR's access token and patient in context for `code`."""
        try:
            with self._client() as http:
                answer = http.post(
                    flow["token"],
                    data={
                        "grant_type": "authorization_code",
                        "code": code,
                        "redirect_uri": flow["redirect_uri"],
                        "client_id": self.site.client_id,
                        "code_verifier": flow["verifier"],
                    },
                    headers={"Accept": "application/json"},
                )
        except httpx.HTTPError as failed:
            raise LaunchError(
                502, "The EHR did not answer", f"its token endpoint: {type(failed).__name__}"
            ) from None
        found = _json(answer, "the EHR's token endpoint")
        token, patient = found.get("access_token"), found.get("patient")
        if not isinstance(token, str) or not token:
            raise LaunchError(502, "The EHR's answer is not usable", "no access_token")
        if not isinstance(patient, str) or not _FHIR_ID.fullmatch(patient):
            raise LaunchError(
                422, "No patient in context", "the EHR launched il2 without a patient open"
            )
        return token, patient

    def finish(
        self, request: Request, code: str | None, state: str | None, error: str | None
    ) -> Response:
        """Step 2: check the state, trade the code, read the EHR's Patient and its MRN."""
        flow = self._cookie(request, "launch")
        if error is not None:
            raise LaunchError(403, "The EHR did not authorize il2", f"it answered {error[:80]}")
        sent = _parameter(state, "state")
        if not hmac.compare_digest(sent.encode(), str(flow["state"]).encode()):
            raise LaunchError(
                400, "Not this browser's launch", "the state does not match the launch"
            )
        token, patient_id = self._exchange(flow, _parameter(code, "code"))
        with self._client() as http:
            patient = _get(
                http,
                f"{flow['iss']}/Patient/{patient_id}",
                "the EHR's Patient",
                Accept="application/fhir+json",
                Authorization=f"Bearer {token}",
            )
        mrn = _mrn(patient, self.site.mrn_system)
        if patient.get("resourceType") != "Patient" or mrn is None:
            raise LaunchError(
                404,
                "Not in the il2 program",
                f"the EHR's patient has no record number in {self.site.mrn_system}, so il2 "
                "cannot find them",
            )
        response = _moving_on()
        self._keep(response, request, {"stage": "open", "iss": flow["iss"], "mrn": mrn})
        return response

    # -- step 3

    def open_chart(self, request: Request) -> Response:
        """Step 3: as the il2 user signed in here, the chart of the patient with that MRN."""
        mrn = str(self._cookie(request, "open")["mrn"])
        actor = self.web_actor(request)
        if actor is None:
            return RedirectResponse(f"{SIGN_IN}?next={quote(OPEN, safe='/')}", status_code=303)
        try:
            found = search_patients(self.services, actor, mrn)
        except PermissionDeniedError as refused:
            audit_denial(self.services, refused)
            raise LaunchError(403, "Not allowed", str(refused)) from None
        except InvalidInputError:  # an MRN il2's search cannot take is no MRN of il2's
            found = []
        same = [p for p in found if p["mrn"] == mrn]
        if not same:
            raise LaunchError(
                404,
                "Not in the il2 program",
                f"The EHR's patient (record number {mrn}) is not a patient of the il2 program "
                "at this site. Refer them in il2 first if they should be.",
            )
        response = RedirectResponse(CHART.format(id=same[0]["id"]), status_code=303)
        self._forget(response, request)
        return response


def create_smart(
    app: App,
    *,
    web_actor: Callable[[Request], Actor | None],
    http: httpx.Client | None = None,
) -> APIRouter:
    """The launch routes over `app`; `web_actor` says who is signed in to il2's pages in the
    request's browser (the web's session), `http` talks to the EHRs (tests pass an EHR)."""
    launcher = Launcher(app, web_actor, http)
    router = APIRouter(include_in_schema=False)

    @router.get("/smart/launch", name="smart_launch")
    def start(request: Request, iss: str | None = None, launch: str | None = None) -> Response:
        """Step 1 (the EHR opens this with `iss` and `launch`)."""
        return _answered(lambda: launcher.start(request, iss, launch))

    @router.get("/smart/callback", name="smart_callback")
    def callback(
        request: Request,
        code: str | None = None,
        state: str | None = None,
        error: str | None = None,
    ) -> Response:
        """Step 2 (the EHR's authorization sends the browser here)."""
        return _answered(lambda: launcher.finish(request, code, state, error))

    @router.get(OPEN, name="smart_open")
    def open_chart(request: Request) -> Response:
        """Step 3 (il2's own page moves on here)."""
        return _answered(lambda: launcher.open_chart(request))

    return router
