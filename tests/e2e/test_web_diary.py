"""The Diary section of an outpatient course's page, over HTTP, on SQLite and PostgreSQL: the
summary, entering an injection (errors beside the field, nothing half-written kept) and
correcting an entry. The clock stands at 2026-12-07 16:00 UTC; the sc-eu course began
2026-12-01, so injections 1.1 to 1.5 are due."""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from tests.e2e.test_web_entries import field_error, sign_in
from tests.integration.builders import PATIENT, keep_course, outpatient_app, staff
from tests.web_client import FormClient

from il2.bootstrap import App
from il2.domain.records import Role
from il2.services.accounts import actor_for_username
from il2.services.diary import course_diary
from il2.services.patients import create_patient
from il2.web.app import web_router

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient


class Outpatient:
    """A patient with an sc-eu course and an hd-label course, kept by an app that keeps
    subcutaneous courses."""

    def __init__(self, app: App) -> None:
        self.app = outpatient_app(app)
        people = staff(self.app)
        self.patient = create_patient(self.app.services, people[Role.PHYSICIAN], PATIENT).id
        self.course = keep_course(self.app.services, self.patient)
        self.bolus = keep_course(self.app.services, self.patient, regimen="hd-label", number=2)
        self.page = f"/patients/{self.patient}/courses/{self.course}"

    def entries(self) -> list[dict[str, object]]:
        nurse = actor_for_username(self.app.services, "nurse")
        found: list[dict[str, object]] = course_diary(self.app.services, nurse, self.course)[
            "entries"
        ]
        return found


@pytest.fixture
def outpatient(app: App) -> Outpatient:
    return Outpatient(app)


@pytest.fixture
def web(outpatient: Outpatient) -> Iterator[TestClient]:
    site = FastAPI()
    site.include_router(web_router(outpatient.app))
    with FormClient(site, follow_redirects=False) as client:
        yield client


TAKEN = {
    "injection": "1.2",
    "status": "taken",
    "taken_at": "2026-12-02T09:15",
    "reported_by": "patient",
    "side_effects[0].term": "injection_site_reaction",
    "side_effects[0].grade": "2",
    "note": "right thigh",
}


def test_a_nurse_enters_an_injection_and_the_summary_counts_it(
    web: TestClient, outpatient: Outpatient
) -> None:
    sign_in(web, "nurse")
    page = web.get(outpatient.page)
    assert page.status_code == 200, page.text
    assert (
        "Diary: the patient&#39;s self-injections" in page.text or "Diary: the patient" in page.text
    )
    assert "5 of 20 injections" in page.text
    assert "no injection due yet" not in page.text
    answer = web.post(f"{outpatient.page}/diary", data=TAKEN)
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"].endswith("#diary")
    page = web.get(outpatient.page).text
    assert "20.0% (1/5 taken of planned to date)" in page
    assert "Injection site reaction: highest grade 2" in page
    assert "18,000,000 IU" in page
    assert 'value="1.2"' not in page  # entered: no longer offered
    [entry] = outpatient.entries()
    assert (entry["dose_number"], entry["taken_at"]) == (2, "2026-12-02T09:15:00+00:00")


def test_a_refused_entry_shows_the_message_beside_the_field_and_keeps_nothing(
    web: TestClient, outpatient: Outpatient
) -> None:
    sign_in(web, "coordinator")
    wrong_grade = TAKEN | {"side_effects[1].term": "chills", "side_effects[1].grade": "5"}
    answer = web.post(f"{outpatient.page}/diary", data=wrong_grade)
    assert answer.status_code == 422
    shown = field_error(answer.text, "f-side_effects-1-grade")
    assert "a grade Chills has in CTCAE v5.0: 1, 2, 3" in shown
    assert (
        'id="f-side_effects-1-grade" name="side_effects[1].grade" aria-invalid="true"'
        in answer.text
    )
    future = web.post(f"{outpatient.page}/diary", data=TAKEN | {"taken_at": "2026-12-08T09:00"})
    assert future.status_code == 422
    assert "not after now" in field_error(future.text, "f-taken_at")
    none_chosen = web.post(f"{outpatient.page}/diary", data=TAKEN | {"injection": ""})
    assert none_chosen.status_code == 422
    assert field_error(none_chosen.text, "f-injection")
    assert outpatient.entries() == []


def test_a_second_entry_shows_the_first_and_a_correction_replaces_it(
    web: TestClient, outpatient: Outpatient
) -> None:
    sign_in(web, "nurse")
    assert web.post(f"{outpatient.page}/diary", data=TAKEN).status_code == 303
    again = web.post(f"{outpatient.page}/diary", data=TAKEN)
    assert again.status_code == 409
    assert "This injection already has a diary entry</h1>" in again.text
    [first] = outpatient.entries()
    link = f"{outpatient.page}/diary/{first['id']}/correct"
    assert f'href="{link}"' in web.get(outpatient.page).text
    form = web.get(link)
    assert form.status_code == 200, form.text
    assert 'value="2026-12-02T09:15"' in form.text  # what to change starts filled in
    missing_reason = web.post(f"{outpatient.page}/diary/{first['id']}/corrections",
                              data={"status": "missed", "reported_by": "caregiver"})  # fmt: skip
    assert missing_reason.status_code == 422
    assert field_error(missing_reason.text, "f-reason")
    fixed = web.post(f"{outpatient.page}/diary/{first['id']}/corrections",
                     data={"status": "missed", "reported_by": "caregiver",
                           "missed_reason": "out of syringes", "reason": "his wife called"})  # fmt: skip
    assert fixed.status_code == 303, fixed.text
    assert [(e["status"], e["current"]) for e in outpatient.entries()] == [
        ("taken", False),
        ("missed", True),
    ]
    page = web.get(outpatient.page).text
    assert "corrects entry" in page
    assert "Missed</dt><dd>1" in page


def test_a_physician_sees_the_diary_without_its_form_and_a_bolus_course_has_none(
    web: TestClient, outpatient: Outpatient
) -> None:
    sign_in(web, "physician")
    page = web.get(outpatient.page).text
    assert 'id="diary-h"' in page
    assert "Enter an injection the patient reports" not in page
    assert web.post(f"{outpatient.page}/diary", data=TAKEN).status_code == 403
    bolus = web.get(f"/patients/{outpatient.patient}/courses/{outpatient.bolus}").text
    assert 'id="diary-h"' not in bolus
