"""The bedside screen with the site's gate on: the unverified plan said before, the refusal
naming the rule after a give, and the give recorded once a pharmacist verifies the plan."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC
from pathlib import Path

import pytest
from fastapi import FastAPI
from tests.e2e.test_web_bedside import STABLE
from tests.integration.builders import PASSWORD
from tests.integration.conftest import FixedClock
from tests.integration.test_plan_gate import GATE_ON
from tests.integration.test_timeline import Ward
from tests.web_client import FormClient

from il2.bootstrap import build_app, upgrade_database
from il2.config import Settings
from il2.domain.records import Role
from il2.services.doses import VERIFIED_PLAN_POLICY
from il2.services.pharmacy import verify_plan
from il2.web.app import web_router


@pytest.fixture
def ward(database_url: str, clock: FixedClock, tmp_path: Path) -> Iterator[Ward]:
    policy = tmp_path / "site.toml"
    policy.write_text(GATE_ON)
    built = build_app(Settings(database_url=database_url, site_policy=policy), clock=clock)
    upgrade_database(built)
    yield Ward(built, clock)
    built.engine.dispose()


def test_the_bedside_says_the_plan_is_unverified_and_refuses_the_give_naming_the_rule(
    ward: Ward, clock: FixedClock
) -> None:
    clock.now = ward.due(1, 1)
    site = FastAPI()
    site.include_router(web_router(ward.app))
    dose = f"/patients/{ward.patient}/courses/{ward.course}/doses/1/1"
    now = clock.now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")  # the site's zone: UTC
    give = STABLE | {
        "outcome": "given",
        "given_at": now,
        "assessed_at": now,
        "verified_by": "nurse2",
        "verifier_password": PASSWORD,
    }
    with FormClient(site, follow_redirects=False) as nurse:
        signed = nurse.post("/sign-in", data={"username": "nurse", "password": PASSWORD})
        assert signed.status_code == 303
        screen = nurse.get(dose).text
        assert 'id="plan-unverified"' in screen
        assert VERIFIED_PLAN_POLICY in screen
        refused = nurse.post(dose, data=give)
        assert refused.status_code == 409, refused.text
        assert "not verified by a pharmacist" in refused.text
        assert VERIFIED_PLAN_POLICY in refused.text
        verify_plan(ward.app.services, ward.people[Role.PHARMACIST], ward.course)
        assert 'id="plan-unverified"' not in nurse.get(dose).text
        given = nurse.post(dose, data=give)
        assert given.status_code == 303, given.text
