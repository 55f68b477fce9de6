"""`il2 studies`: list, create, assign, withdraw on a real SQLite file, with the CLI's exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.test_cli_records import run
from tests.integration.builders import PATIENT, staff

from il2.bootstrap import build_app, upgrade_database
from il2.config import Settings
from il2.domain.records import Role
from il2.services.patients import create_patient

TRIAL = {
    "name": "SBRT + HD IL-2 vs HD IL-2",
    "registry_id": "NCT01416831",
    "arms": [
        {"id": "il2", "name": "HD IL-2 alone"},
        {"id": "sbrt-il2", "name": "SBRT then HD IL-2"},
    ],
}


def _patient(database: Path) -> int:
    app = build_app(Settings(database_url=f"sqlite:///{database}"))
    upgrade_database(app)
    people = staff(app)
    patient = create_patient(app.services, people[Role.COORDINATOR], PATIENT).id
    app.engine.dispose()
    return patient


def test_a_coordinator_creates_a_study_assigns_and_withdraws_from_the_command_line(
    tmp_path: Path,
) -> None:
    database = tmp_path / "studies.sqlite3"
    patient = str(_patient(database))
    me = ("--user", "coordinator")
    created = run("studies", "create", "-", *me, "--json", database=database,
                  stdin=json.dumps(TRIAL))  # fmt: skip
    assert created.returncode == 0, created.stderr
    study = str(json.loads(created.stdout)["id"])
    assigned = run("studies", "assign", study, patient, "--arm", "sbrt-il2", *me, database=database)
    assert assigned.returncode == 0, assigned.stderr
    assert "assigned in study" in assigned.stdout
    assert "arm sbrt-il2" in assigned.stdout
    twice = run("studies", "assign", study, patient, "--arm", "il2", *me, database=database)
    assert twice.returncode == 2
    assert "correct the assignment" in twice.stderr
    fixed = run("studies", "assign", study, patient, "--arm", "il2", "--correct", "--reason",
                "wrong arm", *me, database=database)  # fmt: skip
    assert fixed.returncode == 0, fixed.stderr
    listed = run("studies", "list", *me, "--json", database=database)
    arms = json.loads(listed.stdout)["studies"][0]["arms"]
    assert [(a["id"], a["assigned"], a["in_arm_now"]) for a in arms] == [
        ("il2", 1, 1),
        ("sbrt-il2", 0, 0),
    ]
    gone = run("studies", "withdraw", study, patient, "--reason", "moved", *me, database=database)
    assert gone.returncode == 0, gone.stderr
    assert "withdrawn" in gone.stdout
    table = run("studies", "list", *me, database=database)
    assert "NCT01416831" in table.stdout


def test_a_bad_study_exits_2_naming_the_field_and_a_nurse_is_refused(tmp_path: Path) -> None:
    database = tmp_path / "studies.sqlite3"
    _patient(database)
    bad = run("studies", "create", "-", "--user", "coordinator", database=database,
              stdin=json.dumps({**TRIAL, "registry_id": "NCT1"}))  # fmt: skip
    assert bad.returncode == 2
    assert "field 'registry_id'" in bad.stderr
    refused = run("studies", "create", "-", "--user", "nurse", database=database,
                  stdin=json.dumps(TRIAL))  # fmt: skip
    assert refused.returncode == 2
    assert "may not study.define" in refused.stderr
