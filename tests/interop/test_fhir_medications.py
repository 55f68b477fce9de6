"""Condition, MedicationRequest and MedicationAdministration through the FHIR facade: a course
given, held and discontinued, and an outpatient course's self-injection diary, read by staff
and by a researcher; every resource validated by fhir.resources (R4B) and its codes checked
against the R4 value sets they are bound to. One search goes through fhirpy over a live server.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.condition import Condition
from fhir.resources.R4B.medicationadministration import MedicationAdministration
from fhir.resources.R4B.medicationrequest import MedicationRequest
from fhirpy import SyncFHIRClient

from il2.bootstrap import App
from il2.server import create_server
from tests.e2e.test_api import sign_in
from tests.integration.builders import outpatient_app, staff
from tests.integration.conftest import FixedClock
from tests.interop.programs import Program, live, treat

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

# The R4 value sets each status and code is bound to (required bindings), from the spec pages.
R4_VALUE_SETS: dict[str, frozenset[str]] = {
    # http://hl7.org/fhir/R4/valueset-medication-admin-status.html
    "MedicationAdministration.status": frozenset(
        {
            "in-progress",
            "not-done",
            "on-hold",
            "completed",
            "entered-in-error",
            "stopped",
            "unknown",
        }
    ),
    # http://hl7.org/fhir/R4/valueset-medicationrequest-status.html
    "MedicationRequest.status": frozenset(
        {
            "active",
            "on-hold",
            "cancelled",
            "completed",
            "entered-in-error",
            "stopped",
            "draft",
            "unknown",
        }
    ),
    # http://hl7.org/fhir/R4/valueset-medicationrequest-intent.html
    "MedicationRequest.intent": frozenset(
        {
            "proposal",
            "plan",
            "order",
            "original-order",
            "reflex-order",
            "filler-order",
            "instance-order",
            "option",
        }
    ),
    # http://hl7.org/fhir/R4/valueset-condition-category.html (US Core 6.1.0 adds
    # health-concern from its own code system; il2 uses the R4 one)
    "Condition.category": frozenset({"problem-list-item", "encounter-diagnosis"}),
}
CATEGORY_SYSTEM = "http://terminology.hl7.org/CodeSystem/condition-category"
MODELS: dict[str, Any] = {
    "Condition": Condition,
    "MedicationRequest": MedicationRequest,
    "MedicationAdministration": MedicationAdministration,
}


@pytest.fixture(scope="module")
def treated(shared_app: App, shared_clock: FixedClock) -> Iterator[Program]:
    """One treated patient per engine for the module: its tests only read."""
    lifted = outpatient_app(shared_app)
    staff(lifted)
    with TestClient(create_server(lifted)) as client:
        yield treat(client, lifted, shared_clock)


def _by_id(resources: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in resources}


def test_every_resource_validates_and_its_codes_are_in_the_r4_value_sets(
    treated: Program,
) -> None:
    found = {kind: treated.search(kind) for kind in MODELS}
    assert [len(found[k]) for k in MODELS] == [1, 2, 5]
    for kind, resources in found.items():
        for resource in resources:
            MODELS[kind].model_validate(resource)
            assert resource["subject"] == {"reference": f"Patient/{treated.patient_id}"}
            assert resource["meta"]["profile"][0].startswith(
                "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-"
            )
    for request in found["MedicationRequest"]:
        assert request["status"] in R4_VALUE_SETS["MedicationRequest.status"]
        assert request["intent"] in R4_VALUE_SETS["MedicationRequest.intent"]
    for given in found["MedicationAdministration"]:
        assert given["status"] in R4_VALUE_SETS["MedicationAdministration.status"]
    (condition,) = found["Condition"]
    codings = [c for category in condition["category"] for c in category["coding"]]
    assert all(c["system"] == CATEGORY_SYSTEM for c in codings)
    assert {c["code"] for c in codings} <= R4_VALUE_SETS["Condition.category"]


def test_the_diagnosis_is_text_only_until_a_verified_code_exists(treated: Program) -> None:
    (condition,) = treated.search("Condition")
    assert condition["code"] == {"text": "Melanoma"}
    assert condition["recordedDate"].startswith("2026-12-07")
    assert treated.search("Condition", code="melanoma") == []  # no coding to match


def test_a_held_dose_is_not_done_and_its_reason_names_the_rule_that_held_it(
    treated: Program,
) -> None:
    held = treated.get(
        f"MedicationAdministration/{treated.patient_id}.dose-{treated.hd_course}-1-2"
    )
    MedicationAdministration.model_validate(held)
    assert held["status"] == "not-done"
    (reason,) = held["statusReason"]
    assert reason["coding"][0]["code"] == "label-sbp-low"
    assert "systolic BP 85 mmHg" in reason["text"]
    assert "Label-2024 Table 2" in reason["text"]
    assert held["effectiveDateTime"].startswith("2026-12-08T00:00")
    assert held["request"] == {
        "reference": f"MedicationRequest/{treated.patient_id}.course-{treated.hd_course}"
    }
    assert held["dosage"]["dose"] == {"value": 42000000, "unit": "IU"}


def test_the_discontinued_course_is_stopped_and_the_diary_course_still_active(
    treated: Program,
) -> None:
    requests = _by_id(treated.search("MedicationRequest"))
    bolus = requests[f"{treated.patient_id}.course-{treated.hd_course}"]
    outpatient = requests[f"{treated.patient_id}.course-{treated.sc_course}"]
    assert (bolus["status"], outpatient["status"]) == ("stopped", "active")
    assert "label-sustained-vt" in bolus["statusReason"]["text"]
    assert bolus["requester"] == {"display": "physician"}
    assert bolus["reasonReference"] == [{"reference": f"Condition/{treated.patient_id}.condition"}]
    (dosage,) = bolus["dosageInstruction"]
    assert dosage["timing"]["repeat"] == {"count": 28, "frequency": 1, "period": 8,
                                          "periodUnit": "h"}  # fmt: skip
    assert [d["sequence"] for d in outpatient["dosageInstruction"]] == [1, 2]
    stopped = [r["id"] for r in treated.search("MedicationRequest", status="stopped")]
    assert stopped == [bolus["id"]]


def test_the_diary_reports_a_taken_injection_done_and_a_missed_one_not_done(
    treated: Program,
) -> None:
    given = _by_id(treated.search("MedicationAdministration"))
    prefix = f"{treated.patient_id}.diary-{treated.sc_course}-1"
    taken, missed = given[f"{prefix}-1"], given[f"{prefix}-2"]
    assert (taken["status"], taken["effectiveDateTime"]) == (
        "completed",
        "2026-12-01T09:10:00+00:00",
    )
    assert "self-injection diary" in taken["note"][0]["text"]
    assert missed["status"] == "not-done"
    assert missed["statusReason"] == [{"text": "missed: no syringes"}]
    assert missed["effectiveDateTime"] == "2026-12-02T09:00:00+00:00"  # its planned time


def test_include_brings_the_requests_of_the_administrations(treated: Program) -> None:
    bundle = treated.get(
        "MedicationAdministration",
        patient=f"Patient/{treated.patient_id}",
        _include="MedicationAdministration:request",
    )
    Bundle.model_validate(bundle)
    modes: dict[str, list[str]] = {}
    for entry in bundle["entry"]:
        modes.setdefault(entry["search"]["mode"], []).append(entry["resource"]["resourceType"])
    assert modes == {
        "match": ["MedicationAdministration"] * 5,
        "include": ["MedicationRequest"] * 2,
    }


def test_effective_time_filters_by_date(treated: Program) -> None:
    since = treated.search("MedicationAdministration", **{"effective-time": "ge2026-12-07"})
    assert sorted(r["id"].split(".")[1] for r in since) == [
        f"dose-{treated.hd_course}-1-{n}" for n in (1, 2, 3)
    ]
    before = treated.search("MedicationAdministration", **{"effective-time": "lt2026-12-02"})
    assert [r["status"] for r in before] == ["completed"]
    done = treated.search("MedicationAdministration", status="completed")
    assert len(done) == 2


def test_a_researcher_reads_shifted_dates_and_no_one_who_recorded(treated: Program) -> None:
    found = {kind: treated.search(kind, role="researcher") for kind in MODELS}
    for kind, resources in found.items():
        for resource in resources:
            MODELS[kind].model_validate(resource)
            assert resource["id"].startswith(f"{treated.study_id}.")
    text = json.dumps(found)
    for name in ("requester", "performer", "recordedDate", "no syringes", "2026-"):
        assert name not in text
    requests = _by_id(found["MedicationRequest"])
    assert {r["authoredOn"][:4] for r in requests.values()} == {"2000"}
    assert f"{treated.study_id}.course-2" in requests  # the course's number, not its database id


def test_fhirpy_searches_pages_and_includes_over_http(treated: Program) -> None:
    token = sign_in(treated.client, "physician")["Authorization"]
    patient = f"Patient/{treated.patient_id}"
    with live(treated.app) as root:
        base = f"{root}/fhir"
        client = SyncFHIRClient(base, authorization=token)
        administrations = client.resources("MedicationAdministration").search(patient=patient)
        paged = administrations.limit(2).fetch_all()  # three pages, following `next`
        assert len(paged) == 5
        assert len({r["id"] for r in paged}) == 5
        first = administrations.limit(2).fetch()
        assert len(first) == 2
        raw = administrations.include("MedicationAdministration", "request").fetch_raw()
        included = [e for e in raw["entry"] if e["search"]["mode"] == "include"]
        assert {e["resource"]["resourceType"] for e in included} == {"MedicationRequest"}
        held = client.resources("MedicationAdministration").search(
            patient=patient, status="not-done"
        )
        assert {r["statusReason"][0]["text"].split(":")[0] for r in held.fetch_all()} >= {
            "hold by rule label-sbp-low"
        }
