"""The synthetic program: deterministic for a seed, and every record written through the services."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from il2.bootstrap import App, build_app, upgrade_database
from il2.config import Settings
from il2.science.dataset import DIAGNOSES
from il2.science.simulation import known_dependence
from il2.services.demo import build_demo
from il2.services.screening import screen_candidate

UNTIL = date(2026, 11, 1)
COLUMNS = {
    "patients": "mrn, name, birth_date, sex, diagnosis, referred_on",
    "doses": "course_id, cycle, dose_number, outcome, decision_action, given_at",
    "entries": "patient_id, kind, observed_on, summary",
}


def _demo(path: Path, seed: int) -> App:
    app = build_app(Settings(database_url=f"sqlite:///{path}"))
    upgrade_database(app)
    build_demo(app.services, seed=seed, years=1, until=UNTIL)
    return app


def _content(app: App) -> dict[str, list[tuple[object, ...]]]:
    engine = create_engine(app.settings.database_url)
    with engine.connect() as connection:
        content = {
            table: [
                tuple(row)
                for row in connection.execute(text(f"SELECT {columns} FROM {table} ORDER BY id"))  # noqa: S608 - fixed names
            ]
            for table, columns in COLUMNS.items()
        }
    engine.dispose()
    return content


def test_the_same_seed_gives_the_same_program_and_another_seed_another(tmp_path: Path) -> None:
    first = _content(_demo(tmp_path / "a.sqlite3", seed=3))
    again = _content(_demo(tmp_path / "b.sqlite3", seed=3))
    other = _content(_demo(tmp_path / "c.sqlite3", seed=4))
    assert first == again
    assert first != other
    assert len(first["doses"]) > 500


@pytest.fixture(scope="module")
def demo_five(tmp_path_factory: pytest.TempPathFactory) -> App:
    return _demo(tmp_path_factory.mktemp("demo") / "d.sqlite3", seed=5)


def test_every_demo_record_is_audited_and_doses_follow_the_engine(demo_five: App) -> None:
    app = demo_five
    engine = create_engine(app.settings.database_url)
    with engine.connect() as connection:
        doses = connection.execute(text("SELECT COUNT(*) FROM doses")).scalar_one()
        audited = connection.execute(
            text("SELECT COUNT(*) FROM audit WHERE entity = 'dose'")
        ).scalar_one()
        # given exactly when the engine said give, or a physician overrode its hold
        mismatched = connection.execute(
            text(
                "SELECT COUNT(*) FROM doses WHERE (outcome = 'given') != (decision_action = 'give'"
                " OR (decision_action = 'hold' AND override_by IS NOT NULL))"
            )
        ).scalar_one()
        overrides = connection.execute(
            text(
                "SELECT override_by, recorded_by, override_reason IS NOT NULL, COUNT(*)"
                " FROM doses WHERE override_by IS NOT NULL GROUP BY 1, 2, 3"
            )
        ).all()
    engine.dispose()
    assert audited == doses
    assert mismatched == 0
    ((by, recorded_by, with_reason, count),) = overrides
    assert (by, recorded_by, with_reason) == ("demo-physician", "demo-physician", 1)
    assert count > 0


def test_the_sbrt_arms_first_courses_follow_their_fractions_on_sbrt_hd(tmp_path: Path) -> None:
    app = _demo(tmp_path / "s.sqlite3", seed=6)
    engine = create_engine(app.settings.database_url)
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT arm.code, course.number, course.regimen_id, course.first_dose_at, "
                "course.plan FROM arm_assignments AS a JOIN study_arms AS arm ON arm.id = a.arm_id "
                "JOIN courses AS course ON course.patient_id = a.patient_id"
            )
        ).all()
    engine.dispose()
    first = {(code, regimen) for code, number, regimen, _, _ in rows if number == 1}
    assert first == {("sbrt-il2", "sbrt-hd"), ("il2", "hd-label")}
    assert all(regimen == "hd-label" for _, number, regimen, _, _ in rows if number > 1)
    for _, _, regimen, first_dose_at, plan in rows:
        if regimen != "sbrt-hd":
            continue
        fractions = [e for e in json.loads(plan)["events"] if e["kind"] == "sbrt_fraction"]
        assert 1 <= len(fractions) <= 2
        last = max(date.fromisoformat(e["on"]) for e in fractions)
        assert (datetime.fromisoformat(str(first_dose_at)).date() - last).days == 3


def test_the_demos_screenings_are_valid_and_the_first_course_records_the_prognostic_factors(
    demo_five: App,
) -> None:
    rules = demo_five.services.rules
    engine = create_engine(demo_five.settings.database_url)
    with engine.connect() as connection:
        screenings = connection.execute(
            text("SELECT patient_id, verdict, findings FROM screenings ORDER BY id")
        ).all()
        treated = set(connection.execute(text("SELECT patient_id FROM courses")).scalars())
    engine.dispose()
    factors: dict[int, dict[str, object]] = {}
    for patient, verdict, stored in screenings:
        findings = json.loads(stored) if isinstance(stored, str) else stored
        # every document is valid and judged as it was recorded
        assert screen_candidate(rules, findings).verdict == verdict
        if "karnofsky" in findings:
            assert verdict == "eligible"
            factors.setdefault(patient, findings)
    # the work-up before each treated patient's first course adds the factors
    assert treated
    assert treated <= set(factors)
    fields = {known_dependence(diagnosis).field for diagnosis in DIAGNOSES}
    for findings in factors.values():
        tumour = findings["tumour"]
        assert isinstance(tumour, dict)
        assert {field.removeprefix("tumour.") for field in fields} & set(tumour)
