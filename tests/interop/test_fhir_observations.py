"""Observation and AdverseEvent over a real record: codes from codes.toml within their value
sets, searches by code, category and date, de-identification, and corrected toxicities."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fhir.resources.R4B.adverseevent import AdverseEvent
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.observation import Observation

from il2.bootstrap import App
from il2.domain.coding import Section
from il2.server import create_server
from tests.e2e.test_api import a_course, first_dose, sign_in
from tests.integration.builders import staff
from tests.interop.programs import toxicity_and_response

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

LOINC, UCUM = "http://loinc.org", "http://unitsofmeasure.org"


@pytest.fixture(scope="module")
def record(shared_app: App) -> Iterator[tuple[TestClient, int, App]]:
    """A patient with a course, one dose, a toxicity graded 2 then corrected to 3, a response;
    one per engine for the module (its tests only read)."""
    staff(shared_app)
    with TestClient(create_server(shared_app)) as client:
        patient_id, course_id = a_course(client)
        nurse = sign_in(client, "nurse")
        dose = client.post(f"/api/courses/{course_id}/doses", headers=nurse, json=first_dose())
        assert dose.status_code == 201, dose.text
        toxicity_and_response(client, patient_id, course_id)
        yield client, patient_id, shared_app


def _search(client: TestClient, path: str, role: str = "physician", **params: Any) -> Bundle:
    answer = client.get(f"/fhir/{path}", params=params, headers=sign_in(client, role))
    assert answer.status_code == 200, answer.text
    return Bundle.model_validate(answer.json())


def _resources(bundle: Bundle, kind: str) -> list[dict[str, Any]]:
    return [
        e.resource.model_dump(mode="json", exclude_none=True)
        for e in bundle.entry or []
        if e.resource.get_resource_type() == kind
    ]


def _observations(
    client: TestClient, patient: str, role: str = "physician", **params: Any
) -> list[dict[str, Any]]:
    bundle = _search(client, "Observation", role, patient=patient, **params)
    found = _resources(bundle, "Observation")
    for resource in found:
        Observation.model_validate(resource)
    return found


def test_every_observation_validates_with_codes_from_the_code_table(
    record: tuple[TestClient, int, App],
) -> None:
    client, patient_id, app = record
    codes = app.rules.codes
    found = _observations(client, f"Patient/{patient_id}")
    loinc = {c.coding.code for c in codes.codings[Section.FIELDS].values()}
    ucum = {c.coding.code for c in codes.codings[Section.UNITS].values()}
    trend = codes.value_sets["condition_status_trend"].codes
    kinds = {"bedside": 0, "ecog": 0, "status": 0}
    for resource in found:
        profiles = resource.get("meta", {}).get("profile", [])
        if any(p.endswith("mcode-cancer-disease-status") for p in profiles):
            kinds["status"] += 1
            value = resource["valueCodeableConcept"]["coding"][0]
            assert value["code"] in trend
            assert resource["focus"][0]["reference"] == f"Condition/{patient_id}.condition"
            continue
        coding = resource["code"]["coding"][0]
        assert coding["system"] == LOINC
        assert coding["code"] in loinc
        if "valueInteger" in resource:
            kinds["ecog"] += 1
            assert coding["code"] == "89247-1"
            continue
        kinds["bedside"] += 1
        assert resource["valueQuantity"]["system"] == UCUM
        assert resource["valueQuantity"]["code"] in ucum
    # stable-give.json: 4 vitals, weight, 4 labs and oxygen are coded; urine output and the
    # phenylephrine rates have no verified code and are left out
    assert kinds == {"bedside": 10, "ecog": 1, "status": 1}


def test_a_search_by_loinc_code_and_date_returns_exactly_the_systolic_pressure(
    record: tuple[TestClient, int, App],
) -> None:
    client, patient_id, app = record
    sbp = app.rules.codes.coding(Section.FIELDS, "vitals.sbp_mmhg")
    assert sbp is not None
    found = _observations(client, f"Patient/{patient_id}", code=f"{LOINC}|{sbp.code}",
                          date="ge2026-12-07")  # fmt: skip
    assert [r["valueQuantity"]["value"] for r in found] == [104]
    assert [r["valueQuantity"]["code"] for r in found] == ["mm[Hg]"]
    assert "meta" not in found[0]  # a lone systolic value cannot meet the R4 BP profile
    assert _observations(client, f"Patient/{patient_id}", code=f"{LOINC}|{sbp.code}",
                         date="ge2026-12-08") == []  # fmt: skip


def test_category_vital_signs_filters_to_vital_signs(record: tuple[TestClient, int, App]) -> None:
    client, patient_id, _ = record
    found = _observations(client, f"Patient/{patient_id}", category="vital-signs")
    assert {r["code"]["coding"][0]["code"] for r in found} == {
        "8480-6", "8867-4", "59408-5", "8310-5", "29463-7"
    }  # fmt: skip
    heart = next(r for r in found if r["code"]["coding"][0]["code"] == "8867-4")
    assert heart["meta"]["profile"] == [
        "http://hl7.org/fhir/StructureDefinition/vitalsigns",
        "http://hl7.org/fhir/StructureDefinition/heartrate",
    ]
    labs = _observations(client, f"Patient/{patient_id}", category="laboratory")
    assert len(labs) == 4
    # the dose was recorded at the test clock's 16:00 UTC, the labs drawn 6 hours before
    assert {datetime.fromisoformat(r["effectiveDateTime"]) for r in labs} == {
        datetime(2026, 12, 7, 10, tzinfo=UTC)
    }


def test_include_brings_the_patient(record: tuple[TestClient, int, App]) -> None:
    client, patient_id, _ = record
    bundle = _search(client, "Observation", patient=f"Patient/{patient_id}",
                     category="survey", _include="Observation:patient")  # fmt: skip
    assert [p["id"] for p in _resources(bundle, "Patient")] == [str(patient_id)]


def test_a_researcher_reads_shifted_dates_and_no_free_text(
    record: tuple[TestClient, int, App],
) -> None:
    client, patient_id, _ = record
    staff_view = _observations(client, f"Patient/{patient_id}")
    study = _search(client, "Patient", "researcher").entry[0].resource.id  # type: ignore[index]
    research = _observations(client, f"Patient/{study}", "researcher")
    assert len(research) == len(staff_view)
    assert all(r["id"].startswith(f"{study}.") for r in research)
    staff_dates = {r["effectiveDateTime"][:10] for r in staff_view}
    research_dates = {r["effectiveDateTime"][:10] for r in research}
    assert staff_dates.isdisjoint(research_dates)
    events = _resources(
        _search(client, "AdverseEvent", "researcher", patient=study), "AdverseEvent"
    )
    text = str(research) + str(events)
    assert "misread" not in text
    assert "physician" not in text


def test_a_corrected_grade_3_toxicity_is_one_adverse_event_with_the_ncit_grade_3(
    record: tuple[TestClient, int, App],
) -> None:
    client, patient_id, app = record
    bundle = _search(client, "AdverseEvent", patient=f"Patient/{patient_id}")
    events = _resources(bundle, "AdverseEvent")
    assert len(events) == 1  # the corrected original is superseded, not a second event
    event = events[0]
    AdverseEvent.model_validate(event)
    codes = app.rules.codes
    grade = event["extension"][0]
    assert (
        grade["url"]
        == "http://hl7.org/fhir/uv/ae-research-backport-ig/StructureDefinition/ae-grade"
    )
    coding = grade["valueCodeableConcept"]["coding"][0]
    assert coding["code"] == "C41340"  # Grade 3 Severe Adverse Event
    assert coding["code"] in codes.value_sets["ae_clinical_research_grades"].codes
    assert event["event"]["coding"][0] == {
        "system": "https://www.meddra.org", "code": "10035528",
        "display": "Platelet count decreased",
    }  # fmt: skip
    assert event["actuality"] == "actual"
    assert event["suspectEntity"][0]["instance"]["reference"] == "#aldesleukin"
    assert event["date"] == "2026-12-07"
    by_date = _search(client, "AdverseEvent", patient=f"Patient/{patient_id}",
                      event="https://www.meddra.org|10035528", date="2026-12-07")  # fmt: skip
    assert len(_resources(by_date, "AdverseEvent")) == 1


def test_an_observation_and_an_adverse_event_read_by_id(
    record: tuple[TestClient, int, App],
) -> None:
    client, patient_id, _ = record
    headers = sign_in(client, "physician")
    for resource in _observations(client, f"Patient/{patient_id}")[:1]:
        answer = client.get(f"/fhir/Observation/{resource['id']}", headers=headers)
        assert answer.status_code == 200
        assert answer.json()["id"] == resource["id"]
        assert answer.json()["valueQuantity"] == resource["valueQuantity"]
    event = _resources(_search(client, "AdverseEvent", patient=str(patient_id)), "AdverseEvent")[0]
    answer = client.get(f"/fhir/AdverseEvent/{event['id']}", headers=headers)
    assert answer.status_code == 200
    assert answer.json()["id"] == f"{patient_id}.toxicity-1-1"
