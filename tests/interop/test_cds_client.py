"""il2's CDS services answer an independent CDS Hooks client: HealthChain's SandboxClient
(0.16.1, in .venv-cds-client, built by `make cds-client`), calling a live il2 over HTTP.

tests/interop/cds_client_script.py builds a patient-view and an order-sign request with
HealthChain's own request models and CdsRequestConstructor, with prefetch, and sends them with
its SandboxClient; its docstring says exactly what is worked around (the JWT, the hook context, the context's
fields HealthChain's request model drops, among them order-sign's `draftOrders`, and the
`extension` object). HealthChain's CDSResponse model requires `Link.autoLaunchable`, which
CDS Hooks 2.0 makes optional (https://cds-hooks.hl7.org/2.0/#link), so it refuses il2's
spec-conforming cards (their links leave it out): the client then keeps the raw JSON, and this
test reads the cards by the spec's rules (`check_cards`), asserting that refusal too, so a
HealthChain release that accepts them is noticed.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from il2.bootstrap import App
from tests.interop.programs import live
from tests.interop.test_cds_hooks import (
    EHR_ID,
    ISSUER,
    KID,
    REFERRED_MRN,
    _aldesleukin_order,
    _bedside_extension,
    _patient,
    _stable_observations,
    check_cards,
    enrol,
    trust,
)

ROOT = Path(__file__).resolve().parents[2]
CLIENT_PYTHON = ROOT / ".venv-cds-client" / "bin" / "python"
SCRIPT = Path(__file__).with_name("cds_client_script.py")


@dataclass
class Called:
    """What HealthChain's client did for each call, by service id, and the il2 patients."""

    answers: dict[str, dict[str, Any]]
    patient_id: int
    referred_id: int
    base: str


def _calls() -> list[dict[str, Any]]:
    view = {"userId": "Practitioner/example", "patientId": EHR_ID}
    sign = {"userId": "PractitionerRole/123", "patientId": EHR_ID,
            "draftOrders": {"resourceType": "Bundle", "entry": [{"resource": _aldesleukin_order()}]}}  # fmt: skip
    low = _stable_observations(**{"vitals.sbp_mmhg": 84})
    return [
        {"service": "il2-patient-view", "workflow": "patient-view", "context": view,
         "prefetch": {"patient": _patient(REFERRED_MRN)}},
        {"service": "il2-order-sign", "workflow": "order-sign", "context": sign,
         "prefetch": {"patient": _patient(), **low}, "extension": _bedside_extension()},
    ]  # fmt: skip


@pytest.fixture(scope="module")
def called(shared_app: App, tmp_path_factory: pytest.TempPathFactory) -> Called:
    """HealthChain's client run once per engine against il2 served on a free local port."""
    assert CLIENT_PYTHON.exists(), (
        f"{CLIENT_PYTHON} is missing: run `make cds-client` (make unit does it first)"
    )
    patient_id, referred_id = enrol(shared_app)
    key = ec.generate_private_key(ec.SECP384R1())
    configured = trust(shared_app, key, tmp_path_factory.mktemp("cds-client"))
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    with live(configured) as base:
        given = {"base": base, "iss": ISSUER, "kid": KID, "key_pem": pem, "calls": _calls()}
        ran = subprocess.run(  # noqa: S603 - the project's own client venv and script
            [str(CLIENT_PYTHON), str(SCRIPT)],
            input=json.dumps(given),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert ran.returncode == 0, ran.stderr
    answers = {a["service"]: a for a in json.loads(ran.stdout)}
    return Called(answers, patient_id, referred_id, base)


def test_healthchain_built_spec_requests_and_il2_answered_200(called: Called) -> None:
    for service, answer in called.answers.items():
        assert [seen["status"] for seen in answer["http"]] == [200], (service, answer["http"])
        sent = answer["sent"]
        assert sent["hook"] == service.removeprefix("il2-")
        assert sent["context"]["patientId"] == EHR_ID
        assert sent["prefetch"]["patient"]["id"] == EHR_ID
    order = called.answers["il2-order-sign"]["sent"]
    assert order["context"]["draftOrders"]["entry"][0]["resource"]["id"] == "il2-order-1"
    assert order["extension"] == _bedside_extension()  # the spec's object, not HealthChain's list
    assert (
        order["prefetch"]["vitals.sbp_mmhg"]["entry"][0]["resource"]["valueQuantity"]["value"] == 84
    )


def test_the_patient_view_card_places_the_referred_patient(called: Called) -> None:
    (card,) = check_cards(called.answers["il2-patient-view"]["body"])
    assert card["indicator"] == "info"
    assert "screening" in card["summary"] or "referred" in card["summary"]
    assert card["source"]["label"] == "il2"
    assert card["links"][0]["url"] == f"{called.base}/patients/{called.referred_id}"


def test_the_order_sign_cards_hold_the_dose_for_the_low_systolic_pressure(called: Called) -> None:
    eligibility, decision = check_cards(called.answers["il2-order-sign"]["body"])
    assert eligibility["indicator"] == "info"
    assert "eligible" in eligibility["summary"]
    assert decision["indicator"] == "warning"
    assert "hold" in decision["summary"]
    assert "label-sbp-low" in decision["summary"] + decision["detail"]
    assert "84" in decision["detail"]
    assert decision["source"]["label"] == "il2"
    assert decision["links"][0]["url"] == f"{called.base}/patients/{called.patient_id}"


def test_healthchains_response_model_refuses_links_without_autolaunchable(called: Called) -> None:
    """A known HealthChain 0.16.1 divergence from CDS Hooks 2.0 (see the module docstring)."""
    for answer in called.answers.values():
        links = [link for card in answer["body"]["cards"] for link in card.get("links", [])]
        assert links
        assert not any("autolaunchable" in link or "autoLaunchable" in link for link in links)
        assert answer["healthchain_accepted"] is False
        assert "autoLaunchable" in answer["rejection"]


def test_healthchains_own_request_dump_drops_the_draft_orders(called: Called) -> None:
    """A known HealthChain 0.16.1 defect, worked around in the script (see its docstring)."""
    assert called.answers["il2-order-sign"]["healthchain_context_keys"] == [
        "patientId",
        "userId",
    ]
