"""Override analytics on SQLite and PostgreSQL: a hold, an override submitted through the dose
ledger, what followed each, read back de-identified."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta

import pytest

from il2.bootstrap import App
from il2.domain.deidentify import WITHHELD, study_number
from il2.domain.errors import PermissionDeniedError
from il2.domain.records import Actor, DoseOutcome, Role
from il2.services.audit import export_audit
from il2.services.clinical import record_toxicity
from il2.services.courses import plan_course
from il2.services.doses import DoseSubmission, submit_dose
from il2.services.outcomes import examined
from il2.services.override_analysis import override_summary
from il2.services.patients import create_patient
from tests.integration.builders import (
    PASSWORD,
    PATIENT,
    screen_eligible,
    stable_assessment,
    staff,
)
from tests.integration.conftest import FixedClock

AS_OF = date(2026, 12, 31)
FIRST_DOSE = datetime.fromisoformat("2026-12-07T08:00:00-08:00")


def _low() -> dict[str, object]:
    low = stable_assessment()
    low["vitals"]["sbp_mmhg"] = 85
    return low


def _program(app: App, clock: FixedClock) -> tuple[dict[Role, Actor], int]:
    """Dose 1 held (low SBP), dose 2 given by a physician against the hold, dose 3 given; a
    grade 3 toxicity the next day."""
    people = staff(app)
    patient = create_patient(app.services, people[Role.PHYSICIAN], PATIENT)
    screen_eligible(app.services, people[Role.PHYSICIAN], patient.id)
    course = plan_course(app.services, people[Role.PHYSICIAN], patient.id, regimen="hd-label",
                         weight_kg=70, first_dose=FIRST_DOSE.isoformat())  # fmt: skip
    held = DoseSubmission(cycle=1, dose_number=1, assessment=_low())
    assert submit_dose(app.services, people[Role.NURSE], course.id, held).record.outcome is (
        DoseOutcome.HELD
    )
    clock.now += timedelta(hours=8)
    give = DoseSubmission(cycle=1, dose_number=2, assessment=_low(), outcome=DoseOutcome.GIVEN,
                          given_at=clock.now, verified_by="nurse2", verifier_password=PASSWORD)  # fmt: skip
    overridden = submit_dose(app.services, people[Role.PHYSICIAN], course.id,
                             replace(give, override_reason="SBP 85 at baseline, 96 on recheck"))  # fmt: skip
    assert overridden.record.override_by == "physician"
    clock.now += timedelta(hours=8)
    stable = replace(give, dose_number=3, assessment=stable_assessment(), given_at=clock.now)
    assert submit_dose(app.services, people[Role.NURSE], course.id, stable).record.outcome is (
        DoseOutcome.GIVEN
    )
    findings = {"ctcae_version": "5.0",
                "findings": [{"term": "platelet_count_decreased", "value": 40000, "unit": "per_ul"}]}  # fmt: skip
    record_toxicity(app.services, people[Role.NURSE], patient.id, observed_on="2026-12-08",
                    course_id=course.id, findings=findings)  # fmt: skip
    return people, patient.id


def test_the_ledger_answers_the_engines_holds_and_its_lines_in_dose_order(
    app: App, clock: FixedClock
) -> None:
    _program(app, clock)
    with app.services.uow() as uow:
        holds = uow.doses.engine_holds()
        lines = uow.doses.ledger_lines()
    assert [(h.dose_number, h.outcome, h.override_by) for h in holds] == [
        (1, DoseOutcome.HELD, None),
        (2, DoseOutcome.GIVEN, "physician"),
    ]
    assert all(h.decision["reasons"] for h in holds)
    assert [(line.dose_number, line.decision_action) for line in lines] == [
        (1, "hold"),
        (2, "hold"),
        (3, "give"),
    ]


def test_an_override_is_analysed_with_what_followed_and_shown_de_identified(
    app: App, clock: FixedClock
) -> None:
    people, patient_id = _program(app, clock)
    researcher = people[Role.RESEARCHER]
    data, _ = examined(app.services, researcher, as_of=AS_OF)
    summary = override_summary(app.services, researcher, data)
    assert (summary["holds"], summary["overridden"], summary["left_out"]) == (2, 1, 0)
    (listed,) = summary["overrides"]
    assert listed["patient"] == study_number(patient_id, key=app.services.study_key)
    assert listed["prescriber"].startswith("prescriber-")
    assert "physician" not in listed["prescriber"]
    assert listed["reason"] == WITHHELD
    assert "label-sbp-low" in listed["rules"]
    # dose 2 was assessed 8 h after the first dose: its day from day 0 is the site's
    zone = app.services.rules.site.time_zone
    first, second = FIRST_DOSE, FIRST_DOSE + timedelta(hours=8)
    day = (second.astimezone(zone).date() - first.astimezone(zone).date()).days
    assert (listed["year"], listed["day"], listed["cycle"], listed["dose_number"]) == (
        2026, day, 1, 2,
    )  # fmt: skip
    assert listed["next_decision"] == "give"
    assert listed["severe_toxicity_48h"] is True
    assert listed["cycle_completed"] is None  # 3 of 14 doses recorded: the cycle is open
    overall = summary["overall"]
    assert (overall["overridden"]["holds"], overall["not_overridden"]["holds"]) == (1, 1)
    # the held dose 1 was followed by dose 2, which the engine held too
    assert overall["not_overridden"]["next_hold"]["count"] == 1
    assert "label-sbp-low" in {row["key"] for row in summary["by_rule"]}
    assert [row["key"] for row in summary["by_prescriber"]] == [listed["prescriber"]]
    audited = export_audit(app.services, people[Role.ADMINISTRATOR])
    assert any(e["action"] == "read_override_analysis" for e in audited)
    # a physician, who reads the identified record, reads each override's reason here too
    physician = people[Role.PHYSICIAN]
    (theirs,) = override_summary(app.services, physician, data)["overrides"]
    assert theirs["reason"] == "SBP 85 at baseline, 96 on recheck"
    assert theirs["patient"] == listed["patient"]


def test_the_override_analysis_needs_the_outcome_permission(app: App, clock: FixedClock) -> None:
    people, _ = _program(app, clock)
    data, _ = examined(app.services, people[Role.RESEARCHER], as_of=AS_OF)
    with pytest.raises(PermissionDeniedError):
        override_summary(app.services, people[Role.NURSE], data)
