"""Builders with safe defaults for records tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from il2.bootstrap import App
from il2.domain.records import Actor, Role, ScreeningRecord
from il2.services.accounts import actor_for_username, add_user
from il2.services.context import Services
from il2.services.patients import record_screening

ROOT = Path(__file__).parents[2]
PASSWORD = "correct horse battery staple"  # noqa: S105 - a test account's password


def stable_assessment() -> dict[str, Any]:
    """The stable patient's before-dose assessment, without the slot fields the ledger fills."""
    document: dict[str, Any] = json.loads((ROOT / "examples/bedside/stable-give.json").read_text())
    for key in ("regimen", "cycle", "dose_number", "doses_given_this_cycle", "doses_held_this_cycle",
                "hours_since_last_dose"):  # fmt: skip
        document.pop(key, None)
    return document


def staff(app: App) -> dict[Role, Actor]:
    """One user of every role, plus a second nurse ('nurse2') to verify doses."""
    actors = {}
    for role in Role:
        add_user(app.services, None, username=role.value, display_name=role.value.title(), role=role.value,
                 password=PASSWORD)  # fmt: skip
        actors[role] = actor_for_username(app.services, role.value)
    add_user(
        app.services,
        None,
        username="nurse2",
        display_name="Second Nurse",
        role="nurse",
        password=PASSWORD,
    )
    return actors


PATIENT = {
    "mrn": "MRN-0001",
    "name": "Test Patient",
    "birth_date": "1968-04-02",
    "sex": "female",
    "diagnosis": "melanoma",
    "referred_on": "2026-11-02",
}


# --- clinical entries (dates) ------------------------------------------------------------------


# --- planning: a course needs a current eligible screening -------------------------------------


def eligible_findings() -> dict[str, Any]:
    """A candidate whose screening is `eligible` (examples/candidates/eligible-renal.json)."""
    findings: dict[str, Any] = json.loads(
        (ROOT / "examples/candidates/eligible-renal.json").read_text()
    )
    return findings


def screen_eligible(services: Services, actor: Actor, patient_id: int) -> ScreeningRecord:
    """Screen the patient eligible now (by the services' clock), as planning a course needs."""
    screening = record_screening(services, actor, patient_id, eligible_findings())
    assert screening.verdict == "eligible", screening.result
    return screening


def partial_response_so_far() -> Any:
    """The bundled partial response up to the test clock's today (2026-12-07): its baseline
    and its first follow-up scan, dated today (a scan dated in the future is refused)."""
    document = json.loads((ROOT / "examples/recist/partial-response.json").read_text())
    baseline, first = document["assessments"][:2]
    document["assessments"] = [baseline, {**first, "date": "2026-12-07"}]
    return document
