"""The audit trail with least privilege (security review D1, D9, D10): administrators see who
did what to which record, never its content; reads are filtered and paged in SQL; the export
streams; denials and failed sign-ins are audited; a page's read entry names every patient on it.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi import FastAPI

from il2.api.app import create_api
from il2.bootstrap import App
from il2.domain.errors import PermissionDeniedError
from il2.domain.records import Actor, AuditEntry, Role
from il2.services.accounts import sign_in
from il2.services.audit import audit_page, export_audit, shown, stream_audit
from il2.services.clinical import record_follow_up, record_toxicity
from il2.services.courses import plan_course
from il2.services.doses import DoseSubmission, submit_dose
from il2.services.patients import create_patient
from il2.services.ports import AuditQuery
from il2.services.worklist import worklist
from il2.web.app import web_router
from tests.integration.builders import PASSWORD, PATIENT, screen_eligible, stable_assessment, staff
from tests.integration.conftest import FixedClock
from tests.web_client import FormClient

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

SECRET_PATIENT = PATIENT | {"name": "Zebulon Quartermaine", "mrn": "MRN-SECRET-77",
                            "birth_date": "1951-03-17"}  # fmt: skip
WRONG = "wrong guess 123"
FEVER = {"ctcae_version": "5.0", "findings": [{"term": "fever", "value": 38.5, "unit": "c"}]}


def _recorded(app: App) -> tuple[dict[Role, Actor], int]:
    people = staff(app)
    doctor = people[Role.PHYSICIAN]
    patient_id = create_patient(app.services, doctor, SECRET_PATIENT).id
    record_toxicity(app.services, people[Role.NURSE], patient_id, observed_on="2026-12-07",
                    course_id=None, findings=FEVER)  # fmt: skip
    record_follow_up(app.services, doctor, patient_id, observed_on="2026-12-07",
                     status="alive_no_progression", notes="lives at 12 Secret Lane")  # fmt: skip
    return people, patient_id


def test_an_administrator_reads_who_did_what_to_which_record_never_its_content(app: App) -> None:
    """D1: names, MRNs, birth dates and clinical documents reached administrators."""
    people, patient_id = _recorded(app)
    admin = people[Role.ADMINISTRATOR]
    trail = export_audit(app.services, admin)
    text = json.dumps(trail)
    for secret in ("Zebulon", "MRN-SECRET-77", "1951-03-17", "Secret Lane", "38.5"):
        assert secret not in text
    created = next(e for e in trail if e["action"] == "create" and e["entity"] == "patient")
    assert created["patient_id"] == patient_id
    assert created["username"] == "physician"
    assert "name" in created["after"]["fields"]
    assert created["content"].startswith("withheld")
    paged = json.dumps(audit_page(app.services, admin, AuditQuery(patient_id=patient_id)).entries)
    assert "Zebulon" not in paged
    assert "MRN-SECRET-77" not in paged


def test_the_administrators_pages_and_export_show_no_content_over_http(app: App) -> None:
    """D1 where the review met it: /admin/audit in the browser and the API's export."""
    _, patient_id = _recorded(app)
    site = FastAPI()
    site.include_router(web_router(app))
    with FormClient(site, follow_redirects=False) as web:
        signed = web.post("/sign-in", data={"username": "administrator", "password": PASSWORD})
        assert signed.status_code == 303, signed.text
        page = web.get(f"/admin/audit?patient={patient_id}")
    with TestClient(create_api(app)) as api:
        token = api.post("/api/token", json={"username": "administrator", "password": PASSWORD})
        bearer = {"Authorization": f"Bearer {token.json()['access_token']}"}
        exported = api.get("/api/audit/export", headers=bearer)
    assert (page.status_code, exported.status_code) == (200, 200)
    assert "content withheld" in page.text  # the patient's entries are listed, withheld
    for text in (page.text, exported.text):
        assert "physician" in text  # who did it is shown
        for secret in ("Zebulon", "MRN-SECRET-77", "1951-03-17", "Secret Lane", "38.5"):
            assert secret not in text


def test_a_role_that_may_read_patients_sees_the_content() -> None:
    entry = AuditEntry(1, FixedClock().now, "physician", "create", "patient", "5", 5,
                       None, {"name": "Zebulon Quartermaine", "id": 5})  # fmt: skip
    assert shown(entry, content=True)["after"]["name"] == "Zebulon Quartermaine"
    hidden = shown(entry, content=False)
    assert hidden["after"] == {"fields": ["id", "name"], "id": 5}
    refusal = AuditEntry(2, FixedClock().now, "nurse", "refuse_create", "toxicity", "new", 5,
                         None, {"error": "InvalidInputError", "field": "observed_on",
                                "allowed": "a date on or after the patient's birth (1951-03-17)"})  # fmt: skip
    assert "1951-03-17" not in json.dumps(shown(refusal, content=False))
    account = AuditEntry(3, FixedClock().now, "administrator", "create", "user", "9", None,
                         None, {"username": "newnurse", "role": "nurse"})  # fmt: skip
    assert shown(account, content=False)["after"]["username"] == "newnurse"


def test_pages_are_filtered_and_paged_in_sql_and_walk_the_whole_trail(app: App) -> None:
    """D10: the export had no paging (one answer was 43 MB)."""
    people, patient_id = _recorded(app)
    admin = people[Role.ADMINISTRATOR]
    for n in range(30):
        record_follow_up(app.services, people[Role.PHYSICIAN], patient_id,
                         observed_on="2026-12-07", status="alive_no_progression",
                         notes=f"contact {n}")  # fmt: skip
    everything = [e["id"] for e in export_audit(app.services, admin)]
    walked: list[int] = []
    before = None
    while True:
        page = audit_page(app.services, admin, AuditQuery(), limit=7, before_id=before)
        walked += [e["id"] for e in page.entries]
        if page.older is None:
            break
        before = page.older
    later = [e["id"] for e in export_audit(app.services, admin)]
    assert walked == sorted(walked, reverse=True)
    assert set(everything) <= set(walked) <= set(later)
    mine = audit_page(app.services, admin, AuditQuery(patient_id=patient_id, action="create"))
    assert mine.matching == 33  # the patient, the toxicity and 31 follow-ups
    assert {(e["patient_id"], e["action"]) for e in mine.entries} == {(patient_id, "create")}
    nurse = audit_page(app.services, admin, AuditQuery(username="nurse"), limit=500)
    assert {e["username"] for e in nurse.entries} == {"nurse"}


def test_the_export_streams_every_entry_in_order_in_batches(app: App) -> None:
    people, _ = _recorded(app)
    admin = people[Role.ADMINISTRATOR]
    whole = [e["id"] for e in export_audit(app.services, admin)]
    streamed = [e["id"] for e in stream_audit(app.services, admin, AuditQuery(), batch=3)]
    assert streamed[: len(whole)] == whole
    assert streamed == sorted(streamed)
    exports = audit_page(app.services, admin, AuditQuery(action="export"))
    assert exports.matching >= 2


def test_a_failed_sign_in_is_audited_without_the_password(app: App) -> None:
    """D9: failed sign-ins left no trace."""
    people = staff(app)
    for username in ("nurse", "nobody-here"):
        with pytest.raises(PermissionDeniedError):
            sign_in(app.services, username=username, password=WRONG)
    failed = audit_page(app.services, people[Role.ADMINISTRATOR],
                        AuditQuery(action="sign_in_failed")).entries  # fmt: skip
    assert [(e["username"], e["after"]["reason"]) for e in reversed(failed)] == [
        ("nurse", "password"),
        ("nobody-here", "unknown user"),
    ]
    assert WRONG not in json.dumps(failed)


@pytest.fixture
def client(app: App) -> Iterator[TestClient]:
    with TestClient(create_api(app)) as test_client:
        yield test_client


def _token(client: TestClient, username: str) -> dict[str, str]:
    answer = client.post("/api/token", json={"username": username, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def test_a_denied_request_is_audited_and_the_api_pages_and_streams(
    app: App, client: TestClient
) -> None:
    """D9: 403 denials left no audit row."""
    people, patient_id = _recorded(app)
    admin = _token(client, "administrator")
    assert client.get(f"/api/patients/{patient_id}", headers=admin).status_code == 403
    assert client.post("/api/patients", json=PATIENT, headers=_token(client, "pharmacist")
                       ).status_code == 403  # fmt: skip
    denied = client.get("/api/audit", params={"action": "deny"}, headers=admin).json()
    assert sorted((e["username"], e["entity_id"]) for e in denied["entries"]) == [
        ("administrator", "patient.read"),
        ("pharmacist", "patient.create"),
    ]
    page = client.get("/api/audit", params={"limit": 2}, headers=admin).json()
    assert len(page["entries"]) == 2
    assert page["older"] == page["entries"][-1]["id"]
    older = client.get("/api/audit", params={"limit": 2, "before_id": page["older"]},
                       headers=admin).json()  # fmt: skip
    assert all(e["id"] < page["older"] for e in older["entries"])
    streamed = client.get("/api/audit/export", params={"patient_id": patient_id}, headers=admin)
    assert streamed.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in streamed.text.splitlines()]
    assert lines
    assert {e["patient_id"] for e in lines} == {patient_id}
    assert "Zebulon" not in streamed.text
    assert client.get("/api/audit", headers=_token(client, "physician")).status_code == 403
    assert people  # the staff the fixture made


def test_the_worklist_read_names_every_patient_the_page_shows(app: App, clock: FixedClock) -> None:
    """D9: "Doses today" named patients the read entry did not record."""
    people = staff(app)
    doctor = people[Role.PHYSICIAN]
    ward_patient = create_patient(app.services, doctor, PATIENT).id
    screen_eligible(app.services, doctor, ward_patient)
    course = plan_course(app.services, doctor, ward_patient, regimen="hd-label", weight_kg=70,
                         first_dose=clock.now.isoformat(), cycle_end_rule="dose_count")  # fmt: skip
    submit_dose(app.services, people[Role.NURSE], course.id,
                DoseSubmission(cycle=1, dose_number=1, assessment=stable_assessment(),
                               given_at=clock.now, verified_by="nurse2",
                               verifier_password=PASSWORD))  # fmt: skip
    for n in range(3):
        create_patient(app.services, doctor, PATIENT | {"mrn": f"MRN-X{n}", "name": f"Later {n}"})
    clock.now += timedelta(hours=1)
    shown_page = worklist(app.services, people[Role.NURSE], limit=2, offset=0)
    assert ward_patient not in [r.patient_id for r in shown_page.rows]
    assert ward_patient in [d.patient_id for d in shown_page.doses_today]
    (read,) = audit_page(app.services, people[Role.ADMINISTRATOR],
                         AuditQuery(action="read_worklist")).entries  # fmt: skip
    named = {r.patient_id for r in shown_page.rows} | {d.patient_id for d in shown_page.doses_today}
    assert read["after"]["fields"] == ["patients"]
    assert named  # the page names someone
    with app.services.uow() as uow:
        (row,) = [e for e in uow.audit.entries() if e.action == "read_worklist"]
    assert row.after is not None
    assert set(row.after["patients"]) == named
