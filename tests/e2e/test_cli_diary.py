"""`il2 diary add|correct|list` on a real SQLite file, with the CLI's exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.test_cli_records import run
from tests.integration.builders import PATIENT, keep_course, outpatient_app, staff, taken_report

from il2.bootstrap import build_app, upgrade_database
from il2.config import Settings
from il2.domain.records import Role
from il2.services.patients import create_patient


def _course(database: Path) -> str:
    """An sc-eu course kept through the repository (the CLI's own app keeps none yet)."""
    app = outpatient_app(build_app(Settings(database_url=f"sqlite:///{database}")))
    upgrade_database(app)
    people = staff(app)
    patient = create_patient(app.services, people[Role.PHYSICIAN], PATIENT).id
    course = keep_course(app.services, patient)
    app.engine.dispose()
    return str(course)


def test_a_nurse_enters_corrects_and_lists_the_diary_from_the_command_line(
    tmp_path: Path,
) -> None:
    database = tmp_path / "diary.sqlite3"
    course = _course(database)
    me = ("--user", "nurse")
    added = run("diary", "add", course, "-", *me, database=database,
                stdin=json.dumps(taken_report()))  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert "injection 1.1 taken" in added.stdout
    assert "Injection site reaction grade 1" in added.stdout
    twice = run("diary", "add", course, "-", *me, database=database,
                stdin=json.dumps(taken_report()))  # fmt: skip
    assert twice.returncode == 2
    assert "already has a diary entry" in twice.stderr
    fixed = run("diary", "correct", course, "1", "-", "--reason", "it was missed", *me, "--json",
                database=database,
                stdin=json.dumps({"status": "missed", "reported_by": "caregiver"}))  # fmt: skip
    assert fixed.returncode == 0, fixed.stderr
    assert json.loads(fixed.stdout)["corrects_id"] == 1
    listed = run("diary", "list", course, *me, "--json", database=database)
    assert listed.returncode == 0, listed.stderr
    diary = json.loads(listed.stdout)
    assert [e["current"] for e in diary["entries"]] == [False, True]
    assert (diary["summary"]["missed"], diary["summary"]["taken"]) == (1, 0)
    table = run("diary", "list", course, *me, database=database)
    assert "missed 1" in table.stdout


def test_an_unusable_entry_exits_2_naming_the_field(tmp_path: Path) -> None:
    database = tmp_path / "diary.sqlite3"
    course = _course(database)
    bad = taken_report(side_effects=[{"term": "chills", "grade": 5}])
    refused = run("diary", "add", course, "-", "--user", "coordinator", database=database,
                  stdin=json.dumps(bad))  # fmt: skip
    assert refused.returncode == 2
    assert "side_effects[0].grade" in refused.stderr
    denied = run("diary", "add", course, "-", "--user", "physician", database=database,
                 stdin=json.dumps(taken_report()))  # fmt: skip
    assert denied.returncode != 0
    assert "may not diary.record" in denied.stderr
