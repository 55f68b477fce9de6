"""The chart's follow-up form and the correction forms, over HTTP, on SQLite and PostgreSQL.

The clock stands at 2026-12-07 16:00 UTC (the site's zone); the patient was born 1968-04-02.
"""

from __future__ import annotations

import re
import warnings
from typing import Any

from tests.integration.builders import PASSWORD

from il2.bootstrap import App
from il2.domain.deidentify import study_number
from il2.domain.records import Actor, Role
from il2.services.accounts import actor_for_username
from il2.services.clinical import record_follow_up, record_response, record_toxicity
from il2.services.patients import read_patient

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

FEVER = {"ctcae_version": "5.0", "findings": [{"term": "fever", "value": 38.5, "unit": "c"}]}


def sign_in(client: TestClient, username: str) -> None:
    client.cookies.clear()
    answer = client.post("/sign-in", data={"username": username, "password": PASSWORD})
    assert answer.status_code == 303, answer.text


def entries(app: App, patient_id: int) -> list[dict[str, Any]]:
    """The patient's entries, as the services keep them."""
    physician = actor_for_username(app.services, "physician")
    found: list[dict[str, Any]] = read_patient(app.services, physician, patient_id)["entries"]
    return found


def field_error(html: str, field_id: str) -> str:
    """The message shown beside one field (empty when none)."""
    found = re.search(rf'<p class="field-error" id="{re.escape(field_id)}-error">(.*?)</p>', html)
    return found[1] if found else ""


def test_a_physician_records_progression_then_death_from_the_chart(
    web: TestClient, app: App, people: dict[Role, Actor], patient_id: int
) -> None:
    sign_in(web, "physician")
    chart = web.get(f"/patients/{patient_id}")
    assert "Record follow-up, progression or death" in chart.text
    answer = web.post(f"/patients/{patient_id}/follow-ups",
                      data={"observed_on": "2026-11-20", "status": "alive_progression",
                            "notes": "new liver lesions on CT"})  # fmt: skip
    assert answer.status_code == 303
    web.post(f"/patients/{patient_id}/follow-ups",
             data={"observed_on": "2026-12-06", "status": "dead", "notes": ""})  # fmt: skip
    chart = web.get(f"/patients/{patient_id}")
    assert "Alive, with progression: new liver lesions on CT" in chart.text
    assert "Died" in chart.text
    assert "Death recorded on Sun 6 Dec 2026" in chart.text
    assert "Record follow-up" not in chart.text
    again = web.post(f"/patients/{patient_id}/follow-ups",
                     data={"observed_on": "2026-12-07", "status": "alive_no_progression"})  # fmt: skip
    assert again.status_code == 409
    assert "no follow-up comes after it" in again.text
    kept = [(e["content"]["status"], e["observed_on"]) for e in entries(app, patient_id)]
    assert kept == [("alive_progression", "2026-11-20"), ("dead", "2026-12-06")]


def test_a_death_dated_tomorrow_is_shown_again_with_the_error_beside_the_date(
    web: TestClient, app: App, people: dict[Role, Actor], patient_id: int
) -> None:
    sign_in(web, "coordinator")
    answer = web.post(f"/patients/{patient_id}/follow-ups",
                      data={"observed_on": "2026-12-08", "status": "dead",
                            "notes": "called by the family"})  # fmt: skip
    assert answer.status_code == 422
    assert field_error(answer.text, "f-observed_on") == (
        "<strong>Not allowed:</strong> expected a date not after today (2026-12-07)"
    )
    assert 'value="2026-12-08"' in answer.text
    assert '<option value="dead" selected>' in answer.text
    assert "called by the family</textarea>" in answer.text
    assert entries(app, patient_id) == []


def test_a_follow_up_without_a_status_names_the_status(
    web: TestClient, app: App, people: dict[Role, Actor], patient_id: int
) -> None:
    sign_in(web, "physician")
    answer = web.post(f"/patients/{patient_id}/follow-ups",
                      data={"observed_on": "2026-12-01", "status": ""})  # fmt: skip
    assert answer.status_code == 422
    assert "Not allowed" in field_error(answer.text, "f-status")
    assert entries(app, patient_id) == []


def test_a_nurse_is_not_offered_the_follow_up_form_and_is_refused_it(
    web: TestClient, app: App, people: dict[Role, Actor], patient_id: int
) -> None:
    sign_in(web, "nurse")
    assert "Record follow-up" not in web.get(f"/patients/{patient_id}").text
    answer = web.post(f"/patients/{patient_id}/follow-ups",
                      data={"observed_on": "2026-12-01", "status": "dead"})  # fmt: skip
    assert answer.status_code == 403
    assert entries(app, patient_id) == []


def test_a_toxicity_is_corrected_from_the_chart_and_the_original_shows_as_replaced(
    web: TestClient, app: App, people: dict[Role, Actor], patient_id: int
) -> None:
    first = record_toxicity(app.services, people[Role.NURSE], patient_id,
                            observed_on="2026-12-06", course_id=None, findings=FEVER)  # fmt: skip
    sign_in(web, "nurse")
    chart = web.get(f"/patients/{patient_id}")
    assert f'href="/patients/{patient_id}/entries/{first.id}/correct"' in chart.text
    form = web.get(f"/patients/{patient_id}/entries/{first.id}/correct")
    assert 'name="findings[0].value" type="text" value="38.5"' in form.text
    answer = web.post(f"/patients/{patient_id}/entries/{first.id}/corrections",
                      data={"kind": "toxicity", "observed_on": "2026-12-07",
                            "findings[0].term": "fever", "findings[0].value": "39.5",
                            "findings[0].unit": "c", "reason": "thermometer misread"})  # fmt: skip
    assert answer.status_code == 303, answer.text
    kept = entries(app, patient_id)
    assert [(e["corrects_id"], e["observed_on"]) for e in kept] == [
        (None, "2026-12-06"),
        (first.id, "2026-12-07"),
    ]
    assert kept[1]["reason"] == "thermometer misread"
    chart = web.get(f"/patients/{patient_id}")
    assert "Fever grade 2" in chart.text
    assert "<strong>Correction</strong> by nurse" in chart.text
    assert "thermometer misread" in chart.text
    assert "<del>Fever grade 1</del>" in chart.text


def test_a_correction_without_a_reason_keeps_what_was_typed(
    web: TestClient, app: App, people: dict[Role, Actor], patient_id: int
) -> None:
    first = record_follow_up(app.services, people[Role.PHYSICIAN], patient_id,
                             observed_on="2026-12-01", status="alive_no_progression")  # fmt: skip
    sign_in(web, "physician")
    answer = web.post(f"/patients/{patient_id}/entries/{first.id}/corrections",
                      data={"kind": "follow_up", "observed_on": "2026-11-30",
                            "status": "alive_progression", "notes": "CT shows new nodes",
                            "reason": ""})  # fmt: skip
    assert answer.status_code == 422
    assert "Not allowed" in field_error(answer.text, "f-reason")
    assert '<option value="alive_progression" selected>' in answer.text
    assert "CT shows new nodes</textarea>" in answer.text
    assert len(entries(app, patient_id)) == 1


def test_an_entry_already_corrected_offers_the_newer_one(
    web: TestClient, app: App, people: dict[Role, Actor], patient_id: int
) -> None:
    first = record_follow_up(app.services, people[Role.PHYSICIAN], patient_id,
                             observed_on="2026-12-01", status="alive_no_progression")  # fmt: skip
    sign_in(web, "physician")
    web.post(f"/patients/{patient_id}/entries/{first.id}/corrections",
             data={"kind": "follow_up", "observed_on": "2026-12-01", "status": "dead",
                   "reason": "wrong status chosen"})  # fmt: skip
    newer = entries(app, patient_id)[-1]["id"]
    page = web.get(f"/patients/{patient_id}/entries/{first.id}/correct")
    assert "This entry was already corrected" in page.text
    assert f"/entries/{newer}/correct" in page.text
    again = web.post(f"/patients/{patient_id}/entries/{first.id}/corrections",
                     data={"kind": "follow_up", "observed_on": "2026-12-01",
                           "status": "alive_no_progression", "reason": "undo"})  # fmt: skip
    assert again.status_code == 409
    assert len(entries(app, patient_id)) == 2


def test_a_response_is_corrected_on_the_response_page(
    web: TestClient, app: App, people: dict[Role, Actor], patient_id: int
) -> None:
    scans = {"confirmation_required": False, "assessments": [
        {"date": "2026-10-01", "target_lesions": [{"id": "L1", "organ": "lung",
                                                   "diameter_mm": 40}]},
        {"date": "2026-12-01", "target_lesions": [{"id": "L1", "organ": "lung",
                                                   "diameter_mm": 20}]}]}  # fmt: skip
    first = record_response(app.services, people[Role.PHYSICIAN], patient_id, course_id=None,
                            measurements=scans)  # fmt: skip
    sign_in(web, "physician")
    answer = web.get(f"/patients/{patient_id}/entries/{first.id}/correct")
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/patients/{patient_id}/response?correct={first.id}"
    page = web.get(answer.headers["location"])
    assert "Correct the response assessed on" in page.text
    form = {"scans": "3", "lesions": "5", "corrects_id": str(first.id),
            "lesion0.id": "L1", "lesion0.organ": "lung", "scan0.date": "2026-10-01",
            "scan0.lesion0": "40", "scan1.date": "2026-12-01", "scan1.lesion0": "50",
            "scan0.non_target": "absent", "scan1.non_target": "absent"}  # fmt: skip
    refused = web.post(f"/patients/{patient_id}/responses", data=form)
    assert refused.status_code == 422
    assert 'name="corrects_id" value="' in refused.text
    assert len(entries(app, patient_id)) == 1
    saved = web.post(f"/patients/{patient_id}/responses", data={**form, "reason": "misread"})
    assert saved.status_code == 303
    kept = entries(app, patient_id)
    assert (kept[1]["corrects_id"], kept[1]["summary"][:30]) == (
        first.id,
        "best overall response PD (corr",
    )


def test_a_scan_dated_in_the_future_is_refused_beside_its_date(
    web: TestClient, app: App, people: dict[Role, Actor], patient_id: int
) -> None:
    sign_in(web, "physician")
    form = {"scans": "3", "lesions": "5", "lesion0.id": "L1", "lesion0.organ": "lung",
            "scan0.date": "2026-10-01", "scan0.lesion0": "40",
            "scan1.date": "2027-03-01", "scan1.lesion0": "20",
            "scan0.non_target": "absent", "scan1.non_target": "absent"}  # fmt: skip
    refused = web.post(f"/patients/{patient_id}/responses", data=form)
    assert refused.status_code == 422
    assert "Scan 2 date" in refused.text
    assert "a date not after today (2026-12-07)" in refused.text
    assert 'value="2027-03-01"' in refused.text
    assert entries(app, patient_id) == []


def test_an_empty_response_form_asks_for_the_baseline_scan(
    web: TestClient, app: App, patient_id: int
) -> None:
    sign_in(web, "physician")
    refused = web.post(f"/patients/{patient_id}/responses", data={"scans": "3", "lesions": "5"})
    assert refused.status_code == 422
    assert "Date at baseline</a> is missing; expected the baseline scan" in refused.text
    assert "[]" not in refused.text
    assert entries(app, patient_id) == []


def test_a_researcher_sees_the_follow_up_without_its_notes_and_may_not_correct_it(
    web: TestClient, app: App, people: dict[Role, Actor], patient_id: int
) -> None:
    entry = record_follow_up(app.services, people[Role.PHYSICIAN], patient_id,
                             observed_on="2026-12-01", status="alive_progression",
                             notes="seen with her husband John")  # fmt: skip
    sign_in(web, "researcher")
    assert web.get(f"/patients/{patient_id}").status_code == 404  # theirs go by study number
    chart = web.get(f"/study/{study_number(patient_id, key=app.services.study_key)}")
    assert chart.status_code == 200
    assert "Alive, with progression" in chart.text
    assert "John" not in chart.text
    assert f"/entries/{entry.id}/correct" not in chart.text
    assert "Record follow-up" not in chart.text
    refused = web.post(f"/patients/{patient_id}/entries/{entry.id}/corrections",
                       data={"kind": "follow_up", "observed_on": "2026-12-01",
                             "status": "dead", "reason": "x"})  # fmt: skip
    assert refused.status_code == 404
    assert len(entries(app, patient_id)) == 1
