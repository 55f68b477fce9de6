"""Security review D5, D6 and D18: the browser's defences, over the assembled server.

D5: a form posted without this browser's CSRF token, or from another origin, is refused 403
and stores nothing; sign-in too (login CSRF). D6: every answer carries the security headers,
and those that can hold patient data are not cached. D18: cookies are Secure over https or
when the site forces it. The API (bearer tokens) needs no CSRF token and takes no cookie.
"""

from __future__ import annotations

import dataclasses
import re
import warnings
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from tests.integration.builders import PASSWORD, PATIENT, staff
from tests.web_client import FormClient

from il2.bootstrap import App
from il2.server import create_server
from il2.web.defences import CONTENT_SECURITY_POLICY, CSRF_HEADER, DOCS_POLICY

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

FORM = {**PATIENT, "mrn": "MRN-FORGED", "name": "Forged By CSRF"}
HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}


@pytest.fixture
def web(app: App) -> Iterator[FormClient]:
    staff(app)
    with FormClient(create_server(app), follow_redirects=False) as client:
        yield client


def signed_in(web: FormClient, username: str = "coordinator") -> FormClient:
    answer = web.post("/sign-in", data={"username": username, "password": PASSWORD})
    assert answer.status_code == 303
    return web


def patients(app: App) -> int:
    with app.engine.connect() as connection:
        return int(connection.execute(sa.text("SELECT count(*) FROM patients")).scalar_one())


def forged(web: FormClient, path: str, data: dict[str, str], **headers: str) -> int:
    """A POST as another site's page makes it: the browser's cookies, no token read."""
    return TestClient.request(web, "POST", path, data=data, headers=headers).status_code


def bearer(web: FormClient, username: str = "coordinator") -> dict[str, str]:
    answer = web.post("/api/token", json={"username": username, "password": PASSWORD})
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def test_a_form_posted_without_the_token_is_refused_stores_nothing_and_is_audited(
    web: FormClient, app: App
) -> None:
    signed_in(web)
    refused = TestClient.request(web, "POST", "/patients", data=FORM)
    assert refused.status_code == 403
    assert "security token (csrf_token)" in refused.text
    assert forged(web, "/patients", {**FORM, "csrf_token": "x" * 43}) == 403
    assert patients(app) == 0
    denied = web.get("/api/audit", params={"action": "deny"}, headers=bearer(web, "administrator"))
    assert [(e["username"], e["entity_id"]) for e in denied.json()["entries"]] == [
        ("coordinator", "csrf.check"),
        ("coordinator", "csrf.check"),
    ]
    token = web.csrf_token()
    made = TestClient.request(web, "POST", "/patients", data={**FORM, "csrf_token": token})
    assert made.status_code == 303
    assert patients(app) == 1


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://127.0.0.1:8104"},
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Referer": "https://evil.example/x.html"},
        {"Sec-Fetch-Site": "same-site"},
        {"Sec-Fetch-Site": "cross-site", "Origin": "http://testserver"},
    ],
)
def test_a_form_from_another_origin_is_refused_even_with_the_token(
    web: FormClient, app: App, headers: dict[str, str]
) -> None:
    signed_in(web)
    answer = web.post("/patients", data=FORM, headers=headers)
    assert answer.status_code == 403
    assert "Refused: the" in answer.text
    assert patients(app) == 0


def test_a_form_from_the_app_itself_is_answered(web: FormClient, app: App) -> None:
    signed_in(web)
    own = {"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"}
    assert web.post("/patients", data=FORM, headers=own).status_code == 303
    assert patients(app) == 1


def test_sign_in_and_sign_out_without_the_token_are_refused(web: FormClient) -> None:
    """Login CSRF: another site cannot sign this browser in as the attacker."""
    credentials = {"username": "coordinator", "password": PASSWORD}
    refused = TestClient.request(web, "POST", "/sign-in", data=credentials)
    assert refused.status_code == 403
    assert "il2_session" not in refused.headers.get("set-cookie", "")
    signed_in(web)
    assert forged(web, "/sign-out", {}) == 403
    assert web.get("/worklist").status_code == 200  # still signed in


def test_every_kind_of_answer_carries_the_security_headers(web: FormClient) -> None:
    signed_in(web)
    patient = web.post("/api/patients", json=PATIENT, headers=bearer(web)).json()["id"]
    answers = {
        "page": web.get(f"/patients/{patient}"),
        "api": web.get(f"/api/patients/{patient}", headers=bearer(web)),
        "error page": web.get("/patients/999999"),
        "api error": web.get("/api/patients/999999", headers=bearer(web)),
        "unrouted": web.get("/no-such-page"),
        "refusal": web.post("/patients", data=FORM, headers={"Origin": "https://evil.example"}),
        "static": web.get("/static/il2.css"),
        "health": web.get("/health"),
    }
    web.cookies.clear()
    answers["redirect"] = web.get("/worklist")
    assert answers["redirect"].status_code == 303
    assert answers["error page"].status_code == 404
    for kind, answer in answers.items():
        assert {name: answer.headers.get(name) for name in HEADERS} == HEADERS, kind
    cached = {kind for kind, answer in answers.items() if "no-store" not in answer.headers.get(
        "cache-control", "")}  # fmt: skip
    assert cached == {"static", "health"}
    assert answers["refusal"].status_code == 403


def test_no_page_has_inline_script_and_htmx_adds_no_inline_style(web: FormClient) -> None:
    signed_in(web, "physician")
    page = web.get("/worklist").text
    tags = re.findall(r"<script\b[^>]*>", page)
    assert tags
    assert all(" src=" in tag for tag in tags)
    assert re.search(r"<script[^>]*>(?!</script>)", page) is None  # nothing between the tags
    assert '"includeIndicatorStyles":false' in page


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_the_api_documentation_is_served_offline_from_this_server(
    web: FormClient, path: str
) -> None:
    page = web.get(path)
    assert page.status_code == 200
    assert page.headers["content-security-policy"] == DOCS_POLICY
    assert "script-src 'self';" in DOCS_POLICY  # no CDN, no inline script, no hash
    assert "http" not in DOCS_POLICY
    assert re.search(r"<script[^>]*>(?!</script>)", page.text) is None  # no inline script
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert any(asset.endswith(".js") for asset in assets)
    for asset in assets:
        assert asset.startswith("/"), asset  # same origin
        assert not asset.startswith("//"), asset
        answer = web.get(asset)
        assert answer.status_code == 200, asset
        assert len(answer.content) > 100, asset
    assert web.get("/openapi.json").status_code == 200


def test_the_api_takes_a_bearer_token_without_csrf_and_never_a_cookie(web: FormClient) -> None:
    signed_in(web)
    assert web.get("/api/patients/1").status_code == 401  # the session cookie is not enough
    made = TestClient.request(web, "POST", "/api/patients", json=PATIENT, headers=bearer(web))
    assert made.status_code == 201


def test_cookies_are_secure_over_https(app: App) -> None:
    staff(app)
    with FormClient(
        create_server(app), base_url="https://il2.example", follow_redirects=False
    ) as web:
        page = web.get("/sign-in")
        assert "__Host-il2_csrf=" in page.headers["set-cookie"]
        assert "secure" in page.headers["set-cookie"].lower()
        signed_in(web)  # with the __Host- token
        assert "__Host-il2_csrf" in web.cookies


def test_the_site_can_force_secure_cookies_over_http(app: App) -> None:
    staff(app)
    forced = dataclasses.replace(
        app, settings=dataclasses.replace(app.settings, secure_cookies=True)
    )
    with FormClient(create_server(forced), follow_redirects=False) as web:
        page = web.get("/sign-in")
        assert re.search(r"__Host-il2_csrf=[^;]+;.*[Ss]ecure", page.headers["set-cookie"])
        token = re.search(r"__Host-il2_csrf=([^;]+)", page.headers["set-cookie"])
        assert token is not None
        answer = TestClient.request(
            web, "POST", "/sign-in",
            data={"username": "coordinator", "password": PASSWORD},
            headers={CSRF_HEADER: token.group(1), "Cookie": f"__Host-il2_csrf={token.group(1)}"},
        )  # fmt: skip
        assert answer.status_code == 303
        session = [c for c in answer.headers.get_list("set-cookie") if "il2_session=" in c]
        assert len(session) == 1
        assert session[0].startswith("__Host-il2_session="), session[0]
        assert "secure" in session[0].lower()
