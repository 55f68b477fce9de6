"""`il2 infusion`: pause, resume, stop and show a running infusion on a real SQLite file."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.e2e.test_api_infusion import infusion_assessment
from tests.e2e.test_cli_records import run
from tests.integration.builders import PASSWORD, PATIENT, screen_eligible, staff

from il2.bootstrap import build_app, upgrade_database
from il2.config import Settings
from il2.domain.records import DoseOutcome, Role
from il2.services.courses import plan_course
from il2.services.doses import DoseSubmission, submit_dose
from il2.services.patients import create_patient


def _running(database: Path, started: datetime) -> int:
    """A civ-eu course whose day 1 infusion was started at `started` (the real clock's past)."""
    app = build_app(Settings(database_url=f"sqlite:///{database}"))
    upgrade_database(app)
    people = staff(app)
    physician = people[Role.PHYSICIAN]
    patient = create_patient(
        app.services, physician, {**PATIENT, "diagnosis": "renal_cell_carcinoma"}
    ).id
    screen_eligible(app.services, physician, patient)
    course = plan_course(app.services, physician, patient, regimen="civ-eu", weight_kg=70,
                         height_cm=175, first_dose=started.isoformat()).id  # fmt: skip
    submit_dose(app.services, people[Role.NURSE], course, DoseSubmission(
        cycle=1, dose_number=1, assessment=infusion_assessment(), outcome=DoseOutcome.GIVEN,
        given_at=started, assessed_at=started, verified_by="nurse2", verifier_password=PASSWORD,
    ))  # fmt: skip
    app.engine.dispose()
    return course


def test_a_nurse_pauses_resumes_stops_and_shows_an_infusion(tmp_path: Path) -> None:
    database = tmp_path / "infusion.sqlite3"
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=30)
    course = str(_running(database, start))
    me = ("--user", "nurse")
    low = tmp_path / "low.json"
    low.write_text(json.dumps(infusion_assessment(84)))
    paused = run("infusion", "pause", course, "1", "1", "--assessment", str(low),
                 "--at", (start + timedelta(minutes=10)).isoformat(), *me, database=database)  # fmt: skip
    assert paused.returncode == 0, paused.stderr
    assert "infusion paused" in paused.stdout
    refused = run("infusion", "resume", course, "1", "1", "--assessment", str(low), *me,
                  database=database)  # fmt: skip
    assert refused.returncode == 2
    assert "assessment" in refused.stderr
    resumed = run("infusion", "resume", course, "1", "1", "--assessment", "-",
                  "--at", (start + timedelta(minutes=20)).isoformat(), *me,
                  database=database, stdin=json.dumps(infusion_assessment()))  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    stopped = run("infusion", "stop", course, "1", "1", "--reason", "bag leaked",
                  "--at", (start + timedelta(minutes=30)).isoformat(), *me, "--json",
                  database=database)  # fmt: skip
    assert stopped.returncode == 0, stopped.stderr
    state = json.loads(stopped.stdout)
    assert (state["status"], state["running_h"], state["paused_h"]) == ("stopped", 0.33, 0.16)
    assert state["delivered_iu"] == state["planned_iu"] * 20 // (24 * 60)
    shown = run("infusion", "show", course, "1", "1", *me, database=database)
    assert shown.returncode == 0, shown.stderr
    assert "3. stop" in shown.stdout
    assert "bag leaked" in shown.stdout
    researcher = run("infusion", "show", course, "1", "1", "--user", "researcher",
                     database=database)  # fmt: skip
    assert researcher.returncode != 0
