"""The FHIR facade's own behaviour: metadata, Patient read and search, paging, errors as
OperationOutcome, roles and de-identification; each resource validated by fhir.resources."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.patient import Patient as FhirPatient

from il2.bootstrap import App
from il2.server import create_server
from tests.e2e.test_api import sign_in
from tests.integration.builders import staff
from tests.interop.programs import people, register

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

PEOPLE = people(7)


@pytest.fixture
def client(app: App) -> Iterator[tuple[TestClient, list[int]]]:
    staff(app)
    with TestClient(create_server(app)) as test_client:
        yield test_client, register(test_client, PEOPLE)


def _get(client: TestClient, path: str, role: str = "physician", **params: Any) -> Any:
    return client.get(f"/fhir/{path}", params=params, headers=sign_in(client, role))


def test_metadata_is_a_valid_capability_statement_without_sign_in(
    client: tuple[TestClient, list[int]],
) -> None:
    answer = client[0].get("/fhir/metadata")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/fhir+json")
    statement = CapabilityStatement.model_validate(answer.json())
    assert statement.fhirVersion == "4.0.1"
    assert "Patient" in [r.type for r in statement.rest[0].resource]
    operations = {op.name: op.definition for op in statement.rest[0].operation}
    assert operations == {"export": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export"}


def test_a_patient_reads_as_a_valid_fhir_patient_with_the_mrn(
    client: tuple[TestClient, list[int]],
) -> None:
    test_client, ids = client
    answer = _get(test_client, f"Patient/{ids[0]}")
    assert answer.status_code == 200, answer.text
    patient = FhirPatient.model_validate(answer.json())
    assert patient.identifier[0].value == "MRN-0001"
    assert patient.meta.profile[0].endswith("mcode-cancer-patient")


def test_the_program_pages_through_patients_with_next_links(
    client: tuple[TestClient, list[int]],
) -> None:
    test_client, ids = client
    seen: list[str] = []
    answer = _get(test_client, "Patient", _count=3)
    while True:
        bundle = Bundle.model_validate(answer.json())
        assert bundle.total == len(ids)
        seen += [e.resource.id for e in bundle.entry or []]
        following = [link.url for link in bundle.link if link.relation == "next"]
        if not following:
            break
        answer = test_client.get(following[0], headers=sign_in(test_client, "physician"))
    assert sorted(seen) == sorted(str(i) for i in ids)


def test_a_search_by_mrn_finds_exactly_that_patient(client: tuple[TestClient, list[int]]) -> None:
    test_client, ids = client
    answer = _get(test_client, "Patient", identifier="urn:il2:mrn|MRN-0003")
    bundle = Bundle.model_validate(answer.json())
    assert [e.resource.id for e in bundle.entry or []] == [str(ids[2])]


def test_a_researcher_reads_a_study_number_and_no_name(
    client: tuple[TestClient, list[int]],
) -> None:
    test_client, _ = client
    listed = _get(test_client, "Patient", role="researcher").json()
    first = listed["entry"][0]["resource"]
    assert first["id"].startswith("S-")
    assert "name" not in first
    assert "birthDate" not in first
    answer = _get(test_client, f"Patient/{first['id']}", role="researcher")
    assert answer.status_code == 200, answer.text
    assert answer.json()["identifier"][0]["value"] == first["id"]


@pytest.mark.parametrize(
    ("path", "params", "status", "code"),
    [
        ("Patient/999999", {}, 404, "not-found"),
        ("Specimen", {}, 404, "not-found"),
        ("Patient", {"_count": "lots"}, 400, "invalid"),
        ("Patient", {"colour": "blue"}, 400, "invalid"),
    ],
)
def test_errors_are_operation_outcomes(
    client: tuple[TestClient, list[int]],
    path: str,
    params: dict[str, str],
    status: int,
    code: str,
) -> None:
    answer = _get(client[0], path, **params)
    assert answer.status_code == status, answer.text
    issue = OperationOutcome.model_validate(answer.json()).issue[0]
    assert issue.code == code


def test_no_token_is_a_login_outcome(client: tuple[TestClient, list[int]]) -> None:
    answer = client[0].get("/fhir/Patient")
    assert answer.status_code == 401
    assert answer.json()["issue"][0]["code"] == "login"


def test_an_administrator_reads_no_patient(client: tuple[TestClient, list[int]]) -> None:
    test_client, ids = client
    answer = _get(test_client, f"Patient/{ids[0]}", role="administrator")
    assert answer.status_code == 403
    assert answer.json()["issue"][0]["code"] == "forbidden"
