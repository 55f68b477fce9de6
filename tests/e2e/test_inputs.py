"""Inputs that cannot crash or bloat: ids, date-times, JSON depth, surrogates, sizes, characters.

Each case here answered 500 (or was stored whole) before il2.domain.limits and il2.api.guard.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from fastapi import FastAPI
from tests.integration.builders import (
    PASSWORD,
    PATIENT,
    eligible_findings,
    partial_response_so_far,
    stable_assessment,
    staff,
)
from tests.web_client import FormClient

from il2.api.app import create_api
from il2.bootstrap import App
from il2.domain.errors import NotFoundError
from il2.domain.limits import MAX_API_BODY, MAX_ID, MAX_JSON_DEPTH
from il2.domain.records import DoseOutcome
from il2.science.plots import Bar, Frame, Line, Thresholds, spider, waterfall
from il2.services.accounts import actor_for_username
from il2.services.doses import DoseSubmission, submit_dose
from il2.web.app import web_router

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

HUGE = MAX_ID + 1
FIRST_DOSE = "2026-12-07T08:00:00-08:00"
LINES = Thresholds(response_pct=-30.0, progression_pct=20.0)
FRAME = Frame("Waterfall: best change from baseline")


@pytest.fixture
def client(app: App) -> Iterator[TestClient]:
    """The API over a migrated database with one user of every role."""
    staff(app)
    with TestClient(create_api(app), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def web(app: App, client: TestClient) -> Iterator[TestClient]:
    """The web pages, signed in as the physician (the staff made by `client`)."""
    site = FastAPI()
    site.include_router(web_router(app))
    with FormClient(site, follow_redirects=False, raise_server_exceptions=False) as browser:
        answer = browser.post("/sign-in", data={"username": "physician", "password": PASSWORD})
        assert answer.status_code == 303, answer.text
        yield browser


def sign_in(client: TestClient, username: str = "physician") -> dict[str, str]:
    answer = client.post("/api/token", json={"username": username, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def a_patient(client: TestClient, headers: dict[str, str], mrn: str = PATIENT["mrn"]) -> int:
    answer = client.post("/api/patients", json=PATIENT | {"mrn": mrn}, headers=headers)
    assert answer.status_code == 201, answer.text
    patient_id: int = answer.json()["id"]
    screened = client.post(
        f"/api/patients/{patient_id}/screenings", json=eligible_findings(), headers=headers
    )
    assert screened.status_code == 201, screened.text
    return patient_id


def refused(answer: Any, field: str, status: int = 422) -> None:
    assert answer.status_code == status, answer.text
    assert answer.json()["field"].endswith(field), answer.json()


@pytest.mark.parametrize(
    ("method", "path", "field"),
    [
        ("GET", f"/api/patients/{HUGE}", "patient_id"),
        ("GET", f"/api/courses/{HUGE}", "course_id"),
        ("POST", f"/api/courses/{HUGE}/doses", "course_id"),
        ("POST", f"/api/patients/{HUGE}/follow-ups", "patient_id"),
        ("POST", f"/api/patients/1/entries/{HUGE}/corrections", "entry_id"),
    ],
)
def test_an_id_past_64_bits_in_a_path_is_refused_naming_it(
    client: TestClient, method: str, path: str, field: str
) -> None:
    answer = client.request(method, path, json={}, headers=sign_in(client))
    refused(answer, field)


def test_a_course_id_past_64_bits_in_a_body_is_refused_naming_it(client: TestClient) -> None:
    physician = sign_in(client)
    patient_id = a_patient(client, physician)
    body = {"course_id": HUGE, "measurements": {}}
    answer = client.post(f"/api/patients/{patient_id}/responses", json=body, headers=physician)
    refused(answer, "course_id")


@pytest.mark.parametrize(
    "path", [f"/patients/{HUGE}", f"/patients/{HUGE}/flowsheet", f"/worklist?offset={HUGE}"]
)
def test_a_page_with_an_id_past_64_bits_is_not_found(web: TestClient, path: str) -> None:
    assert web.get(path).status_code == 404


@pytest.mark.parametrize("first_dose", ["9999-12-25T08:00:00-08:00", "0001-01-01T00:00:00+14:00"])
def test_a_first_dose_at_the_ends_of_the_calendar_is_refused_naming_it(
    client: TestClient, first_dose: str
) -> None:
    physician = sign_in(client)
    body = {"regimen": "hd-label", "weight_kg": 70, "first_dose": first_dose}
    refused(client.post("/api/engine/plan", json=body, headers=physician), "first_dose")
    patient_id = a_patient(client, physician)
    answer = client.post(f"/api/patients/{patient_id}/courses", json=body, headers=physician)
    refused(answer, "first_dose")


def test_the_plan_preview_refuses_a_first_dose_in_year_9999(
    client: TestClient, web: TestClient
) -> None:
    patient_id = a_patient(client, sign_in(client), "PREVIEW-1")
    form = {"regimen": "hd-label", "weight_kg": "70", "first_dose": "9999-12-25T08:00"}
    answer = web.post(f"/patients/{patient_id}/courses/preview", data=form)
    assert answer.status_code == 422, answer.text
    assert "First dose" in answer.text


def test_a_given_at_at_the_end_of_the_calendar_is_refused_naming_it(client: TestClient) -> None:
    body = {"cycle": 1, "dose_number": 1, "assessment": {}, "given_at": "9999-12-31T23:59:59-23:59"}
    answer = client.post("/api/courses/1/doses", json=body, headers=sign_in(client, "nurse"))
    refused(answer, "given_at")


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 480, 979, 5000])
def test_json_nested_too_deep_is_refused_with_422(client: TestClient, depth: int) -> None:
    body = "[" * depth + "]" * depth
    answer = client.post(
        "/api/engine/screen",
        content=body,
        headers=sign_in(client) | {"content-type": "application/json"},
    )
    assert answer.status_code == 422, answer.text
    assert str(MAX_JSON_DEPTH) in answer.json()["allowed"]


def test_json_nested_to_the_limit_still_reaches_the_route(client: TestClient) -> None:
    body = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    answer = client.post(
        "/api/engine/screen",
        content=body,
        headers=sign_in(client) | {"content-type": "application/json"},
    )
    assert answer.status_code == 422, answer.text
    assert "nested" not in answer.json()["allowed"]


@pytest.mark.parametrize(
    ("body", "allowed"),
    [
        ('{"mrn": "caf\xe9"}'.encode("latin-1"), "UTF-8"),  # not UTF-8
        ('{"weight_kg": ' + "9" * 5000 + "}", "4300 digits"),  # past int's digit limit
        ('{"a": ' * 1000 + "1" + "}" * 1000, str(MAX_JSON_DEPTH)),  # objects 1000 deep
        ("[" * 1200 + "]" * 1200, str(MAX_JSON_DEPTH)),
        ("{nope", "valid JSON"),
    ],
    ids=["latin-1", "5000-digits", "objects-1000-deep", "arrays-1200-deep", "not-json"],
)
@pytest.mark.parametrize("path", ["/api/token", "/api/patients", "/api/engine/grade"])
def test_a_body_that_cannot_be_parsed_is_a_422_naming_the_body(
    client: TestClient, path: str, body: str | bytes, allowed: str
) -> None:
    """These answered FastAPI's 400 "There was an error parsing the body", outside the contract."""
    headers = sign_in(client) | {"content-type": "application/json"}
    answer = client.post(path, content=body, headers=headers)
    refused(answer, "body")
    found = answer.json()
    assert (found["error"], found["field"], found["value"]) == ("invalid_input", "body", None)
    assert allowed in found["allowed"], found


def test_a_lone_surrogate_at_sign_in_is_refused_naming_the_field(client: TestClient) -> None:
    answer = client.post(
        "/api/token",
        content='{"username": "\\ud800", "password": "x"}',
        headers={"content-type": "application/json"},
    )
    refused(answer, "username")


@pytest.mark.parametrize("char", ["\\ud800", "\\udfff"])
def test_a_lone_surrogate_in_a_name_is_refused_and_nothing_is_kept(
    client: TestClient, char: str
) -> None:
    physician = sign_in(client)
    body = json.dumps(PATIENT | {"name": "Ann"}).replace('"Ann"', f'"Ann{char}"')
    answer = client.post(
        "/api/patients", content=body, headers=physician | {"content-type": "application/json"}
    )
    refused(answer, "name")


def test_a_body_over_the_limit_is_refused_with_413(client: TestClient) -> None:
    body = json.dumps(PATIENT | {"name": "x" * (MAX_API_BODY + 1)})
    answer = client.post(
        "/api/patients",
        content=body,
        headers=sign_in(client) | {"content-type": "application/json"},
    )
    assert answer.status_code == 413, answer.text
    assert answer.json()["limit"] == MAX_API_BODY


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "x" * 201),
        ("mrn", "M" * 41),
        ("name", "a\u0000b"),
        ("name", "Ann\r\nSmith"),
        ("name", "\u202egnp.exe"),
        ("name", "Ann\u2066Smith"),
        ("name", "Ann\u200bSmith"),
        ("name", "Ann\uffff"),
        ("mrn", "M\u0085-1"),
    ],
)
def test_a_name_or_mrn_too_long_or_with_hidden_characters_is_refused(
    client: TestClient, field: str, value: str
) -> None:
    physician = sign_in(client)
    answer = client.post("/api/patients", json=PATIENT | {field: value}, headers=physician)
    refused(answer, field)


def test_follow_up_notes_keep_line_breaks_but_are_bounded(client: TestClient) -> None:
    physician = sign_in(client)
    patient_id = a_patient(client, physician)
    path = f"/api/patients/{patient_id}/follow-ups"
    note = {"observed_on": "2026-12-01", "status": "alive_no_progression"}
    kept = client.post(path, json=note | {"notes": "seen\nwell"}, headers=physician)
    assert kept.status_code == 201, kept.text
    refused(client.post(path, json=note | {"notes": "x" * 4001}, headers=physician), "notes")
    refused(client.post(path, json=note | {"notes": "a\u202eb"}, headers=physician), "notes")


@pytest.mark.parametrize("lesion", ["$x^{$", "$", "$$", "a$b$c", "\\$x$"])
def test_a_lesion_id_with_dollar_signs_draws_as_typed(lesion: str) -> None:
    bars = waterfall((Bar(lesion, -40.0, "PR"), Bar("L2", 10.0, "PR")), LINES, FRAME)
    lines = (Line(lesion, (0.0, 8.0), (0.0, -40.0)), Line("sum", (0.0, 8.0), (0.0, -20.0)))
    assert "<svg" in bars
    assert "<svg" in spider(lines, LINES, FRAME)


def test_a_recorded_lesion_id_with_dollar_signs_leaves_the_response_pages_readable(
    client: TestClient, web: TestClient
) -> None:
    # The review's lesion id broke that patient's response page for good (a 500 on every view).
    patient_id, course_id = a_course_of(client, "MRN-DOLLAR")
    measurements = partial_response_so_far()
    for scan in measurements["assessments"]:
        scan["target_lesions"][0]["id"] = "$x^{$"
    kept = client.post(f"/api/patients/{patient_id}/responses", headers=sign_in(client),
                       json={"course_id": course_id, "measurements": measurements})  # fmt: skip
    assert kept.status_code == 201, kept.text
    page = web.get(f"/patients/{patient_id}/response")
    assert page.status_code == 200, page.text[-2000:]
    assert "<svg" in page.text
    assert "$x^{$" in page.text


def test_a_drawn_plot_carries_no_date_of_its_drawing() -> None:
    # On a researcher's page the day a chart is drawn can be the day of the patient's care.
    drawn = waterfall((Bar("L1", -40.0, "PR"), Bar("L2", 10.0, "PR")), LINES, FRAME)
    assert "<dc:date>" not in drawn
    assert not re.search(r"\d{4}-\d{2}-\d{2}", drawn)


def a_course_of(client: TestClient, mrn: str) -> tuple[int, int]:
    """A screened patient with a planned course: (patient id, course id)."""
    physician = sign_in(client)
    patient_id = a_patient(client, physician, mrn)
    body = {"regimen": "hd-label", "weight_kg": 70, "first_dose": FIRST_DOSE}
    course = client.post(f"/api/patients/{patient_id}/courses", json=body, headers=physician)
    assert course.status_code == 201, course.text
    return patient_id, course.json()["id"]


def a_course(client: TestClient, mrn: str) -> int:
    return a_course_of(client, mrn)[1]


def a_dose(verifier: str) -> dict[str, Any]:
    return {
        "cycle": 1,
        "dose_number": 1,
        "assessment": stable_assessment(),
        "given_at": FIRST_DOSE,
        "verified_by": verifier,
        "verifier_password": PASSWORD,
    }


def test_an_idempotency_key_reused_on_another_course_records_that_course(
    client: TestClient,
) -> None:
    first, second = a_course(client, "IDEM-1"), a_course(client, "IDEM-2")
    nurse, nurse2 = sign_in(client, "nurse"), sign_in(client, "nurse2")
    key = {"Idempotency-Key": "dose-1-1"}
    one = client.post(f"/api/courses/{first}/doses", json=a_dose("nurse2"), headers=nurse | key)
    assert one.status_code == 201, one.text
    other = client.post(f"/api/courses/{second}/doses", json=a_dose("nurse"), headers=nurse2 | key)
    assert other.status_code == 201, other.text
    assert other.json()["course_id"] == second
    mine = client.post(f"/api/courses/{second}/doses", json=a_dose("nurse2"), headers=nurse | key)
    assert mine.status_code == 409, mine.text  # the slot is taken; not nurse2's record replayed
    replay = client.post(f"/api/courses/{first}/doses", json=a_dose("nurse2"), headers=nurse | key)
    assert replay.status_code == 200, replay.text
    assert replay.json()["id"] == one.json()["id"]
    ledger = client.get(f"/api/courses/{second}", headers=nurse).json()
    assert [dose["id"] for dose in ledger["doses"]] == [other.json()["id"]]


def test_a_dose_for_a_course_of_another_patient_is_not_found_and_nothing_kept(
    client: TestClient, app: App
) -> None:
    course_id = a_course(client, "OWNER-1")
    other = a_patient(client, sign_in(client), "OTHER-1")
    nurse = actor_for_username(app.services, "nurse")
    submission = DoseSubmission(
        cycle=1,
        dose_number=1,
        assessment=stable_assessment(),
        outcome=DoseOutcome.HELD,
        assessed_at=datetime.fromisoformat(FIRST_DOSE),
    )
    with pytest.raises(NotFoundError):
        submit_dose(app.services, nurse, course_id, submission, patient_id=other)
    ledger = client.get(f"/api/courses/{course_id}", headers=sign_in(client, "nurse")).json()
    assert ledger["doses"] == []


def test_the_web_dose_form_refuses_a_course_of_another_patient(
    client: TestClient, web: TestClient
) -> None:
    course_id = a_course(client, "OWNER-2")
    other = a_patient(client, sign_in(client), "OTHER-2")
    form = {
        key: str(value).lower() if isinstance(value, bool) else str(value)
        for key, value in stable_assessment().items()
        if isinstance(value, str | int | float)
    }
    path = f"/patients/{other}/courses/{course_id}/doses/1/1"
    answer = web.post(path, data=form | {"outcome": "held", "assessed_at": "2026-12-07T07:30"})
    assert answer.status_code == 404, answer.text
    ledger = client.get(f"/api/courses/{course_id}", headers=sign_in(client, "nurse")).json()
    assert ledger["doses"] == []


def test_the_api_worklist_refuses_an_offset_past_64_bits(client: TestClient) -> None:
    answer = client.get(f"/api/worklist?offset={HUGE}", headers=sign_in(client))
    refused(answer, "offset")


def test_every_signed_in_operation_declares_its_errors_with_the_error_body(
    client: TestClient,
) -> None:
    document = client.get("/openapi.json").json()
    for path, operations in document["paths"].items():
        if not path.startswith("/api/") or path in {"/api/token", "/api/sign-out"}:
            assert all("401" in op["responses"] for op in operations.values()) or path == "/health"
            continue
        for method, operation in operations.items():
            for status in ("401", "403", "404", "409", "413", "422"):
                declared = operation["responses"].get(status)
                assert declared is not None, (method, path, status)
                if status != "409" or "content" in declared:
                    schema = declared["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (path, status)


OPEN_ANSWERS = frozenset(
    {
        "ScreeningDocument",
        "PlanDocument",
        "BedsideDocument",
        "GradingDocument",
        "RecistDocument",
        "OutcomeSummary",
    }
)
"""The engines' and the outcome summary's documents: open objects (rule tables add fields)."""


def test_every_success_answer_declares_its_schema(client: TestClient) -> None:
    """Answers used to be `dict[str, Any]`: an open object that any body matched."""
    document = client.get("/openapi.json").json()
    components = document["components"]["schemas"]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, declared in operation["responses"].items():
                if not status.startswith("2") or status == "204":
                    continue
                content = declared["content"]
                if "application/x-ndjson" in content:  # the audit export: lines of entries
                    continue
                schema = content["application/json"]["schema"]
                schema = schema.get("items", schema)
                assert "$ref" in schema, (method, path, status, schema)
                name = schema["$ref"].rsplit("/", 1)[-1]
                closed = components[name].get("additionalProperties") is False
                assert closed != (name in OPEN_ANSWERS), (method, path, name)


def test_the_audit_export_refuses_a_since_at_the_end_of_the_calendar(client: TestClient) -> None:
    answer = client.get(
        "/api/audit",
        params={"since": "9999-12-31T23:59:59-23:59"},
        headers=sign_in(client, "administrator"),
    )
    refused(answer, "since")
