"""The printable patient leaflet: the schedule in the site's time zone, the sourced words of
patient_leaflet.toml with every source listed, and the site's numbers or a placeholder."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from tests.integration.builders import PASSWORD, PATIENT, screen_eligible, staff
from tests.integration.conftest import FixedClock
from tests.web_client import FormClient

from il2.bootstrap import build_app, upgrade_database
from il2.config import Settings
from il2.domain.records import Role
from il2.rules.leaflet import load_patient_leaflet
from il2.services.courses import plan_course
from il2.services.patients import create_patient
from il2.web.app import web_router

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

# UTC+05:30 all year: a dose at 17:00 UTC is at 22:30 local, the next ones 06:30 and 14:30.
KOLKATA = '[site]\nname = "Test hospital"\ntime_zone = "Asia/Kolkata"\n'
NUMBERS = (
    "[policy]\n"
    'contact_ward_phone = { value = "020 7946 0123", reason = "ward 7 desk" }\n'
    'contact_coordinator_phone = "020 7946 0456"\n'
    'contact_out_of_hours_phone = "+44 20 7946 0999"\n'
)
PLACEHOLDER = "this site has not set its numbers"


def _leaflet_site(
    database_url: str, clock: FixedClock, tmp_path: Path, policy: str
) -> Iterator[tuple[TestClient, str]]:
    path = tmp_path / "site.toml"
    path.write_text(policy, encoding="utf-8")
    app = build_app(Settings(database_url=database_url, site_policy=path), clock=clock)
    upgrade_database(app)
    doctor = staff(app)[Role.PHYSICIAN]
    patient = create_patient(app.services, doctor, {**PATIENT, "name": "Ada Lovelace"}).id
    screen_eligible(app.services, doctor, patient)
    course = plan_course(app.services, doctor, patient, regimen="hd-label", weight_kg=70,
                         first_dose="2026-12-07T17:00:00+00:00", cycle_end_rule="dose_count").id  # fmt: skip
    site = FastAPI()
    site.include_router(web_router(app))
    try:
        with FormClient(site, follow_redirects=False) as client:
            yield client, f"/patients/{patient}/courses/{course}/schedule"
    finally:
        app.engine.dispose()


@pytest.fixture
def configured(
    database_url: str, clock: FixedClock, tmp_path: Path
) -> Iterator[tuple[TestClient, str]]:
    yield from _leaflet_site(database_url, clock, tmp_path, KOLKATA + NUMBERS)


@pytest.fixture
def unconfigured(
    database_url: str, clock: FixedClock, tmp_path: Path
) -> Iterator[tuple[TestClient, str]]:
    yield from _leaflet_site(database_url, clock, tmp_path, KOLKATA)


def _sign_in(client: TestClient, role: Role) -> None:
    client.cookies.clear()
    signed = client.post("/sign-in", data={"username": role.value, "password": PASSWORD})
    assert signed.status_code == 303


def _times(page: str) -> set[str]:
    """The planned dose times of the day-by-day tables."""
    cells = re.findall(r"<td>((?:\d\d:\d\d(?:, )?)+)</td>", page)
    return {time for cell in cells for time in cell.split(", ")}


def test_the_doses_are_listed_in_the_site_time_zone(
    configured: tuple[TestClient, str],
) -> None:
    client, url = configured
    _sign_in(client, Role.NURSE)
    page = client.get(url)
    assert page.status_code == 200
    assert "local time (Asia/Kolkata)" in page.text
    assert _times(page.text) == {"22:30", "06:30", "14:30"}
    assert 'Monday <span class="tag">admission day</span></th><td>7 December 2026' in page.text
    assert "first dose at 22:30" in page.text
    assert "<td>8 December 2026</td>" in page.text


def test_the_numbers_the_site_set_are_printed_with_their_labels(
    configured: tuple[TestClient, str],
) -> None:
    client, url = configured
    _sign_in(client, Role.COORDINATOR)
    page = client.get(url).text
    for label, number in [
        ("The ward", "020 7946 0123"),
        ("The program coordinator", "020 7946 0456"),
        ("Out of hours (evenings, nights and weekends)", "+44 20 7946 0999"),
    ]:
        assert f'<th scope="row">{label}</th><td class="phone">{number}</td>' in page
    assert PLACEHOLDER not in page


def test_without_numbers_the_leaflet_says_so_and_prints_none(
    unconfigured: tuple[TestClient, str],
) -> None:
    client, url = unconfigured
    _sign_in(client, Role.PHYSICIAN)
    page = client.get(url).text
    assert PLACEHOLDER in page
    assert 'class="phone"' not in page


def test_every_statement_prints_with_its_source_listed(
    unconfigured: tuple[TestClient, str],
) -> None:
    client, url = unconfigured
    _sign_in(client, Role.PHARMACIST)
    page = client.get(url).text.replace("&#39;", "'")
    leaflet = load_patient_leaflet()
    numbers = leaflet.footnotes()
    for section in leaflet.sections:
        assert f"<h2>{section.title}</h2>" in page
        for statement in section.statements:
            number = numbers[statement.source]
            mark = (
                f'<sup><a href="#source-{number}" aria-label="source {number}">[{number}]</a></sup>'
            )
            assert f"{statement.text} {mark}" in page
    for number, source in leaflet.cited():
        assert f'<li id="source-{number}" value="{number}">{source.title}</li>' in page


def test_the_leaflet_has_no_inline_script(unconfigured: tuple[TestClient, str]) -> None:
    client, url = unconfigured
    _sign_in(client, Role.NURSE)
    page = client.get(url).text
    assert "onclick" not in page
    assert "<script>" not in page
    assert '<button type="button" data-print hidden>Print</button>' in page


def test_a_researcher_cannot_open_it_by_patient_id(unconfigured: tuple[TestClient, str]) -> None:
    client, url = unconfigured
    _sign_in(client, Role.RESEARCHER)
    assert client.get(url).status_code == 404
