"""The demo's ward today: patients mid-cycle now, doses due within hours, one nearing a hold."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import create_engine, text

from il2.bootstrap import App
from il2.domain.checks import LimitCheck
from il2.services.demo import (
    WARD_DOSES_GIVEN,
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
    for mrn, given in zip(ward.mrns, WARD_DOSES_GIVEN, strict=True):
        recorded = doses[mrn]
        assert [outcome for outcome, *_ in recorded] == ["given"] * given
        plan = _json(recorded[0][3])
        upcoming = datetime.fromisoformat(plan["cycles"][0]["doses"][given]["due_at"])
        assert clock.now < upcoming <= clock.now + timedelta(hours=8)
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
