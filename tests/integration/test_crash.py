"""A killed server loses no acknowledged dose: SIGKILL `il2 serve` mid-load, restart, check.

Every dose the API answered 201 for must be in the ledger after the restart, no dose slot may
have two records, the database must pass its integrity check, and the server must answer again.
Everything runs on 127.0.0.1, and every wait is bounded in count and time.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from il2.bootstrap import App, build_app, upgrade_database
from il2.config import Settings
from il2.domain.records import Role
from il2.services.courses import plan_course
from il2.services.patients import create_patient
from tests.integration.builders import PASSWORD, PATIENT, screen_eligible, stable_assessment, staff
from tests.integration.conftest import FixedClock, fresh_postgres_database

IL2 = shutil.which("il2", path=str(Path(sys.executable).parent)) or "il2"
COURSES = 6  # one submitting thread each; 28 dose slots a course
ACKNOWLEDGED_BEFORE_KILL = 20
START_SECONDS = 60.0
LOAD_SECONDS = 60.0


@dataclass(frozen=True)
class Server:
    """A running `il2 serve` process and where it listens."""

    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_healthy(server: Server) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(f"il2 serve exited with {server.process.returncode}:\n{server.tail()}")
        try:
            if httpx.get(f"{server.url}/health", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    pytest.fail(f"il2 serve did not answer /health within {START_SECONDS} s:\n{server.tail()}")


@contextmanager
def serving(database_url: str, log: Path, *, workers: int = 1) -> Iterator[Server]:
    """`il2 serve` on a free loopback port over `database_url`; stopped on leaving the block."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "IL2_SITE_POLICY"}
    env["IL2_DATABASE_URL"] = database_url
    with log.open("ab") as output:
        process = subprocess.Popen(  # noqa: S603 - our own command with fixed arguments
            [IL2, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    server = Server(process, f"http://127.0.0.1:{port}", log)
    try:
        wait_until_healthy(server)
        yield server
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=15)


def sign_in(server: Server, username: str) -> dict[str, str]:
    answer = httpx.post(f"{server.url}/api/token", timeout=30.0,
                        json={"username": username, "password": PASSWORD})  # fmt: skip
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def planned_courses(app: App) -> dict[int, list[tuple[int, int, str]]]:
    """COURSES planned courses, each with its dose slots (cycle, dose number, due at).

    The courses were planned a month ago, so the served il2 (on the real clock) takes every
    dose as given at its due time: charted afterwards, inside its window.
    """
    physician = staff(app)[Role.PHYSICIAN]
    clock = app.services.clock
    assert isinstance(clock, FixedClock)
    month_ago = datetime.now(UTC) - timedelta(days=30)
    clock.now = month_ago.replace(hour=8, minute=0, second=0, microsecond=0)
    courses = {}
    for number in range(COURSES):
        patient = create_patient(app.services, physician, PATIENT | {"mrn": f"MRN-CRASH-{number}"})
        screen_eligible(app.services, physician, patient.id)
        course = plan_course(app.services, physician, patient.id, regimen="hd-label",
                             weight_kg=70, first_dose=clock.now.isoformat())  # fmt: skip
        courses[course.id] = [
            (cycle["cycle"], dose["number"], dose["due_at"])
            for cycle in course.plan["cycles"]
            for dose in cycle["doses"]
        ]
    return courses


def dose_body(cycle: int, number: int, due_at: str) -> dict[str, Any]:
    """A dose given at its due time, assessed five minutes before, verified by nurse2."""
    assessed = datetime.fromisoformat(due_at) - timedelta(minutes=5)
    return {"cycle": cycle, "dose_number": number, "assessment": stable_assessment(),
            "given_at": due_at, "assessed_at": assessed.isoformat(), "verified_by": "nurse2",
            "verifier_password": PASSWORD}  # fmt: skip


class Load:
    """Threads submitting each course's doses in order; remembers every 201."""

    def __init__(self, server: Server, courses: dict[int, list[tuple[int, int, str]]]) -> None:
        self.server = server
        self.headers = sign_in(server, "nurse")
        self.acknowledged: list[tuple[int, int, int, int]] = []
        self.refused: list[str] = []
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._submit, args=(course_id, slots), daemon=True)
            for course_id, slots in courses.items()
        ]
        self._deadline = time.monotonic() + LOAD_SECONDS

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def join(self) -> None:
        for thread in self._threads:
            thread.join(timeout=LOAD_SECONDS)
        assert not any(thread.is_alive() for thread in self._threads)

    def count(self) -> int:
        with self._lock:
            return len(self.acknowledged)

    def _submit(self, course_id: int, slots: list[tuple[int, int, str]]) -> None:
        with httpx.Client(base_url=self.server.url, headers=self.headers, timeout=10.0) as client:
            for cycle, number, due_at in slots:
                if time.monotonic() > self._deadline:
                    return
                body = dose_body(cycle, number, due_at)
                try:
                    answer = client.post(f"/api/courses/{course_id}/doses", json=body)
                except httpx.TransportError:
                    return  # the server is gone: whatever was in flight was never acknowledged
                with self._lock:
                    if answer.status_code == 201:
                        self.acknowledged.append((course_id, cycle, number, answer.json()["id"]))
                    else:
                        self.refused.append(f"{answer.status_code} {answer.text[:300]}")


def duplicate_slots(app: App) -> list[Any]:
    query = text("SELECT course_id, cycle, dose_number, count(*) FROM doses "
                 "GROUP BY course_id, cycle, dose_number HAVING count(*) > 1")  # fmt: skip
    with app.engine.connect() as connection:
        return list(connection.execute(query))


def integrity_problems(app: App) -> list[str]:
    """SQLite's integrity check; on PostgreSQL, amcheck over every b-tree index with its heap."""
    url = app.settings.database_url
    if url.startswith("sqlite:///"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as connection:
            result = [row[0] for row in connection.execute("PRAGMA integrity_check")]
        return [] if result == ["ok"] else result
    checked = text("SELECT c.relname, bt_index_check(c.oid, true) FROM pg_index i "
                   "JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam "
                   "JOIN pg_namespace n ON n.oid = c.relnamespace "
                   "WHERE am.amname = 'btree' AND n.nspname = 'public'")  # fmt: skip
    with app.engine.begin() as connection:
        connection.execute(text("CREATE EXTENSION IF NOT EXISTS amcheck"))
        indexes = [row[0] for row in connection.execute(checked)]
    return [] if "uq_doses_course_cycle_dose" in indexes else [f"unchecked: {indexes}"]


def test_every_acknowledged_dose_survives_a_sigkill_mid_load(app: App, tmp_path: Path) -> None:
    courses = planned_courses(app)
    url, log = app.settings.database_url, tmp_path / "serve.log"
    with serving(url, log) as server:
        load = Load(server, courses)
        load.start()
        deadline = time.monotonic() + LOAD_SECONDS
        while load.count() < ACKNOWLEDGED_BEFORE_KILL and time.monotonic() < deadline:
            time.sleep(0.005)
        os.kill(server.process.pid, signal.SIGKILL)
        server.process.wait(timeout=15)
        load.join()
    assert server.process.returncode == -signal.SIGKILL
    acknowledged = load.acknowledged
    assert not load.refused, load.refused[:3]
    assert len(acknowledged) >= ACKNOWLEDGED_BEFORE_KILL, server.tail()
    assert len(acknowledged) < sum(map(len, courses.values())), "killed after the load ended"

    with serving(url, log) as restarted:
        nurse = sign_in(restarted, "nurse")
        kept = {}
        for course_id in courses:
            answer = httpx.get(
                f"{restarted.url}/api/courses/{course_id}", headers=nurse, timeout=30.0
            )
            assert answer.status_code == 200, answer.text
            for dose in answer.json()["doses"]:
                kept[(course_id, dose["cycle"], dose["dose_number"])] = dose["id"]
        missing = [a for a in acknowledged if kept.get(a[:3]) != a[3]]
        assert not missing, f"acknowledged but not kept: {missing}"
        assert duplicate_slots(app) == []
        assert integrity_problems(app) == []

        course_id, slots = next(iter(courses.items()))
        cycle, number, due_at = next(s for s in slots if (course_id, *s[:2]) not in kept)
        after = httpx.post(f"{restarted.url}/api/courses/{course_id}/doses", headers=nurse, timeout=30.0,
                           json=dose_body(cycle, number, due_at))  # fmt: skip
        assert after.status_code == 201, after.text


@pytest.fixture
def postgres_app(postgres_url: str, clock: FixedClock) -> Iterator[App]:
    """il2 on a migrated PostgreSQL database (SQLite is served by one process only)."""
    built = build_app(Settings(database_url=fresh_postgres_database(postgres_url)), clock=clock)
    upgrade_database(built)
    yield built
    built.engine.dispose()


def test_two_server_processes_record_a_dose_submitted_by_sixteen_nurses_at_once_once(
    postgres_app: App, tmp_path: Path
) -> None:
    """On PostgreSQL, `--workers 2`: the database, not a process, keeps one record a slot."""
    app = postgres_app
    course_id, slots = next(iter(planned_courses(app).items()))
    cycle, number, due_at = slots[0]
    body = dose_body(cycle, number, due_at)
    with serving(app.settings.database_url, tmp_path / "serve.log", workers=2) as server:
        headers = sign_in(server, "nurse")
        start = threading.Barrier(16)
        answers: list[httpx.Response] = []

        def submit() -> None:
            with httpx.Client(timeout=60.0) as client:  # a connection each: both processes serve
                start.wait(timeout=60)
                answers.append(client.post(f"{server.url}/api/courses/{course_id}/doses",
                                           json=body, headers=headers))  # fmt: skip

        threads = [threading.Thread(target=submit) for _ in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [201] + [409] * 15, server.tail()
    first = next(a for a in answers if a.status_code == 201).json()
    assert {a.json()["existing"]["id"] for a in answers if a.status_code == 409} == {first["id"]}
