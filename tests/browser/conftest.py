"""Browser journeys: Debian's Chromium, driven by Playwright, against a real uvicorn server.

The server runs in a background thread over a migrated SQLite file with one user per role.
Its clock stands still at 2026-12-07 16:00 UTC (the site's zone) unless a test moves it, so a
course planned from 08:00 that day has doses due today. Screenshots of the main pages land in
tests/browser/artifacts/ (created at run time, not committed).
"""

from __future__ import annotations

import itertools
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from playwright.sync_api import Browser, Locator, Page, Playwright, sync_playwright

from il2.bootstrap import App, build_app, upgrade_database
from il2.config import Settings
from il2.domain.records import Actor, Role
from il2.services.courses import plan_course
from il2.services.patients import create_patient, record_screening
from il2.web.app import web_router, with_browser_defences
from tests.integration.builders import PASSWORD, eligible_findings, staff

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).parent / "artifacts"
FIRST_DOSE = "2026-12-07T08:00:00+00:00"
_MRNS = itertools.count(1)


class MovableClock:
    """The server's clock: still unless a test moves it."""

    def __init__(self) -> None:
        self.now = datetime(2026, 12, 7, 16, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Site:
    """The running server, the app behind it, and one actor per role."""

    url: str
    app: App
    actors: dict[Role, Actor]
    clock: MovableClock

    def patient(self, **overrides: Any) -> int:
        """A referred patient, registered through the services; returns the id."""
        number = next(_MRNS)
        document = {
            "mrn": f"WEB-{number:04d}",
            "name": f"Browser Patient {number}",
            "birth_date": "1968-04-02",
            "sex": "female",
            "diagnosis": "melanoma",
            "referred_on": "2026-11-02",
            **overrides,
        }
        return create_patient(self.app.services, self.actors[Role.COORDINATOR], document).id

    def screened(self, findings: dict[str, Any]) -> int:
        """A patient with one screening of `findings`."""
        patient_id = self.patient()
        record_screening(self.app.services, self.actors[Role.COORDINATOR], patient_id, findings)
        return patient_id

    def eligible(self) -> int:
        """A patient screened eligible now, weighing 70 kg, creatinine 1.0 mg/dL."""
        findings = eligible_findings()
        findings["weight_kg"] = 70
        findings["labs"] = {**findings.get("labs", {}), "creatinine_mg_dl": 1.0}
        return self.screened(findings)

    def with_course(
        self, regimen: str = "hd-label", height_cm: float | None = None
    ) -> tuple[int, int]:
        """A patient with a course of `regimen` (hd-label) from 08:00 today, planned at 07:30
        (the clock is set back while planning, as a course is planned before its first dose);
        returns (patient, course)."""
        patient_id = self.eligible()
        now = self.clock.now
        self.clock.now = datetime.fromisoformat(FIRST_DOSE) - timedelta(minutes=30)
        try:
            course = plan_course(
                self.app.services,
                self.actors[Role.PHYSICIAN],
                patient_id,
                regimen=regimen,
                weight_kg=70,
                height_cm=height_cm,
                first_dose=FIRST_DOSE,
            )
        finally:
            self.clock.now = now
        return patient_id, course.id


def _free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """il2's web app served by uvicorn on 127.0.0.1, on a fresh migrated SQLite database."""
    clock = MovableClock()
    folder = tmp_path_factory.mktemp("web")
    database = folder / "il2.sqlite3"
    # The journeys move the ward clock from one dose to the next (8 h) without a click between;
    # sessions follow that clock, so this test site lets a session sit idle across such a jump
    # (its own policy, with a reason). The 12-hour absolute lifetime stays: a new shift signs in.
    policy = folder / "site.toml"
    policy.write_text(
        "[policy]\n"
        'session_idle_minutes = { value = 720, reason = "browser tests jump the clock 8 h" }\n',
        encoding="utf-8",
    )
    app = build_app(Settings(database_url=f"sqlite:///{database}", site_policy=policy), clock=clock)
    upgrade_database(app)
    actors = staff(app)
    asgi = with_browser_defences(FastAPI())  # the headers il2 serve answers with
    asgi.include_router(web_router(app))
    config = uvicorn.Config(
        asgi, log_level="warning", lifespan="off", ws="none", http="h11", access_log=False
    )
    server = uvicorn.Server(config)
    sock = _free_socket()
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            msg = "the web server did not start"
            raise RuntimeError(msg)
        time.sleep(0.05)
    host, port = sock.getsockname()
    yield Site(f"http://{host}:{port}", app, actors, clock)
    server.should_exit = True
    thread.join(timeout=20)
    sock.close()
    app.engine.dispose()


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    """Playwright's driver for the session."""
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """Debian's Chromium (never a downloaded browser)."""
    launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
    yield launched
    launched.close()


@pytest.fixture
def page(browser: Browser, site: Site) -> Iterator[Page]:
    """A fresh browser context (no cookies) the size of a ward tablet in landscape."""
    context = browser.new_context(base_url=site.url, viewport={"width": 1280, "height": 800})
    context.set_default_timeout(15_000)
    opened = context.new_page()
    yield opened
    context.close()


def sign_in(page: Page, username: str, *, target: str = "/") -> None:
    """Sign in through the form, arriving at `target` (for "/", at the page home leads the
    role to)."""
    page.goto(target)
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    if target == "/":
        page.wait_for_url(lambda url: "/sign-in" not in url)
    else:
        page.wait_for_url(f"**{target}")


def shot(page: Page, name: str) -> None:
    """Keep a full-page screenshot of a main page."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def fill(page: Page | Locator, values: dict[str, str]) -> None:
    """Type into inputs and choose in selects, found by their field names (within a form, when
    given one: a page can hold several forms with a field of the same name)."""
    for name, value in values.items():
        field = page.locator(f'[name="{name}"]').first
        if field.evaluate("e => e.tagName") == "SELECT":
            field.select_option(value)
        else:
            field.fill(value)
