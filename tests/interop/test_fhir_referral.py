"""POST /fhir: a referred patient's Bundle, as an EHR's FHIR server gives it, becomes a referral.

The Bundle is read from the Medplum peer (a Patient search with `_revinclude=Condition:subject`)
and sent as a transaction or batch; the answers are validated with fhir.resources (R4B)."""

from __future__ import annotations

import copy
import uuid
import warnings
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.operationoutcome import OperationOutcome

from il2.bootstrap import App
from il2.server import create_server
from il2.services.patients import patient_count
from tests.e2e.test_api import sign_in
from tests.integration.builders import PASSWORD, staff
from tests.integration.test_ehr_import import MRN_SYSTEM, create, ehr_patient

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

FHIR_JSON = {"Content-Type": "application/fhir+json"}


@pytest.fixture
def client(app: App) -> Iterator[TestClient]:
    staff(app)
    with TestClient(create_server(app)) as test_client:
        yield test_client


def referred_bundle(peer: str, kind: str = "transaction") -> tuple[str, dict[str, Any]]:
    """A referred patient (with a melanoma Condition) loaded on the peer, read back with one
    search, and made a `kind` Bundle of creates; the MRN and the Bundle."""
    mrn = f"B{uuid.uuid4().hex[:12]}"
    patient = ehr_patient(peer, mrn)
    create(peer, {
        "resourceType": "Condition",
        "subject": {"reference": f"Patient/{patient['id']}"},
        "code": {"text": "Melanoma"},
        "verificationStatus": {"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
            "code": "confirmed",
        }]},
    })  # fmt: skip
    found = httpx.get(
        f"{peer}/Patient",
        params={"identifier": f"{MRN_SYSTEM}|{mrn}", "_revinclude": "Condition:subject"},
        timeout=10,
    ).json()
    kinds = [e["resource"]["resourceType"] for e in found["entry"]]
    assert sorted(kinds) == ["Condition", "Patient"], found  # the peer answers _revinclude
    entries = sorted(found["entry"], key=lambda e: e["resource"]["resourceType"] != "Patient")
    bundle = {
        "resourceType": "Bundle",
        "type": kind,
        "entry": [
            {
                "fullUrl": e["fullUrl"],
                "resource": e["resource"],
                "request": {"method": "POST", "url": e["resource"]["resourceType"]},
            }
            for e in entries
        ],
    }
    return mrn, bundle


def test_a_transaction_bundle_from_the_ehr_becomes_a_referral(
    client: TestClient, app: App, fhir_peer_server: str
) -> None:
    mrn, bundle = referred_bundle(fhir_peer_server)
    physician = sign_in(client, "physician")

    answer = client.post("/fhir", json=bundle, headers=physician | FHIR_JSON)

    assert answer.status_code == 200, answer.text
    response = Bundle.model_validate(answer.json())
    assert response.type == "transaction-response"
    assert [e.response.status for e in response.entry] == ["201 Created", "201 Created"]
    location = response.entry[0].response.location
    assert location.startswith("Patient/")
    assert response.entry[1].response.location == f"Condition/{location.split('/')[1]}.condition"
    read = client.get(f"/fhir/{location}", headers=physician).json()
    assert read["identifier"][0]["value"] == mrn
    assert read["birthDate"] == "1961-03-09"
    record = client.get(f"/api/patients/{location.split('/')[1]}", headers=physician).json()
    assert record["patient"]["diagnosis"] == "melanoma"
    assert record["patient"]["name"] == "Ada Okafor"


def test_a_batch_is_answered_with_a_batch_response(
    client: TestClient, fhir_peer_server: str
) -> None:
    _, bundle = referred_bundle(fhir_peer_server, "batch")

    answer = client.post("/fhir", json=bundle, headers=sign_in(client, "coordinator"))

    assert answer.status_code == 200, answer.text
    assert Bundle.model_validate(answer.json()).type == "batch-response"


def test_a_bad_birth_date_is_refused_by_its_fhir_path_and_nothing_is_created(
    client: TestClient, app: App, fhir_peer_server: str
) -> None:
    _, bundle = referred_bundle(fhir_peer_server)
    bad = copy.deepcopy(bundle)
    bad["entry"][0]["resource"]["birthDate"] = "1961-02-30"

    answer = client.post("/fhir", json=bad, headers=sign_in(client, "physician") | FHIR_JSON)

    assert answer.status_code == 400, answer.text
    outcome = OperationOutcome.model_validate(answer.json())
    assert outcome.issue[0].code == "invalid"
    assert outcome.issue[0].expression == ["Bundle.entry[0].resource.birthDate"]
    assert patient_count(app.services) == 0


@pytest.mark.parametrize(
    ("change", "path"),
    [
        pytest.param(
            lambda b: b["entry"][1]["resource"].update(code={"text": "Hypertension"}),
            "Bundle.entry[1].resource.code",
            id="no il2 diagnosis",
        ),
        pytest.param(
            lambda b: b["entry"][0]["resource"].update(
                identifier=[{"system": "urn:x", "value": "1"}]
            ),
            "Bundle.entry[0].resource.identifier",
            id="no MRN in the site's system",
        ),
        pytest.param(
            lambda b: b["entry"][1]["resource"].update(subject={"reference": "Patient/other"}),
            "Bundle.entry[1].resource.subject",
            id="Condition of another patient",
        ),
        pytest.param(
            lambda b: b["entry"][0].update(request={"method": "PUT", "url": "Patient/x"}),
            "Bundle.entry[0].request.method",
            id="not a create",
        ),
    ],
)
def test_an_unusable_bundle_is_refused_naming_the_path(
    client: TestClient, app: App, fhir_peer_server: str, change: Any, path: str
) -> None:
    _, bundle = referred_bundle(fhir_peer_server)
    change(bundle)

    answer = client.post("/fhir", json=bundle, headers=sign_in(client, "physician"))

    assert answer.status_code == 400, answer.text
    assert OperationOutcome.model_validate(answer.json()).issue[0].expression == [path]
    assert patient_count(app.services) == 0


def test_a_role_that_may_not_register_patients_is_refused(
    client: TestClient, app: App, fhir_peer_server: str
) -> None:
    _, bundle = referred_bundle(fhir_peer_server)

    answer = client.post("/fhir", json=bundle, headers=sign_in(client, "nurse"))

    assert answer.status_code == 403, answer.text
    assert OperationOutcome.model_validate(answer.json()).issue[0].code == "forbidden"
    assert patient_count(app.services) == 0


@pytest.mark.parametrize(
    ("scope", "status"),
    [("user/Patient.rs user/Condition.rs", 403), ("user/Patient.c", 403), ("user/*.cruds", 200)],
)
def test_a_scoped_token_needs_create_on_patient_and_condition(
    client: TestClient, app: App, fhir_peer_server: str, scope: str, status: int
) -> None:
    _, bundle = referred_bundle(fhir_peer_server)
    token = client.post(
        "/api/token", json={"username": "physician", "password": PASSWORD, "scope": scope}
    ).json()["access_token"]

    answer = client.post("/fhir", json=bundle, headers={"Authorization": f"Bearer {token}"})

    assert answer.status_code == status, answer.text
    assert patient_count(app.services) == (1 if status == 200 else 0)
