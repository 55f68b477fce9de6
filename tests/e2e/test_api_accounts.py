"""The API takes access away at once: sign-out elsewhere, deactivation, role change, expiry."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from datetime import timedelta

import pytest
from tests.integration.builders import staff
from tests.integration.conftest import FixedClock

from il2.api.app import create_api
from il2.bootstrap import App
from il2.services.accounts import sign_out

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

from tests.e2e.test_api import sign_in

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
