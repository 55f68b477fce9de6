"""AuditEvent: the audit trail for administrators through the audit service, paged, filtered,
valid FHIR, and refused to every other role."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from fhir.resources.R4B.auditevent import AuditEvent
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.operationoutcome import OperationOutcome

from il2.bootstrap import App
from il2.server import create_server
from tests.e2e.test_api import sign_in
from tests.integration.builders import staff
from tests.interop.programs import people, register

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

PEOPLE = people(3)


@pytest.fixture
def client(app: App) -> Iterator[tuple[TestClient, list[int]]]:
    """Three patients, each read once by the physician through the FHIR facade."""
    staff(app)
    with TestClient(create_server(app)) as test_client:
        physician = sign_in(test_client, "physician")
        ids = register(test_client, PEOPLE)
        for patient_id in ids:
            read = test_client.get(f"/fhir/Patient/{patient_id}", headers=physician)
            assert read.status_code == 200, read.text
        yield test_client, ids


def _audit(client: TestClient, role: str = "administrator", **params: Any) -> Any:
    return client.get("/fhir/AuditEvent", params=params, headers=sign_in(client, role))


def _events(answer: Any) -> list[dict[str, Any]]:
    assert answer.status_code == 200, answer.text
    bundle = Bundle.model_validate(answer.json())
    found = [e["resource"] for e in answer.json().get("entry", [])]
    for resource in found:
        AuditEvent.model_validate(resource)
    assert bundle.total is not None
    return found


def test_an_administrator_sees_one_read_per_patient_the_physician_read(
    client: tuple[TestClient, list[int]],
) -> None:
    test_client, ids = client
    reads = _events(_audit(test_client, subtype="urn:il2:audit-action|read", altid="physician"))
    assert sorted(e["entity"][0]["what"]["reference"] for e in reads) == sorted(
        f"Patient/{i}" for i in ids
    )
    for event in reads:
        assert event["action"] == "R"
        assert event["outcome"] == "0"
        assert event["type"]["code"] == "rest"
        assert event["subtype"][0] == {
            "system": "http://hl7.org/fhir/restful-interaction", "code": "read", "display": "read"
        }  # fmt: skip
        assert event["agent"][0]["who"]["identifier"]["value"] == "physician"
        assert event["entity"][0]["role"]["code"] == "1"


def test_a_patient_filter_finds_that_patients_create_and_read(
    client: tuple[TestClient, list[int]],
) -> None:
    test_client, ids = client
    found = _events(_audit(test_client, patient=f"Patient/{ids[1]}", date="ge2026-12-07"))
    assert sorted(e["action"] for e in found) == ["C", "R"]
    assert _events(_audit(test_client, patient=f"Patient/{ids[1]}", date="lt2026-12-07")) == []


def test_the_trail_pages_with_count_and_offset_and_the_services_total(
    client: tuple[TestClient, list[int]],
) -> None:
    test_client, _ = client
    params = {"date": "le2026-12-07T16:00:00+00:00", "_count": "2"}
    first = _audit(test_client, **params)
    total = first.json()["total"]
    assert total > 4
    seen = [e["resource"]["id"] for e in first.json()["entry"]]
    following = [link["url"] for link in first.json()["link"] if link["relation"] == "next"]
    second = test_client.get(following[0], headers=sign_in(test_client, "administrator"))
    seen += [e["resource"]["id"] for e in second.json()["entry"]]
    assert len(seen) == len(set(seen)) == 4
    one = test_client.get(
        f"/fhir/AuditEvent/{seen[0]}", headers=sign_in(test_client, "administrator")
    )
    assert one.status_code == 200
    assert AuditEvent.model_validate(one.json()).id == seen[0]


@pytest.mark.parametrize("role", ["nurse", "physician", "researcher"])
def test_any_other_role_is_refused_with_a_forbidden_outcome(
    client: tuple[TestClient, list[int]], role: str
) -> None:
    answer = _audit(client[0], role)
    assert answer.status_code == 403
    assert OperationOutcome.model_validate(answer.json()).issue[0].code == "forbidden"
    read = client[0].get("/fhir/AuditEvent/1", headers=sign_in(client[0], role))
    assert read.status_code == 403


def test_an_unsupported_filter_is_refused_by_name(client: tuple[TestClient, list[int]]) -> None:
    answer = _audit(client[0], date="ne2026-12-07")
    assert answer.status_code == 400
    assert answer.json()["issue"][0]["expression"] == ["date"]
    assert _audit(client[0], _include="AuditEvent:patient").status_code == 400
