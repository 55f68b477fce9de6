"""Reading the EHR (issue 19, item 4) from a real FHIR R4 server: the Medplum peer.

The peer is shared by the session, so every test loads its own patient under a new MRN. The
test clock reads 2026-12-07 16:00 UTC.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import httpx
import pytest

from il2.bootstrap import App
from il2.domain.errors import NotFoundError, PermissionDeniedError, UnavailableError
from il2.domain.records import Actor, Role
from il2.ehr.fhir import FhirEhrRecords
from il2.services.ehr import ehr_bedside_values, ehr_referral_fields
from il2.services.patients import create_patient, patient_count
from il2.services.ports import AuditQuery
from tests.integration.builders import PATIENT, keep_course, staff

FHIR_JSON = "application/fhir+json"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
MRN_SYSTEM = "urn:il2:mrn"  # the default of site policy ehr_mrn_system


def create(base: str, resource: dict[str, Any]) -> dict[str, Any]:
    """Create a resource on the peer over HTTP; the created resource."""
    answer = httpx.post(
        f"{base}/{resource['resourceType']}",
        json=resource,
        headers={"Content-Type": FHIR_JSON},
        timeout=10,
    )
    assert answer.status_code == 201, answer.text
    created: dict[str, Any] = answer.json()
    return created


def observation(
    patient_id: str, code: str, when: str, value: float, unit: str, *, status: str = "final"
) -> dict[str, Any]:
    """A LOINC-coded Observation with a UCUM quantity."""
    return {
        "resourceType": "Observation",
        "status": status,
        "code": {"coding": [{"system": LOINC, "code": code}]},
        "subject": {"reference": f"Patient/{patient_id}"},
        "effectiveDateTime": when,
        "valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit},
    }


def ehr_patient(base: str, mrn: str, **extra: Any) -> dict[str, Any]:
    """A Patient on the peer with `mrn` in the site's MRN system."""
    return create(
        base,
        {
            "resourceType": "Patient",
            "identifier": [{"system": MRN_SYSTEM, "value": mrn}],
            "name": [{"use": "official", "family": "Okafor", "given": ["Ada"]}],
            "birthDate": "1961-03-09",
            "gender": "female",
            **extra,
        },
    )


# The EHR's chart: two systolic pressures (the later one is the latest), a temperature in
# Fahrenheit (not il2's unit), creatinine and platelets drawn this morning, a bilirubin two
# days old (over the site's 24 h for labs), and a preliminary bicarbonate.
CHART = [
    ("8480-6", "2026-12-07T10:00:00Z", 141, "mm[Hg]"),
    ("8480-6", "2026-12-07T15:00:00Z", 118, "mm[Hg]"),
    ("8867-4", "2026-12-07T14:30:00Z", 96, "/min"),
    ("59408-5", "2026-12-07T14:30:00Z", 95, "%"),
    ("8310-5", "2026-12-07T14:30:00Z", 100.4, "[degF]"),
    ("2160-0", "2026-12-07T06:00:00Z", 1.1, "mg/dL"),
    ("777-3", "2026-12-07T06:00:00Z", 150000, "/uL"),
    ("1975-2", "2026-12-05T16:00:00Z", 0.8, "mg/dL"),
]


@dataclass
class Ward:
    """il2 with the peer as its EHR, one patient on both sides, and a planned course."""

    app: App
    people: dict[Role, Actor]
    mrn: str
    ehr_id: str
    course_id: int


@pytest.fixture
def ward(app: App, fhir_peer_server: str) -> Iterator[Ward]:
    ehr = FhirEhrRecords(fhir_peer_server)
    linked = replace(app, services=replace(app.services, ehr=ehr))
    people = staff(linked)
    mrn = f"E{uuid.uuid4().hex[:12]}"
    found = ehr_patient(fhir_peer_server, mrn)
    for code, when, value, unit in CHART:
        create(fhir_peer_server, observation(found["id"], code, when, value, unit))
    create(
        fhir_peer_server,
        observation(
            found["id"], "1963-8", "2026-12-07T06:00:00Z", 22, "mmol/L", status="preliminary"
        ),
    )
    patient = create_patient(linked.services, people[Role.PHYSICIAN], PATIENT | {"mrn": mrn})
    course = keep_course(
        linked.services, patient.id, regimen="hd-label", first_dose="2026-12-07T08:00:00-08:00"
    )
    yield Ward(linked, people, mrn, found["id"], course)
    ehr.close()


def offers_by_field(found: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {o["field"]: o for o in found["offers"]}


def test_the_latest_values_are_offered_with_their_times_and_ages(ward: Ward) -> None:
    found = ehr_bedside_values(
        ward.app.services, ward.people[Role.NURSE], ward.course_id, cycle=1, dose_number=1
    )

    offers = offers_by_field(found)
    sbp = offers["vitals.sbp_mmhg"]
    assert (sbp["value"], sbp["effective"], sbp["age_hours"]) == (
        "118",
        "2026-12-07T15:00:00+00:00",
        "1.0",
    )
    assert sbp["usable"] is True
    assert sbp["observation"].startswith(f"{found['ehr']}/Observation/")
    assert offers["vitals.heart_rate_bpm"]["value"] == "96"
    assert offers["labs.platelets_per_ul"]["value"] == "150000"
    assert found["ehr_patient"].endswith(f"/Patient/{ward.ehr_id}")
    assert found["fill"] == {
        "vitals.sbp_mmhg": "118",
        "vitals.heart_rate_bpm": "96",
        "vitals.spo2_pct": "95",
        "labs.creatinine_mg_dl": "1.1",
        "labs.platelets_per_ul": "150000",
        "labs.bilirubin_mg_dl": "0.8",
        "labs.hours_since_drawn": "48",  # the oldest lab offered: the bilirubin
    }
    assert "weight_kg" in found["not_in_ehr"]


def test_a_value_in_another_unit_is_listed_but_not_usable_and_says_why(ward: Ward) -> None:
    found = ehr_bedside_values(
        ward.app.services, ward.people[Role.NURSE], ward.course_id, cycle=1, dose_number=1
    )

    temperature = offers_by_field(found)["vitals.temperature_c"]
    assert temperature["usable"] is False
    assert temperature["value"] is None
    assert temperature["ehr_value"] == "100.4"
    assert "[degF]" in temperature["reason"]
    assert "never converted" in temperature["reason"]
    assert "vitals.temperature_c" not in found["fill"]
    bicarbonate = offers_by_field(found)["labs.bicarbonate_mmol_l"]
    assert bicarbonate["usable"] is False
    assert "preliminary" in bicarbonate["reason"]


def test_labs_older_than_the_site_allows_are_flagged_old(ward: Ward) -> None:
    found = ehr_bedside_values(
        ward.app.services, ward.people[Role.NURSE], ward.course_id, cycle=1, dose_number=1
    )

    offers = offers_by_field(found)
    assert offers["labs.bilirubin_mg_dl"]["old"] is True
    assert "lab_max_age_h" in offers["labs.bilirubin_mg_dl"]["reason"]
    assert offers["labs.creatinine_mg_dl"]["old"] is False  # 10 h old
    assert offers["vitals.sbp_mmhg"]["old"] is False


def test_one_audit_entry_names_who_read_which_patient_and_what_came_back(ward: Ward) -> None:
    ehr_bedside_values(
        ward.app.services, ward.people[Role.NURSE], ward.course_id, cycle=1, dose_number=1
    )

    with ward.app.services.uow() as uow:
        entries = uow.audit.page(AuditQuery(action="ehr_read"), limit=10)
    assert len(entries) == 1
    entry = entries[0]
    assert entry.username == "nurse"
    assert entry.after is not None
    assert str(entry.after["ehr_patient"]).endswith(f"/Patient/{ward.ehr_id}")
    assert "vitals.temperature_c" in entry.after["fields"]
    assert "vitals.temperature_c" not in entry.after["usable"]


def test_an_mrn_the_ehr_does_not_know_is_not_found_in_the_ehr(ward: Ward) -> None:
    physician = ward.people[Role.PHYSICIAN]
    other = create_patient(ward.app.services, physician, PATIENT | {"mrn": "NOT-IN-THE-EHR"})
    course = keep_course(
        ward.app.services, other.id, regimen="hd-label", first_dose="2026-12-07T08:00:00-08:00"
    )

    with pytest.raises(NotFoundError, match="in the EHR"):
        ehr_bedside_values(ward.app.services, ward.people[Role.NURSE], course, 1, 1)
    with pytest.raises(NotFoundError, match="in the EHR"):
        ehr_referral_fields(ward.app.services, physician, "NOT-IN-THE-EHR")
    with ward.app.services.uow() as uow:
        refused = uow.audit.page(AuditQuery(action="refuse_ehr_read"), limit=10)
    assert len(refused) == 2


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # closed when the socket is: nothing listens there


def test_an_ehr_that_is_down_gives_a_clear_error(ward: Ward) -> None:
    down = FhirEhrRecords(f"http://127.0.0.1:{closed_port()}/fhir", timeout_s=2)
    services = replace(ward.app.services, ehr=down)

    with pytest.raises(UnavailableError, match=r"could not be reached.*ConnectError"):
        ehr_bedside_values(services, ward.people[Role.NURSE], ward.course_id, 1, 1)
    down.close()


def test_an_ehr_answering_an_error_gives_a_clear_error(ward: Ward, fhir_peer_server: str) -> None:
    wrong = FhirEhrRecords(fhir_peer_server + "/no-such-base")
    services = replace(ward.app.services, ehr=wrong)

    with pytest.raises(UnavailableError, match="answered the patient search with HTTP 404"):
        ehr_bedside_values(services, ward.people[Role.NURSE], ward.course_id, 1, 1)
    wrong.close()


def test_without_an_ehr_the_import_says_none_is_configured(ward: Ward) -> None:
    services = replace(ward.app.services, ehr=None)

    with pytest.raises(UnavailableError, match="no EHR is configured"):
        ehr_bedside_values(services, ward.people[Role.NURSE], ward.course_id, 1, 1)


def test_a_role_that_may_not_record_doses_may_not_read_them_from_the_ehr(ward: Ward) -> None:
    for role in (Role.PHARMACIST, Role.COORDINATOR, Role.RESEARCHER, Role.ADMINISTRATOR):
        with pytest.raises(PermissionDeniedError):
            ehr_bedside_values(ward.app.services, ward.people[role], ward.course_id, 1, 1)


def test_a_referral_is_prefilled_from_the_ehr_and_nothing_is_registered(
    ward: Ward, fhir_peer_server: str
) -> None:
    mrn = f"R{uuid.uuid4().hex[:12]}"
    found = ehr_patient(fhir_peer_server, mrn)
    create(
        fhir_peer_server,
        {
            "resourceType": "Condition",
            "subject": {"reference": f"Patient/{found['id']}"},
            "code": {"text": "Essential hypertension"},
        },
    )
    create(
        fhir_peer_server,
        {
            "resourceType": "Condition",
            "subject": {"reference": f"Patient/{found['id']}"},
            "code": {"text": "Renal Cell  carcinoma"},
        },
    )
    before = patient_count(ward.app.services)

    referral = ehr_referral_fields(ward.app.services, ward.people[Role.COORDINATOR], mrn)

    assert referral["fields"] == {
        "mrn": mrn,
        "name": "Ada Okafor",
        "birth_date": "1961-03-09",
        "sex": "female",
        "diagnosis": "renal_cell_carcinoma",
    }
    assert "by text" in referral["notes"]["diagnosis"]
    assert patient_count(ward.app.services) == before
    with pytest.raises(PermissionDeniedError):
        ehr_referral_fields(ward.app.services, ward.people[Role.NURSE], mrn)


def test_a_referral_without_a_recognised_diagnosis_leaves_it_to_choose(
    ward: Ward, fhir_peer_server: str
) -> None:
    mrn = f"R{uuid.uuid4().hex[:12]}"
    found = ehr_patient(fhir_peer_server, mrn)
    create(
        fhir_peer_server,
        {
            "resourceType": "Condition",
            "subject": {"reference": f"Patient/{found['id']}"},
            "code": {"text": "Metastatic melanoma of the skin"},  # not il2's words exactly
        },
    )

    referral = ehr_referral_fields(ward.app.services, ward.people[Role.PHYSICIAN], mrn)

    assert "diagnosis" not in referral["fields"]
    assert "choose" in referral["notes"]["diagnosis"]
