"""Server-side render time of the web app's main pages over 10,000 patients.

Builds a SQLite database (a temporary file): a few hundred patients through the services (each
screened; some with a course, a dozen doses recorded, a toxicity and a response), then the rest
straight through the repositories of a unit of work from bootstrap (no audit entries: they
stand in for history). Then renders each main page in-process with Starlette's test client,
signed in as the role that uses it, and prints the median and 95th percentile in milliseconds.

Target (printed beside the figures): every page under 200 ms. Prints figures; asserts nothing.

    .venv/bin/python benchmarks/web.py [--patients 10000] [--through-services 300] [--runs 20]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from il2.bootstrap import App, build_app, upgrade_database
from il2.config import Settings
from il2.domain.records import Actor, DoseOutcome
from il2.services.accounts import actor_for_username, add_user
from il2.services.clinical import record_response, record_toxicity
from il2.services.courses import DoseSubmission, plan_course, submit_dose
from il2.services.documents import screening_document
from il2.services.patients import create_patient, record_screening
from il2.services.screening import screen_candidate
from il2.web import plots
from il2.web.app import web_router

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # Starlette's note about its httpx-based client
    from fastapi.testclient import TestClient

ROOT = Path(__file__).parents[1]
PASSWORD = "benchmark password only"  # noqa: S105 - a throwaway account on a throwaway database
NOW = datetime(2026, 12, 7, 16, 0, tzinfo=UTC)
FIRST_DOSE = "2026-12-07T08:00:00+00:00"
TARGET_MS = 200.0
COURSES = 20
DOSES_PER_COURSE = 12
BATCH = 1000


def _candidate() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(
        (ROOT / "examples/candidates/eligible-renal.json").read_text()
    )
    return document


def _assessment() -> dict[str, Any]:
    document: dict[str, Any] = json.loads((ROOT / "examples/bedside/stable-give.json").read_text())
    for key in ("regimen", "cycle", "dose_number", "doses_given_this_cycle",
                "doses_held_this_cycle", "hours_since_last_dose"):  # fmt: skip
        document.pop(key)
    return document


def _staff(app: App) -> dict[str, Actor]:
    names = {"nurse": "nurse", "nurse2": "nurse", "physician": "physician",
             "coordinator": "coordinator", "administrator": "administrator"}  # fmt: skip
    for username, role in names.items():
        add_user(app.services, None, username=username, display_name=username, role=role,
                 password=PASSWORD)  # fmt: skip
    return {name: actor_for_username(app.services, name) for name in names}


def _through_services(app: App, staff: dict[str, Actor], count: int) -> int:
    """Patients made by the services, as the app makes them; returns the showcase patient."""
    coordinator, physician, nurse = staff["coordinator"], staff["physician"], staff["nurse"]
    candidate, showcase = _candidate(), 0
    for n in range(count):
        patient = create_patient(app.services, coordinator, {
            "mrn": f"SVC-{n:06d}", "name": f"Service Patient {n}", "birth_date": "1961-03-04",
            "sex": "male", "diagnosis": "renal_cell_carcinoma", "referred_on": "2026-10-01",
        })  # fmt: skip
        record_screening(app.services, coordinator, patient.id, candidate)
        if n < COURSES:
            course = plan_course(app.services, physician, patient.id, regimen="hd-label",
                                 weight_kg=70, first_dose=FIRST_DOSE)  # fmt: skip
            for number in range(1, DOSES_PER_COURSE + 1):
                given = datetime(2026, 12, 7, 8, tzinfo=UTC) + timedelta(hours=8 * (number - 1))
                submit_dose(app.services, nurse, course.id, DoseSubmission(
                    cycle=1, dose_number=number, assessment=_assessment(),
                    outcome=DoseOutcome.GIVEN, given_at=given, verified_by="nurse2",
                ))  # fmt: skip
            showcase = showcase or patient.id
        if (n + 1) % 50 == 0:
            print(f"  through the services: {n + 1}/{count} patients", file=sys.stderr)
    record_toxicity(app.services, nurse, showcase, observed_on="2026-12-08", course_id=None,
                    findings={"ctcae_version": "5.0", "findings": [
                        {"term": "fever", "value": 39.2, "unit": "c"}]})  # fmt: skip
    measurements = json.loads((ROOT / "examples/recist/partial-response.json").read_text())
    record_response(app.services, physician, showcase, course_id=None, measurements=measurements)
    return showcase


def _through_repositories(app: App, start: int, count: int) -> None:
    """The rest of the patients, screened, straight through a unit of work (fast)."""
    screening = screen_candidate(app.rules, _candidate())
    result, candidate = screening_document(screening), _candidate()
    for first in range(start, start + count, BATCH):
        with app.services.uow() as uow:
            for n in range(first, min(first + BATCH, start + count)):
                patient = uow.patients.add(
                    mrn=f"BULK-{n:06d}", name=f"Bulk Patient {n}", birth_date=date(1959, 6, 1),
                    sex="female", diagnosis="melanoma",
                    referred_on=date(2026, 1, 1) + timedelta(days=n % 300), at=NOW,
                )  # fmt: skip
                uow.screenings.add(
                    patient_id=patient.id, findings=candidate, verdict=screening.verdict.value,
                    result=result, rules_version=screening.rules_version,
                    recorded_by="coordinator", at=NOW,
                )  # fmt: skip
            uow.commit()
        print(f"  through the repositories: {min(first + BATCH, start + count)}", file=sys.stderr)


def _client(asgi: FastAPI, username: str) -> TestClient:
    client = TestClient(asgi, follow_redirects=False)
    answer = client.post("/sign-in", data={"username": username, "password": PASSWORD})
    if answer.status_code != 303:
        msg = f"signing in as {username} failed: {answer.status_code}"
        raise RuntimeError(msg)
    return client


def _forget_plots() -> None:
    for cached in (plots.trend, plots.waterfall, plots.spider):
        cached.cache_clear()


def _time(call: Callable[[], Any], runs: int, *, cold: bool) -> tuple[float, float, int]:
    """Median and p95 in ms; `cold` draws every plot afresh (no cached SVG)."""
    call()  # warm: templates compiled, matplotlib fonts loaded
    seconds, status = [], 0
    for _ in range(runs):
        if cold:
            _forget_plots()
        start = time.perf_counter()
        status = call().status_code
        seconds.append(time.perf_counter() - start)
    seconds.sort()
    p95 = seconds[min(len(seconds) - 1, round(0.95 * (len(seconds) - 1)))]
    return statistics.median(seconds) * 1000, p95 * 1000, status


def main() -> None:
    """Build the database, render every main page, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--through-services", type=int, default=300)
    parser.add_argument("--runs", type=int, default=20)
    options = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        app = build_app(Settings(database_url=f"sqlite:///{folder}/web.sqlite3"), clock=lambda: NOW)
        upgrade_database(app)
        started = time.perf_counter()
        staff = _staff(app)
        showcase = _through_services(app, staff, options.through_services)
        bulk = options.patients - options.through_services
        _through_repositories(app, options.through_services, bulk)
        print(f"built {options.patients:,} patients in {time.perf_counter() - started:.0f} s\n")

        asgi = FastAPI()
        asgi.include_router(web_router(app))
        clients = {r: _client(asgi, r) for r in ("nurse", "physician", "coordinator",
                                                 "administrator")}  # fmt: skip
        course = f"/patients/{showcase}/courses/1"
        dose = f"{course}/doses/1/{DOSES_PER_COURSE + 1}"
        preview_form = {
            "regimen": "hd-label", "cycle": "1", "dose_number": str(DOSES_PER_COURSE + 1),
            "doses_given_this_cycle": str(DOSES_PER_COURSE), "doses_held_this_cycle": "0",
            "vitals.sbp_mmhg": "104", "vitals.heart_rate_bpm": "96", "vitals.spo2_pct": "95",
            "urine_output_ml_last_8h": "300", "mental_status": "normal",
        }  # fmt: skip
        pages: list[tuple[str, str, Callable[[TestClient], Any]]] = [
            ("home", "nurse", lambda c: c.get("/")),
            ("worklist, first page", "nurse", lambda c: c.get("/worklist")),
            ("worklist, page 100", "nurse", lambda c: c.get("/worklist?offset=4950")),
            ("patient chart", "nurse", lambda c: c.get(f"/patients/{showcase}")),
            ("screening form", "coordinator", lambda c: c.get(f"/patients/{showcase}/screening")),
            ("course plan form", "physician", lambda c: c.get(f"/patients/{showcase}/courses/new")),
            ("course and calendar", "nurse", lambda c: c.get(course)),
            ("what to expect (print)", "nurse", lambda c: c.get(f"{course}/schedule")),
            ("bedside dose screen", "nurse", lambda c: c.get(dose)),
            ("bedside preview (htmx)", "nurse", lambda c: c.post(
                f"{dose}/preview", data=preview_form, headers={"HX-Request": "true"})),
            ("toxicity flowsheet + plot", "nurse",
             lambda c: c.get(f"/patients/{showcase}/flowsheet")),
            ("response + 2 plots", "physician", lambda c: c.get(f"/patients/{showcase}/response")),
            ("users and roles", "administrator", lambda c: c.get("/admin")),
            ("audit trail", "administrator", lambda c: c.get("/admin/audit")),
            ("site policy", "administrator", lambda c: c.get("/policy")),
        ]  # fmt: skip
        print(f"{'page':<28}{'role':<15}{'median':>8}{'p95':>8}{'cached':>8}  status  target")
        print(f"{'':<43}{'(ms, plots drawn afresh)':>16}{'plots':>9}")
        for name, role, call in pages:

            def once(call: Callable[[TestClient], Any] = call, role: str = role) -> Any:
                return call(clients[role])

            median, p95, status = _time(once, options.runs, cold=True)
            cached, _p95, _status = _time(once, options.runs, cold=False)
            verdict = "ok" if median < TARGET_MS else f"OVER {TARGET_MS:.0f} ms"
            figures = f"{median:>8.1f}{p95:>8.1f}{cached:>8.1f}"
            print(f"{name:<28}{role:<15}{figures}  {status:<6}  {verdict}")
        app.engine.dispose()


if __name__ == "__main__":
    main()
