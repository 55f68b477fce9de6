"""The JSON API's program-wide reads: patient search, the worklist and the outcome summary,
each with the permission the web needs for the same page, each audited."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from tests.e2e.test_api import sign_in
from tests.integration.builders import PATIENT, staff

from il2.api.app import create_api
from il2.bootstrap import App
from il2.domain.records import Role

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

READS = ("/api/patients?q=smith", "/api/worklist", "/api/outcomes")
ALLOWED = {  # the web's permission for the same page
    "/api/patients?q=smith": {Role.NURSE, Role.PHYSICIAN, Role.PHARMACIST, Role.COORDINATOR},
    "/api/worklist": {
        Role.NURSE,
        Role.PHYSICIAN,
        Role.PHARMACIST,
        Role.COORDINATOR,
        Role.RESEARCHER,
    },
    "/api/outcomes": {Role.PHYSICIAN, Role.PHARMACIST, Role.COORDINATOR, Role.RESEARCHER},
}
PEOPLE = (
    {**PATIENT, "mrn": "MRN-1001", "name": "Ada Smith"},
    {**PATIENT, "mrn": "MRN-1002", "name": "Bob SMITHSON"},
    {**PATIENT, "mrn": "XK-77", "name": "Carol Jones"},
)


@pytest.fixture
def client(app: App) -> Iterator[TestClient]:
    staff(app)
    with TestClient(create_api(app)) as test_client:
        physician = sign_in(test_client, "physician")
        for person in PEOPLE:
            answer = test_client.post("/api/patients", json=person, headers=physician)
            assert answer.status_code == 201, answer.text
        yield test_client


@pytest.mark.parametrize("path", READS)
@pytest.mark.parametrize("role", list(Role))
def test_each_read_is_allowed_exactly_to_the_roles_of_its_web_page(
    client: TestClient, path: str, role: Role
) -> None:
    answer = client.get(path, headers=sign_in(client, role.value))
    assert answer.status_code == (200 if role in ALLOWED[path] else 403), answer.text


@pytest.mark.parametrize("path", READS)
def test_each_read_refuses_a_request_without_a_token(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 401


def _names(answer: Any) -> list[str]:
    assert answer.status_code == 200, answer.text
    return [p["name"] for p in answer.json()["patients"]]


def test_search_finds_by_part_of_a_name_in_any_case(client: TestClient) -> None:
    nurse = sign_in(client, "nurse")
    assert _names(client.get("/api/patients?q=SMITH", headers=nurse)) == [
        "Ada Smith",
        "Bob SMITHSON",
    ]
    assert _names(client.get("/api/patients?q=carol%20j", headers=nurse)) == ["Carol Jones"]


def test_search_finds_by_mrn_and_answers_the_record_fields(client: TestClient) -> None:
    answer = client.get("/api/patients?q=xk-77", headers=sign_in(client, "coordinator"))
    assert _names(answer) == ["Carol Jones"]
    found = answer.json()["patients"][0]
    assert found["mrn"] == "XK-77"
    assert {"id", "birth_date", "diagnosis", "sex", "referred_on"} <= set(found)


def test_search_with_no_match_answers_an_empty_list(client: TestClient) -> None:
    assert _names(client.get("/api/patients?q=nobody", headers=sign_in(client, "nurse"))) == []


def test_search_treats_wildcards_as_text(client: TestClient) -> None:
    assert _names(client.get("/api/patients?q=%25%25", headers=sign_in(client, "nurse"))) == []


@pytest.mark.parametrize("query", ["", "?q=", "?q=a", "?q=%20%20%20", "?q=" + "x" * 101])
def test_a_missing_short_blank_or_long_query_is_refused(client: TestClient, query: str) -> None:
    answer = client.get("/api/patients" + query, headers=sign_in(client, "nurse"))
    assert answer.status_code == 422, answer.text
    assert answer.json()["field"].endswith("q")


def test_the_worklist_lists_every_patient_with_stage_and_total(client: TestClient) -> None:
    answer = client.get("/api/worklist?limit=2", headers=sign_in(client, "nurse"))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["total"] == len(PEOPLE)
    assert body["stages"] == {"referred": len(PEOPLE)}  # every page, not the two shown
    assert len(body["patients"]) == 2
    assert all(row["stage"] == "referred" for row in body["patients"])
    assert body["doses_today"] == []


def test_researchers_see_study_numbers_on_the_worklist(client: TestClient) -> None:
    body = client.get("/api/worklist", headers=sign_in(client, "researcher")).json()
    labels = {row["label"] for row in body["patients"]}
    assert all(label.startswith("S-") for label in labels)
    assert not labels & {p["name"] for p in PEOPLE}


def test_a_bad_worklist_page_is_refused(client: TestClient) -> None:
    nurse = sign_in(client, "nurse")
    assert client.get("/api/worklist?limit=0", headers=nurse).status_code == 422
    assert client.get("/api/worklist?offset=-1", headers=nurse).status_code == 422


def test_outcomes_answer_the_summary_with_its_data_quality(client: TestClient) -> None:
    answer = client.get("/api/outcomes?as_of=2026-12-07", headers=sign_in(client, "researcher"))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["as_of"] == "2026-12-07"
    assert body["patients"]["referred"] == len(PEOPLE)
    assert body["data_quality"]["problems"] == []
    assert {"response", "survival", "method", "select_trial", "verdict"} <= set(body["prediction"])
    assert "Smith" not in answer.text
    assert (
        client.get("/api/outcomes?as_of=soon", headers=sign_in(client, "researcher")).status_code
        == 422
    )


def test_every_read_is_audited(client: TestClient, app: App) -> None:
    client.get("/api/patients?q=smith", headers=sign_in(client, "nurse"))
    client.get("/api/worklist", headers=sign_in(client, "nurse"))
    client.get("/api/outcomes", headers=sign_in(client, "researcher"))
    with app.services.uow() as uow:
        actions = [(e.username, e.action, e.after) for e in uow.audit.entries()]
    searches = [a for a in actions if a[1] == "search_patients"]
    assert searches == [
        ("nurse", "search_patients", {"query": "smith", "patients": searches[0][2]["patients"]})
    ]
    assert len(searches[0][2]["patients"]) == 2
    assert ("nurse", "read_worklist") in {(a[0], a[1]) for a in actions}
    assert ("researcher", "read_outcomes") in {(a[0], a[1]) for a in actions}


def test_the_reads_are_documented_in_openapi(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/api/patients", "/api/worklist", "/api/outcomes"):
        assert "get" in paths[path], path
        assert paths[path]["get"]["description"] or paths[path]["get"]["summary"]
    parameters = {p["name"] for p in paths["/api/patients"]["get"]["parameters"]}
    assert "q" in parameters
