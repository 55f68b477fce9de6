"""Builders with safe defaults for records tests."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from il2.bootstrap import App
from il2.domain.records import Actor, Role, ScreeningRecord
from il2.services.accounts import actor_for_username, add_user
from il2.services.context import Services
from il2.services.courses import course_fields
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


# --- the self-injection diary: an outpatient subcutaneous course ------------------------------

OUTPATIENT_FIRST_DOSE = "2026-12-01T09:00:00+00:00"
"""An sc-eu course's first injection: by the test clock (2026-12-07 16:00 UTC) days 1-5 are
past, day 8 (injection 6) is tomorrow."""


def outpatient_app(app: App) -> App:
    """`app` with subcutaneous courses kept, as once their before-dose checks are in il2 (that
    refusal is lifted in another branch; the diary's tests do not wait for it)."""
    rules = replace(app.rules, before_dose_routes=(*app.rules.before_dose_routes, "subcutaneous"))
    return replace(app, rules=rules, services=replace(app.services, rules=rules))


def keep_course(
    services: Services,
    patient_id: int,
    *,
    regimen: str = "sc-eu",
    number: int = 1,
    first_dose: str = OUTPATIENT_FIRST_DOSE,
) -> int:
    """Keep a course of `regimen` for the patient through the repository (no admission)."""
    fields = course_fields(services, regimen=regimen, weight_kg=70, first_dose=first_dose)
    with services.uow() as uow:
        course = uow.courses.add(
            patient_id=patient_id, number=number, **fields, recorded_by="physician",
            at=services.clock(),
        )  # fmt: skip
        uow.commit()
    return course.id


def taken_report(dose_number: int = 1, **changes: Any) -> dict[str, Any]:
    """A diary entry: injection 1.`dose_number` taken on its day, with a site reaction."""
    document: dict[str, Any] = {
        "cycle": 1,
        "dose_number": dose_number,
        "status": "taken",
        "taken_at": f"2026-12-0{dose_number}T09:10:00+00:00",
        "reported_by": "patient",
        "side_effects": [{"term": "injection_site_reaction", "grade": 1}],
        "note": "left thigh",
    }
    return document | changes
