"""The optional site gate: no first dose given before a pharmacist verifies the plan."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from il2.bootstrap import App, build_app, upgrade_database
from il2.config import Settings
from il2.domain.errors import RefusedError
from il2.domain.records import DoseOutcome, Role
from il2.services.doses import VERIFIED_PLAN_POLICY, needs_verified_plan
from il2.services.pharmacy import verify_plan
from tests.integration.conftest import FixedClock
from tests.integration.test_timeline import Ward

GATE_ON = f"""[policy]
{VERIFIED_PLAN_POLICY} = {{ value = "on", reason = "the pharmacy verifies every plan first" }}
"""


@pytest.fixture
def gated(database_url: str, clock: FixedClock, tmp_path: Path) -> Iterator[App]:
    """il2 with the site's gate on, on a migrated database of each kind."""
    policy = tmp_path / "site.toml"
    policy.write_text(GATE_ON)
    built = build_app(Settings(database_url=database_url, site_policy=policy), clock=clock)
    upgrade_database(built)
    yield built
    built.engine.dispose()


def test_with_the_gate_on_no_first_dose_is_given_before_the_plan_is_verified(
    gated: App, clock: FixedClock
) -> None:
    assert needs_verified_plan(gated.services)
    ward = Ward(gated, clock)
    clock.now = ward.due(1, 1)
    with pytest.raises(RefusedError) as refused:
        ward.submit(ward.give(1, 1))
    (reason,) = refused.value.reasons
    assert reason.code == "plan-not-verified"
    assert VERIFIED_PLAN_POLICY in reason.message
    assert ward.doses() == []
    (audited,) = ward.refusals()
    assert "plan-not-verified" in str(audited["after"])
    held = ward.submit(
        replace(ward.give(1, 1), outcome=DoseOutcome.HELD, given_at=None, verified_by=None,
                verifier_password=None)
    )  # fmt: skip
    assert held.record.outcome is DoseOutcome.HELD  # holding waits for nothing
    clock.now = ward.due(1, 2)
    with pytest.raises(RefusedError):
        ward.submit(ward.give(1, 2))  # still the course's first dose given
    verify_plan(gated.services, ward.people[Role.PHARMACIST], ward.course)
    ward.submit(ward.give(1, 2))
    assert [(d["dose_number"], d["outcome"]) for d in ward.doses()] == [(1, "held"), (2, "given")]


def test_with_the_gate_off_by_default_an_unverified_plan_is_given_as_before(
    app: App, clock: FixedClock
) -> None:
    assert not needs_verified_plan(app.services)
    ward = Ward(app, clock)
    clock.now = ward.due(1, 1)
    ward.submit(ward.give(1, 1))
    assert [(d["dose_number"], d["outcome"]) for d in ward.doses()] == [(1, "given")]
