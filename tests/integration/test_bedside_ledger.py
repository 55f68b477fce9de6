"""The bedside on SQLite and PostgreSQL: the holds still open come from the dose ledger."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from il2.bootstrap import App
from il2.domain.errors import InvalidInputError, NotFoundError, PermissionDeniedError, RefusedError
from il2.domain.records import DoseOutcome, Role
from il2.services.audit import export_audit
from il2.services.doses import (
    RECHECK,
    correct_any_entry,
    correct_recheck,
    preview_dose,
    record_recheck,
)
from il2.services.patients import read_patient
from il2.web import record
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


def test_a_recheck_is_corrected_by_a_new_one_decided_again_the_old_kept(ward: Ward) -> None:
    ward.clock.now = ward.due(1, 1)
    nurse = ward.people[Role.NURSE]
    mistyped = stable_assessment()
    mistyped["vitals"] = {**mistyped["vitals"], "sbp_mmhg": 68}  # 86 typed as 68
    first = record_recheck(
        ward.app.services,
        nurse,
        ward.course,
        replace(ward.give(1, 1), assessment=mistyped, outcome=None, given_at=None),
    )
    assert first.content["decision"]["decision"] == "hold"
    with pytest.raises(InvalidInputError) as unexplained:
        correct_recheck(
            ward.app.services, nurse, ward.patient, first.id, assessment=mistyped, reason=" "
        )
    assert unexplained.value.field == "reason"
    read = stable_assessment()
    fixed = correct_recheck(
        ward.app.services, nurse, ward.patient, first.id, assessment=read, reason="typo"
    )
    assert (fixed.kind, fixed.corrects_id, fixed.reason) == (RECHECK, first.id, "typo")
    assert fixed.content["decision"]["decision"] == "give"
    assert (fixed.content["cycle"], fixed.content["dose_number"]) == (1, 1)
    assert fixed.content["assessed_at"] == first.content["assessed_at"]
    entries = read_patient(ward.app.services, nurse, ward.patient)["entries"]
    assert [e["id"] for e in entries if e["kind"] == RECHECK] == [first.id, fixed.id]  # kept
    assert [e["id"] for e in record.current(entries, RECHECK)] == [fixed.id]
    audited = export_audit(ward.app.services, ward.people[Role.ADMINISTRATOR])
    (corrected,) = [e for e in audited if e["action"] == "correct" and e["entity"] == RECHECK]
    assert corrected["entity_id"] == str(fixed.id)
    assert corrected["before"]["id"] == first.id
    with pytest.raises(RefusedError) as twice:
        correct_recheck(
            ward.app.services, nurse, ward.patient, first.id, assessment=read, reason="again"
        )
    assert twice.value.reasons[0].code == "already_corrected"
    ward.submit(ward.give(1, 1))  # the slot is still open, then given; a correction still goes
    again = correct_any_entry(
        ward.app.services, nurse, ward.patient, fixed.id, content=read, reason="wrong time"
    )
    assert again.corrects_id == fixed.id


def test_only_a_recheck_of_this_patient_is_corrected_as_one(ward: Ward) -> None:
    nurse = ward.people[Role.NURSE]
    with pytest.raises(NotFoundError):
        correct_recheck(ward.app.services, nurse, ward.patient, 999, assessment={}, reason="typo")
    with pytest.raises(PermissionDeniedError):
        correct_recheck(
            ward.app.services,
            ward.people[Role.PHARMACIST],
            ward.patient,
            999,
            assessment={},
            reason="typo",
        )
