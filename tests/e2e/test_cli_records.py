"""The record-keeping commands on a real SQLite file: migrations and accounts."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest
from tests.integration.builders import PATIENT, staff

from il2.bootstrap import build_app, upgrade_database
from il2.config import Settings
from il2.domain.deidentify import study_number
from il2.domain.records import Role
from il2.services.demo import DEMO_PASSWORD, OUTPATIENT_COURSES, STAFF, WARD_DOSES_GIVEN
from il2.services.patients import create_patient

IL2 = str(Path(sys.executable).parent / "il2")


def run(*args: str, database: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "IL2_DATABASE_URL": f"sqlite:///{database}"}
    return subprocess.run(  # noqa: S603 - our own command
        [IL2, *args], input=stdin, capture_output=True, text=True, check=False, env=env, timeout=120
    )


@pytest.fixture
def database(tmp_path: Path) -> Path:
    return tmp_path / "records.sqlite3"


def test_db_upgrade_then_downgrade_then_current(database: Path) -> None:
    assert "revision 0011" in run("db", "upgrade", database=database).stdout
    assert run("db", "current", database=database).stdout.strip() == "0011"
    assert "base" in run("db", "downgrade", "base", database=database).stdout
    assert "base" in run("db", "current", database=database).stdout


def test_users_add_reads_the_password_from_stdin_and_refuses_a_duplicate(database: Path) -> None:
    run("db", "upgrade", database=database)
    added = run("users", "add", "--username", "kim", "--role", "nurse", "--password-stdin",
                database=database, stdin="a sufficiently long password\n")  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert "added kim (nurse)" in added.stdout
    again = run("users", "add", "--username", "kim", "--role", "nurse", "--password-stdin",
                database=database, stdin="a sufficiently long password\n")  # fmt: skip
    assert again.returncode == 2
    assert "already recorded" in again.stderr


def test_a_short_password_or_unknown_role_is_refused_naming_the_field(database: Path) -> None:
    run("db", "upgrade", database=database)
    short = run("users", "add", "--username", "lee", "--role", "nurse", "--password-stdin",
                database=database, stdin="short\n")  # fmt: skip
    assert short.returncode == 2
    assert "field 'password'" in short.stderr
    role = run("users", "add", "--username", "lee", "--role", "surgeon", "--password-stdin",
               database=database, stdin="a sufficiently long password\n")  # fmt: skip
    assert "field 'role'" in role.stderr


def test_users_can_be_deactivated_given_a_role_reset_and_unlocked(database: Path) -> None:
    run("db", "upgrade", database=database)
    for name, role in (("ada", "administrator"), ("kim", "nurse")):
        run("users", "add", "--username", name, "--role", role, "--password-stdin",
            database=database, stdin="a sufficiently long password\n")  # fmt: skip
    admin = ("--as", "ada")
    done = run("users", "deactivate", "kim", *admin, database=database)
    assert done.returncode == 0, done.stderr
    assert "kim: nurse, inactive" in done.stdout
    assert "inactive" not in run("users", "reactivate", "kim", *admin, database=database).stdout
    assert "pharmacist" in run("users", "set-role", "kim", "pharmacist", *admin,
                               database=database).stdout  # fmt: skip
    weak = run("users", "reset-password", "kim", *admin, "--password-stdin",
               database=database, stdin="123456789012\n")  # fmt: skip
    assert weak.returncode == 2
    assert "consecutive digits" in weak.stderr
    reset = run("users", "reset-password", "kim", *admin, "--password-stdin",
                database=database, stdin="another long passphrase\n")  # fmt: skip
    assert reset.returncode == 0, reset.stderr
    unlocked = run("users", "unlock", "kim", *admin, database=database)
    assert "kim: unlocked (0 failed sign-ins forgotten)" in unlocked.stdout
    last = run("users", "deactivate", "ada", *admin, database=database)
    assert last.returncode != 0
    assert "last active administrator" in last.stderr
    refused = run("users", "deactivate", "ada", "--as", "kim", database=database)
    assert refused.returncode != 0


def test_seed_demo_adds_one_account_per_role_once(database: Path) -> None:
    run("db", "upgrade", database=database)
    first = run("users", "seed-demo", database=database)
    assert first.returncode == 0, first.stderr
    assert run("users", "seed-demo", database=database).returncode == 0


def test_serve_refuses_more_than_one_process_on_sqlite_naming_the_option(database: Path) -> None:
    refused = run("serve", "--workers", "2", "--port", "1", database=database)
    assert refused.returncode == 2
    assert "--workers" in refused.stderr
    assert "SQLite takes one writer at a time" in " ".join(refused.stderr.split())


def _count(database: Path, query: str) -> int:
    with closing(sqlite3.connect(database)) as connection:
        return int(connection.execute(query).fetchone()[0])


def test_demo_patients_writes_that_many_referrals_in_bulk_every_record_audited(
    database: Path,
) -> None:
    done = run("demo", "--patients", "30", "--years", "2", "--until", "2026-11-01",
               database=database)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "demo: 30 patients referred" in done.stdout
    assert _count(database, "SELECT COUNT(*) FROM patients") == 30
    for table, entity in (("doses", "'dose'"), ("courses", "'course'"), ("patients", "'patient'")):
        audited = _count(database, f"SELECT COUNT(*) FROM audit WHERE entity = {entity}")  # noqa: S608 - fixed names
        assert audited == _count(database, f"SELECT COUNT(*) FROM {table}") > 0  # noqa: S608
    again = run("demo", "--patients", "30", "--if-empty", database=database)
    assert "already holds patients" in again.stdout
    assert _count(database, "SELECT COUNT(*) FROM patients") == 30
    report = run("report", "--as-of", "2026-11-01", "--json", database=database)
    assert report.returncode == 0, report.stderr
    summary = json.loads(report.stdout)
    assert summary["patients"]["referred"] == 30
    # 30 patients: too few responders for the program's own model, and it says so
    assert summary["prediction"]["response"]["verdict"] == "too_few"


def test_demo_refuses_no_patients_naming_the_option(database: Path) -> None:
    refused = run("demo", "--patients", "0", database=database)
    assert refused.returncode == 2
    assert "field 'patients'" in refused.stderr
    assert "--patients" in run("demo", "--help", database=database).stdout


def test_an_administrator_maps_a_study_number_back_with_the_site_key(
    database: Path, tmp_path: Path
) -> None:
    key_file = tmp_path / "study.key"
    settings = Settings(database_url=f"sqlite:///{database}", study_key_file=key_file)
    app = build_app(settings)
    upgrade_database(app)
    people = staff(app)
    patient = create_patient(app.services, people[Role.PHYSICIAN], PATIENT).id
    number = study_number(patient, key=app.services.study_key)
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert build_app(settings).services.study_key == app.services.study_key  # kept on restart

    def lookup(*args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "IL2_DATABASE_URL": f"sqlite:///{database}",
               "IL2_STUDY_KEY_FILE": str(key_file)}  # fmt: skip
        return subprocess.run(  # noqa: S603 - our own command
            [IL2, "study-id", "lookup", *args],
            capture_output=True, text=True, check=False, env=env, timeout=120,
        )  # fmt: skip

    found = lookup(number.lower(), "--user", "administrator")
    assert found.returncode == 0, found.stderr
    assert found.stdout.strip() == f"{number} is patient record {patient}"
    assert key_file.read_text() not in found.stdout + found.stderr
    assert lookup("S-AAAAAAAAAAAA", "--user", "administrator").returncode == 2
    refused = lookup(number, "--user", "researcher")
    assert refused.returncode != 0
    assert str(patient) not in refused.stdout
    with app.services.uow() as uow:
        entries = [e for e in uow.audit.entries() if e.action == "study_id_lookup"]
    assert [(e.username, e.patient_id) for e in entries] == [
        ("administrator", patient),
        ("administrator", None),
    ]


def test_a_short_study_key_is_refused_without_showing_it(tmp_path: Path) -> None:
    short = Settings(database_url=f"sqlite:///{tmp_path / 'k.sqlite3'}", study_key=b"hunter2")
    with pytest.raises(ValueError, match="IL2_STUDY_KEY has 7 bytes") as refused:
        build_app(short)
    assert "hunter2" not in str(refused.value)


def test_demo_today_writes_the_ward_once_a_day_and_ends_with_the_accounts(database: Path) -> None:
    done = run("demo", "--today", "--patients", "20", "--years", "1", database=database)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert lines[-1] == f"  password: {DEMO_PASSWORD}"
    for username, role in STAFF.items():
        assert any(line.split() == [username, role] for line in lines)
    ward = "SELECT COUNT(*) FROM patients WHERE mrn LIKE 'DEMO-WARD-%'"
    assert _count(database, ward) == len(WARD_DOSES_GIVEN)
    clinic = "SELECT COUNT(*) FROM patients WHERE mrn LIKE 'DEMO-CLINIC-%'"
    assert _count(database, clinic) == len(OUTPATIENT_COURSES)
    assert _count(database, "SELECT COUNT(*) FROM diary_entries") > 10
    again = run("demo", "--today", database=database)
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip().splitlines()[-1] == f"  password: {DEMO_PASSWORD}"
    written = 20 + len(WARD_DOSES_GIVEN) + len(OUTPATIENT_COURSES)
    assert _count(database, "SELECT COUNT(*) FROM patients") == written


def test_demo_today_never_writes_to_a_database_with_other_patients(database: Path) -> None:
    app = build_app(Settings(database_url=f"sqlite:///{database}"))
    upgrade_database(app)
    create_patient(app.services, staff(app)[Role.COORDINATOR], PATIENT)
    app.engine.dispose()
    done = run("demo", "--today", database=database)
    assert done.returncode == 0, done.stderr
    assert "not the demo's; nothing written" in done.stdout
    assert DEMO_PASSWORD not in done.stdout
    assert _count(database, "SELECT COUNT(*) FROM patients") == 1
    assert _count(database, "SELECT COUNT(*) FROM users WHERE username LIKE 'demo-%'") == 0
