"""The self-injection diary through the JSON API: a nurse records, a second entry conflicts
with the first shown, a coordinator corrects, staff read entries and summary; a researcher
reading by database id is answered 404."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.e2e.test_api import TestClient, sign_in
from tests.integration.builders import PATIENT, keep_course, outpatient_app, staff, taken_report

from il2.api.app import create_api
from il2.bootstrap import App
from il2.domain.records import Role
from il2.services.patients import create_patient


@pytest.fixture
def outpatient(app: App) -> Iterator[tuple[TestClient, int, int]]:
    """The API of an app that keeps subcutaneous courses; an sc-eu course and an hd-label one."""
    lifted = outpatient_app(app)
    people = staff(lifted)
    patient = create_patient(lifted.services, people[Role.PHYSICIAN], PATIENT).id
    course = keep_course(lifted.services, patient)
    bolus = keep_course(lifted.services, patient, regimen="hd-label", number=2)
    with TestClient(create_api(lifted)) as client:
        yield client, course, bolus


def test_a_nurse_records_and_a_coordinator_corrects_the_diary(
    outpatient: tuple[TestClient, int, int],
) -> None:
    client, course, _ = outpatient
    nurse, coordinator = sign_in(client, "nurse"), sign_in(client, "coordinator")
    first = client.post(f"/api/courses/{course}/diary", json=taken_report(), headers=nurse)
    assert first.status_code == 201, first.text
    entry = first.json()
    assert (entry["status"], entry["current"], entry["side_effects"][0]["name"]) == (
        "taken", True, "Injection site reaction",
    )  # fmt: skip
    again = client.post(f"/api/courses/{course}/diary", json=taken_report(), headers=coordinator)
    assert again.status_code == 409
    assert again.json()["existing"]["id"] == entry["id"]
    fixed = client.post(
        f"/api/courses/{course}/diary/{entry['id']}/corrections",
        json={"status": "missed", "reported_by": "caregiver", "missed_reason": "no syringes",
              "reason": "his wife called: he did not inject"},
        headers=coordinator,
    )  # fmt: skip
    assert fixed.status_code == 201, fixed.text
    assert (fixed.json()["corrects_id"], fixed.json()["status"]) == (entry["id"], "missed")
    diary = client.get(f"/api/courses/{course}/diary", headers=sign_in(client, "physician"))
    assert diary.status_code == 200, diary.text
    body = diary.json()
    assert [e["current"] for e in body["entries"]] == [False, True]
    summary = body["summary"]
    assert (summary["planned"], summary["planned_to_date"], summary["missed"]) == (20, 5, 1)
    assert (summary["adherence"], summary["adherence_percent"]) == ("0/5", "0.0")
    assert len(body["injections"]) == 20


def test_refusals_name_the_field_the_value_and_what_is_allowed(
    outpatient: tuple[TestClient, int, int],
) -> None:
    client, course, bolus = outpatient
    nurse = sign_in(client, "nurse")
    late = client.post(f"/api/courses/{course}/diary", json=taken_report(6), headers=nurse)
    assert (late.status_code, late.json()["field"]) == (422, "dose_number")
    bad = taken_report(side_effects=[{"term": "injection_site_reaction", "grade": 0}])
    graded = client.post(f"/api/courses/{course}/diary", json=bad, headers=nurse)
    assert (graded.status_code, graded.json()["field"]) == (422, "side_effects[0].grade")
    inpatient = client.post(f"/api/courses/{bolus}/diary", json=taken_report(), headers=nurse)
    assert (inpatient.status_code, inpatient.json()["field"]) == (422, "course")
    assert "sc-eu" in inpatient.json()["allowed"]
    assert client.get(f"/api/courses/{course}/diary", headers=nurse).json()["entries"] == []


def test_a_physician_may_not_record_and_a_researcher_is_answered_not_found(
    outpatient: tuple[TestClient, int, int],
) -> None:
    client, course, _ = outpatient
    answer = client.post(f"/api/courses/{course}/diary", json=taken_report(),
                         headers=sign_in(client, "physician"))  # fmt: skip
    assert answer.status_code == 403
    researcher = sign_in(client, "researcher")
    assert client.get(f"/api/courses/{course}/diary", headers=researcher).status_code == 404
    refused = client.post(f"/api/courses/{course}/diary", json=taken_report(), headers=researcher)
    assert refused.status_code == 403
