"""Each role's day on the web pages: home leads each role to its page; the pharmacist's
preparation list, plan verification and vial use; the physician's and coordinator's schedule."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi import FastAPI
from tests.integration.builders import PASSWORD, PATIENT, screen_eligible, staff
from tests.integration.conftest import FixedClock
from tests.web_client import FormClient

from il2.bootstrap import App
from il2.domain.records import Role
from il2.services.courses import plan_course
from il2.services.patients import create_patient
from il2.web.app import web_router

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient


@pytest.fixture
def ward(app: App, clock: FixedClock) -> Iterator[tuple[TestClient, dict[str, int]]]:
    people = staff(app)
    doctor = people[Role.PHYSICIAN]
    patient = create_patient(app.services, doctor, {**PATIENT, "name": "Ada Lovelace"}).id
    screen_eligible(app.services, doctor, patient)
    course = plan_course(app.services, doctor, patient, regimen="hd-label", weight_kg=70,
                         first_dose=(clock.now + timedelta(hours=1)).isoformat(),
                         cycle_end_rule="dose_count").id  # fmt: skip
    site = FastAPI()
    site.include_router(web_router(app))
    with FormClient(site, follow_redirects=False) as client:
        yield client, {"patient": patient, "course": course}


def _sign_in(client: TestClient, role: Role) -> None:
    client.cookies.clear()
    signed = client.post("/sign-in", data={"username": role.value, "password": PASSWORD})
    assert signed.status_code == 303


@pytest.mark.parametrize(
    ("role", "landing"),
    [
        (Role.PHARMACIST, "/pharmacy"),
        (Role.PHYSICIAN, "/schedule"),
        (Role.COORDINATOR, "/schedule"),
        (Role.RESEARCHER, "/outcomes"),
        (Role.NURSE, None),
        (Role.ADMINISTRATOR, None),
    ],
)
def test_home_leads_each_role_to_its_day(
    ward: tuple[TestClient, dict[str, int]], role: Role, landing: str | None
) -> None:
    client, _ids = ward
    _sign_in(client, role)
    home = client.get("/")
    if landing is None:
        assert home.status_code == 200
        assert "Good to see you" in home.text
    else:
        assert home.status_code == 303
        assert home.headers["location"] == landing


def test_the_pharmacist_prepares_verifies_and_counts_vials(
    ward: tuple[TestClient, dict[str, int]],
) -> None:
    client, ids = ward
    _sign_in(client, Role.PHARMACIST)
    listed = client.get("/pharmacy")
    assert listed.status_code == 200
    assert "Ada Lovelace" in listed.text
    assert "42,000,000 IU" in listed.text
    assert "1.2 mL Sterile Water for Injection, USP" in listed.text
    assert "50 mL D5W" in listed.text
    assert "Not yet verified" in listed.text
    course = f"/patients/{ids['patient']}/courses/{ids['course']}"
    page = client.get(course)
    assert "Not yet verified by a pharmacist" in page.text
    done = client.post(f"{course}/verify", data={})
    assert done.status_code == 303
    assert "Plan verified by pharmacist" in client.get(course).text
    assert "Not yet verified" not in client.get("/pharmacy").text
    assert client.post(f"{course}/verify", data={}).status_code == 409
    vials = client.get("/pharmacy/vials?start=2026-12-01&end=2026-12-07")
    assert vials.status_code == 200
    assert "0 vials for 0 doses" in vials.text
    assert client.get("/pharmacy/vials?start=2026-12-08&end=2026-12-01").status_code == 422


def test_only_a_pharmacist_verifies_or_reads_the_preparation_list(
    ward: tuple[TestClient, dict[str, int]],
) -> None:
    client, ids = ward
    _sign_in(client, Role.NURSE)
    assert client.get("/pharmacy").status_code == 403
    assert client.get("/schedule").status_code == 403
    course = f"/patients/{ids['patient']}/courses/{ids['course']}"
    assert "Verify this plan" not in client.get(course).text
    assert client.post(f"{course}/verify", data={}).status_code == 403


def test_the_coordinator_sees_admissions_and_beds(
    ward: tuple[TestClient, dict[str, int]],
) -> None:
    client, _ids = ward
    _sign_in(client, Role.COORDINATOR)
    page = client.get("/schedule")
    assert page.status_code == 200
    assert "Ada Lovelace" in page.text
    assert "Course 1, cycle 1" in page.text
    assert "Beds in use" in page.text
    assert "No dose was held in the last 24 hours." in page.text
