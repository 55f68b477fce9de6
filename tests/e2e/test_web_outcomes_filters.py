"""Issue 16 item 5: the outcomes page in the app's layout, its filters applied by the service,
the CSV export of every table, and the program's intention-to-treat rates beside the label's."""

from __future__ import annotations

import csv
import io
import warnings
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from fastapi import FastAPI
from tests.e2e.test_web_outcomes import _signed_in
from tests.integration.builders import staff
from tests.integration.odd_records import OddRecords, at
from tests.web_client import FormClient

from il2.bootstrap import App
from il2.rules.loader import load_rules
from il2.web.app import web_router

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient


@pytest.fixture
def client(app: App) -> Iterator[TestClient]:
    staff(app)
    asgi = FastAPI()
    asgi.include_router(web_router(app))
    with FormClient(asgi) as test_client:
        yield test_client


@pytest.fixture
def program(app: App) -> None:
    """Two treated melanoma patients (one responding, one never assessed) and one renal."""
    odd = OddRecords(app)
    for mrn, diagnosis, referred in (("M1", "melanoma", date(2025, 3, 2)),
                                     ("M2", "melanoma", date(2026, 5, 4)),
                                     ("R1", "renal_cell_carcinoma", date(2026, 5, 6))):  # fmt: skip
        patient = odd.patient(mrn, diagnosis=diagnosis, referred_on=referred)
        course = odd.course(patient, at(date(referred.year, 6, 1)))
        odd.doses_as_planned(course, 1, 4)
        if mrn == "M1":
            odd.response(patient, "PR", baseline_on=date(2025, 5, 20),
                         assessed_on=date(2025, 8, 1), response_on=date(2025, 8, 1))  # fmt: skip


def test_the_page_is_in_the_app_with_its_navigation(client: TestClient, program: None) -> None:
    _signed_in(client, "researcher")
    page = client.get("/outcomes").text
    assert "<nav" in page
    assert "Back to il2" not in page
    assert "<!DOCTYPE html>" not in page.split("<main", 1)[-1]
    assert "3 patients referred" in page


def test_the_label_rates_sit_beside_the_programs_on_all_treated(
    client: TestClient, program: None
) -> None:
    _signed_in(client, "researcher")
    page = client.get("/outcomes").text
    assert "Program ORR, of all treated (ITT)" in page
    section = page.split("Beside the label", 1)[1].split("</table>", 1)[0]
    melanoma = section.split("Melanoma", 1)[1].split("</tr>", 1)[0]
    assert "1/1" in melanoma  # of those assessed
    assert "1/2" in melanoma  # of every treated patient, the label's denominator


def test_filters_are_applied_to_every_figure(client: TestClient, program: None) -> None:
    _signed_in(client, "researcher")
    page = client.get("/outcomes?diagnosis=melanoma&year_from=2026").text
    assert "1 patients referred" in page
    assert 'value="2026"' in page
    refused = client.get("/outcomes?year_from=2027&year_to=2025")
    assert refused.status_code == 422
    assert "2027 or later" in refused.text


def test_every_table_is_exported_as_csv_with_the_filters(client: TestClient, program: None) -> None:
    _signed_in(client, "researcher")
    answer = client.get("/outcomes.csv?diagnosis=melanoma")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(answer.text)))
    assert rows[0] == ["table", "row", "column", "value"]
    found = {(t, r, c): v for t, r, c, v in rows[1:]}
    assert found[("patients", "", "referred")] == "2"
    assert found[("label", "melanoma.program_itt.orr", "total")] == "2"
    assert {t for t, _r, _c, _v in rows[1:]} >= {"patients", "label", "toxicity"}


def test_cost_is_shown_only_when_the_site_sets_a_price_per_vial(
    app: App, client: TestClient, program: None, tmp_path: Path
) -> None:
    _signed_in(client, "researcher")
    unpriced = client.get("/outcomes").text
    assert "No price per vial given: cost omitted." in unpriced
    assert "<th>Cost</th>" not in unpriced
    policy = tmp_path / "site.toml"
    policy.write_text('[policy]\nprice_per_vial = { value = 950, reason = "pharmacy contract" }\n')
    services = replace(app.services, rules=load_rules(site_policy=policy))
    asgi = FastAPI()
    asgi.include_router(web_router(replace(app, services=services, rules=services.rules)))
    with FormClient(asgi) as priced:
        _signed_in(priced, "researcher")
        page = priced.get("/outcomes").text
    assert "Price per vial: 950.00." in page
    assert "<th>Cost</th>" in page
