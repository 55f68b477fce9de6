"""The FHIR R4 peer itself (tests/fhir_peer.py): a real server and Medplum's validator.

Later tests read from `fhir_peer_server` and check il2's resources with `medplum_validator`;
these check that the peer does what they will rely on. The server is shared by the session, so
every test makes its own identifiers and patients."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.fhir_peer import MedplumValidator

FHIR_JSON = "application/fhir+json"
LOINC = "http://loinc.org"
SYSTOLIC = "8480-6"
DIASTOLIC = "8462-4"


def _create(client: httpx.Client, base_url: str, resource: dict[str, Any]) -> dict[str, Any]:
    response = client.post(
        f"{base_url}/{resource['resourceType']}",
        json=resource,
        headers={"Content-Type": FHIR_JSON},
    )
    assert response.status_code == 201, response.text
    assert response.headers["Content-Type"].startswith(FHIR_JSON)
    created: dict[str, Any] = response.json()
    return created


def _search(client: httpx.Client, url: str, params: dict[str, str] | None = None) -> dict[str, Any]:
    response = client.get(url, params=params)
    assert response.status_code == 200, response.text
    bundle: dict[str, Any] = response.json()
    assert bundle["resourceType"] == "Bundle"
    assert bundle["type"] == "searchset"
    return bundle


def _link(bundle: dict[str, Any], relation: str) -> str | None:
    return next(
        (link["url"] for link in bundle.get("link", []) if link["relation"] == relation), None
    )


def _patient(system: str, value: str) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "identifier": [{"system": system, "value": value}],
        "name": [{"family": "Peer", "given": ["Test"]}],
        "birthDate": "1970-01-01",
    }


def _observation(patient_id: str, code: str, when: str, value: float) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": code}]},
        "subject": {"reference": f"Patient/{patient_id}"},
        "effectiveDateTime": when,
        "valueQuantity": {
            "value": value,
            "unit": "mm[Hg]",
            "system": "http://unitsofmeasure.org",
            "code": "mm[Hg]",
        },
    }


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10.0) as http:
        yield http


def test_a_patient_is_found_by_its_identifier(client: httpx.Client, fhir_peer_server: str) -> None:
    system, value = "urn:oid:1.2.36.146.595.217.0.1", f"MRN-{uuid.uuid4()}"
    created = _create(client, fhir_peer_server, _patient(system, value))
    _create(client, fhir_peer_server, _patient(system, f"MRN-{uuid.uuid4()}"))  # another one

    found = _search(client, f"{fhir_peer_server}/Patient", {"identifier": f"{system}|{value}"})

    assert found["total"] == 1
    assert [entry["resource"]["id"] for entry in found["entry"]] == [created["id"]]
    assert found["entry"][0]["fullUrl"] == f"{fhir_peer_server}/Patient/{created['id']}"
    # the same value in another system is another identifier
    other = _search(client, f"{fhir_peer_server}/Patient", {"identifier": f"urn:other|{value}"})
    assert other["total"] == 0
    assert "entry" not in other


def test_a_resource_is_read_and_updated(client: httpx.Client, fhir_peer_server: str) -> None:
    created = _create(client, fhir_peer_server, _patient("urn:test", str(uuid.uuid4())))
    url = f"{fhir_peer_server}/Patient/{created['id']}"

    changed = {**created, "birthDate": "1971-02-03"}
    updated = client.put(url, json=changed, headers={"Content-Type": FHIR_JSON})

    assert updated.status_code == 200, updated.text
    assert updated.json()["meta"]["versionId"] != created["meta"]["versionId"]
    read = client.get(url)
    assert read.status_code == 200
    assert read.json()["birthDate"] == "1971-02-03"
    assert client.get(f"{fhir_peer_server}/Patient/{uuid.uuid4()}").status_code == 404


def test_observations_are_searched_by_patient_and_code_newest_first_in_pages(
    client: httpx.Client, fhir_peer_server: str
) -> None:
    patient = _create(client, fhir_peer_server, _patient("urn:test", str(uuid.uuid4())))
    other = _create(client, fhir_peer_server, _patient("urn:test", str(uuid.uuid4())))
    for when, value in [
        ("2026-12-01T08:00:00Z", 121),
        ("2026-12-03T08:00:00Z", 123),
        ("2026-12-02T08:00:00Z", 122),
    ]:
        _create(client, fhir_peer_server, _observation(patient["id"], SYSTOLIC, when, value))
    # neither of these matches: another code, another patient
    _create(
        client, fhir_peer_server, _observation(patient["id"], DIASTOLIC, "2026-12-04T08:00:00Z", 80)
    )
    _create(
        client, fhir_peer_server, _observation(other["id"], SYSTOLIC, "2026-12-05T08:00:00Z", 140)
    )

    page = _search(
        client,
        f"{fhir_peer_server}/Observation",
        {
            "patient": f"Patient/{patient['id']}",
            "code": f"{LOINC}|{SYSTOLIC}",
            "_sort": "-date",
            "_count": "2",
        },
    )
    seen = []
    pages = 0
    while True:
        pages += 1
        assert page["total"] == 3
        seen += [entry["resource"]["effectiveDateTime"] for entry in page.get("entry", [])]
        next_page = _link(page, "next")
        if next_page is None:
            break
        assert next_page.startswith(f"{fhir_peer_server}/Observation?")
        page = _search(client, next_page)

    assert pages == 2
    assert seen == ["2026-12-03T08:00:00Z", "2026-12-02T08:00:00Z", "2026-12-01T08:00:00Z"]


def test_a_transaction_bundle_resolves_its_references_and_fails_as_a_whole(
    client: httpx.Client, fhir_peer_server: str
) -> None:
    family = f"Tx{uuid.uuid4().hex}"
    patient_url = f"urn:uuid:{uuid.uuid4()}"
    patient = {"resourceType": "Patient", "name": [{"family": family}]}
    observation = _observation("placeholder", SYSTOLIC, "2026-12-01T08:00:00Z", 120)
    observation["subject"] = {"reference": patient_url}
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": patient_url,
                "resource": patient,
                "request": {"method": "POST", "url": "Patient"},
            },
            {"resource": observation, "request": {"method": "POST", "url": "Observation"}},
        ],
    }

    done = client.post(fhir_peer_server, json=bundle, headers={"Content-Type": FHIR_JSON})

    assert done.status_code == 200, done.text
    response = done.json()
    assert response["type"] == "transaction-response"
    assert [entry["response"]["status"] for entry in response["entry"]] == ["201", "201"]
    patient_id = response["entry"][0]["resource"]["id"]
    assert response["entry"][1]["resource"]["subject"] == {"reference": f"Patient/{patient_id}"}

    # a failing entry (a Patient URL given an Observation) undoes the entries before it
    failing_family = f"Rollback{uuid.uuid4().hex}"
    failing = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "resource": {"resourceType": "Patient", "name": [{"family": failing_family}]},
                "request": {"method": "POST", "url": "Patient"},
            },
            {
                "resource": observation,
                "request": {"method": "PUT", "url": f"Patient/{uuid.uuid4()}"},
            },
        ],
    }
    refused = client.post(fhir_peer_server, json=failing, headers={"Content-Type": FHIR_JSON})
    assert refused.status_code == 400, refused.text
    assert _search(client, f"{fhir_peer_server}/Patient", {"family": failing_family})["total"] == 0


def test_a_batch_bundle_answers_each_entry(client: httpx.Client, fhir_peer_server: str) -> None:
    family = f"Batch{uuid.uuid4().hex}"
    bundle = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            {
                "resource": {"resourceType": "Patient", "name": [{"family": family}]},
                "request": {"method": "POST", "url": "Patient"},
            },
            {"request": {"method": "GET", "url": f"Patient/{uuid.uuid4()}"}},
        ],
    }

    done = client.post(fhir_peer_server, json=bundle, headers={"Content-Type": FHIR_JSON})

    assert done.status_code == 200, done.text
    response = done.json()
    assert response["type"] == "batch-response"
    assert [entry["response"]["status"] for entry in response["entry"]] == ["201", "404"]
    assert _search(client, f"{fhir_peer_server}/Patient", {"family": family})["total"] == 1


def test_the_server_states_its_fhir_version(client: httpx.Client, fhir_peer_server: str) -> None:
    capability = client.get(f"{fhir_peer_server}/metadata").json()
    assert capability["resourceType"] == "CapabilityStatement"
    assert capability["fhirVersion"] == "4.0.1"


def test_the_validator_accepts_valid_resources(medplum_validator: MedplumValidator) -> None:
    assert medplum_validator.validate(_patient("urn:test", "123")) == []
    assert medplum_validator.validate({"resourceType": "Patient"}) == []
    assert (
        medplum_validator.validate(_observation("123", SYSTOLIC, "2026-12-01T08:00:00Z", 120)) == []
    )


@pytest.mark.parametrize(
    ("resource", "path", "what"),
    [
        pytest.param(
            {"resourceType": "Observation", "code": {"text": "systolic"}},
            "Observation.status",
            "required",
            id="missing required status",
        ),
        pytest.param(
            {"resourceType": "Patient", "birthDate": "not a date"},
            "Patient.birthDate",
            "date",
            id="birthDate not a date",
        ),
        pytest.param(
            {"resourceType": "Patient", "favouriteColour": "blue"},
            "Patient.favouriteColour",
            "favouriteColour",
            id="unknown element",
        ),
        pytest.param(
            {"resourceType": "Patient", "name": [{"given": [1]}]},
            "Patient.name[0].given[0]",
            "string",
            id="number for a string",
        ),
    ],
)
def test_the_validator_names_the_path_of_what_is_wrong(
    medplum_validator: MedplumValidator, resource: dict[str, Any], path: str, what: str
) -> None:
    issues = medplum_validator.validate(resource)

    assert issues, f"{resource} was accepted"
    assert any(issue.startswith(f"{path}:") and what in issue for issue in issues), issues


def test_the_validator_refuses_an_unknown_resource_type(
    medplum_validator: MedplumValidator,
) -> None:
    assert medplum_validator.validate({"resourceType": "NotAResource"}) == [
        "NotAResource: Invalid resource type"
    ]
