"""The dose timeline on SQLite and PostgreSQL: each refusal stores no dose and is audited once.

Ward walkthrough D1 (a later cycle's dose right after the last one), D2 (a given_at in the
future), D3 (an override that waived the interval), D4 (any account as verifier) and D6 (the
preview after a discontinue) are replayed through the services.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest

from il2.bootstrap import App
from il2.domain.errors import Il2Error, InvalidInputError, RefusedError
from il2.domain.records import DoseOutcome, Role
from il2.services.audit import export_audit
from il2.services.courses import plan_course
from il2.services.doses import DoseSubmission, preview_dose, submit_dose
from il2.services.patients import create_patient, read_patient
from tests.integration.builders import (
    PASSWORD,
    PATIENT,
    screen_eligible,
    stable_assessment,
    staff,
)
from tests.integration.conftest import FixedClock

FIRST = "2026-12-07T08:00:00-08:00"  # the FixedClock's start, 16:00 UTC


class Ward:
    """A patient with one planned hd-label course, and the staff."""

    def __init__(self, app: App, clock: FixedClock) -> None:
        self.app, self.clock = app, clock
        self.people = staff(app)
        physician = self.people[Role.PHYSICIAN]
        self.patient = create_patient(app.services, physician, PATIENT).id
        screen_eligible(app.services, physician, self.patient)
        self.course = self.plan(FIRST)

    def plan(self, first: str) -> int:
        return plan_course(self.app.services, self.people[Role.PHYSICIAN], self.patient,
                           regimen="hd-label", weight_kg=70, first_dose=first).id  # fmt: skip

    def due(self, cycle: int, number: int, course: int | None = None) -> datetime:
        record = read_patient(self.app.services, self.people[Role.NURSE], self.patient)
        (found,) = [c for c in record["courses"] if c["id"] == (course or self.course)]
        (planned,) = [c for c in found["plan"]["cycles"] if c["cycle"] == cycle]
        return datetime.fromisoformat(planned["doses"][number - 1]["due_at"])

    def give(self, cycle: int, number: int, **changes: Any) -> DoseSubmission:
        base = DoseSubmission(cycle=cycle, dose_number=number, assessment=stable_assessment(),
                              outcome=DoseOutcome.GIVEN, given_at=self.clock.now,
                              verified_by="nurse2", verifier_password=PASSWORD)  # fmt: skip
        return replace(base, **changes)

    def submit(self, submission: DoseSubmission, role: Role = Role.NURSE,
               course: int | None = None) -> Any:  # fmt: skip
        return submit_dose(self.app.services, self.people[role], course or self.course, submission)

    def doses(self) -> list[Any]:
        return list(read_patient(self.app.services, self.people[Role.NURSE], self.patient)["doses"])

    def refusals(self) -> list[dict[str, Any]]:
        entries = export_audit(self.app.services, self.people[Role.ADMINISTRATOR])
        return [e for e in entries if e["action"] == "refuse_record_dose"]


@pytest.fixture
def ward(app: App, clock: FixedClock) -> Ward:
    return Ward(app, clock)


def _refused(ward: Ward, submission: DoseSubmission, role: Role = Role.NURSE,
             course: int | None = None) -> Il2Error:  # fmt: skip
    """Submit, expect a refusal; check nothing was stored and exactly one audit entry added."""
    doses, audited = len(ward.doses()), len(ward.refusals())
    with pytest.raises(Il2Error) as caught:
        ward.submit(submission, role, course)
    assert len(ward.doses()) == doses
    assert len(ward.refusals()) == audited + 1
    return caught.value


def _codes(error: Il2Error) -> list[str]:
    assert isinstance(error, RefusedError), error
    return [reason.code for reason in error.reasons]


def test_ward_walkthrough_d1_a_cycle_2_dose_after_a_cycle_1_dose_is_refused(ward: Ward) -> None:
    assert ward.submit(ward.give(1, 1)).created
    ward.clock.now += timedelta(minutes=1)
    error = _refused(ward, ward.give(2, 1))
    assert "not-due" in _codes(error)
    error = _refused(ward, ward.give(2, 1, outcome=DoseOutcome.HELD))
    assert _codes(error) == ["not-due"]


def test_ward_walkthrough_d2_a_given_at_in_the_future_is_refused(ward: Ward) -> None:
    error = _refused(ward, ward.give(1, 1, given_at=ward.clock.now + timedelta(minutes=6)))
    assert _codes(error) == ["given-at-future"]
    assert ward.submit(ward.give(1, 1, given_at=ward.clock.now + timedelta(minutes=5))).created


def test_outside_the_window_and_before_the_assessment_are_refused(ward: Ward) -> None:
    ward.clock.now = ward.due(1, 1) + timedelta(minutes=90)
    late = _refused(ward, ward.give(1, 1, given_at=ward.due(1, 1) + timedelta(minutes=61),
                                    assessed_at=ward.due(1, 1)))  # fmt: skip
    assert _codes(late) == ["outside-window"]
    early = _refused(ward, ward.give(1, 1, given_at=ward.due(1, 1),
                                     assessed_at=ward.due(1, 1) + timedelta(minutes=6)))  # fmt: skip
    assert _codes(early) == ["given-before-assessment"]
    assert ward.submit(ward.give(1, 1, given_at=ward.due(1, 1) + timedelta(minutes=60),
                                 assessed_at=ward.due(1, 1))).created  # fmt: skip


def test_ward_walkthrough_d3_an_override_never_waives_the_interval(ward: Ward) -> None:
    ward.clock.now = ward.due(1, 1) + timedelta(minutes=50)
    ward.submit(ward.give(1, 1))
    ward.clock.now = ward.due(1, 2)
    low = stable_assessment()
    low["vitals"]["sbp_mmhg"] = 85
    error = _refused(ward, ward.give(1, 2, assessment=low, override_reason="reviewed"),
                     Role.PHYSICIAN)  # fmt: skip
    assert _codes(error) == ["not-due"]
    ward.clock.now = ward.due(1, 2) + timedelta(minutes=50)
    nurse = _refused(ward, ward.give(1, 2, assessment=low))
    assert isinstance(nurse, RefusedError)
    assert nurse.overridable
    unnamed = _refused(ward, ward.give(1, 2, assessment=low, override_reason="x",
                                       overrides=("regimen-interval",)), Role.PHYSICIAN)  # fmt: skip
    assert isinstance(unnamed, InvalidInputError)
    assert unnamed.field == "overrides"
    done = ward.submit(ward.give(1, 2, assessment=low, override_reason="SBP 96 after a bolus",
                                 overrides=("label-sbp-low",)), Role.PHYSICIAN)  # fmt: skip
    assert (done.record.override_by, done.record.decision["overridden"]) == (
        "physician",
        ["label-sbp-low"],
    )


@pytest.mark.parametrize(
    ("verifier", "password"),
    [("nurse", PASSWORD), ("nurse2", "not the password"), ("researcher", PASSWORD),
     ("administrator", PASSWORD), ("pharmacist", PASSWORD), ("nobody", PASSWORD)],
)  # fmt: skip
def test_ward_walkthrough_d4_the_verifier_signs_and_may_verify(
    ward: Ward, verifier: str, password: str
) -> None:
    error = _refused(ward, ward.give(1, 1, verified_by=verifier, verifier_password=password))
    assert isinstance(error, InvalidInputError)
    assert error.field == "verified_by"
    assert password not in str(error)
    assert all(password not in str(e) for e in ward.refusals())


def test_ward_walkthrough_d6_after_a_discontinue_preview_and_record_agree(ward: Ward) -> None:
    stop = stable_assessment()
    stop["vitals"]["rhythm"] = "sustained_vt"
    stopped = ward.submit(DoseSubmission(cycle=1, dose_number=1, assessment=stop))
    assert stopped.record.decision_action == "discontinue"
    with pytest.raises(RefusedError) as planned:  # ward walkthrough D10: no new course either
        ward.plan("2027-02-15T08:00:00-08:00")
    assert "earlier-discontinue" in _codes(planned.value)
    ward.clock.now = ward.due(2, 1)
    preview = preview_dose(ward.app.services, ward.people[Role.NURSE], ward.course,
                           DoseSubmission(cycle=2, dose_number=1, assessment=stable_assessment()))  # fmt: skip
    assert preview["timeline"]["status"] == "discontinued"
    error = _refused(ward, ward.give(2, 1), Role.PHYSICIAN)
    assert "discontinued" in _codes(error)
    assert [d["decision_action"] for d in ward.doses()] == ["discontinue"]


def test_a_stop_can_be_recorded_before_the_dose_is_due(ward: Ward) -> None:
    ward.clock.now = ward.due(1, 3) - timedelta(hours=3)
    stopped = ward.submit(DoseSubmission(cycle=1, dose_number=3, assessment=stable_assessment(),
                                         outcome=DoseOutcome.STOPPED))  # fmt: skip
    assert stopped.record.outcome is DoseOutcome.STOPPED
    ward.clock.now = ward.due(1, 4)
    assert "cycle-stopped" in _codes(_refused(ward, ward.give(1, 4)))
