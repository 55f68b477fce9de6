"""Studies through the JSON API: define, list, assign, correct, withdraw, and the arms compared
in the outcome summary; a researcher reads assignments by study number only."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from tests.e2e.test_api import TestClient, sign_in
from tests.integration.builders import PATIENT, staff

from il2.api.app import create_api
from il2.bootstrap import App

TRIAL: dict[str, Any] = {
    "name": "SBRT + HD IL-2 vs HD IL-2",
    "registry_id": "NCT01416831",
    "description": "Curti et al., J Immunother Cancer 2020;8:e000773",
    "arms": [
        {"id": "il2", "name": "HD IL-2 alone"},
        {"id": "sbrt-il2", "name": "SBRT then HD IL-2", "description": "SBRT first"},
    ],
}


@pytest.fixture
def client(app: App) -> Iterator[TestClient]:
    staff(app)
    with TestClient(create_api(app)) as test_client:
        yield test_client


def _study_and_patient(client: TestClient) -> tuple[int, int, dict[str, str]]:
    coordinator = sign_in(client, "coordinator")
    study = client.post("/api/studies", json=TRIAL, headers=coordinator)
    assert study.status_code == 201, study.text
    patient = client.post("/api/patients", json=PATIENT, headers=coordinator)
    assert patient.status_code == 201, patient.text
    return study.json()["id"], patient.json()["id"], coordinator


def test_a_coordinator_defines_a_study_assigns_corrects_and_withdraws(client: TestClient) -> None:
    study, patient, coordinator = _study_and_patient(client)
    assigned = client.post(f"/api/studies/{study}/assignments", headers=coordinator,
                           json={"patient_id": patient, "arm": "il2"})  # fmt: skip
    assert assigned.status_code == 201, assigned.text
    assert (assigned.json()["arm"], assigned.json()["sequence"]) == ("il2", 1)
    again = client.post(f"/api/studies/{study}/assignments", headers=coordinator,
                        json={"patient_id": patient, "arm": "sbrt-il2"})  # fmt: skip
    assert again.status_code == 409
    fixed = client.post(f"/api/studies/{study}/assignments", headers=coordinator,
                        json={"patient_id": patient, "arm": "sbrt-il2", "kind": "corrected",
                              "reason": "envelope misread"})  # fmt: skip
    assert fixed.status_code == 201, fixed.text
    listed = client.get("/api/studies", headers=sign_in(client, "nurse")).json()["studies"]
    assert [(a["id"], a["assigned"]) for a in listed[0]["arms"]] == [("il2", 0), ("sbrt-il2", 1)]
    gone = client.post(f"/api/studies/{study}/withdrawals", headers=coordinator,
                       json={"patient_id": patient, "reason": "moved away"})  # fmt: skip
    assert gone.status_code == 201, gone.text
    assert gone.json()["arm"] is None
    chain = client.get(f"/api/studies/{study}/assignments", headers=coordinator).json()
    assert [r["kind"] for r in chain["assignments"]] == ["assigned", "corrected", "withdrawn"]


def test_a_bad_registry_id_answers_422_naming_the_field_and_what_is_allowed(
    client: TestClient,
) -> None:
    answer = client.post("/api/studies", json={**TRIAL, "registry_id": "NCT123"},
                         headers=sign_in(client, "physician"))  # fmt: skip
    assert answer.status_code == 422
    body = answer.json()
    assert (body["field"], body["value"]) == ("registry_id", "NCT123")
    assert "NCT followed by 8 digits" in body["allowed"]
    assert client.get("/api/studies", headers=sign_in(client, "physician")).json()["studies"] == []


def test_a_nurse_may_not_define_a_study_or_assign(client: TestClient) -> None:
    study, patient, _ = _study_and_patient(client)
    nurse = sign_in(client, "nurse")
    assert client.post("/api/studies", json={**TRIAL, "name": "x", "registry_id": None},
                       headers=nurse).status_code == 403  # fmt: skip
    answer = client.post(f"/api/studies/{study}/assignments", headers=nurse,
                         json={"patient_id": patient, "arm": "il2"})  # fmt: skip
    assert answer.status_code == 403


def test_an_unknown_arm_answers_422_listing_the_arms(client: TestClient) -> None:
    study, patient, coordinator = _study_and_patient(client)
    answer = client.post(f"/api/studies/{study}/assignments", headers=coordinator,
                         json={"patient_id": patient, "arm": "chemo"})  # fmt: skip
    assert answer.status_code == 422
    assert answer.json()["field"] == "arm"
    assert "il2, sbrt-il2" in answer.json()["allowed"]


def test_the_outcome_summary_compares_the_arms_of_the_study(client: TestClient) -> None:
    study, patient, coordinator = _study_and_patient(client)
    client.post(f"/api/studies/{study}/assignments", headers=coordinator,
                json={"patient_id": patient, "arm": "sbrt-il2"})  # fmt: skip
    summary = client.get("/api/outcomes", headers=sign_in(client, "researcher")).json()
    compared = summary["comparison"]
    assert compared["study"]["registry_id"] == "NCT01416831"
    arms = {a["id"]: a for a in compared["by_arm"]}
    assert (arms["sbrt-il2"]["patients"], arms["sbrt-il2"]["treated"]) == (1, 0)
    assert arms["sbrt-il2"]["orr"]["total"] == 1  # intention to treat: never treated, counted
    survival = arms["sbrt-il2"]["overall_survival"]
    assert (survival["time_origin"], survival["patients"]) == ("assignment", 1)
    assert all(g["overall_survival"]["time_origin"] == "first_dose" for g in compared["by_regimen"])
    assert arms["il2"]["patients"] == 0
    unknown = client.get("/api/outcomes?study_id=99", headers=sign_in(client, "researcher"))
    assert unknown.status_code == 422
    assert unknown.json()["field"] == "study"


def test_a_researcher_reads_assignments_by_study_number_only(client: TestClient) -> None:
    study, patient, coordinator = _study_and_patient(client)
    client.post(f"/api/studies/{study}/assignments", headers=coordinator,
                json={"patient_id": patient, "arm": "il2", "on": "2026-12-03",
                      "reason": "sealed envelope 7"})  # fmt: skip
    answer = client.get(f"/api/studies/{study}/assignments", headers=sign_in(client, "researcher"))
    assert answer.status_code == 200, answer.text
    text = answer.text
    for secret in (
        PATIENT["mrn"],
        PATIENT["name"],
        "2026-12-03",
        "sealed envelope",
        '"patient_id"',
    ):
        assert secret not in text
    assert answer.json()["assignments"][0]["study_number"].startswith("S-")
    assert answer.json()["identified"] is False
