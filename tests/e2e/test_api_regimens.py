"""The API's plan preview and course planning for regimens beyond the high-dose bolus."""

from __future__ import annotations

from typing import Any

from tests.e2e.test_api import (
    FIRST_DOSE,
    TestClient,
    client,
    first_dose,
    screen_eligible,
    sign_in,
)
from tests.integration.builders import PATIENT

__all__ = ["client"]  # the fixture, shared with test_api.py


def _preview(client: TestClient, **body: Any) -> Any:
    headers = sign_in(client, "physician")
    return client.post("/api/engine/plan", json={"weight_kg": 70, **body}, headers=headers)


def test_the_preview_of_a_per_m2_regimen_shows_each_agent_with_its_doses_and_days(
    client: TestClient,
) -> None:
    answer = _preview(client, regimen="ld-sc-ifn", height_cm=175, first_dose=FIRST_DOSE)
    assert answer.status_code == 200, answer.text
    plan = answer.json()
    assert plan["bsa_m2"] == 1.84
    assert plan["dose_iu"] == 9_223_310  # 5 MIU x 1.844662 m2
    assert plan["cycles"][0]["doses"][0] | {"due_at": None} == {
        "number": 1, "due_at": None, "day": 1, "agent": "aldesleukin", "route": "subcutaneous",
        "dose_iu": 9_223_310, "dose_mg": 0.57, "vials": 1, "step": 1,
    }  # fmt: skip
    interferon = plan["companions"][0]
    assert interferon["agent"] == "interferon_alfa"
    assert interferon["dose_iu"] == 9_223_310
    assert [a["day"] for a in interferon["administrations"]][:3] == [1, 3, 5]


def test_a_per_m2_preview_without_a_height_answers_422_naming_it(client: TestClient) -> None:
    answer = _preview(client, regimen="civ-eu", first_dose=FIRST_DOSE)
    assert answer.status_code == 422
    assert (answer.json()["field"], answer.json()["value"]) == ("height_cm", None)


def test_the_preview_of_an_anchored_regimen_checks_its_event(client: TestClient) -> None:
    event = {"kind": "sbrt_fraction", "on": "2026-12-04"}
    answer = _preview(client, regimen="sbrt-hd", first_dose=FIRST_DOSE, events=[event])
    assert answer.status_code == 200, answer.text
    assert answer.json()["events"] == [event]
    early = _preview(
        client,
        regimen="sbrt-hd",
        first_dose=FIRST_DOSE,
        events=[{"kind": "sbrt_fraction", "on": "2026-12-10"}],
    )
    assert early.status_code == 422
    assert early.json()["field"] == "first_dose"
    missing = _preview(client, regimen="sbrt-hd", first_dose=FIRST_DOSE)
    assert (missing.status_code, missing.json()["field"]) == (422, "events")


def _patient(client: TestClient) -> tuple[int, dict[str, str]]:
    physician = sign_in(client, "physician")
    patient = client.post("/api/patients", json=PATIENT, headers=physician)
    assert patient.status_code == 201, patient.text
    screen_eligible(client, patient.json()["id"], physician)
    return patient.json()["id"], physician


def test_a_subcutaneous_course_is_kept_and_its_injections_meet_the_subcutaneous_checks(
    client: TestClient,
) -> None:
    patient_id, physician = _patient(client)
    course = client.post(
        f"/api/patients/{patient_id}/courses",
        json={"regimen": "ld-sc-nci", "weight_kg": 70, "first_dose": FIRST_DOSE},
        headers=physician,
    )
    assert course.status_code == 201, course.text
    nurse = sign_in(client, "nurse")
    # An injection with no blood pressure cannot be cleared: the subcutaneous rules read it.
    unmeasured = {"cycle": 1, "dose_number": 1, "doses_given_this_cycle": 0,
                  "vitals": {"spo2_pct": 97}, "mental_status": "normal", "findings": [],
                  "held_for": []}  # fmt: skip
    body = first_dose(assessment=unmeasured)
    answer = client.post(f"/api/courses/{course.json()['id']}/doses", json=body, headers=nurse)
    assert answer.status_code == 409, answer.text
    assert "the assessment is incomplete" in answer.text
    assert client.get(f"/api/courses/{course.json()['id']}", headers=nurse).json()["doses"] == []
    measured = unmeasured | {"vitals": {"sbp_mmhg": 112, "spo2_pct": 97}}
    body = first_dose(assessment=measured)
    answer = client.post(f"/api/courses/{course.json()['id']}/doses", json=body, headers=nurse)
    assert answer.status_code == 201, answer.text
    record = answer.json()
    assert record["outcome"] == "given"
    decision = record["decision"]
    assert decision["route"] == "subcutaneous"
    assert {c["rule"] for c in decision["checked"]} >= {"label-sbp-low", "cls-organ-perfusion"}
    assert "consensus-urine-absolute" not in {c["rule"] for c in decision["checked"]}
    assert (
        "No source read gives numeric thresholds"
        in (decision["route_checks"]["not_in_the_sources"])
    )


def test_an_iv_bolus_course_anchored_to_sbrt_is_kept_with_its_event(client: TestClient) -> None:
    patient_id, physician = _patient(client)
    answer = client.post(
        f"/api/patients/{patient_id}/courses",
        json={
            "regimen": "sbrt-hd",
            "weight_kg": 70,
            "first_dose": FIRST_DOSE,
            "events": [{"kind": "sbrt_fraction", "on": "2026-12-04"}],
        },
        headers=physician,
    )
    assert answer.status_code == 201, answer.text
    stored = client.get(f"/api/courses/{answer.json()['id']}", headers=physician).json()
    plan = stored["course"]["plan"]
    assert plan["events"] == [{"kind": "sbrt_fraction", "on": "2026-12-04"}]
    assert [len(c["doses"]) for c in plan["cycles"]] == [14, 14]
