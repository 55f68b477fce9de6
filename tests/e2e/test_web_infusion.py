"""The dose screen of a given continuous-infusion dose: its state, and pause, resume or stop."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi import FastAPI
from tests.e2e.test_web_bedside import FIRST_DOSE, _text, _token, api
from tests.integration.builders import PASSWORD, PATIENT, eligible_findings
from tests.integration.conftest import FixedClock
from tests.web_client import FormClient

from il2.bootstrap import App
from il2.web.app import web_router

__all__ = ["api"]  # the fixture, shared with test_web_bedside.py

ASSESSED = {
    "vitals.sbp_mmhg": "112",
    "vitals.heart_rate_bpm": "92",
    "vitals.spo2_pct": "96",
    "vitals.rhythm": "sinus",
    "mental_status": "normal",
    "urine_output_ml_last_8h": "400",
    "findings": "__none__",
}


@pytest.fixture
def infusion(api: FormClient) -> tuple[str, str]:
    """(the dose screen, the API's infusion path) of day 1 of a civ-eu course, given now."""
    physician = _token(api, "physician")
    patient = api.post(
        "/api/patients", json={**PATIENT, "diagnosis": "renal_cell_carcinoma"}, headers=physician
    )
    assert patient.status_code == 201, patient.text
    patient_id = patient.json()["id"]
    screened = api.post(
        f"/api/patients/{patient_id}/screenings", json=eligible_findings(), headers=physician
    )
    assert screened.status_code == 201, screened.text
    body = {"regimen": "civ-eu", "weight_kg": 70, "height_cm": 175, "first_dose": FIRST_DOSE}
    course = api.post(f"/api/patients/{patient_id}/courses", json=body, headers=physician)
    assert course.status_code == 201, course.text
    course_id = course.json()["id"]
    assessment = {
        "vitals": {"sbp_mmhg": 112, "heart_rate_bpm": 92, "spo2_pct": 96, "rhythm": "sinus"},
        "mental_status": "normal",
        "urine_output_ml_last_8h": 400,
        "findings": [],
    }
    dose = {"cycle": 1, "dose_number": 1, "assessment": assessment, "given_at": FIRST_DOSE,
            "verified_by": "nurse2", "verifier_password": PASSWORD}  # fmt: skip
    given = api.post(f"/api/courses/{course_id}/doses", json=dose, headers=_token(api, "nurse"))
    assert given.status_code == 201, given.text
    return (
        f"/patients/{patient_id}/courses/{course_id}/doses/1/1",
        f"/api/courses/{course_id}/doses/1/1/infusion",
    )


@pytest.fixture
def browser(app: App) -> Iterator[FormClient]:
    """The web pages (sign in with `signed_in` at each moment: sessions end when idle)."""
    site = FastAPI()
    site.include_router(web_router(app))
    with FormClient(site, follow_redirects=False, raise_server_exceptions=False) as client:
        yield client


def signed_in(browser: FormClient, username: str = "nurse") -> FormClient:
    answer = browser.post("/sign-in", data={"username": username, "password": PASSWORD})
    assert answer.status_code == 303, answer.text
    return browser


def test_a_nurse_pauses_and_resumes_the_running_infusion_from_the_dose_screen(
    browser: FormClient, api: FormClient, infusion: tuple[str, str], clock: FixedClock
) -> None:
    screen, path = infusion
    start = clock.now
    clock.now = start + timedelta(hours=6)
    nurse = signed_in(browser)
    page = nurse.get(screen)
    assert page.status_code == 200, page.text
    shown = _text(page.text)
    assert "This dose is recorded" in shown
    assert "The day's infusion: running" in shown
    assert 'id="infusion-form"' in page.text
    assert '"labs.platelets_per_ul"' not in page.text  # only what the route's checks read
    paused = nurse.post(screen + "/infusion",
                        data={**ASSESSED, "event": "pause", "vitals.sbp_mmhg": "84"})  # fmt: skip
    assert paused.status_code == 303, paused.text
    assert paused.headers["location"] == screen + "#infusion"
    assert "The day's infusion: paused" in _text(nurse.get(screen).text)

    clock.now = start + timedelta(hours=8)
    nurse = signed_in(browser)
    refused = nurse.post(screen + "/infusion",
                         data={**ASSESSED, "event": "resume", "vitals.sbp_mmhg": "85"})  # fmt: skip
    assert refused.status_code == 422, refused.text
    assert "Nothing was recorded" in _text(refused.text)
    assert 'id="f-assessment-error"' in refused.text  # beside the assessment
    assert 'value="85"' in refused.text  # what was typed is kept
    events = api.get(path, headers=_token(api, "nurse")).json()["events"]
    assert [e["kind"] for e in events] == ["pause"]

    resumed = nurse.post(screen + "/infusion", data={**ASSESSED, "event": "resume"})
    assert resumed.status_code == 303, resumed.text
    state = api.get(path, headers=_token(api, "nurse")).json()
    assert (state["status"], state["paused_h"], state["running_h"]) == ("running", 2.0, 6.0)
    page = _text(nurse.get(screen).text)
    assert "Paused 2.0 h" in page


def test_a_stop_for_a_reason_alone_ends_the_infusion_and_the_form_goes(
    browser: FormClient, infusion: tuple[str, str], clock: FixedClock
) -> None:
    screen, _ = infusion
    clock.now += timedelta(hours=3)
    nurse = signed_in(browser)
    missing = nurse.post(screen + "/infusion", data={"event": "stop"})
    assert missing.status_code == 422
    assert "Nothing was recorded" in _text(missing.text)
    assert 'class="field-error" id="f-reason-error"' in missing.text  # beside the reason
    stopped = nurse.post(screen + "/infusion", data={"event": "stop", "reason": "bag leaked"})
    assert stopped.status_code == 303, stopped.text
    page = nurse.get(screen).text
    assert "The day's infusion: stopped" in _text(page)
    assert "bag leaked" in page
    assert 'id="infusion-form"' not in page


def test_a_pharmacist_sees_the_infusion_and_no_form(
    browser: FormClient, infusion: tuple[str, str], clock: FixedClock
) -> None:
    screen, _ = infusion
    pharmacist = signed_in(browser, "pharmacist")
    page = pharmacist.get(screen)
    assert page.status_code == 200, page.text
    assert "The day's infusion: running" in _text(page.text)
    assert 'id="infusion-form"' not in page.text
    refused = pharmacist.post(screen + "/infusion", data={"event": "stop", "reason": "x"})
    assert refused.status_code == 403
