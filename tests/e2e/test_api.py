"""The JSON API as a client uses it: sign in, records, the dose ledger, errors, the engines."""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from tests.integration.builders import (
    PASSWORD,
    PATIENT,
    ROOT,
    eligible_findings,
    partial_response_so_far,
    stable_assessment,
    staff,
)

from il2.api.app import create_api
from il2.bootstrap import App

with warnings.catch_warnings():
    # Starlette's TestClient asks for httpx2; the pinned dev tools have httpx, which works.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

FIRST_DOSE = "2026-12-07T08:00:00-08:00"
CLI = ROOT / ".venv" / "bin" / "il2"


@pytest.fixture
def client(app: App) -> Iterator[TestClient]:
    """The API over a migrated database with one user of every role."""
    staff(app)
    with TestClient(create_api(app)) as test_client:
        yield test_client


def sign_in(client: TestClient, username: str) -> dict[str, str]:
    answer = client.post("/api/token", json={"username": username, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def screen_eligible(client: TestClient, patient_id: int, headers: dict[str, str]) -> None:
    """Screen the patient eligible through the API, as planning a course needs."""
    answer = client.post(
        f"/api/patients/{patient_id}/screenings", json=eligible_findings(), headers=headers
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["verdict"] == "eligible"


def a_course(client: TestClient) -> tuple[int, int]:
    """A registered patient with a planned hd-label course: (patient id, course id)."""
    physician = sign_in(client, "physician")
    patient = client.post("/api/patients", json=PATIENT, headers=physician)
    assert patient.status_code == 201, patient.text
    screen_eligible(client, patient.json()["id"], physician)
    course = client.post(
        f"/api/patients/{patient.json()['id']}/courses",
        json={"regimen": "hd-label", "weight_kg": 70, "first_dose": FIRST_DOSE},
        headers=physician,
    )
    assert course.status_code == 201, course.text
    return patient.json()["id"], course.json()["id"]


def first_dose(**overrides: Any) -> dict[str, Any]:
    body = {"cycle": 1, "dose_number": 1, "assessment": stable_assessment(),
            "given_at": FIRST_DOSE, "verified_by": "nurse2", "verifier_password": PASSWORD}  # fmt: skip
    return body | overrides


def same_record(one: dict[str, Any], other: dict[str, Any]) -> bool:
    """The same record, reading date-times as instants (a write echoes the offset it was sent)."""

    def instants(record: dict[str, Any]) -> dict[str, Any]:
        return record | {
            key: datetime.fromisoformat(record[key]) for key in ("given_at", "recorded_at")
        }

    return instants(one) == instants(other)


def protected_operations(client: TestClient) -> list[tuple[str, str]]:
    """Every (method, path) the OpenAPI document lists under /api, but sign-in itself."""
    paths = client.get("/openapi.json").json()["paths"]
    return [
        (method.upper(), re.sub(r"\{[^}]+\}", "1", path))
        for path, operations in paths.items()
        if path.startswith("/api/") and path != "/api/token"
        for method in operations
    ]


def test_health_answers_without_signing_in(client: TestClient) -> None:
    answer = client.get("/health")
    assert (answer.status_code, answer.json()) == (200, {"status": "ok"})


def test_the_openapi_document_has_a_title_a_version_and_the_bearer_scheme(
    client: TestClient,
) -> None:
    document = client.get("/openapi.json").json()
    assert document["info"]["title"] == "il2"
    assert document["info"]["version"]
    assert document["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": document["components"]["securitySchemes"]["bearer"]["description"],
    }
    dose = document["paths"]["/api/courses/{course_id}/doses"]["post"]
    assert dose["security"] == [{"bearer": []}]


def test_every_api_path_refuses_a_request_without_a_token_with_401(client: TestClient) -> None:
    operations = protected_operations(client)
    assert len(operations) >= 16
    for method, path in operations:
        answer = client.request(method, path)
        assert answer.status_code == 401, (method, path, answer.text)
        assert answer.headers["WWW-Authenticate"] == "Bearer", (method, path)
        assert answer.json()["error"] == "not_authenticated"


def test_every_api_path_refuses_an_unknown_token_with_401(client: TestClient) -> None:
    forged = {"Authorization": "Bearer not-a-token-il2-ever-issued"}
    for method, path in protected_operations(client):
        answer = client.request(method, path, headers=forged)
        assert answer.status_code == 401, (method, path, answer.text)
        assert answer.headers["WWW-Authenticate"] == "Bearer"


def test_signing_in_answers_a_bearer_token_with_the_role(client: TestClient) -> None:
    answer = client.post("/api/token", json={"username": "nurse", "password": PASSWORD})
    assert answer.status_code == 200
    assert answer.json()["token_type"] == "bearer"  # noqa: S105 - a scheme name, not a secret
    assert answer.json()["role"] == "nurse"
    assert answer.json()["access_token"]


def test_signing_out_revokes_the_token_at_once(client: TestClient) -> None:
    nurse = sign_in(client, "nurse")
    assert client.get("/api/patients/1", headers=nurse).status_code == 404  # signed in
    assert client.post("/api/sign-out", headers=nurse).status_code == 204
    assert client.get("/api/patients/1", headers=nurse).status_code == 401
    assert client.post("/api/sign-out", headers=nurse).status_code == 401


def test_a_wrong_password_is_refused_with_401(client: TestClient) -> None:
    answer = client.post("/api/token", json={"username": "nurse", "password": "wrong password!"})
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"] == "Bearer"
    assert "access_token" not in answer.json()


def test_a_refused_password_is_named_but_never_echoed(client: TestClient) -> None:
    answer = client.post("/api/token", json={"username": "nurse", "password": 123456789012})
    assert answer.status_code == 422
    assert (answer.json()["field"], answer.json()["value"]) == ("password", "(hidden)")
    assert "123456789012" not in answer.text


def test_a_dose_is_recorded_once_a_second_submission_conflicts_and_a_retry_gets_the_first(
    client: TestClient,
) -> None:
    _, course_id = a_course(client)
    nurse = sign_in(client, "nurse")
    doses = f"/api/courses/{course_id}/doses"
    first = client.post(doses, json=first_dose(), headers=nurse | {"Idempotency-Key": "dose-1-1"})
    assert first.status_code == 201, first.text
    assert (first.json()["decision_action"], first.json()["outcome"]) == ("give", "given")

    again = client.post(doses, json=first_dose(), headers=sign_in(client, "physician"))
    assert again.status_code == 409
    assert again.json()["error"] == "conflict"
    assert same_record(again.json()["existing"], first.json())

    retry = client.post(doses, json=first_dose(), headers=nurse | {"Idempotency-Key": "dose-1-1"})
    assert retry.status_code == 200
    assert retry.json()["id"] == first.json()["id"]
    assert same_record(retry.json(), first.json())

    ledger = client.get(f"/api/courses/{course_id}", headers=nurse).json()
    assert [d["id"] for d in ledger["doses"]] == [first.json()["id"]]
    assert len(ledger["course"]["plan"]["cycles"]) == 2


def test_a_low_sbp_is_held_by_the_engine_without_a_second_user(client: TestClient) -> None:
    _, course_id = a_course(client)
    low = stable_assessment()
    low["vitals"]["sbp_mmhg"] = 85
    answer = client.post(f"/api/courses/{course_id}/doses", headers=sign_in(client, "nurse"),
                         json={"cycle": 1, "dose_number": 1, "assessment": low})  # fmt: skip
    assert answer.status_code == 201
    assert answer.json()["outcome"] == "held"
    assert answer.json()["decision"]["reasons"][0]["rule"] == "label-sbp-low"


def test_a_dose_not_due_yet_answers_409_saying_when_and_keeps_nothing(client: TestClient) -> None:
    _, course_id = a_course(client)
    nurse = sign_in(client, "nurse")
    answer = client.post(f"/api/courses/{course_id}/doses", headers=nurse,
                         json=first_dose(dose_number=2))  # fmt: skip
    assert answer.status_code == 409
    (reason,) = answer.json()["reasons"]
    assert (reason["code"], reason["overridable"]) == ("not-due", False)
    assert "becomes due at" in reason["message"]
    assert client.get(f"/api/courses/{course_id}", headers=nurse).json()["doses"] == []


def test_a_verifier_password_is_never_echoed(client: TestClient) -> None:
    _, course_id = a_course(client)
    answer = client.post(f"/api/courses/{course_id}/doses", headers=sign_in(client, "nurse"),
                         json=first_dose(verifier_password="a wrong secret"))  # noqa: S106  # fmt: skip
    assert answer.status_code == 422
    assert answer.json()["field"] == "verified_by"
    assert "a wrong secret" not in answer.text


def test_a_nurse_may_not_export_the_audit_trail_and_an_administrator_may(
    client: TestClient,
) -> None:
    a_course(client)
    refused = client.get("/api/audit", headers=sign_in(client, "nurse"))
    assert refused.status_code == 403
    assert refused.json()["error"] == "permission_denied"
    entries = client.get("/api/audit", headers=sign_in(client, "administrator")).json()["entries"]
    assert {(e["username"], e["action"], e["entity"]) for e in entries} >= {
        ("physician", "create", "patient"),
        ("physician", "create", "course"),
        ("nurse", "sign_in", "user"),
    }


def test_a_researcher_sees_the_patient_without_mrn_or_name(client: TestClient) -> None:
    patient_id, _ = a_course(client)
    researcher = sign_in(client, "researcher")
    refused = client.get(f"/api/patients/{patient_id}", headers=researcher)
    assert refused.status_code == 404  # a researcher's reads go by study number
    (row,) = client.get("/api/worklist", headers=researcher).json()["patients"]
    assert row["patient_id"] is None
    answer = client.get(f"/api/study/{row['label']}", headers=researcher)
    assert answer.status_code == 200
    assert answer.json()["patient"]["study_id"] != f"P{patient_id:06d}"
    assert answer.json()["patient"]["study_id"].startswith("S-")
    text = json.dumps(answer.json())
    assert PATIENT["mrn"] not in text
    assert PATIENT["name"] not in text
    identified = client.get(f"/api/patients/{patient_id}", headers=sign_in(client, "nurse"))
    assert identified.json()["patient"]["mrn"] == PATIENT["mrn"]


def test_a_body_fastapi_cannot_parse_answers_422_naming_the_field(client: TestClient) -> None:
    _, course_id = a_course(client)
    answer = client.post(f"/api/courses/{course_id}/doses", headers=sign_in(client, "nurse"),
                         json=first_dose(cycle="one"))  # fmt: skip
    assert answer.status_code == 422
    assert answer.json() | {"problems": None} == {
        "error": "invalid_input",
        "message": "cycle: 'one' is not allowed; expected a whole number",
        "field": "cycle",
        "value": "one",
        "allowed": "a whole number",
        "problems": None,
    }


def test_a_missing_field_answers_422_naming_it(client: TestClient) -> None:
    _, course_id = a_course(client)
    body = first_dose()
    del body["assessment"]
    answer = client.post(f"/api/courses/{course_id}/doses", json=body,
                         headers=sign_in(client, "nurse"))  # fmt: skip
    assert answer.status_code == 422
    assert (answer.json()["field"], answer.json()["value"]) == ("assessment", None)
    assert "required" in answer.json()["allowed"]


def test_an_implausible_weight_answers_422_from_the_service_naming_the_field(
    client: TestClient,
) -> None:
    patient_id, _ = a_course(client)
    answer = client.post(f"/api/patients/{patient_id}/courses", headers=sign_in(client, "physician"),
                         json={"regimen": "hd-label", "weight_kg": 700, "first_dose": FIRST_DOSE})  # fmt: skip
    assert answer.status_code == 422
    assert (answer.json()["field"], answer.json()["value"]) == ("weight_kg", 700)
    assert answer.json()["allowed"] == "a body weight from 20 to 350 kg"


def _plan_evening(client: TestClient, **extra: Any) -> tuple[int, Any]:
    """Plan an hd-label course with its first dose at 20:00: (patient id, the answer)."""
    physician = sign_in(client, "physician")
    patient = client.post("/api/patients", json=PATIENT, headers=physician).json()
    screen_eligible(client, patient["id"], physician)
    body = {"regimen": "hd-label", "weight_kg": 70, "first_dose": "2026-12-07T20:00:00+00:00"}
    return patient["id"], client.post(f"/api/patients/{patient['id']}/courses",
                                      json=body | extra, headers=physician)  # fmt: skip


def test_an_evening_course_without_cycle_end_rule_answers_422_and_keeps_nothing(
    client: TestClient,
) -> None:
    patient_id, answer = _plan_evening(client)
    assert answer.status_code == 422
    assert (answer.json()["field"], answer.json()["value"]) == ("cycle_end_rule", None)
    assert "a first dose at 20:00 fits 13 of 14 doses in days 1-5" in answer.json()["allowed"]
    assert "'whichever_first' (end after dose 13" in answer.json()["allowed"]
    assert "'dose_count' (give dose 14 on day 6)" in answer.json()["allowed"]
    record = client.get(f"/api/patients/{patient_id}", headers=sign_in(client, "physician"))
    assert record.json()["courses"] == []


@pytest.mark.parametrize(("choice", "doses"), [("whichever_first", 13), ("dose_count", 14)])
def test_cycle_end_rule_plans_an_evening_course_and_the_stored_plan_records_it(
    client: TestClient, choice: str, doses: int
) -> None:
    _, answer = _plan_evening(client, cycle_end_rule=choice)
    assert answer.status_code == 201, answer.text
    stored = client.get(f"/api/courses/{answer.json()['id']}", headers=sign_in(client, "nurse"))
    plan = stored.json()["course"]["plan"]
    assert [len(c["doses"]) for c in plan["cycles"]] == [doses, doses]
    assert plan["cycle_end"] | {"shortfall": None} == {
        "rule": choice, "chosen_by": "plan", "conflict": True, "site_policy": "ask",
        "shortfall": None,
    }  # fmt: skip
    assert plan["dosing_weight_basis"] == "actual"
    assert plan["vial_count"]["extractable_iu_per_vial"] == 21_600_000


def test_an_unknown_cycle_end_rule_answers_422_naming_it(client: TestClient) -> None:
    _, answer = _plan_evening(client, cycle_end_rule="ask")
    assert answer.status_code == 422
    assert (answer.json()["field"], answer.json()["value"]) == ("cycle_end_rule", "ask")


def test_a_daytime_course_needs_no_cycle_end_rule(client: TestClient) -> None:
    _, course_id = a_course(client)
    stored = client.get(f"/api/courses/{course_id}", headers=sign_in(client, "nurse")).json()
    assert stored["course"]["plan"]["cycle_end"]["chosen_by"] == "not_needed"


@pytest.mark.parametrize(("token", "echoed"), [("NaN", "nan"), ("-Infinity", "-inf")])
def test_a_number_json_does_not_have_answers_422_naming_it_and_keeps_nothing(
    client: TestClient, token: str, echoed: str
) -> None:
    """Python's JSON reader accepts NaN and Infinity; the answer must still be valid JSON."""
    _, course_id = a_course(client)
    nurse = sign_in(client, "nurse")
    body = json.dumps(first_dose()).replace('"sbp_mmhg": 104', f'"sbp_mmhg": {token}')
    assert token in body
    answer = client.post(f"/api/courses/{course_id}/doses", content=body.encode(),
                         headers=nurse | {"Content-Type": "application/json"})  # fmt: skip
    assert answer.status_code == 422
    assert (answer.json()["field"], answer.json()["value"]) == ("vitals.sbp_mmhg", echoed)
    assert answer.json()["allowed"] == "a finite number"
    assert client.get(f"/api/courses/{course_id}", headers=nurse).json()["doses"] == []


def test_a_refused_extra_field_holding_nan_answers_422(client: TestClient) -> None:
    body = json.dumps(PATIENT | {"extra": 1.0}).replace("1.0", "NaN").encode()
    answer = client.post("/api/patients", content=body, headers=sign_in(client, "physician")
                         | {"Content-Type": "application/json"})  # fmt: skip
    assert answer.status_code == 422
    assert (answer.json()["field"], answer.json()["value"]) == ("extra", "nan")


def test_invalid_json_answers_422(client: TestClient) -> None:
    answer = client.post("/api/patients", content=b'{"mrn": ', headers=sign_in(client, "physician")
                         | {"Content-Type": "application/json"})  # fmt: skip
    assert answer.status_code == 422
    assert answer.json()["allowed"].startswith("valid JSON")


def test_an_unknown_patient_answers_404(client: TestClient) -> None:
    answer = client.get("/api/patients/999", headers=sign_in(client, "nurse"))
    assert answer.status_code == 404
    assert (answer.json()["kind"], answer.json()["key"]) == ("patient", "999")


def test_a_toxicity_is_graded_and_its_correction_points_at_it(client: TestClient) -> None:
    patient_id, course_id = a_course(client)
    nurse, physician = sign_in(client, "nurse"), sign_in(client, "physician")
    findings = {"ctcae_version": "5.0",
                "findings": [{"term": "platelet_count_decreased", "value": 60000, "unit": "per_ul"}]}  # fmt: skip
    first = client.post(f"/api/patients/{patient_id}/toxicities", headers=nurse,
                        json={"observed_on": "2026-12-07", "course_id": course_id, "findings": findings})  # fmt: skip
    assert first.status_code == 201, first.text
    assert first.json()["summary"] == "platelet_count_decreased grade 2"
    fixed = client.post(f"/api/patients/{patient_id}/entries/{first.json()['id']}/corrections",
                        headers=physician, json={"content": findings, "reason": "typo",
                                                 "observed_on": "2026-12-06"})  # fmt: skip
    assert fixed.status_code == 201
    assert fixed.json()["corrects_id"] == first.json()["id"]
    assert fixed.json()["observed_on"] == "2026-12-06"
    follow_up = client.post(f"/api/patients/{patient_id}/follow-ups", headers=physician,
                            json={"observed_on": "2026-12-07", "status": "alive_no_progression"})  # fmt: skip
    assert follow_up.status_code == 201
    entries = client.get(f"/api/patients/{patient_id}", headers=nurse).json()["entries"]
    assert [e["kind"] for e in entries] == ["toxicity", "toxicity", "follow_up"]


ADDITIONS = [
    # (what the assessment changes, the decision, a rule that fires or a field to obtain)
    ({"vasopressors": [{"agent": "norepinephrine", "now_ug_kg_min": 0.05,
                        "max_since_last_dose_ug_kg_min": 0.08}]}, "hold", "pressor-other-agent"),
    ({"mental_status": "lethargy"}, "hold", "legacy-lethargy-somnolence"),
    ({"mental_status": "agitation", "mental_status_change_hours": 3}, "stop_cycle",
     "consensus-mental-status-persistent"),
    ({"dialysis_hours": 80}, "discontinue", "legacy-dialysis-prolonged"),
    ({"findings": None}, "incomplete", "findings"),
    ({"vitals": {"sbp_mmhg": 104, "heart_rate_bpm": 145, "spo2_pct": 96, "temperature_c": 37.8,
                 "rhythm": "other"}}, "stop_cycle", "rhythm-unlisted"),
]  # fmt: skip


@pytest.mark.parametrize(("change", "decision", "named"), ADDITIONS)
def test_the_safety_additions_reach_the_ledger_through_the_api(
    client: TestClient, change: dict[str, Any], decision: str, named: str
) -> None:
    _, course_id = a_course(client)
    assessment = {k: v for k, v in (stable_assessment() | change).items() if v is not None}
    answer = client.post(f"/api/courses/{course_id}/doses", headers=sign_in(client, "nurse"),
                         json={"cycle": 1, "dose_number": 1, "assessment": assessment})  # fmt: skip
    if decision == "incomplete":  # refused: an incomplete assessment consumes nothing
        assert answer.status_code == 409, answer.text
        assert [r["code"] for r in answer.json()["reasons"]] == ["assessment-incomplete"]
        return
    assert answer.status_code == 201, answer.text
    record = answer.json()
    assert record["decision_action"] == decision
    assert record["outcome"] == ("stopped" if decision in ("stop_cycle", "discontinue") else "held")
    named_by = [r["rule"] for r in record["decision"]["reasons"]]
    named_by += [o["field"] for o in record["decision"]["to_obtain"]]
    assert named in named_by


def test_after_til_a_pressor_discontinues_through_the_engine_api(client: TestClient) -> None:
    document = json.loads((ROOT / "examples/bedside/discontinue-post-til-pressor.json").read_text())
    answer = client.post("/api/engine/bedside", json=document, headers=sign_in(client, "nurse"))
    assert answer.status_code == 200
    assert answer.json()["decision"] == "discontinue"
    assert [r["rule"] for r in answer.json()["reasons"]] == ["til-vasopressor"]


@pytest.mark.parametrize(
    ("change", "verdict"),
    [({"age_years": 17}, "ineligible"), ({"cardiac": {"stress_test": "normal"}}, "incomplete"),
     ({"pulmonary": {"fev1_l": 2.5, "fev1_pct_predicted": 60}}, "ineligible"),
     ({"hypersensitivity_to_aldesleukin": True}, "ineligible")],
)  # fmt: skip
def test_a_screening_through_the_api_follows_the_label(
    client: TestClient, change: dict[str, Any], verdict: str
) -> None:
    patient_id, _ = a_course(client)
    candidate = json.loads((ROOT / "examples/candidates/eligible-renal.json").read_text())
    answer = client.post(f"/api/patients/{patient_id}/screenings", json=candidate | change,
                         headers=sign_in(client, "physician"))  # fmt: skip
    assert answer.status_code == 201, answer.text
    assert answer.json()["verdict"] == verdict


def test_a_screening_and_a_response_are_kept_with_their_results(client: TestClient) -> None:
    patient_id, course_id = a_course(client)
    physician = sign_in(client, "physician")
    candidate = json.loads((ROOT / "examples/candidates/eligible-renal.json").read_text())
    screening = client.post(f"/api/patients/{patient_id}/screenings", json=candidate,
                            headers=physician)  # fmt: skip
    assert screening.status_code == 201
    assert screening.json()["verdict"] == "eligible"
    measurements = partial_response_so_far()
    response = client.post(f"/api/patients/{patient_id}/responses", headers=physician,
                           json={"course_id": course_id, "measurements": measurements})  # fmt: skip
    assert response.status_code == 201
    assert response.json()["summary"].startswith("best overall response")


ENGINES = [
    ("screen", ["screen", "examples/candidates/incomplete-melanoma.json"]),
    ("bedside", ["bedside", "examples/bedside/hold-oxygen.json"]),
    ("recist", ["recist", "examples/recist/partial-response.json"]),
    ("grade", ["grade", "-"]),
    ("plan", ["plan", "--regimen", "hd-label", "--weight-kg", "70.5", "--first-dose", FIRST_DOSE]),
    (
        "plan-evening",
        [
            "plan",
            "--regimen",
            "hd-label",
            "--weight-kg",
            "70.5",
            "--first-dose",
            "2026-12-07T20:00:00+00:00",
            "--cycle-end",
            "dose_count",
        ],
    ),
]
GRADE = {"ctcae_version": "5.0",
         "findings": [{"term": "platelet_count_decreased", "value": 60000, "unit": "per_ul"}]}  # fmt: skip


@pytest.mark.parametrize(("engine", "command"), ENGINES, ids=[e for e, _ in ENGINES])
def test_each_engine_answers_the_same_document_as_the_cli(
    client: TestClient, engine: str, command: list[str]
) -> None:
    import subprocess  # noqa: PLC0415 - only this test runs the CLI

    if engine == "plan":
        body: Any = {"regimen": "hd-label", "weight_kg": 70.5, "first_dose": FIRST_DOSE}
    elif engine == "plan-evening":
        engine = "plan"
        body = {"regimen": "hd-label", "weight_kg": 70.5, "cycle_end_rule": "dose_count",
                "first_dose": "2026-12-07T20:00:00+00:00"}  # fmt: skip
    elif engine == "grade":
        body = GRADE
    else:
        body = json.loads((ROOT / command[1]).read_text())
    answer = client.post(f"/api/engine/{engine}", json=body, headers=sign_in(client, "nurse"))
    assert answer.status_code == 200, answer.text
    done = subprocess.run([str(CLI), *command, "--json"], cwd=ROOT, input=json.dumps(GRADE),  # noqa: S603
                          capture_output=True, text=True, check=True, timeout=60)  # fmt: skip
    assert answer.json() == json.loads(done.stdout)


def test_planning_an_unscreened_patient_answers_409_with_its_reason_and_keeps_nothing(
    client: TestClient,
) -> None:
    """Ward walkthrough D8: a course planned with no screening."""
    physician = sign_in(client, "physician")
    patient = client.post("/api/patients", json=PATIENT, headers=physician).json()
    answer = client.post(f"/api/patients/{patient['id']}/courses", headers=physician,
                         json={"regimen": "hd-label", "weight_kg": 70, "first_dose": FIRST_DOSE,
                               "override_reason": "urgent"})  # fmt: skip
    assert answer.status_code == 409, answer.text
    assert [(r["code"], r["overridable"]) for r in answer.json()["reasons"]] == [
        ("screening-missing", False)
    ]
    record = client.get(f"/api/patients/{patient['id']}", headers=physician).json()
    assert record["courses"] == []


def test_a_short_rest_is_planned_against_only_with_a_reason_kept_in_the_plan(
    client: TestClient,
) -> None:
    patient_id, _ = a_course(client)
    physician = sign_in(client, "physician")
    body = {"regimen": "hd-label", "weight_kg": 70, "first_dose": "2027-01-20T08:00:00-08:00"}
    refused = client.post(f"/api/patients/{patient_id}/courses", json=body, headers=physician)
    assert refused.status_code == 409, refused.text
    assert [(r["code"], r["overridable"]) for r in refused.json()["reasons"]] == [
        ("rest-too-short", True)
    ]
    reason = "tumour board: early second course"
    planned = client.post(f"/api/patients/{patient_id}/courses", headers=physician,
                          json=body | {"override_reason": reason})  # fmt: skip
    assert planned.status_code == 201, planned.text
    override = planned.json()["plan"]["admission_override"]
    assert (override["reason"], override["by"]) == (reason, "physician")
    assert [o["code"] for o in override["overrides"]] == ["rest-too-short"]


def test_a_discharge_is_kept_and_one_before_the_last_dose_is_named(client: TestClient) -> None:
    patient_id, course_id = a_course(client)
    nurse = sign_in(client, "nurse")
    discharges = f"/api/patients/{patient_id}/discharges"
    early = client.post(discharges, headers=nurse,
                        json={"course_id": course_id, "discharged_on": "2026-12-07"})  # fmt: skip
    assert early.status_code == 422
    assert early.json()["field"] == "course_id"
    given = client.post(f"/api/courses/{course_id}/doses", json=first_dose(), headers=nurse)
    assert given.status_code == 201, given.text
    before = client.post(discharges, headers=nurse,
                         json={"course_id": course_id, "discharged_on": "2026-12-06"})  # fmt: skip
    assert before.status_code == 422
    assert (before.json()["field"], before.json()["value"]) == ("discharged_on", "2026-12-06")
    assert "2026-12-07" in before.json()["allowed"]
    kept = client.post(discharges, headers=nurse,
                       json={"course_id": course_id, "discharged_on": "2026-12-07"})  # fmt: skip
    assert kept.status_code == 201, kept.text
    assert kept.json()["summary"] == "discharged on 2026-12-07 after course 1"
    assert client.post(discharges, headers=sign_in(client, "pharmacist"),
                       json={"course_id": course_id, "discharged_on": "2026-12-07"}).status_code == 403  # fmt: skip
    entries = client.get(f"/api/patients/{patient_id}", headers=nurse).json()["entries"]
    assert [e["kind"] for e in entries] == ["discharge"]
