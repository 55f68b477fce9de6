"""A running continuous infusion through the service, on in-memory fakes of the ports.

A civ-eu course (18 MIU/m² a 24-hour day), its day 1 infusion recorded given at 08:00 UTC; the
clock then moves through the day. Assessments go through the same before-dose engine as the
ledger's; the events are audited, and a refusal keeps nothing but its audit entry.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from tests.fakes import FakeDatabase, FixedClock
from tests.infusion_events import pause, resume, stop
from tests.integration.builders import PASSWORD, PATIENT
from tests.unit.test_ledger_rules_with_fakes import _password_hash

from il2.domain.errors import (
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    RefusedError,
)
from il2.domain.records import Actor, DoseOutcome, Role
from il2.rules.loader import RuleSet, load_rules
from il2.services.context import Services
from il2.services.courses import course_fields
from il2.services.doses import DoseSubmission, submit_dose
from il2.services.infusions import InfusionSubmission, read_infusion, record_infusion_event
from il2.services.ports import UnitOfWorkFactory

RULES = load_rules()
FIRST = "2026-12-07T08:00:00+00:00"


def infusion_assessment(sbp: int = 112) -> dict[str, Any]:
    """What the route's checks read, the patient stable unless the systolic BP says not."""
    return {
        "vitals": {"sbp_mmhg": sbp, "heart_rate_bpm": 92, "spo2_pct": 96, "rhythm": "sinus"},
        "mental_status": "normal",
        "urine_output_ml_last_8h": 400,
        "findings": [],
    }


class Ward:
    """A patient on civ-eu, accounts of every role and a second nurse; day 1 given at 08:00."""

    def __init__(self, regimen: str = "civ-eu", rules: RuleSet = RULES) -> None:
        self.database = FakeDatabase()
        self.clock = FixedClock()
        self.clock.now = self.at(0)
        factory: UnitOfWorkFactory = self.database
        self.services = Services(rules=rules, uow=factory, clock=self.clock)
        with self.database() as uow:
            self.people = {}
            for role in [*Role, "nurse2"]:
                name = role if isinstance(role, str) and role == "nurse2" else Role(role).value
                user = uow.users.add(
                    username=name,
                    display_name=name,
                    role=Role.NURSE if name == "nurse2" else Role(role),
                    password_hash=_password_hash(),
                    at=self.clock.now,
                )
                self.people[name] = Actor(user.id, user.username, user.role)
            given: dict[str, Any] = dict(PATIENT)
            for key in ("birth_date", "referred_on"):
                given[key] = date.fromisoformat(PATIENT[key])
            patient = uow.patients.add(**given, at=self.clock.now)
            fields = course_fields(
                self.services, regimen=regimen, weight_kg=70, height_cm=175, first_dose=FIRST
            )
            self.course = uow.courses.add(
                patient_id=patient.id,
                number=1,
                **fields,
                recorded_by="physician",
                at=self.clock.now,
            ).id
            uow.commit()
        self.nurse = self.people["nurse"]

    def at(self, hours: float) -> datetime:
        return datetime(2026, 12, 7, 8, 0, tzinfo=UTC) + timedelta(hours=hours)

    def give(self, number: int, hours: float) -> None:
        self.clock.now = self.at(hours)
        submit_dose(self.services, self.nurse, self.course, DoseSubmission(
            cycle=1, dose_number=number, assessment=infusion_assessment(),
            outcome=DoseOutcome.GIVEN, given_at=self.clock.now, verified_by="nurse2",
            verifier_password=PASSWORD,
        ))  # fmt: skip

    def audited(self, action: str) -> int:
        return sum(1 for e in self.database.audit if e.action == action)


@pytest.fixture
def ward() -> Ward:
    w = Ward()
    w.give(1, 0)
    return w


def test_a_pause_resume_and_stop_deliver_the_share_of_the_time_run(ward: Ward) -> None:
    ward.clock.now = ward.at(6)
    paused = pause(ward.services, ward.nurse, ward.course, 1, 1,
                   assessment=infusion_assessment(sbp=84))  # fmt: skip
    assert paused["status"] == "paused"
    assert paused["events"][0]["decision_action"] == "hold"
    ward.clock.now = ward.at(9)
    resumed = resume(ward.services, ward.nurse, ward.course, 1, 1,
                     assessment=infusion_assessment())  # fmt: skip
    assert (resumed["status"], resumed["paused_h"]) == ("running", 3.0)
    ward.clock.now = ward.at(18)
    stopped = stop(ward.services, ward.nurse, ward.course, 1, 1, reason="patient's wish")
    planned = stopped["planned_iu"]
    assert (stopped["status"], stopped["running_h"], stopped["paused_h"]) == ("stopped", 15.0, 3.0)
    assert stopped["delivered_iu"] == planned * 15 // 24
    assert ward.audited("create") >= 3
    assert [
        e["seq"] for e in read_infusion(ward.services, ward.nurse, ward.course, 1, 1)["events"]
    ] == [1, 2, 3]


def test_a_resume_reads_the_pauses_reasons_as_the_holds_still_open(ward: Ward) -> None:
    ward.clock.now = ward.at(6)
    pause(ward.services, ward.nurse, ward.course, 1, 1, assessment=infusion_assessment(sbp=84))
    ward.clock.now = ward.at(7)
    with pytest.raises(InvalidInputError) as refused:
        resume(ward.services, ward.nurse, ward.course, 1, 1, assessment=infusion_assessment(sbp=84))
    assert refused.value.field == "assessment"
    with ward.database() as uow:
        (event,) = uow.infusions.for_dose(ward.course, 1, 1)
    assert event.assessment is not None
    assert event.assessment["held_for"] == []  # nothing was open when it paused
    ward.clock.now = ward.at(8)
    resume(ward.services, ward.nurse, ward.course, 1, 1, assessment=infusion_assessment())
    with ward.database() as uow:
        _, resumed = uow.infusions.for_dose(ward.course, 1, 1)
    assert resumed.assessment is not None
    assert resumed.assessment["held_for"]  # the pause's resume keys
    assert resumed.assessment["cycle"] == 1
    assert resumed.assessment["doses_given_this_cycle"] == 0  # as when the infusion started


def test_a_pause_on_a_give_needs_a_reason_and_a_refusal_keeps_only_its_audit(ward: Ward) -> None:
    ward.clock.now = ward.at(2)
    with pytest.raises(InvalidInputError) as refused:
        pause(ward.services, ward.nurse, ward.course, 1, 1, assessment=infusion_assessment())
    assert refused.value.field == "reason"
    assert ward.audited("refuse_record_infusion_event") == 1
    with ward.database() as uow:
        assert uow.infusions.for_dose(ward.course, 1, 1) == []
    shown = pause(ward.services, ward.nurse, ward.course, 1, 1,
                  assessment=infusion_assessment(), reason="line occluded")  # fmt: skip
    assert shown["status"] == "paused"


def widened(rules: RuleSet) -> RuleSet:
    """The rules with the label's seizure discontinue applied to the infusion too.

    No rule in bedside.toml discontinues a continuous infusion (the sources give none for the
    route); this test-only table lets the path a future one would take be tried.
    """
    table = rules.bedside
    kept = tuple(
        replace(r, routes=r.routes | {"continuous_infusion"})
        if r.id == "label-neurologic-events"
        else r
        for r in table.rules
    )
    return replace(rules, bedside=replace(table, rules=kept))


def test_after_a_stop_with_discontinue_the_next_days_infusion_is_refused() -> None:
    ward = Ward(rules=widened(RULES))
    ward.give(1, 0)
    ward.clock.now = ward.at(10)
    discontinue = infusion_assessment()
    discontinue["findings"] = ["seizures"]
    answer = stop(ward.services, ward.nurse, ward.course, 1, 1, assessment=discontinue)
    assert answer["events"][0]["decision_action"] == "discontinue"
    with pytest.raises(RefusedError) as refused:
        ward.give(2, 24)
    assert "discontinued" in [r.code for r in refused.value.reasons]
    with pytest.raises(RefusedError) as next_cycle:
        ward.give(6, 24 * 7)
    assert "discontinued" in [r.code for r in next_cycle.value.reasons]


def test_a_capillary_leak_stops_the_infusion_and_its_cycle(ward: Ward) -> None:
    ward.clock.now = ward.at(10)
    leak = infusion_assessment()
    leak["findings"] = ["capillary_leak_syndrome"]
    with pytest.raises(InvalidInputError) as hidden:
        pause(ward.services, ward.nurse, ward.course, 1, 1, assessment=leak)
    assert hidden.value.field == "event"
    answer = stop(ward.services, ward.nurse, ward.course, 1, 1, assessment=leak)
    assert answer["events"][0]["decision_action"] == "stop_cycle"
    with pytest.raises(RefusedError) as refused:
        ward.give(2, 24)
    assert "cycle-stopped" in [r.code for r in refused.value.reasons]


def test_the_next_days_infusion_is_given_after_a_stop_for_a_reason_alone(ward: Ward) -> None:
    ward.clock.now = ward.at(10)
    stop(ward.services, ward.nurse, ward.course, 1, 1, reason="bag leaked")
    ward.give(2, 24)


def test_only_a_given_continuous_infusion_of_a_recorder_takes_events(ward: Ward) -> None:
    ward.clock.now = ward.at(2)
    with pytest.raises(InvalidInputError) as open_slot:
        pause(ward.services, ward.nurse, ward.course, 1, 2, reason="x")
    assert open_slot.value.field == "dose_number"
    with pytest.raises(PermissionDeniedError):
        pause(ward.services, ward.people["pharmacist"], ward.course, 1, 1, reason="x")
    with pytest.raises(PermissionDeniedError):
        read_infusion(ward.services, ward.people["researcher"], ward.course, 1, 1)
    with pytest.raises(NotFoundError):
        pause(ward.services, ward.nurse, 999, 1, 1, reason="x")
    with pytest.raises(InvalidInputError) as unknown:
        record_infusion_event(ward.services, ward.nurse, ward.course,
                              InfusionSubmission(1, 1, "restart", reason="x"))  # fmt: skip
    assert unknown.value.field == "event"


def test_a_bolus_course_is_refused_with_the_infusion_regimens_named() -> None:
    bolus = Ward(regimen="hd-label")
    with pytest.raises(InvalidInputError) as refused:
        pause(bolus.services, bolus.nurse, bolus.course, 1, 1, reason="x")
    assert refused.value.field == "course"
    assert "civ-eu" in refused.value.allowed
    assert "biochemo-cvd" in refused.value.allowed


def test_an_infusion_left_paused_leaves_its_holds_open_for_the_next_days(ward: Ward) -> None:
    ward.clock.now = ward.at(20)
    pause(ward.services, ward.nurse, ward.course, 1, 1, assessment=infusion_assessment(sbp=84))
    ward.clock.now = ward.at(24)
    assert read_infusion(ward.services, ward.nurse, ward.course, 1, 1)["status"] == "ended"
    ward.give(2, 24)
    with ward.database() as uow:
        day2 = uow.doses.by_slot(ward.course, 1, 2)
        (paused,) = uow.infusions.for_dose(ward.course, 1, 1)
    assert day2 is not None
    keys = {r["resume_key"] for r in (paused.decision or {})["reasons"] if "resume_key" in r}
    assert keys
    assert set(day2.assessment["held_for"]) == keys


def test_a_correction_replaces_the_last_pause_and_is_kept_beside_it(ward: Ward) -> None:
    ward.clock.now = ward.at(6)
    pause(ward.services, ward.nurse, ward.course, 1, 1, reason="line occluded")
    corrected = record_infusion_event(
        ward.services, ward.nurse, ward.course,
        InfusionSubmission(1, 1, "pause", ward.at(5), reason="line occluded at 13:00", corrects=1),
    )  # fmt: skip
    assert [(e["seq"], e["corrected"]) for e in corrected["events"]] == [(1, True), (2, False)]
    assert corrected["paused_h"] == 1.0
