"""The demo's ward today: patients mid-cycle now, doses due within hours, one nearing a hold."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from il2.bootstrap import App
from il2.domain.checks import LimitCheck
from il2.domain.worklist import slots
from il2.services.demo import (
    WARD_DOSES_GIVEN,
    WARD_NEXT_DUE_HOURS,
    WARD_TRENDING_RULE,
    add_ward,
    demo_state,
    ensure_staff,
)
from il2.services.patients import create_patient
from tests.integration.conftest import FixedClock


def _doses(app: App) -> dict[str, list[Any]]:
    """Each ward patient's doses (outcome, due time, assessment, plan), by MRN."""
    engine = create_engine(app.settings.database_url)
    found: dict[str, list[Any]] = {}
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT p.mrn, d.outcome, d.dose_number, d.assessment, c.plan "
                "FROM doses d JOIN courses c ON c.id = d.course_id "
                "JOIN patients p ON p.id = c.patient_id ORDER BY p.mrn, d.dose_number"
            )
        )
        for mrn, outcome, number, assessment, plan in rows:
            found.setdefault(mrn, []).append((outcome, number, assessment, plan))
    engine.dispose()
    return found


def _json(value: Any) -> Any:
    import json  # noqa: PLC0415

    return json.loads(value) if isinstance(value, str) else value


def test_the_ward_is_mid_cycle_now_with_doses_due_within_hours(app: App, clock: FixedClock) -> None:
    assert demo_state(app.services) == "empty"
    ward = add_ward(app.services)
    doses = _doses(app)
    assert sorted(doses) == sorted(ward.mrns)
    assert len(ward.mrns) == len(WARD_DOSES_GIVEN) == 3
    assert 0 in WARD_NEXT_DUE_HOURS  # a nurse signing in has a dose to give now
    for mrn, given, due_in in zip(ward.mrns, WARD_DOSES_GIVEN, WARD_NEXT_DUE_HOURS, strict=True):
        recorded = doses[mrn]
        assert [outcome for outcome, *_ in recorded] == ["given"] * given
        plan = _json(recorded[0][3])
        upcoming = datetime.fromisoformat(plan["cycles"][0]["doses"][given]["due_at"])
        late = app.rules.timeline.window_late
        assert clock.now - late < upcoming <= clock.now + timedelta(hours=8)
        assert (upcoming <= clock.now) is (due_in == 0)  # due now: its window is open
    assert demo_state(app.services) == "current"


def test_the_last_ward_patient_trends_to_the_tables_sbp_hold_limit(app: App) -> None:
    ward = add_ward(app.services)
    rule = next(r for r in app.rules.bedside.rules if r.id == WARD_TRENDING_RULE)
    assert isinstance(rule.check, LimitCheck)
    readings = [
        _json(assessment)["vitals"]["sbp_mmhg"]
        for *_, assessment, _plan in _doses(app)[ward.mrns[-1]]
    ]
    assert readings == sorted(readings, reverse=True)
    assert len(set(readings)) == len(readings)
    assert all(value >= rule.check.limit for value in readings)  # every dose given...
    assert readings[-1] - rule.check.limit <= 5  # ...the latest close to the hold limit


def test_a_demo_is_stale_the_next_day_and_a_real_patient_makes_it_no_demo(
    app: App, clock: FixedClock
) -> None:
    add_ward(app.services)
    clock.now += timedelta(days=1)
    assert demo_state(app.services) == "stale"
    add_ward(app.services)
    assert demo_state(app.services) == "current"
    coordinator = ensure_staff(app.services)["demo-coordinator"]
    create_patient(
        app.services,
        coordinator,
        {
            "mrn": "MRN-0001",
            "name": "Real Patient",
            "birth_date": "1970-01-01",
            "sex": "female",
            "diagnosis": "melanoma",
            "referred_on": "2026-11-01",
        },
    )
    assert demo_state(app.services) == "not_demo"


def _overdue(app: App, now: datetime) -> list[tuple[str, int, int]]:
    """Every dose slot not recorded whose window has passed, as (MRN, cycle, dose)."""
    now = now - app.rules.timeline.window_late
    with app.services.uow() as uow:
        patients = uow.patients.search("DEMO-", limit=1000)
        courses = uow.courses.for_patients([p.id for p in patients])
        mrns = {p.id: p.mrn for p in patients}
        found = []
        for patient_id, listed in courses.items():
            for course in listed:
                for slot in slots(course, uow.doses.for_course(course.id), now):
                    if slot.status == "overdue":
                        found.append((mrns[patient_id], slot.cycle, slot.dose_number))
    return found


@pytest.mark.parametrize("days", [1, 3, 20])
def test_a_re_run_days_later_leaves_no_earlier_ward_dose_past_due(
    app: App, clock: FixedClock, days: int
) -> None:
    first = add_ward(app.services)
    clock.now += timedelta(days=days)
    assert _overdue(app, clock.now)  # yesterday's ward, left alone, has doses past due
    assert demo_state(app.services) == "stale"
    second = add_ward(app.services)
    assert not set(first.mrns) & set(second.mrns)
    assert _overdue(app, clock.now) == []
    with app.services.uow() as uow:  # each dose recorded at its due time, not at the re-run
        for mrn in first.mrns:
            (patient,) = uow.patients.search(mrn, limit=2)
            for course in uow.courses.for_patient(patient.id):
                due = {
                    (cycle["cycle"], dose["number"]): datetime.fromisoformat(dose["due_at"])
                    for cycle in course.plan["cycles"]
                    for dose in cycle["doses"]
                }
                lines = uow.doses.lines_for_course(course.id)
                assert len(lines) > WARD_DOSES_GIVEN[first.mrns.index(mrn)]
                for line in lines:
                    assert (
                        line.given_at is None or line.given_at == due[line.cycle, line.dose_number]
                    )
