"""Server time of every page each role uses, on a program of 10,000 patients.

Builds a SQLite database (a temporary file) as `il2 demo` builds one: a synthetic program of
`--patients` referrals over `--years` years through the bulk writer (each record computed as its
use case computes it: screenings, courses, doses, toxicities, scans, follow-ups), then today's
ward through the audited services (`il2 demo --today`: three patients mid-cycle, doses due
within hours). Then serves il2 as `il2 serve` assembles it (API, web pages, browser defences)
in-process with Starlette's test client, signs in as each role, and renders each page that role
uses, printing the median and 95th percentile in milliseconds, with plots drawn afresh and from
the cache.

Target (printed beside the figures): every page under 200 ms. Prints figures; asserts nothing.

    .venv/bin/python benchmarks/web.py [--patients 10000] [--years 10] [--runs 15]

`--database PATH` keeps the program there, and reuses it (no rebuild) when it already holds one.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from il2.api.app import create_api
from il2.bootstrap import App, build_app, upgrade_database
from il2.config import Settings
from il2.domain.deidentify import study_number
from il2.science import plots
from il2.services.bulk import BulkWriter
from il2.services.demo import DEMO_PASSWORD, WARD_DOSES_GIVEN, add_ward, build_demo, ward_mrn
from il2.web.app import web_router, with_browser_defences
from il2.web.defences import CSRF_HEADER

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # Starlette's note about its httpx-based client
    from fastapi.testclient import TestClient

NOW = datetime(2026, 12, 7, 16, 0, tzinfo=UTC)
TARGET_MS = 200.0
ROLES = ("nurse", "physician", "pharmacist", "coordinator", "researcher", "administrator")


class Browser(TestClient):
    """A signed-in browser: state-changing page requests carry the CSRF token as htmx's do."""

    def request(self, method: str, url: httpx.URL | str, **kwargs: Any) -> httpx.Response:  # type: ignore[override]
        """The request, with the CSRF header on a POST."""
        if method.upper() == "POST":
            token = self.cookies.get("il2_csrf") or ""
            kwargs["headers"] = {**(kwargs.get("headers") or {}), CSRF_HEADER: token}
        return super().request(method, url, **kwargs)


def _served(app: App) -> FastAPI:
    """il2 as `il2 serve` assembles it: the API, the web pages, the browser defences."""
    server = create_api(app)
    server.include_router(web_router(app))
    return with_browser_defences(server)


def _signed_in(server: FastAPI, role: str) -> Browser:
    browser = Browser(server, follow_redirects=False)
    browser.get("/sign-in")  # the CSRF cookie
    username = f"demo-{role}"
    answer = browser.post("/sign-in", data={"username": username, "password": DEMO_PASSWORD})
    if answer.status_code != 303:
        msg = f"signing in as {username} failed: {answer.status_code}"
        raise RuntimeError(msg)
    return browser


def _build(app: App, patients: int, years: int) -> None:
    """The program in bulk, then today's ward through the services, with progress on stderr."""
    started = time.perf_counter()

    def progress(done: int, total: int) -> None:
        if done % 1000 == 0 or done == total:
            print(f"  program: {done:,}/{total:,} patients", file=sys.stderr)

    build_demo(
        app.services,
        years=years,
        until=NOW.date(),
        patients=patients,
        writer=BulkWriter,
        progress=progress,
    )
    add_ward(replace(app.services, clock=lambda: NOW))
    print(f"built {patients:,} patients in {time.perf_counter() - started:.0f} s\n")


def _one(app: App, query: str, **values: object) -> Any:
    with app.engine.connect() as connection:
        return connection.execute(text(query), values).scalar_one()


def _pages(app: App) -> list[tuple[str, str, str, str]]:
    """(page, role, method, path) for every page a role uses, on the demo's own records."""
    ward = _one(app, "select id from patients where mrn = :mrn", mrn=ward_mrn(NOW.date(), 1))
    course = _one(app, "select id from courses where patient_id = :ward", ward=ward)
    next_dose = WARD_DOSES_GIVEN[0] + 1
    scanned = _one(
        app,
        "select patient_id from entries where kind = 'response' group by patient_id "
        "order by count(*) desc, patient_id limit 1",
    )
    study = study_number(scanned, key=app.services.study_key)
    chart, plan = f"/patients/{ward}", f"/patients/{ward}/courses/{course}"
    return [
        ("landing (worklist)", "nurse", "GET", "/"),
        ("worklist, first page", "nurse", "GET", "/worklist"),
        ("worklist, page 100", "nurse", "GET", "/worklist?offset=4950"),
        ("worklist, search", "nurse", "GET", "/worklist?q=Patient%201"),
        ("patient chart", "nurse", "GET", chart),
        ("course and calendar", "nurse", "GET", plan),
        ("bedside dose screen", "nurse", "GET", f"{plan}/doses/1/{next_dose}"),
        ("toxicity flowsheet", "nurse", "GET", f"/patients/{scanned}/flowsheet"),
        ("patient leaflet (print)", "nurse", "GET", f"{plan}/schedule"),
        ("landing (decisions)", "physician", "GET", "/schedule"),
        ("response + plots", "physician", "GET", f"/patients/{scanned}/response"),
        ("course plan form", "physician", "GET", f"/patients/{ward}/courses/new"),
        ("preparation list, 24 h", "pharmacist", "GET", "/pharmacy"),
        ("vial use", "pharmacist", "GET", "/pharmacy/vials"),
        ("decisions and admissions", "coordinator", "GET", "/schedule"),
        ("register a patient", "coordinator", "GET", "/patients/new"),
        ("screening form", "coordinator", "GET", f"/patients/{ward}/screening"),
        ("outcomes", "researcher", "GET", "/outcomes"),
        ("outcomes, melanoma", "researcher", "GET", "/outcomes?diagnosis=melanoma"),
        ("outcomes CSV", "researcher", "GET", "/outcomes.csv"),
        ("study patient", "researcher", "GET", f"/study/{study}"),
        ("users and roles", "administrator", "GET", "/admin"),
        ("audit trail", "administrator", "GET", "/admin/audit"),
        ("site policy", "administrator", "GET", "/policy"),
        ("own account", "administrator", "GET", "/account"),
    ]


def _forget_plots() -> None:
    for cached in (plots.trend, plots.waterfall, plots.spider):
        cached.cache_clear()


def _time(call: Callable[[], httpx.Response], runs: int, *, cold: bool) -> tuple[float, float, int]:
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
    """Build the program, render every role's pages, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--database", type=Path, help="keep (or reuse) the program here")
    options = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        database = options.database or Path(folder) / "web.sqlite3"
        reuse = database.exists()
        app = build_app(Settings(database_url=f"sqlite:///{database}"), clock=lambda: NOW)
        upgrade_database(app)
        if reuse:
            held = _one(app, "select count(*) from patients")
            print(f"reusing {database}: {held:,} patients\n")
        else:
            _build(app, options.patients, options.years)
        server = _served(app)
        browsers = {role: _signed_in(server, role) for role in ROLES}
        print(f"{'page':<28}{'role':<15}{'median':>8}{'p95':>8}{'cached':>8}  status  target")
        print(f"{'':<43}{'(ms, plots drawn afresh)':>16}{'plots':>9}")
        over = 0
        for name, role, method, path in _pages(app):

            def once(role: str = role, method: str = method, path: str = path) -> httpx.Response:
                return browsers[role].request(method, path)

            median, p95, status = _time(once, options.runs, cold=True)
            cached, _p95, _status = _time(once, options.runs, cold=False)
            verdict = "ok" if median < TARGET_MS else f"OVER {TARGET_MS:.0f} ms"
            over += median >= TARGET_MS
            figures = f"{median:>8.1f}{p95:>8.1f}{cached:>8.1f}"
            print(f"{name:<28}{role:<15}{figures}  {status:<6}  {verdict}")
        print(f"\n{over} of {len(_pages(app))} pages over {TARGET_MS:.0f} ms (median)")
        app.engine.dispose()


if __name__ == "__main__":
    main()
