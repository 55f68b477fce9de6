"""The web outcomes page over a program holding an odd record (ward walkthrough D20): it
renders for every role that reads outcomes, with a Data quality section naming the problem."""

from __future__ import annotations

import html
import warnings
from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from fastapi import FastAPI
from tests.integration.builders import PASSWORD, staff
from tests.integration.odd_records import OddRecords, at, due_time
from tests.web_client import FormClient

from il2.bootstrap import App
from il2.domain.deidentify import study_number
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


def _signed_in(client: TestClient, username: str) -> None:
    answer = client.post(
        "/sign-in",
        data={"username": username, "password": PASSWORD, "next": "/"},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text


@pytest.mark.parametrize("username", ["researcher", "physician"])
def test_the_outcomes_page_renders_with_the_data_quality_section(
    app: App, client: TestClient, username: str
) -> None:
    odd = OddRecords(app)
    patient = odd.patient("D20", referred_on=date(2026, 11, 2))
    course = odd.course(patient, at(date(2026, 12, 7)))
    odd.doses_as_planned(course, 1, 1)
    odd.dose(course, 2, 1, due_time(course, 1) + timedelta(minutes=1))
    _signed_in(client, username)
    page = client.get("/outcomes")
    assert page.status_code == 200, page.text
    assert "<h2>Data quality</h2>" in page.text
    assert study_number(patient, key=app.services.study_key) in page.text
    assert "before the cycle's first planned day" in html.unescape(page.text)
    assert "Odd D20" not in page.text
    assert "datetime.date" not in page.text
