"""A running continuous infusion on SQLite and PostgreSQL: its events kept in a database-enforced
order, a concurrent second event refused, a refusal keeping only its audit entry, and a
discontinue closing the patient's timeline."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text

from il2.bootstrap import App
from il2.domain.errors import ConflictError, InvalidInputError, RefusedError
from il2.domain.records import Actor, DoseOutcome, Role
from il2.services.courses import plan_course
from il2.services.doses import DoseSubmission, submit_dose
from il2.services.infusions import read_infusion
from il2.services.patients import create_patient
from il2.services.pharmacy import preparation_list
from il2.services.worklist import worklist
from tests.infusion_events import pause, resume, stop
from tests.integration.builders import PASSWORD, PATIENT, screen_eligible, staff
from tests.integration.conftest import FixedClock

FIRST = "2026-12-07T16:00:00+00:00"  # the clock's start


def infusion_assessment(sbp: int = 112) -> dict[str, Any]:
    """What the infusion's checks read; stable unless the systolic BP says not."""
    return {
        "vitals": {"sbp_mmhg": sbp, "heart_rate_bpm": 92, "spo2_pct": 96, "rhythm": "sinus"},
        "mental_status": "normal",
        "urine_output_ml_last_8h": 400,
        "findings": [],
    }


class Running:
    """A renal cell carcinoma patient on civ-eu, day 1's infusion given at 16:00 UTC."""

    def __init__(self, app: App, clock: FixedClock) -> None:
        self.app, self.clock = app, clock
        self.team = staff(app)
        self.nurse: Actor = self.team[Role.NURSE]
        physician = self.team[Role.PHYSICIAN]
        patient = {**PATIENT, "diagnosis": "renal_cell_carcinoma"}
        self.patient = create_patient(app.services, physician, patient).id
        screen_eligible(app.services, physician, self.patient)
        self.course = plan_course(app.services, physician, self.patient, regimen="civ-eu",
                                  weight_kg=70, height_cm=175, first_dose=FIRST).id  # fmt: skip
        self.start = clock.now
        self.give(1)

    def give(self, number: int) -> None:
        submit_dose(self.app.services, self.nurse, self.course, DoseSubmission(
            cycle=1, dose_number=number, assessment=infusion_assessment(),
            outcome=DoseOutcome.GIVEN, given_at=self.clock.now, verified_by="nurse2",
            verifier_password=PASSWORD,
        ))  # fmt: skip

    def later(self, hours: float) -> None:
        self.clock.now = self.start + timedelta(hours=hours)

    def count(self, sql: str) -> int:
        with self.app.engine.connect() as connection:
            return int(connection.execute(text(sql)).scalar_one())


@pytest.fixture
def running(app: App, clock: FixedClock) -> Running:
    return Running(app, clock)


def test_pause_resume_stop_are_kept_in_order_with_their_decisions_and_audited(
    running: Running,
) -> None:
    services, nurse, course = running.app.services, running.nurse, running.course
    running.later(6)
    pause(services, nurse, course, 1, 1, assessment=infusion_assessment(sbp=84))
    running.later(9)
    resume(services, nurse, course, 1, 1, assessment=infusion_assessment())
    running.later(18)
    shown = stop(services, nurse, course, 1, 1, reason="patient's wish")
    assert (shown["status"], shown["running_h"], shown["paused_h"]) == ("stopped", 15.0, 3.0)
    assert shown["delivered_iu"] == shown["planned_iu"] * 15 // 24
    read = read_infusion(services, nurse, course, 1, 1)
    assert [(e["seq"], e["kind"], e["decision_action"]) for e in read["events"]] == [
        (1, "pause", "hold"), (2, "resume", "give"), (3, "stop", None),
    ]  # fmt: skip
    assert read["events"][0]["decision"]["decision"] == "hold"
    assert read["events"][0]["event_at"].startswith("2026-12-07T22:00")
    assert running.count("SELECT count(*) FROM audit WHERE entity = 'infusion_event'") == 3
    assert running.count("SELECT count(*) FROM audit WHERE action = 'read_infusion'") == 1


def test_the_database_refuses_a_second_event_in_the_same_place_of_the_order(
    running: Running,
) -> None:
    """Two events recorded at once both read event 1 as free: the unique order keeps one."""
    at = running.start + timedelta(hours=2)
    fields = {
        "course_id": running.course, "cycle": 1, "dose_number": 1, "seq": 1, "kind": "pause",
        "event_at": at, "decision_action": None, "reason": "x", "corrects": None,
        "assessment": None, "decision": None, "recorded_by": "nurse", "at": at,
    }  # fmt: skip
    with running.app.services.uow() as first, running.app.services.uow() as second:
        first.infusions.add(**fields)
        first.commit()
        with pytest.raises(ConflictError, match="changed meanwhile"):
            second.infusions.add(**{**fields, "kind": "stop"})
    assert running.count("SELECT count(*) FROM infusion_events") == 1


def test_a_refused_event_keeps_nothing_but_its_audit_entry(running: Running) -> None:
    running.later(2)
    with pytest.raises(InvalidInputError) as refused:
        resume(running.app.services, running.nurse, running.course, 1, 1,
               assessment=infusion_assessment())  # fmt: skip
    assert refused.value.field == "event"
    assert running.count("SELECT count(*) FROM infusion_events") == 0
    assert (
        running.count("SELECT count(*) FROM audit WHERE action = 'refuse_record_infusion_event'")
        == 1
    )


def test_a_capillary_leak_stop_closes_the_cycle_on_the_patients_timeline(
    running: Running,
) -> None:
    running.later(10)
    leak = {**infusion_assessment(), "findings": ["capillary_leak_syndrome"]}
    stop(running.app.services, running.nurse, running.course, 1, 1, assessment=leak)
    running.later(24)
    with pytest.raises(RefusedError) as refused:
        running.give(2)
    assert "cycle-stopped" in [r.code for r in refused.value.reasons]


def test_after_a_capillary_leak_stop_the_next_days_bag_leaves_the_ward_and_pharmacy_lists(
    running: Running,
) -> None:
    def listed() -> tuple[bool, bool]:
        ward = worklist(running.app.services, running.nurse, limit=50).doses_today
        pharmacist = running.team[Role.PHARMACIST]
        prepared = preparation_list(running.app.services, pharmacist).doses
        return (
            any((d.course_id, d.dose_number) == (running.course, 2) for d in ward),
            any((d.course_id, d.dose_number) == (running.course, 2) for d in prepared),
        )

    running.later(7)  # 23:00: the next day's bag, due 16:00 tomorrow, is within 24 h
    assert listed()[1]
    leak = {**infusion_assessment(), "findings": ["capillary_leak_syndrome"]}
    stop(running.app.services, running.nurse, running.course, 1, 1, assessment=leak)
    assert listed() == (False, False)
    running.later(23)  # 15:00 tomorrow: the bag would be due today on the ward's list
    assert listed() == (False, False)
