"""CDS Hooks 2.0 services at /cds-services: discovery, order-sign and patient-view over a real
database, the JWT each call carries, and every answer checked against the specification's rules
(https://cds-hooks.hl7.org/2.0/#card-attributes)."""

from __future__ import annotations

import json
import time
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.observation import Observation

from il2.bootstrap import App
from il2.server import create_server
from il2.services.accounts import add_user
from tests.integration.builders import (
    PASSWORD,
    PATIENT,
    keep_course,
    screen_eligible,
    stable_assessment,
    staff,
)

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

BASE = "http://testserver"
ISSUER = "https://ehr.example.org/"
KID = "example-kid"
EHR_ID = "1288992"  # the spec examples' patient id, the EHR's own
REFERRED_MRN = "MRN-0002"  # a patient referred, not yet screened
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
INDICATORS = {"info", "warning", "critical"}
# The before-dose fields an EHR sends as Observations (codes.toml [fields]), with UCUM units.
OBSERVED = {
    "vitals.sbp_mmhg": ("8480-6", "mm[Hg]"),
    "vitals.heart_rate_bpm": ("8867-4", "/min"),
    "vitals.spo2_pct": ("59408-5", "%"),
    "vitals.temperature_c": ("8310-5", "Cel"),
    "weight_kg": ("29463-7", "kg"),
    "labs.creatinine_mg_dl": ("2160-0", "mg/dL"),
    "labs.bilirubin_mg_dl": ("1975-2", "mg/dL"),
    "labs.platelets_per_ul": ("777-3", "/uL"),
    "labs.bicarbonate_mmol_l": ("1963-8", "mmol/L"),
    "oxygen_l_min": ("3151-8", "L/min"),
}


@dataclass
class Ehr:
    """A CDS client: its signing key, and the il2 server it calls."""

    client: TestClient
    key: ec.EllipticCurvePrivateKey
    patient_id: int
    referred_id: int

    def token(self, service: str, **changes: Any) -> str:
        now = int(time.time())
        claims = {"iss": ISSUER, "aud": f"{BASE}/cds-services/{service}", "exp": now + 300,
                  "iat": now, "jti": str(uuid.uuid4())}  # fmt: skip
        claims.update(changes)
        return jwt.encode(claims, self.key, algorithm="ES384", headers={"kid": KID, "typ": "JWT"})

    def call(self, service: str, body: Any, token: str | None = None) -> Any:
        signed = token if token is not None else self.token(service)
        return self.client.post(
            f"/cds-services/{service}", json=body, headers={"Authorization": f"Bearer {signed}"}
        )


def _jwks(key: ec.EllipticCurvePrivateKey) -> dict[str, Any]:
    public = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    return {"keys": [{**public, "kid": KID, "use": "sig", "alg": "ES384"}]}


def trust(app: App, key: ec.EllipticCurvePrivateKey, folder: Path) -> App:
    """`app` trusting one CDS client (ISSUER, signing with `key`) under the account ehr-cds."""
    add_user(app.services, None, username="ehr-cds", display_name="EHR CDS client",
             role="physician", password=PASSWORD)  # fmt: skip
    listed = folder / "cds-clients.toml"
    keys = json.dumps(_jwks(key)["keys"][0]).replace('":', '" =')[1:-1]
    listed.write_text(
        f'[[clients]]\niss = "{ISSUER}"\naccount = "ehr-cds"\njwks = {{ keys = [ {{ {keys} }} ] }}\n'
    )
    return replace(app, settings=replace(app.settings, cds_clients=listed))


def enrol(app: App) -> tuple[int, int]:
    """Two patients: one screened eligible with a label course whose first dose is due now
    (PATIENT's MRN, the one `_patient()` sends), and one referred (REFERRED_MRN); their ids."""
    from il2.domain.records import Role  # noqa: PLC0415 - test helper
    from il2.services.patients import create_patient  # noqa: PLC0415

    physician = staff(app)[Role.PHYSICIAN]
    patient = create_patient(app.services, physician, PATIENT)
    referred = create_patient(app.services, physician, {**PATIENT, "mrn": REFERRED_MRN})
    screen_eligible(app.services, physician, patient.id)
    keep_course(
        app.services, patient.id, regimen="hd-label", first_dose="2026-12-07T15:30:00+00:00"
    )
    return patient.id, referred.id


@pytest.fixture(scope="module")
def ehr(shared_app: App, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ehr]:
    """One EHR and one il2 for the module: its tests only read and call (a CDS call writes
    only audit entries, and each token has its own jti)."""
    patient_id, referred_id = enrol(shared_app)
    key = ec.generate_private_key(ec.SECP384R1())
    configured = trust(shared_app, key, tmp_path_factory.mktemp("cds"))
    with TestClient(create_server(configured)) as client:
        yield Ehr(client, key, patient_id, referred_id)


@pytest.fixture
def active(ehr: Ehr) -> Ehr:
    """The patient screened eligible, with a label course whose first dose is due now."""
    return ehr


def _patient(mrn: str = PATIENT["mrn"]) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": EHR_ID, "gender": "female", "birthDate": "1968-04-02",
            "identifier": [{"system": "urn:il2:mrn", "value": mrn}]}  # fmt: skip


def _observation(field: str, value: float, at: str = "2026-12-07T15:30:00+00:00") -> dict[str, Any]:
    code, unit = OBSERVED[field]
    return {"resourceType": "Observation", "id": field.replace(".", "-").replace("_", "-"),
            "status": "final", "code": {"coding": [{"system": LOINC, "code": code}]},
            "subject": {"reference": f"Patient/{EHR_ID}"}, "effectiveDateTime": at,
            "valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit}}  # fmt: skip


def _searchset(*resources: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "searchset", "total": len(resources),
            "entry": [{"resource": r} for r in resources]}  # fmt: skip


def _stable_observations(**changes: float) -> dict[str, Any]:
    stable = stable_assessment()
    values = {}
    for field in OBSERVED:
        head, _, tail = field.partition(".")
        values[field] = changes.get(field, stable[head][tail] if tail else stable[head])
    return {field: _searchset(_observation(field, value)) for field, value in values.items()}


def _bedside_extension() -> dict[str, Any]:
    """What no verified code carries: the rest of the stable patient's assessment."""
    stable = stable_assessment()
    rest: dict[str, Any] = {
        k: v for k, v in stable.items() if k not in ("weight_kg", "oxygen_l_min", "labs")
    }
    rest["vitals"] = {"rhythm": stable["vitals"]["rhythm"]}
    return {"urn:il2:bedside": rest}


def _aldesleukin_order() -> dict[str, Any]:
    return {"resourceType": "MedicationRequest", "id": "il2-order-1", "status": "draft",
            "intent": "order", "subject": {"reference": f"Patient/{EHR_ID}"},
            "medicationCodeableConcept": {"text": "Proleukin (aldesleukin) 600,000 IU/kg IV q8h"}}  # fmt: skip


def _order_sign(prefetch: dict[str, Any], *orders: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"hook": "order-sign", "hookInstance": str(uuid.uuid4()),
            "context": {"userId": "PractitionerRole/123", "patientId": EHR_ID,
                        "draftOrders": {"resourceType": "Bundle", "entry": [{"resource": o} for o in orders]}},
            "prefetch": prefetch, **extra}  # fmt: skip


def check_response(answer: Any) -> list[dict[str, Any]]:
    """The response against CDS Hooks 2.0's rules for a response and its cards."""
    assert answer.status_code == 200, answer.text
    return check_cards(answer.json())


def check_cards(body: dict[str, Any]) -> list[dict[str, Any]]:
    """A response body against CDS Hooks 2.0's rules for a response and its cards."""
    assert set(body) <= {"cards", "systemActions"}
    for card in body["cards"]:
        assert isinstance(card["summary"], str)
        assert 0 < len(card["summary"]) < 140
        assert card["indicator"] in INDICATORS
        assert isinstance(card["source"]["label"], str)
        assert card["source"]["label"]
        assert not any(value in (None, "", [], {}) for value in card.values())  # "Use of JSON"
        for link in card.get("links", []):
            assert link["type"] in {"absolute", "smart"}
            assert link["url"].startswith("http")
            assert link["label"]
            assert "appContext" not in link or link["type"] == "smart"
        if "suggestions" in card:
            assert card["selectionBehavior"] in {"at-most-one", "any"}
    cards: list[dict[str, Any]] = body["cards"]
    return cards


# --- discovery --------------------------------------------------------------------------------


def test_discovery_lists_both_services_with_prefetch_built_from_the_code_table(ehr: Ehr) -> None:
    answer = ehr.client.get("/cds-services")
    assert answer.status_code == 200, answer.text
    services = {s["id"]: s for s in answer.json()["services"]}
    assert services["il2-order-sign"]["hook"] == "order-sign"
    assert services["il2-patient-view"]["hook"] == "patient-view"
    for service in services.values():
        assert service["description"]
        assert service["title"]
        assert service["prefetch"]["patient"] == "Patient/{{context.patientId}}"
    sbp = services["il2-order-sign"]["prefetch"]["vitals.sbp_mmhg"]
    assert (
        sbp
        == "Observation?patient={{context.patientId}}&code=http://loinc.org|8480-6&_sort=-date&_count=1"
    )
    assert "mental_status" not in services["il2-order-sign"]["prefetch"]  # no verified code


def test_the_services_stay_out_of_the_json_apis_openapi(ehr: Ehr) -> None:
    paths = ehr.client.get("/openapi.json").json()["paths"]
    assert not [p for p in paths if p.startswith("/cds-services")]


# --- the specification's own examples ---------------------------------------------------------

SPEC_PATIENT_VIEW = {  # "Calling a CDS Service", Example (cds-hooks.hl7.org/2.0)
    "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
    "fhirServer": "http://hooks.smarthealthit.org:9080",
    "hook": "patient-view",
    "fhirAuthorization": {
        "access_token": "some-opaque-fhir-access-token",
        "token_type": "Bearer",
        "expires_in": 300,
        "scope": "user/Patient.read user/Observation.read",
        "subject": "cds-service4",
    },
    "context": {"userId": "Practitioner/example", "patientId": "1288992", "encounterId": "89284"},
    "prefetch": {
        "patientToGreet": {
            "resourceType": "Patient",
            "gender": "male",
            "birthDate": "1925-12-23",
            "id": "1288992",
            "active": True,
        }
    },
}


def test_the_specs_patient_view_example_is_answered(ehr: Ehr) -> None:
    body = json.loads(json.dumps(SPEC_PATIENT_VIEW))
    # Adapted only in the patient: prefetched under il2's key, with the MRN il2 knows.
    body["prefetch"] = {"patient": {**body["prefetch"]["patientToGreet"], **_patient(REFERRED_MRN)}}
    cards = check_response(ehr.call("il2-patient-view", body))
    assert len(cards) == 1
    assert cards[0]["indicator"] == "info"
    assert "screening" in cards[0]["summary"] or "referred" in cards[0]["summary"]
    assert cards[0]["links"][0]["url"] == f"{BASE}/patients/{ehr.referred_id}"


def test_the_specs_order_sign_example_without_aldesleukin_has_no_cards(ehr: Ehr) -> None:
    """order-sign's R4 example (cds-hooks.hl7.org/hooks/order-sign): a diet and amoxicillin."""
    spec = Path(__file__).with_name("cds_order_sign_example.json").read_text()
    body = {"hook": "order-sign", "hookInstance": str(uuid.uuid4()), **json.loads(spec),
            "prefetch": {"patient": _patient()}}  # fmt: skip
    assert check_response(ehr.call("il2-order-sign", body)) == []


def test_an_unknown_patient_gets_one_info_card_on_an_aldesleukin_order(ehr: Ehr) -> None:
    body = _order_sign({"patient": _patient("MRN-NOT-HERE")}, _aldesleukin_order())
    cards = check_response(ehr.call("il2-order-sign", body))
    assert [c["indicator"] for c in cards] == ["info"]
    assert "not in the il2" in cards[0]["summary"]


# --- order-sign decisions ---------------------------------------------------------------------


def _observations_are_valid_fhir(prefetch: dict[str, Any]) -> None:
    for value in prefetch.values():
        if value.get("resourceType") == "Bundle":
            for entry in Bundle.model_validate(value).entry or []:
                Observation.model_validate(entry.resource.model_dump())


def test_normal_observations_give_an_info_card_listing_rules_and_sources(active: Ehr) -> None:
    prefetch = {"patient": _patient(), **_stable_observations()}
    _observations_are_valid_fhir(prefetch)
    body = _order_sign(prefetch, _aldesleukin_order(), extension=_bedside_extension())
    eligibility, decision = check_response(active.call("il2-order-sign", body))
    assert eligibility["indicator"] == "info"
    assert "eligible" in eligibility["summary"]
    assert decision["indicator"] == "info", decision["detail"]
    assert "give" in decision["summary"]
    assert "Source:" in decision["detail"]
    assert "`" in decision["detail"]
    assert decision["links"] == [{"label": "Open the patient's chart in il2",
                                  "url": f"{BASE}/patients/{active.patient_id}", "type": "absolute"}]  # fmt: skip
    assert decision["source"]["label"] == "il2"


def test_a_low_systolic_pressure_gives_a_warning_hold_card_naming_the_rule(active: Ehr) -> None:
    prefetch = {"patient": _patient(), **_stable_observations(**{"vitals.sbp_mmhg": 84})}
    body = _order_sign(prefetch, _aldesleukin_order(), extension=_bedside_extension())
    decision = check_response(active.call("il2-order-sign", body))[1]
    assert decision["indicator"] == "warning"
    assert "hold" in decision["summary"]
    assert "sbp" in decision["detail"].lower()
    assert "(" in decision["summary"]  # the first rule's id


@pytest.mark.parametrize("dropped", ["vitals.sbp_mmhg", "labs.platelets_per_ul"])
def test_a_missing_observation_never_gives(active: Ehr, dropped: str) -> None:
    prefetch = {"patient": _patient(), **_stable_observations()}
    prefetch[dropped] = None  # the EHR has no such result
    body = _order_sign(prefetch, _aldesleukin_order(), extension=_bedside_extension())
    decision = check_response(active.call("il2-order-sign", body))[1]
    assert decision["indicator"] != "info"
    assert "give" not in decision["summary"].split(":")[-1]
    assert dropped in decision["detail"]


def test_without_the_bedside_extension_the_decision_is_never_give(active: Ehr) -> None:
    body = _order_sign({"patient": _patient(), **_stable_observations()}, _aldesleukin_order())
    decision = check_response(active.call("il2-order-sign", body))[1]
    assert decision["indicator"] == "warning"
    assert "mental_status" in decision["detail"]


def test_an_observation_in_another_unit_is_not_converted(active: Ehr) -> None:
    prefetch = {"patient": _patient(), **_stable_observations()}
    temperature = _observation("vitals.temperature_c", 100.0)
    temperature["valueQuantity"].update(unit="[degF]", code="[degF]")
    prefetch["vitals.temperature_c"] = _searchset(temperature)
    body = _order_sign(prefetch, _aldesleukin_order(), extension=_bedside_extension())
    decision = check_response(active.call("il2-order-sign", body))[1]
    assert decision["indicator"] != "info"
    assert "never converted" in decision["detail"]


# --- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda b: b["context"].pop("patientId"), "context.patientId"),
        (lambda b: b.update(hook="patient-view"), "hook"),
        (
            lambda b: b["context"].update(draftOrders={"resourceType": "List"}),
            "context.draftOrders.resourceType",
        ),
        (lambda b: b.pop("hookInstance"), "hookInstance"),
    ],
)
def test_a_malformed_request_is_400_naming_the_field(ehr: Ehr, change: Any, field: str) -> None:
    body = _order_sign({"patient": _patient()}, _aldesleukin_order())
    change(body)
    answer = ehr.call("il2-order-sign", body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["field"] == field


def test_a_coded_field_in_the_extension_is_refused(active: Ehr) -> None:
    extension = _bedside_extension()
    extension["urn:il2:bedside"]["vitals"]["sbp_mmhg"] = 120
    body = _order_sign({"patient": _patient(), **_stable_observations()}, _aldesleukin_order(),
                       extension=extension)  # fmt: skip
    answer = active.call("il2-order-sign", body)
    assert answer.status_code == 400
    assert answer.json()["field"] == "extension.urn:il2:bedside.vitals.sbp_mmhg"


def test_no_patient_prefetched_and_no_fhir_server_is_412(ehr: Ehr) -> None:
    answer = ehr.call("il2-order-sign", _order_sign({}, _aldesleukin_order()))
    assert answer.status_code == 412
    assert answer.json()["error"] == "precondition_failed"


def test_an_unknown_service_is_404(ehr: Ehr) -> None:
    answer = ehr.call("il2-nothing", {"hook": "patient-view"})
    assert answer.status_code == 404


# --- trusting the client ----------------------------------------------------------------------


def test_a_valid_token_is_accepted(ehr: Ehr) -> None:
    body = _order_sign({"patient": _patient()})
    assert ehr.call("il2-order-sign", body).status_code == 200


def _none_token(ehr: Ehr) -> str:
    header = jwt.utils.base64url_encode(b'{"alg":"none","typ":"JWT","kid":"example-kid"}')
    claims = jwt.decode(ehr.token("il2-order-sign"), options={"verify_signature": False})
    payload = jwt.utils.base64url_encode(json.dumps(claims).encode())
    return f"{header.decode()}.{payload.decode()}."


def _tampered(ehr: Ehr) -> str:
    head, payload, signature = ehr.token("il2-order-sign").split(".")
    claims = json.loads(jwt.utils.base64url_decode(payload))
    claims["iss"] = ISSUER  # same issuer, different payload bytes: the signature no longer fits
    claims["tenant"] = "someone else"
    forged = jwt.utils.base64url_encode(json.dumps(claims).encode()).decode()
    return f"{head}.{forged}.{signature}"


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda e: e.token("il2-order-sign", exp=int(time.time()) - 600), "expired"),
        (lambda e: e.token("il2-order-sign", aud=f"{BASE}/cds-services/il2-patient-view"), "aud"),
        (lambda e: e.token("il2-order-sign", iss="https://other.example.org/"), "not a trusted"),
        (_tampered, "refused"),
        (_none_token, "none"),
        (
            lambda e: jwt.encode(
                {"iss": ISSUER}, "s" * 32, algorithm="HS256", headers={"kid": KID}
            ),
            "HMAC",
        ),
        (lambda e: "", "Bearer"),
    ],
)
def test_a_token_il2_cannot_trust_is_401(ehr: Ehr, make: Any, words: str) -> None:
    answer = ehr.call("il2-order-sign", _order_sign({"patient": _patient()}), token=make(ehr))
    assert answer.status_code == 401, answer.text
    assert words in answer.json()["message"]
    assert answer.headers["www-authenticate"].startswith("Bearer")


def test_a_replayed_token_is_401(ehr: Ehr) -> None:
    token = ehr.token("il2-order-sign")
    body = _order_sign({"patient": _patient()})
    assert ehr.call("il2-order-sign", body, token=token).status_code == 200
    again = ehr.call("il2-order-sign", body, token=token)
    assert again.status_code == 401
    assert "replay" in again.json()["message"]
