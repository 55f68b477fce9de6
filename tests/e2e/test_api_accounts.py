"""The API takes access away at once: sign-out elsewhere, deactivation, role change, expiry."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi import FastAPI
from tests.integration.builders import PASSWORD, staff
from tests.integration.conftest import FixedClock

from il2.api.app import create_api
from il2.bootstrap import App
from il2.services.accounts import sign_out
from il2.web.app import web_router

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

from tests.e2e.test_api import sign_in
from tests.web_client import FormClient

NEW_PASSWORD = "a different long secret"  # noqa: S105 - a test account's password


@pytest.fixture
def client(app: App) -> Iterator[TestClient]:
    """The API over a migrated database with one user of every role."""
    staff(app)
    with TestClient(create_api(app)) as test_client:
        yield test_client


def _token(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


def test_a_sign_out_elsewhere_ends_the_token_on_the_next_request(
    client: TestClient, app: App
) -> None:
    nurse = sign_in(client, "nurse")
    assert client.get("/api/worklist", headers=nurse).status_code == 200
    assert sign_out(app.services, _token(nurse))  # as the web's sign-out form does
    assert client.get("/api/worklist", headers=nurse).status_code == 401


def test_an_expired_token_stops_at_once(client: TestClient, clock: FixedClock) -> None:
    nurse = sign_in(client, "nurse")
    assert client.get("/api/worklist", headers=nurse).status_code == 200
    clock.now += timedelta(hours=12, seconds=1)
    assert client.get("/api/worklist", headers=nurse).status_code == 401


def test_deactivation_and_role_change_apply_on_the_next_request(client: TestClient) -> None:
    admin, nurse, physician = (sign_in(client, u) for u in ("administrator", "nurse", "physician"))
    assert client.get("/api/worklist", headers=nurse).status_code == 200

    answer = client.post("/api/users/nurse/deactivate", headers=admin)
    assert answer.status_code == 200, answer.text
    assert answer.json()["active"] is False
    assert client.get("/api/worklist", headers=nurse).status_code == 401
    refused = client.post("/api/token", json={"username": "nurse", "password": "x" * 12})
    assert refused.status_code == 401

    answer = client.post("/api/users/physician/role", headers=admin, json={"role": "researcher"})
    assert answer.json()["role"] == "researcher"
    assert client.get("/api/worklist", headers=physician).status_code == 401
    assert client.post("/api/users/nurse/reactivate", headers=admin).json()["active"] is True


def test_account_changes_need_an_administrator_and_keep_one(client: TestClient) -> None:
    admin, nurse = sign_in(client, "administrator"), sign_in(client, "nurse")
    assert client.post("/api/users/nurse2/deactivate", headers=nurse).status_code == 403
    last = client.post("/api/users/administrator/deactivate", headers=admin)
    assert last.status_code == 409
    assert "last active administrator" in last.json()["message"]
    assert client.post("/api/users/nobody/deactivate", headers=admin).status_code == 404
    weak = client.post("/api/users/nurse/password", headers=admin, json={"password": "a" * 12})
    assert weak.status_code == 422
    assert weak.json()["field"] == "password"
    reset = client.post("/api/users/nurse/password", headers=admin, json={"password": NEW_PASSWORD})
    assert reset.status_code == 200
    assert client.get("/api/worklist", headers=nurse).status_code == 401
    again = client.post("/api/token", json={"username": "nurse", "password": NEW_PASSWORD})
    assert again.status_code == 200


def test_the_api_answers_429_with_retry_after_once_locked(client: TestClient) -> None:
    wrong = {"username": "pharmacist", "password": NEW_PASSWORD}
    assert [client.post("/api/token", json=wrong).status_code for _ in range(5)] == [401] * 5
    locked = client.post("/api/token", json=wrong)
    assert locked.status_code == 429
    assert locked.json()["error"] == "too_many_attempts"
    assert 0 < int(locked.headers["Retry-After"]) <= 15 * 60
    right = client.post("/api/token", json={"username": "pharmacist", "password": PASSWORD})
    assert right.status_code == 429  # locked even for the right password, until the window


@pytest.fixture
def web(app: App) -> Iterator[TestClient]:
    """The web pages over a migrated database with one user of every role."""
    staff(app)
    site = FastAPI()
    site.include_router(web_router(app))
    with FormClient(site, follow_redirects=False) as test_client:
        yield test_client


def _web_sign_in(web: TestClient, username: str, password: str = PASSWORD) -> int:
    web.cookies.clear()
    return web.post("/sign-in", data={"username": username, "password": password}).status_code


def test_the_web_sign_in_is_throttled_and_the_admin_page_takes_access_away(web: TestClient) -> None:
    assert [_web_sign_in(web, "coordinator", NEW_PASSWORD) for _ in range(5)] == [401] * 5
    web.cookies.clear()
    locked = web.post("/sign-in", data={"username": "coordinator", "password": PASSWORD})
    assert locked.status_code == 429
    assert "Too many failed sign-ins" in locked.text

    assert _web_sign_in(web, "nurse") == 303
    nurse_cookies = dict(web.cookies)
    assert _web_sign_in(web, "administrator") == 303
    page = web.get("/admin")
    assert 'action="/admin/users/nurse"' in page.text
    done = web.post("/admin/users/nurse", data={"change": "deactivate"})
    assert done.status_code == 303
    assert "changed=nurse" in done.headers["location"]
    weak = web.post("/admin/users/nurse2", data={"change": "password", "password": "a" * 12})
    assert weak.status_code == 422
    web.cookies.clear()
    web.cookies.update(nurse_cookies)
    assert web.get("/").status_code in {303, 401}  # the nurse's session ended at once


def test_a_user_changes_their_own_password_through_the_api(client: TestClient) -> None:
    here, elsewhere = sign_in(client, "nurse"), sign_in(client, "nurse")
    change = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}

    done = client.post("/api/users/me/password", json=change, headers=here)

    assert done.status_code == 200
    assert done.json() == {"username": "nurse", "sessions_revoked": 1}
    assert client.get("/api/worklist", headers=here).status_code == 200
    assert client.get("/api/worklist", headers=elsewhere).status_code == 401
    again = client.post("/api/token", json={"username": "nurse", "password": NEW_PASSWORD})
    assert again.status_code == 200


def test_wrong_current_passwords_through_the_api_are_throttled(client: TestClient) -> None:
    pharmacist = sign_in(client, "pharmacist")
    guess = {"current_password": NEW_PASSWORD, "new_password": "another long passphrase"}
    answers = [
        client.post("/api/users/me/password", json=guess, headers=pharmacist) for _ in "12345"
    ]
    assert [a.status_code for a in answers] == [422] * 5
    assert answers[0].json()["field"] == "current_password"
    locked = client.post("/api/users/me/password", json=guess, headers=pharmacist)
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) > 0
    right = client.post("/api/token", json={"username": "pharmacist", "password": PASSWORD})
    assert right.status_code == 429


def test_the_account_page_changes_the_password_and_names_every_problem(web: TestClient) -> None:
    assert _web_sign_in(web, "physician") == 303
    page = web.get("/account")
    assert page.status_code == 200
    assert 'action="/account/password"' in page.text
    wrong = {"current_password": NEW_PASSWORD, "new_password": "password"}
    refused = web.post("/account/password", data=wrong | {"confirm_password": "other"})
    assert refused.status_code == 422
    for field in ("current_password", "new_password", "confirm_password"):
        assert f'id="f-{field}-error"' in refused.text
    right = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    done = web.post("/account/password", data=right | {"confirm_password": NEW_PASSWORD})
    assert done.status_code == 303
    assert web.get(done.headers["location"]).status_code == 200  # this session goes on
    assert _web_sign_in(web, "physician", NEW_PASSWORD) == 303


def test_the_admin_page_shows_a_lockout_and_unlocks_it(web: TestClient) -> None:
    assert [_web_sign_in(web, "coordinator", NEW_PASSWORD) for _ in range(5)] == [401] * 5
    assert _web_sign_in(web, "administrator") == 303
    page = web.get("/admin")
    assert "Locked out" in page.text
    assert 'name="change" value="unlock"' in page.text
    done = web.post("/admin/users/coordinator", data={"change": "unlock"})
    assert done.status_code == 303
    assert "unlocked=coordinator" in done.headers["location"]
    assert "Locked out" not in web.get("/admin").text
    assert _web_sign_in(web, "coordinator") == 303
