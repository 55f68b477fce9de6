"""The API of a running continuous infusion: pause, resume, stop, read; refusals named."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from tests.e2e.test_api import FIRST_DOSE, TestClient, client, screen_eligible, sign_in
from tests.integration.builders import PASSWORD, PATIENT
from tests.integration.conftest import FixedClock

__all__ = ["client"]  # the fixture, shared with test_api.py


def infusion_assessment(sbp: int = 112) -> dict[str, Any]:
    return {
        "vitals": {"sbp_mmhg": sbp, "heart_rate_bpm": 92, "spo2_pct": 96, "rhythm": "sinus"},
        "mental_status": "normal",
        "urine_output_ml_last_8h": 400,
        "findings": [],
    }


@pytest.fixture
def infusion(client: TestClient) -> str:
    """The infusion path of day 1 of a civ-eu course, given at the clock's now."""
    physician = sign_in(client, "physician")
    patient = client.post(
        "/api/patients", json={**PATIENT, "diagnosis": "renal_cell_carcinoma"}, headers=physician
    )
    assert patient.status_code == 201, patient.text
    screen_eligible(client, patient.json()["id"], physician)
    body = {"regimen": "civ-eu", "weight_kg": 70, "height_cm": 175, "first_dose": FIRST_DOSE}
    course = client.post(f"/api/patients/{patient.json()['id']}/courses", json=body,
                         headers=physician)  # fmt: skip
    assert course.status_code == 201, course.text
    course_id = course.json()["id"]
    dose = {"cycle": 1, "dose_number": 1, "assessment": infusion_assessment(),
            "given_at": FIRST_DOSE, "verified_by": "nurse2", "verifier_password": PASSWORD}  # fmt: skip
    given = client.post(f"/api/courses/{course_id}/doses", json=dose,
                        headers=sign_in(client, "nurse"))  # fmt: skip
    assert given.status_code == 201, given.text
    return f"/api/courses/{course_id}/doses/1/1/infusion"


def test_a_pause_resume_and_stop_answer_the_infusions_state(
    client: TestClient, infusion: str, clock: FixedClock
) -> None:
    start = clock.now
    clock.now = start + timedelta(hours=6)
    nurse = sign_in(client, "nurse")  # signed in at each moment: sessions end when idle
    paused = client.post(infusion, json={"event": "pause", "assessment": infusion_assessment(84)},
                         headers=nurse)  # fmt: skip
    assert paused.status_code == 201, paused.text
    assert paused.json()["status"] == "paused"
    clock.now = start + timedelta(hours=9)
    nurse = sign_in(client, "nurse")
    resumed = client.post(infusion, json={"event": "resume", "assessment": infusion_assessment()},
                          headers=nurse)  # fmt: skip
    assert resumed.status_code == 201, resumed.text
    clock.now = start + timedelta(hours=18)
    nurse = sign_in(client, "nurse")
    stopped = client.post(infusion, json={"event": "stop", "reason": "patient's wish"},
                          headers=nurse)  # fmt: skip
    assert stopped.status_code == 201, stopped.text
    state = client.get(infusion, headers=nurse).json()
    assert state["status"] == "stopped"
    assert (state["running_h"], state["paused_h"]) == (15.0, 3.0)
    assert state["delivered_iu"] == state["planned_iu"] * 15 // 24
    assert [e["kind"] for e in state["events"]] == ["pause", "resume", "stop"]


def test_a_resume_without_a_give_is_422_naming_the_assessment(
    client: TestClient, infusion: str, clock: FixedClock
) -> None:
    clock.now += timedelta(hours=1)
    nurse = sign_in(client, "nurse")
    assert client.post(infusion, json={"event": "pause", "reason": "line occluded"},
                       headers=nurse).status_code == 201  # fmt: skip
    answer = client.post(infusion, json={"event": "resume", "assessment": infusion_assessment(84)},
                         headers=nurse)  # fmt: skip
    assert answer.status_code == 422
    assert answer.json()["field"] == "assessment"
    unknown = client.post(infusion, json={"event": "pause", "extra": 1}, headers=nurse)
    assert unknown.status_code == 422


def test_a_researcher_and_a_pharmacist_are_refused(client: TestClient, infusion: str) -> None:
    for role in ("researcher", "pharmacist"):
        headers = sign_in(client, role)
        answer = client.post(infusion, json={"event": "stop", "reason": "x"}, headers=headers)
        assert answer.status_code == 403, (role, answer.text)
    assert client.get(infusion, headers=sign_in(client, "researcher")).status_code == 403


def test_an_open_dose_has_no_infusion_yet(client: TestClient, infusion: str) -> None:
    answer = client.get(infusion.replace("/1/1/", "/1/2/"), headers=sign_in(client, "nurse"))
    assert answer.status_code == 422
    assert answer.json()["field"] == "dose_number"
