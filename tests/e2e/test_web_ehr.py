"""The web's EHR import: the dose screen's "From the EHR" panel and the referral filled by MRN,
against the Medplum FHIR peer. The import fills and marks the form; only the user's submit
records anything."""

from __future__ import annotations

import re
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import replace

import pytest
from fastapi import FastAPI
from tests.e2e.test_web_bedside import FIRST_DOSE, STABLE
from tests.integration.builders import PASSWORD, PATIENT, eligible_findings, staff
from tests.integration.test_ehr_import import create, ehr_patient, observation
from tests.web_client import FormClient

from il2.api.app import create_api
from il2.bootstrap import App
from il2.ehr.fhir import FhirEhrRecords
from il2.web.app import web_router

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

# The assessment typed before the import: the heart rate and the labs' age typed by hand,
# the systolic pressure, SpO2, creatinine and platelets left for the EHR.
TYPED = {k: v for k, v in STABLE.items() if k not in {
    "vitals.sbp_mmhg", "vitals.spo2_pct", "labs.creatinine_mg_dl", "labs.platelets_per_ul",
}} | {"vitals.heart_rate_bpm": "101", "labs.hours_since_drawn": "4"}  # fmt: skip


@pytest.fixture
def linked(app: App, fhir_peer_server: str) -> Iterator[App]:
    """il2 with the peer as its EHR."""
    ehr = FhirEhrRecords(fhir_peer_server)
    yield replace(app, services=replace(app.services, ehr=ehr))
    ehr.close()


def _signed_in(app: App, username: str) -> FormClient:
    site = FastAPI()
    site.include_router(web_router(app))
    browser = FormClient(site, follow_redirects=False, raise_server_exceptions=False)
    answer = browser.post("/sign-in", data={"username": username, "password": PASSWORD})
    assert answer.status_code == 303, answer.text
    return browser


def _dose_screen(app: App, mrn: str) -> tuple[str, int]:
    """The screen of dose 1.1 of a new patient's planned course, and the patient's id."""
    with TestClient(create_api(app)) as api:
        token = api.post("/api/token", json={"username": "physician", "password": PASSWORD})
        physician = {"Authorization": f"Bearer {token.json()['access_token']}"}
        patient = api.post("/api/patients", json=PATIENT | {"mrn": mrn}, headers=physician)
        patient_id = patient.json()["id"]
        api.post(f"/api/patients/{patient_id}/screenings", json=eligible_findings(),
                 headers=physician)  # fmt: skip
        body = {"regimen": "hd-label", "weight_kg": 70, "first_dose": FIRST_DOSE}
        course = api.post(f"/api/patients/{patient_id}/courses", json=body, headers=physician)
        assert course.status_code == 201, course.text
    return f"/patients/{patient_id}/courses/{course.json()['id']}/doses/1/1", patient_id


def _value(page: str, name: str) -> str:
    found = re.search(rf'name="{re.escape(name)}" type="text" value="([^"]*)"', page)
    assert found, f"no field {name}"
    return found.group(1)


def _doses(app: App, patient_id: int) -> int:
    with app.services.uow() as uow:
        return sum(len(uow.doses.for_course(c.id)) for c in uow.courses.for_patient(patient_id))


def test_the_dose_screen_fills_and_marks_values_and_only_the_nurse_records(
    linked: App, fhir_peer_server: str
) -> None:
    staff(linked)
    mrn = f"W{uuid.uuid4().hex[:12]}"
    found = ehr_patient(fhir_peer_server, mrn)
    for code, when, value, unit in [
        ("8480-6", "2026-12-07T09:00:00Z", 131, "mm[Hg]"),
        ("8480-6", "2026-12-07T15:00:00Z", 117, "mm[Hg]"),
        ("8867-4", "2026-12-07T15:00:00Z", 92, "/min"),
        ("59408-5", "2026-12-07T15:00:00Z", 96, "%"),
        ("2160-0", "2026-12-07T06:00:00Z", 1.2, "mg/dL"),
        ("777-3", "2026-12-07T06:00:00Z", 10, "10*3/uL"),  # another unit: never used
    ]:
        create(fhir_peer_server, observation(found["id"], code, when, value, unit))
    dose, patient_id = _dose_screen(linked, mrn)
    nurse = _signed_in(linked, "nurse")

    screen = nurse.get(dose)
    assert screen.status_code == 200, screen.text
    assert 'id="ehr-panel"' in screen.text
    assert 'id="fill-from-ehr"' in screen.text

    filled = nurse.post(dose + "/ehr", data=TYPED)

    assert filled.status_code == 200, filled.text
    page = filled.text
    assert _value(page, "vitals.sbp_mmhg") == "117"  # the latest of the two
    assert _value(page, "vitals.spo2_pct") == "96"
    assert _value(page, "labs.creatinine_mg_dl") == "1.2"
    assert _value(page, "vitals.heart_rate_bpm") == "101"  # typed: never replaced
    assert _value(page, "labs.platelets_per_ul") == ""  # 10*3/uL: not il2's unit
    assert _value(page, "labs.hours_since_drawn") == "10"  # the creatinine's age, over 4 typed
    assert 'id="f-vitals-sbp_mmhg-source"' in page
    assert "From the EHR, Mon 7 Dec 2026, 15:00" in page  # the site keeps UTC
    assert 'id="f-vitals-heart_rate_bpm-source"' not in page
    platelets = re.search(r'id="ehr-offer-labs-platelets_per_ul"[^>]*>(.*?)</tr>', page, re.S)
    assert platelets
    assert "Not used" in platelets.group(1)
    assert "10*3/uL" in platelets.group(1)
    heart = re.search(r'id="ehr-offer-vitals-heart_rate_bpm"[^>]*>(.*?)</tr>', page, re.S)
    assert heart
    assert "Kept what you typed" in heart.group(1)
    assert _doses(linked, patient_id) == 0  # the import recorded nothing

    form = TYPED | {
        name: _value(page, name)
        for name in ("vitals.sbp_mmhg", "vitals.spo2_pct", "labs.creatinine_mg_dl",
                     "labs.hours_since_drawn")
    } | {"labs.platelets_per_ul": "150000", "outcome": "held"}  # fmt: skip
    recorded = nurse.post(dose, data=form)

    assert recorded.status_code == 303, recorded.text
    assert _doses(linked, patient_id) == 1


def test_the_panel_says_when_the_ehr_has_no_such_patient(linked: App) -> None:
    staff(linked)
    dose, _ = _dose_screen(linked, f"N{uuid.uuid4().hex[:12]}")
    nurse = _signed_in(linked, "nurse")

    answer = nurse.post(dose + "/ehr", data=TYPED)

    assert answer.status_code == 200, answer.text
    assert 'id="ehr-error"' in answer.text
    assert "no patient in the EHR" in answer.text
    assert _value(answer.text, "vitals.heart_rate_bpm") == "101"  # what was typed is kept


def test_no_panel_without_an_ehr_or_for_a_role_that_may_not_record(app: App, linked: App) -> None:
    staff(linked)
    dose, _ = _dose_screen(linked, "MRN-NO-EHR")
    assert 'id="ehr-panel"' not in _signed_in(app, "nurse").get(dose).text  # no EHR configured
    physician = _signed_in(linked, "physician").get(dose).text
    assert 'id="ehr-panel"' in physician
    pharmacist = _signed_in(linked, "pharmacist").get(dose)
    assert 'id="ehr-panel"' not in pharmacist.text


def test_the_referral_form_is_filled_from_the_ehr_by_mrn_and_registered_on_submit(
    linked: App, fhir_peer_server: str
) -> None:
    staff(linked)
    mrn = f"F{uuid.uuid4().hex[:12]}"
    found = ehr_patient(fhir_peer_server, mrn)
    create(
        fhir_peer_server,
        {
            "resourceType": "Condition",
            "subject": {"reference": f"Patient/{found['id']}"},
            "code": {"text": "Melanoma"},
        },
    )
    coordinator = _signed_in(linked, "coordinator")
    assert 'id="fill-from-ehr"' in coordinator.get("/patients/new").text

    filled = coordinator.post("/patients/new/ehr", data={"mrn": mrn})

    assert filled.status_code == 200, filled.text
    page = filled.text
    assert _value(page, "name") == "Ada Okafor"
    assert 'id="f-name-source"' in page
    assert 'id="f-diagnosis-source"' in page
    assert '<option value="melanoma" selected>' in page
    assert "matched by text" in page
    with linked.services.uow() as uow:
        assert uow.patients.count() == 0
    registered = coordinator.post(
        "/patients",
        data={"mrn": mrn, "name": "Ada Okafor", "birth_date": "1961-03-09", "sex": "female",
              "diagnosis": "melanoma"},
    )  # fmt: skip
    assert registered.status_code == 303, registered.text
    with linked.services.uow() as uow:
        assert uow.patients.count() == 1
