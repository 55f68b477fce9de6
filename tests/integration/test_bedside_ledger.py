"""The bedside on SQLite and PostgreSQL: the holds still open come from the dose ledger."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from il2.bootstrap import App
from il2.domain.errors import RefusedError
from il2.domain.records import DoseOutcome, Role
from il2.services.audit import export_audit
from il2.services.courses import preview_dose
from il2.services.doses import RECHECK, record_recheck
from tests.integration.builders import stable_assessment
from tests.integration.conftest import FixedClock
from tests.integration.test_timeline import Ward


@pytest.fixture
def ward(app: App, clock: FixedClock) -> Ward:
    return Ward(app, clock)


def _without_holds(*findings: str) -> dict[str, Any]:
    """The stable assessment with `findings`, and no word of the holds still open."""
    assessment = stable_assessment()
    assessment.pop("held_for", None)
    assessment["findings"] = list(findings)
    return assessment


def _held(ward: Ward, number: int, *findings: str) -> None:
    ward.clock.now = ward.due(1, number)
    submission = replace(
        ward.give(1, number), assessment=_without_holds(*findings), outcome=DoseOutcome.HELD
    )
    ward.submit(replace(submission, given_at=None, verified_by=None, verifier_password=None))


def test_a_hold_left_open_by_the_last_dose_is_read_from_the_ledger(ward: Ward) -> None:
    _held(ward, 1, "fobt_positive")
    ward.clock.now = ward.due(1, 2)
    nurse = ward.people[Role.NURSE]
    untested = replace(ward.give(1, 2), assessment=_without_holds())
    decision = preview_dose(ward.app.services, nurse, ward.course, untested)
    assert decision["decision"] == "hold", decision
    assert [r["rule"] for r in decision["reasons"]] == ["open-hold-fobt"]
    negative = replace(ward.give(1, 2), assessment=_without_holds("fobt_negative"))
    assert preview_dose(ward.app.services, nurse, ward.course, negative)["decision"] == "give"


def test_a_hold_still_open_carries_on_and_a_dose_given_closes_it(ward: Ward) -> None:
    _held(ward, 1, "fobt_positive")
    _held(ward, 2)  # held again: no negative test yet, the hold is still open
    (second,) = [d for d in ward.doses() if d["dose_number"] == 2]
    assert second["assessment"]["held_for"] == ["fobt"]
    ward.clock.now = ward.due(1, 3)
    ward.submit(replace(ward.give(1, 3), assessment=_without_holds("fobt_negative")))
    ward.clock.now = ward.due(1, 4)
    untested = replace(ward.give(1, 4), assessment=_without_holds())
    nurse = ward.people[Role.NURSE]
    assert preview_dose(ward.app.services, nurse, ward.course, untested)["decision"] == "give"


def test_a_recheck_is_kept_and_audited_and_the_dose_can_still_be_given(ward: Ward) -> None:
    ward.clock.now = ward.due(1, 1)
    nurse = ward.people[Role.NURSE]
    low = stable_assessment()
    low["vitals"] = {**low["vitals"], "sbp_mmhg": 86}
    before_bolus = replace(ward.give(1, 1), assessment=low, outcome=None, given_at=None)
    entry = record_recheck(ward.app.services, nurse, ward.course, before_bolus)
    assert entry.kind == RECHECK
    assert entry.content["decision"]["decision"] == "hold"
    assert ward.doses() == []  # the slot is not used
    ward.submit(ward.give(1, 1))  # after the bolus: given in the same slot
    assert [(d["dose_number"], d["outcome"]) for d in ward.doses()] == [(1, "given")]
    audited = export_audit(ward.app.services, ward.people[Role.ADMINISTRATOR])
    assert [e["entity_id"] for e in audited if e["entity"] == RECHECK] == [str(entry.id)]
    with pytest.raises(RefusedError) as refused:
        record_recheck(ward.app.services, nurse, ward.course, before_bolus)
    assert refused.value.reasons[0].code == "slot-recorded"


def test_rechecks_never_let_a_dose_in_twice_or_too_soon(ward: Ward) -> None:
    ward.clock.now = ward.due(1, 1)
    nurse = ward.people[Role.NURSE]
    ward.submit(ward.give(1, 1))
    ward.clock.now = ward.due(1, 2) - timedelta(hours=2)
    early = replace(ward.give(1, 2), outcome=None, given_at=None)
    entry = record_recheck(ward.app.services, nurse, ward.course, early)
    assert entry.content["decision"]["timeline"]["status"] == "not_due"
    with pytest.raises(RefusedError):
        ward.submit(ward.give(1, 2))  # still too soon: a recheck changes nothing of the timeline
    assert [d["dose_number"] for d in ward.doses()] == [1]
