"""Security review D14: a role sees a form page only if it may submit the form.

Each form page is fetched by every role: 200 where the permission matrix allows the action the
form submits, 403 (and an audited denial) where it does not. A recorded dose's page stays
readable by every role that reads patients; only the form behind it is kept from them.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi import FastAPI
from tests.integration.builders import PASSWORD, PATIENT, screen_eligible, staff
from tests.integration.conftest import FixedClock
from tests.web_client import FormClient

from il2.bootstrap import App
from il2.domain.records import Actor, Role
from il2.rules.loader import load_rules
from il2.services.clinical import record_follow_up
from il2.services.courses import plan_course
from il2.services.patients import create_patient
from il2.web.app import web_router

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

MATRIX = load_rules().permissions


@pytest.fixture
def world(
    app: App, clock: FixedClock
) -> Iterator[tuple[TestClient, dict[Role, Actor], dict[str, int]]]:
    people = staff(app)
    doctor = people[Role.PHYSICIAN]
    patient = create_patient(app.services, doctor, PATIENT).id
    screen_eligible(app.services, doctor, patient)
    course = plan_course(app.services, doctor, patient, regimen="hd-label", weight_kg=70,
                         first_dose=(clock.now + timedelta(hours=1)).isoformat(),
                         cycle_end_rule="dose_count").id  # fmt: skip
    entry = record_follow_up(app.services, doctor, patient, observed_on="2026-12-07",
                             status="alive_no_progression").id  # fmt: skip
    site = FastAPI()
    site.include_router(web_router(app))
    with FormClient(site, follow_redirects=False) as client:
        yield client, people, {"patient": patient, "course": course, "entry": entry}


FORMS = [
    ("/patients/new", "patient.create"),
    ("/patients/{patient}/screening", "screening.record"),
    ("/patients/{patient}/courses/new", "course.plan"),
    ("/patients/{patient}/follow-ups/new", "followup.record"),
    ("/patients/{patient}/entries/{entry}/correct", "entry.correct"),
    ("/patients/{patient}/courses/{course}/doses/1/1", "dose.record"),
]


@pytest.mark.parametrize(("path", "action"), FORMS, ids=[a for _, a in FORMS])
def test_each_role_sees_only_the_forms_it_may_submit(
    world: tuple[TestClient, dict[Role, Actor], dict[str, int]], path: str, action: str
) -> None:
    client, people, ids = world
    url = path.format(**ids)
    seen = {}
    for role in people:
        client.cookies.clear()
        signed = client.post("/sign-in", data={"username": role.value, "password": PASSWORD})
        assert signed.status_code == 303
        seen[role] = client.get(url).status_code
    allowed = {role for role in people if MATRIX.allows(role, action)}
    if action == "entry.correct":  # correcting a follow-up also needs the right to record one
        allowed &= {role for role in people if MATRIX.allows(role, "followup.record")}
    assert {role for role, status in seen.items() if status == 200} == allowed
    refused = {role: status for role, status in seen.items() if role not in allowed}
    # A researcher's pages go by study number: an address by database id is none of theirs.
    assert refused == {r: 404 if r is Role.RESEARCHER and url.startswith("/patients/") else 403
                       for r in refused}  # fmt: skip
