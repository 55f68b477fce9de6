"""The responder model's baselines come from the last screening on or before the first dose."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from il2.bootstrap import App
from il2.domain.records import Actor, Role
from il2.science.dataset import Course, Patient, Program
from il2.services.patients import create_patient, record_screening
from il2.services.prediction import baselines
from tests.integration.builders import PATIENT, eligible_findings, staff
from tests.integration.conftest import FixedClock

FIRST_DOSE = date(2026, 11, 10)


@pytest.fixture
def physician(app: App) -> Actor:
    return staff(app)[Role.PHYSICIAN]


def _screen(app: App, actor: Actor, patient_id: int, day: date, **found: object) -> None:
    clock = app.services.clock
    assert isinstance(clock, FixedClock)
    clock.now = datetime(day.year, day.month, day.day, 10, tzinfo=UTC)
    findings = eligible_findings() | {"ecog": found["ecog"],
                                      "tumour": {"ca_ix_pct": found["ca_ix_pct"]}}  # fmt: skip
    record_screening(app.services, actor, patient_id, findings)


def _program(*patients: tuple[int, date | None]) -> Program:
    records = tuple(
        Patient(pid, "renal_cell_carcinoma", date(2026, 10, 1), eligible=True,
                treated=first is not None, death_on=None, last_contact_on=date(2026, 12, 1))
        for pid, first in patients
    )  # fmt: skip
    courses = tuple(
        Course(pid, 100 + pid, 1, "hd-bolus-600", first, first, 4)
        for pid, first in patients
        if first is not None
    )
    return Program(records, courses, (), (), (), as_of=date(2026, 12, 1))


def test_the_baseline_is_the_last_screening_on_or_before_the_first_dose(
    app: App, physician: Actor
) -> None:
    patient = create_patient(app.services, physician, PATIENT)
    _screen(app, physician, patient.id, date(2026, 10, 20), ecog=1, ca_ix_pct=40)
    _screen(
        app, physician, patient.id, FIRST_DOSE, ecog=0, ca_ix_pct=90
    )  # the day of the first dose
    _screen(
        app, physician, patient.id, date(2026, 11, 30), ecog=2, ca_ix_pct=10
    )  # after: not a baseline
    (baseline,) = baselines(app.services, _program((patient.id, FIRST_DOSE)))
    assert baseline.patient_id == patient.id
    assert baseline.screened_on == FIRST_DOSE
    assert baseline.findings["ecog"] == 0
    assert baseline.findings["tumour.ca_ix_pct"] == Decimal(90)


def test_a_patient_screened_only_after_the_first_dose_or_never_treated_has_no_baseline(
    app: App, physician: Actor
) -> None:
    late = create_patient(app.services, physician, PATIENT | {"mrn": "MRN-0002"})
    untreated = create_patient(app.services, physician, PATIENT | {"mrn": "MRN-0003"})
    _screen(app, physician, late.id, date(2026, 11, 11), ecog=0, ca_ix_pct=90)
    _screen(app, physician, untreated.id, date(2026, 10, 20), ecog=0, ca_ix_pct=90)
    assert baselines(app.services, _program((late.id, FIRST_DOSE), (untreated.id, None))) == ()
