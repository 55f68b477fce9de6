"""SMART: scopes on il2's own tokens, il2's smart-configuration, and il2 launched from an EHR.

Specification: SMART App Launch 2.2 (https://hl7.org/fhir/smart-app-launch/app-launch.html,
scopes-and-launch-context.html, conformance.html).

The EHR launch runs against `Ehr`, a small EHR written here (its FHIR base's
smart-configuration, an authorization endpoint that redirects back with a code, a token
endpoint that checks the PKCE code_verifier against the S256 challenge and answers the patient
in context, and Patient reads with the bearer token), reached in process through
`create_server(..., ehr_http=...)`. A double because no open SMART authorization server
installs from the package registries on this machine; it checks what a real one must
(app-launch.html, steps 4 and 5) so that il2's requests are held to the specification.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import secrets
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from fastapi import FastAPI, Form, Header, Request
from fastapi.responses import JSONResponse, RedirectResponse
from fhir.resources.R4B.condition import Condition
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.patient import Patient as FhirPatient

from il2.bootstrap import App
from il2.interop.fhir.model import MRN_SYSTEM
from il2.server import create_server
from il2.services.accounts import add_user
from tests.integration.builders import PASSWORD, PATIENT
from tests.integration.conftest import FixedClock
from tests.web_client import FormClient

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

ISS = "https://ehr.example/fhir"
CLIENT_ID = "il2-at-ehr"
CALLBACK = "http://testserver/smart/callback"
MRN = "MRN-0042"


# ---------------------------------------------------------------- scopes on il2's tokens


def _account(app: App, role: str) -> None:
    """One account of `role` (argon2 makes each slow: only the ones a test uses)."""
    add_user(app.services, None, username=role, display_name=role, role=role, password=PASSWORD)


@pytest.fixture
def facade(app: App) -> Iterator[tuple[TestClient, int]]:
    _account(app, "physician")
    with TestClient(create_server(app)) as client:
        answer = client.post(
            "/api/patients", json={**PATIENT, "mrn": MRN}, headers=_bearer(client, None)
        )
        assert answer.status_code == 201, answer.text
        yield client, answer.json()["id"]


def _token(client: TestClient, scope: str | None, role: str = "physician") -> Any:
    body = {"username": role, "password": PASSWORD}
    if scope is not None:
        body["scope"] = scope
    return client.post("/api/token", json=body)


def _bearer(client: TestClient, scope: str | None) -> dict[str, str]:
    answer = _token(client, scope)
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def test_a_token_asked_with_a_scope_echoes_it(facade: tuple[TestClient, int]) -> None:
    answer = _token(facade[0], "user/Patient.rs  user/Condition.read user/Patient.rs")
    assert answer.status_code == 200, answer.text
    assert answer.json()["scope"] == "user/Patient.rs user/Condition.read"


def test_a_patient_scope_reads_the_patient_but_may_not_search_observations(
    facade: tuple[TestClient, int],
) -> None:
    client, patient_id = facade
    headers = _bearer(client, "user/Patient.rs")
    read = client.get(f"/fhir/Patient/{patient_id}", headers=headers)
    assert read.status_code == 200, read.text
    FhirPatient.model_validate(read.json())
    refused = client.get(f"/fhir/Condition?patient=Patient/{patient_id}", headers=headers)
    assert refused.status_code == 403
    issue = OperationOutcome.model_validate(refused.json()).issue[0]
    assert issue.code == "forbidden"
    assert "user/Condition.s" in (issue.diagnostics or "")


def test_an_observation_scope_may_not_read_the_patient(facade: tuple[TestClient, int]) -> None:
    client, patient_id = facade
    headers = _bearer(client, "user/Condition.rs")
    found = client.get(f"/fhir/Condition?patient=Patient/{patient_id}", headers=headers)
    assert found.status_code == 200, found.text
    Condition.model_validate(found.json()["entry"][0]["resource"])
    refused = client.get(f"/fhir/Patient/{patient_id}", headers=headers)
    assert refused.status_code == 403
    assert "user/Patient.r" in refused.json()["issue"][0]["diagnostics"]


def test_a_read_only_scope_may_not_search(facade: tuple[TestClient, int]) -> None:
    client, patient_id = facade
    headers = _bearer(client, "user/Patient.r")
    assert client.get(f"/fhir/Patient/{patient_id}", headers=headers).status_code == 200
    assert client.get("/fhir/Patient", headers=headers).status_code == 403


def test_an_include_of_a_type_the_scope_does_not_grant_is_refused(
    facade: tuple[TestClient, int],
) -> None:
    client, patient_id = facade
    headers = _bearer(client, "user/Condition.rs")
    query = f"patient=Patient/{patient_id}&_include=Condition:patient"
    assert client.get(f"/fhir/Condition?{query}", headers=headers).status_code == 403
    both = _bearer(client, "user/Condition.rs user/Patient.s")
    assert client.get(f"/fhir/Condition?{query}", headers=both).status_code == 200


def test_a_token_without_scope_reads_what_the_role_allows(facade: tuple[TestClient, int]) -> None:
    client, patient_id = facade
    headers = _bearer(client, None)
    assert _token(client, None).json()["scope"] is None
    assert client.get(f"/fhir/Patient/{patient_id}", headers=headers).status_code == 200
    found = client.get(f"/fhir/Condition?patient=Patient/{patient_id}", headers=headers)
    assert found.status_code == 200


def test_a_wildcard_scope_never_widens_the_role(app: App, facade: tuple[TestClient, int]) -> None:
    client, patient_id = facade
    _account(app, "pharmacist")
    answer = _token(client, "user/*.cruds", role="pharmacist")
    assert answer.status_code == 200
    headers = {"Authorization": f"Bearer {answer.json()['access_token']}"}
    without = {
        "Authorization": f"Bearer {_token(client, None, 'pharmacist').json()['access_token']}"
    }
    scoped = client.get(f"/fhir/Patient/{patient_id}", headers=headers).status_code
    assert scoped == client.get(f"/fhir/Patient/{patient_id}", headers=without).status_code


@pytest.mark.parametrize(
    "scope",
    [
        "user/Patient.sr",
        "patient/*.rs",
        "openid fhirUser",
        "user/Condition.rs?category=laboratory",
        "",
        "garbage",
    ],
)
def test_an_unusable_scope_is_refused_naming_the_field(
    facade: tuple[TestClient, int], scope: str
) -> None:
    answer = _token(facade[0], scope)
    assert answer.status_code == 422, answer.text
    assert answer.json()["field"] == "scope"


def test_the_smart_configuration_has_the_required_fields_and_claims_only_the_truth(
    facade: tuple[TestClient, int],
) -> None:
    client, patient_id = facade
    answer = client.get("/fhir/.well-known/smart-configuration", headers={"Accept": "text/html"})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/json")
    found = answer.json()
    # REQUIRED in conformance.html#metadata
    for name in ("token_endpoint", "grant_types_supported", "capabilities"):
        assert name in found
    assert "code_challenge_methods_supported" in found
    assert "plain" not in found["code_challenge_methods_supported"]
    assert found["token_endpoint"] == "http://testserver/api/token"  # noqa: S105 - a URL
    # what il2 does not do, it does not say: no launch, so no authorization endpoint; no SSO
    assert set(found["grant_types_supported"]) <= {"authorization_code", "client_credentials"}
    assert not {"launch-ehr", "launch-standalone", "sso-openid-connect"} & set(
        found["capabilities"]
    )
    assert "authorization_endpoint" not in found
    assert "issuer" not in found
    # every scope it lists, il2 takes (the page: "The server SHALL support all scopes listed")
    every = _token(client, " ".join(found["scopes_supported"]))
    assert every.status_code == 200, every.text
    headers = {"Authorization": f"Bearer {every.json()['access_token']}"}
    assert client.get(f"/fhir/Patient/{patient_id}", headers=headers).status_code == 200


# ---------------------------------------------------------------- the EHR launch


def s256(verifier: str) -> str:
    """RFC 7636 section 4.2, written here apart from il2's own."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")


@dataclass
class Ehr:
    """A small SMART EHR: one launch, one patient in context, tokens checked like a real one's."""

    mrn: str = MRN
    launches: dict[str, str] = field(default_factory=lambda: {"launch-1": "ehr-patient-7"})
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)

    def asgi(self) -> FastAPI:
        ehr = FastAPI()

        @ehr.middleware("http")
        async def count(request: Request, call_next: Any) -> Any:
            self.calls.append(request.url.path)
            return await call_next(request)

        @ehr.get("/fhir/.well-known/smart-configuration")
        def configuration() -> dict[str, Any]:
            return {
                "authorization_endpoint": "https://ehr.example/auth/authorize",
                "token_endpoint": "https://ehr.example/auth/token",
                "grant_types_supported": ["authorization_code"],
                "code_challenge_methods_supported": ["S256"],
                "capabilities": ["launch-ehr", "client-public", "context-ehr-patient"],
            }

        @ehr.get("/auth/authorize")
        def authorize(request: Request) -> Any:
            asked = dict(request.query_params)
            problems = [
                asked.get("response_type") != "code",
                asked.get("client_id") != CLIENT_ID,
                asked.get("redirect_uri") != CALLBACK,
                asked.get("launch") not in self.launches,
                "launch" not in asked.get("scope", "").split(),
                asked.get("aud") != ISS,
                asked.get("code_challenge_method") != "S256",
                len(asked.get("code_challenge", "")) != 43,
                not asked.get("state"),
            ]
            if any(problems):
                return JSONResponse({"error": "invalid_request"}, status_code=400)
            code = secrets.token_urlsafe(16)
            self.codes[code] = {**asked, "patient": self.launches[asked["launch"]]}
            back = urlencode({"code": code, "state": asked["state"]})
            return RedirectResponse(f"{asked['redirect_uri']}?{back}", status_code=302)

        @ehr.post("/auth/token")
        def token(
            grant_type: Annotated[str, Form()],
            code: Annotated[str, Form()],
            redirect_uri: Annotated[str, Form()],
            client_id: Annotated[str, Form()],
            code_verifier: Annotated[str, Form()],
        ) -> Any:
            issued = self.codes.pop(code, None)
            if (
                grant_type != "authorization_code"
                or issued is None
                or redirect_uri != issued["redirect_uri"]
                or client_id != issued["client_id"]
                or s256(code_verifier) != issued["code_challenge"]
            ):
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
            access = secrets.token_urlsafe(16)
            self.tokens[access] = issued["patient"]
            return {
                "access_token": access,
                "token_type": "Bearer",
                "expires_in": 300,
                "scope": issued["scope"],
                "patient": issued["patient"],
            }

        @ehr.get("/fhir/Patient/{patient_id}")
        def patient(patient_id: str, authorization: Annotated[str, Header()] = "") -> Any:
            if self.tokens.get(authorization.removeprefix("Bearer ")) != patient_id:
                return JSONResponse({"resourceType": "OperationOutcome"}, status_code=401)
            resource = {
                "resourceType": "Patient",
                "id": patient_id,
                "identifier": [
                    {"system": "urn:oid:2.16.840.1.113883.19.5", "value": "OTHER-1"},
                    {"system": MRN_SYSTEM, "value": self.mrn},
                ],
            }
            FhirPatient.model_validate(resource)
            return resource

        return ehr


@dataclass
class Launch:
    """il2 (as a browser would reach it) and the EHR, with the patient il2 knows."""

    il2: FormClient
    ehr: TestClient
    double: Ehr
    patient_id: int
    clock: FixedClock

    def start(self, iss: str = ISS) -> Any:
        return self.il2.get(
            "/smart/launch", params={"iss": iss, "launch": "launch-1"}, follow_redirects=False
        )

    def authorize(self, location: str) -> str:
        answer = self.ehr.get(location, follow_redirects=False)
        assert answer.status_code == 302, answer.text
        return answer.headers["location"]

    def to_callback(self) -> str:
        started = self.start()
        assert started.status_code == 302, started.text
        return self.authorize(started.headers["location"])

    def sign_in(self, next_page: str = "/") -> Any:
        return self.il2.post(
            "/sign-in",
            data={"username": "physician", "password": PASSWORD, "next": next_page},
            follow_redirects=False,
        )


def _cookie_content(client: TestClient) -> dict[str, Any]:
    """The launch cookie's content: signed, not secret, so the test can read it."""
    body = str(client.cookies["il2_smart"]).split(".")[0]
    return dict(json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))))


@pytest.fixture
def launch(app: App, clock: FixedClock) -> Iterator[Launch]:
    _account(app, "physician")
    settings = dataclasses.replace(
        app.settings, smart_client_id=CLIENT_ID, smart_issuers=(ISS + "/",)
    )
    double = Ehr()
    with TestClient(double.asgi(), base_url="https://ehr.example") as ehr:
        server = create_server(dataclasses.replace(app, settings=settings), ehr_http=ehr)
        with FormClient(server) as il2:
            answer = il2.post(
                "/api/patients",
                json={**PATIENT, "mrn": MRN},
                headers=_bearer(il2, None),
            )
            assert answer.status_code == 201, answer.text
            yield Launch(il2, ehr, double, answer.json()["id"], clock)


def test_the_launch_redirect_carries_every_parameter_and_a_correct_s256_challenge(
    launch: Launch,
) -> None:
    started = launch.start()
    assert started.status_code == 302
    target = urlsplit(started.headers["location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == "https://ehr.example/auth/authorize"
    asked = {name: values[0] for name, values in parse_qs(target.query).items()}
    assert asked["response_type"] == "code"
    assert asked["client_id"] == CLIENT_ID
    assert asked["redirect_uri"] == CALLBACK
    assert asked["launch"] == "launch-1"
    assert asked["scope"] == "launch openid fhirUser patient/Patient.rs"
    assert asked["aud"] == ISS
    assert asked["code_challenge_method"] == "S256"
    kept = _cookie_content(launch.il2)
    assert asked["state"] == kept["state"]
    assert len(asked["state"]) >= 22  # 122 bits or more, as base64url
    assert 43 <= len(kept["verifier"]) <= 128  # RFC 7636 section 4.1
    assert asked["code_challenge"] == s256(kept["verifier"])
    cookie = started.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=lax" in cookie


def test_a_signed_in_user_ends_on_the_chart_of_the_ehrs_patient(launch: Launch) -> None:
    assert launch.sign_in().status_code == 303
    moving = launch.il2.get(launch.to_callback())
    assert moving.status_code == 200, moving.text
    assert 'http-equiv="refresh"' in moving.text
    opened = launch.il2.get("/smart/open", follow_redirects=False)
    assert opened.status_code == 303, opened.text
    assert opened.headers["location"] == f"/patients/{launch.patient_id}"
    chart = launch.il2.get(opened.headers["location"])
    assert chart.status_code == 200
    assert MRN in chart.text
    assert "il2_smart" not in launch.il2.cookies  # the launch is over


def test_a_signed_out_browser_goes_to_sign_in_and_then_to_the_chart(launch: Launch) -> None:
    launch.il2.get(launch.to_callback())
    opened = launch.il2.get("/smart/open", follow_redirects=False)
    assert opened.status_code == 303
    assert opened.headers["location"] == "/sign-in?next=/smart/open"
    signed = launch.sign_in(next_page="/smart/open")
    assert signed.headers["location"] == "/smart/open"
    chart = launch.il2.get("/smart/open", follow_redirects=False)
    assert chart.headers["location"] == f"/patients/{launch.patient_id}"


def test_a_patient_not_in_the_program_gets_a_clear_page(launch: Launch) -> None:
    launch.double.mrn = "MRN-9999"
    launch.sign_in()
    launch.il2.get(launch.to_callback())
    page = launch.il2.get("/smart/open", follow_redirects=False)
    assert page.status_code == 404
    assert "not a patient of the il2 program" in page.text
    assert "MRN-9999" in page.text


def test_a_tampered_state_is_refused_before_the_code_is_traded(launch: Launch) -> None:
    callback = urlsplit(launch.to_callback())
    query = {name: values[0] for name, values in parse_qs(callback.query).items()}
    forged = urlencode({**query, "state": query["state"][:-2] + "xx"})
    answer = launch.il2.get(f"/smart/callback?{forged}")
    assert answer.status_code == 400
    assert "state does not match" in answer.text
    assert "/auth/token" not in launch.double.calls


def test_a_forged_launch_cookie_is_refused(launch: Launch) -> None:
    callback = launch.to_callback()
    body, signature = str(launch.il2.cookies["il2_smart"]).split(".")
    launch.il2.cookies.set("il2_smart", f"{body}.{signature[::-1]}")
    assert launch.il2.get(callback).status_code == 400
    assert "/auth/token" not in launch.double.calls


def test_a_launch_older_than_ten_minutes_is_refused(launch: Launch) -> None:
    callback = launch.to_callback()
    launch.clock.now += timedelta(minutes=11)
    answer = launch.il2.get(callback)
    assert answer.status_code == 400
    assert "expired" in answer.text


def test_an_untrusted_iss_is_refused_without_asking_it_anything(launch: Launch) -> None:
    answer = launch.start(iss="https://evil.example/fhir")
    assert answer.status_code == 403
    assert "not one of the EHRs this site trusts" in answer.text
    assert "location" not in answer.headers
    assert launch.double.calls == []


def test_the_ehr_double_refuses_a_wrong_code_verifier(launch: Launch) -> None:
    callback = parse_qs(urlsplit(launch.to_callback()).query)
    answer = launch.ehr.post(
        "/auth/token",
        data={
            "grant_type": "authorization_code",
            "code": callback["code"][0],
            "redirect_uri": CALLBACK,
            "client_id": CLIENT_ID,
            "code_verifier": secrets.token_urlsafe(64),
        },
    )
    assert answer.status_code == 400
