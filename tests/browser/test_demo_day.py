"""Each role's day on the demo a newcomer gets from `make run`, in Chromium, by clicks and typing.

The module's server is what `make run` leaves: the installed `il2` console script migrates a
fresh SQLite file, writes the demo with `il2 demo --today` (IL2_DEMO=1) and serves it with
`il2 serve`, each as its own process, on the real clock. Nothing is added in-process: each
journey signs in with the demo accounts the sign-in page shows and works from the page its
role lands on, never typing an address after signing in. Each step's page is kept as a
screenshot in tests/browser/artifacts/ (demo-<role>-<step>.png).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from il2.services.demo import DEMO_PASSWORD, STAFF
from tests.browser.conftest import fill, shot

IL2 = Path(sys.executable).parent / "il2"
DEMO_SECONDS = 1200  # `il2 demo --today` writes ten years record by record: minutes, not seconds
NURSE_CLICKS = 5  # the bound: a dose recorded within five clicks of signing in
QUIET = {  # a bedside reading with nothing to hold for
    "vitals.sbp_mmhg": "112",
    "vitals.heart_rate_bpm": "94",
    "vitals.spo2_pct": "96",
    "vitals.temperature_c": "37.8",
    "vitals.rhythm": "sinus",
    "weight_kg": "61",
    "urine_output_ml_last_8h": "320",
    "mental_status": "normal",
    "labs.creatinine_mg_dl": "1.1",
    "labs.bilirubin_mg_dl": "0.9",
    "labs.platelets_per_ul": "160000",
    "labs.bicarbonate_mmol_l": "23",
    "labs.hours_since_drawn": "4",
    "oxygen_l_min": "0",
    "coma_hours": "0",
    "intubated_hours": "0",
    "dialysis_hours": "0",
}


@dataclass(frozen=True)
class Demo:
    """The served demo: its address and what `il2 demo --today` printed."""

    url: str
    printed: str


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _il2(*args: str, env: dict[str, str], timeout: float) -> str:
    """Run the installed il2 command; its output, or the test fails with it."""
    done = subprocess.run(  # noqa: S603 - the venv's own console script, fixed arguments
        [str(IL2), *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, f"il2 {' '.join(args)}: {done.stdout}\n{done.stderr}"
    return done.stdout


def _wait_for_health(url: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert server.poll() is None, "il2 serve exited before answering"
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:  # noqa: S310
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    msg = "il2 serve did not answer /health within 60 s"
    raise RuntimeError(msg)


@pytest.fixture(scope="session")  # one demo for every journey (make unit: --dist loadfile)
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """`make run`'s three steps as subprocesses on a fresh SQLite file; stopped at the end."""
    folder = tmp_path_factory.mktemp("demo-day")
    env = {
        **os.environ,
        "IL2_DEMO": "1",
        "IL2_DATABASE_URL": f"sqlite:///{folder / 'il2-demo.sqlite3'}",
        "HOME": str(folder),
    }
    _il2("db", "upgrade", env=env, timeout=120)
    printed = _il2("demo", "--today", env=env, timeout=DEMO_SECONDS)
    port = _free_port()
    log = (folder / "serve.log").open("wb")
    server = subprocess.Popen(  # noqa: S603 - the venv's own console script
        [str(IL2), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for_health(url, server)
        yield Demo(url, printed)
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


@pytest.fixture
def page(browser: Browser, demo: Demo) -> Iterator[Page]:
    """A fresh browser context on the demo server, the size of a ward tablet."""
    context = browser.new_context(base_url=demo.url, viewport={"width": 1280, "height": 800})
    context.set_default_timeout(20_000)
    opened = context.new_page()
    yield opened
    context.close()


class Clicks:
    """Every click and tick of a journey, counted (typing and choosing are not clicks)."""

    def __init__(self) -> None:
        self.count = 0

    def click(self, target: Locator) -> None:
        target.click()
        self.count += 1

    def check(self, target: Locator) -> None:
        target.check()
        self.count += 1


def sign_in_as(page: Page, demo: Demo, role: str) -> None:
    """Open the demo, read the account off the sign-in page, and sign in with it."""
    username = f"demo-{role}"
    assert f"  {username}" in demo.printed  # `make run` prints the account...
    assert DEMO_PASSWORD in demo.printed
    page.goto("/")
    hint = page.locator("#demo-accounts")
    expect(hint).to_contain_text(username)  # ...and the sign-in page shows it
    expect(hint).to_contain_text(DEMO_PASSWORD)
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/sign-in" not in url)


def _assess(page: Page, clicks: Clicks, values: dict[str, str]) -> Locator:
    """Type a reading, tick the reviewed lists, ask for the decision; the decision's panel."""
    fill(page, values)
    clicks.check(page.locator("#f-findings-none"))
    clicks.check(page.locator("#f-vasopressors-none"))
    clicks.click(page.get_by_role("button", name="Check the before-dose decision"))
    return page.locator("#decision")


def test_the_demo_starts_as_make_run_does_and_says_how_to_sign_in(page: Page, demo: Demo) -> None:
    assert "demo: today's ward patients admitted" in demo.printed
    for username in STAFF:
        assert username in demo.printed
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/sign-in"))
    expect(page.locator("#demo-accounts")).to_contain_text("demo-nurse")
    shot(page, "demo-sign-in")


def test_the_nurse_records_a_due_dose_within_five_clicks_and_holds_the_trending_one(
    page: Page, demo: Demo
) -> None:
    sign_in_as(page, demo, "nurse")
    clicks = Clicks()
    shot(page, "demo-nurse-1-home")
    due = page.locator("table tbody tr.row-due_now", has_text="Ward Patient 1")
    expect(due).to_contain_text("due now")  # inside its window, not "overdue"
    clicks.click(due.get_by_role("link", name=re.compile(r"^Assess dose")))
    expect(page.get_by_role("heading", name=re.compile(r"^Before dose"))).to_contain_text(
        "Ward Patient 1"
    )
    decision = _assess(page, clicks, QUIET)
    expect(decision.locator("#decision-h")).to_contain_text("give")
    expect(decision.locator("details.checked")).to_contain_text("systolic BP 112 mmHg")
    page.get_by_label("Second nurse verifying (username)").fill("demo-nurse2")
    page.get_by_label("Second nurse: password").fill(DEMO_PASSWORD)
    shot(page, "demo-nurse-2-give")
    clicks.click(page.get_by_role("button", name="Record dose given"))
    expect(page.get_by_role("heading", name=re.compile(r"^Dose 1\.\d+: given"))).to_be_visible()
    expect(page.locator(".dose-record")).to_contain_text("demo-nurse2")
    shot(page, "demo-nurse-3-given")
    assert clicks.count <= NURSE_CLICKS, f"{clicks.count} clicks from signing in to the dose"

    # the patient drifting towards the SBP limit: this reading crosses it
    page.get_by_role("link", name="Home").first.click()
    trending = page.locator("table tbody tr.row-due_now", has_text="Ward Patient 3")
    trending.get_by_role("link", name=re.compile(r"^Assess dose")).click()
    decision = _assess(page, Clicks(), {**QUIET, "vitals.sbp_mmhg": "86"})
    expect(decision.locator("#decision-h")).to_contain_text("hold")
    reasons = decision.locator(".reasons")
    expect(reasons).to_contain_text("systolic BP 86 mmHg")
    expect(reasons).to_contain_text("label-sbp-low")
    expect(reasons).to_contain_text("Label-2024 Table 2")
    shot(page, "demo-nurse-4-hold")
    page.get_by_role("button", name="Record dose held").click()
    expect(page.get_by_role("heading", name=re.compile(r"^Dose 1\.\d+: held"))).to_be_visible()
    shot(page, "demo-nurse-5-held")


def test_the_physician_opens_a_pending_decision_and_records_the_follow_up(
    page: Page, demo: Demo
) -> None:
    """A scan, next-course decision or follow-up due: the physician sees the patient in clinic."""
    sign_in_as(page, demo, "physician")
    expect(page.get_by_role("heading", name="Pending decisions")).to_be_visible()
    due = page.locator("table.decisions tbody tr").first
    name = due.get_by_role("link").inner_text()
    shot(page, "demo-physician-1-pending")
    due.get_by_role("link").click()
    expect(page.get_by_role("heading", name=name).first).to_be_visible()
    form = page.locator("#follow-up")
    fill(form, {"observed_on": datetime.now(UTC).date().isoformat()})
    form.get_by_label("Status").select_option("alive_no_progression")
    form.get_by_label("Notes").fill("Clinic visit: well, no new symptoms")
    shot(page, "demo-physician-2-follow-up")
    form.get_by_role("button", name="Record follow-up").click()
    expect(page.locator("main")).to_contain_text("Clinic visit: well, no new symptoms")
    expect(page.locator("main")).to_contain_text("Alive, no progression: Clinic visit")
    shot(page, "demo-physician-3-recorded")
    page.get_by_role("link", name="Decisions and admissions").first.click()
    expect(page.get_by_role("heading", name="Pending decisions")).to_be_visible()


def test_the_pharmacist_prepares_the_next_24_hours_verifies_a_plan_and_reads_vial_use(
    page: Page, demo: Demo
) -> None:
    sign_in_as(page, demo, "pharmacist")
    expect(page.get_by_role("heading", name="Doses to prepare")).to_be_visible()
    rows = page.locator("table.preparation tbody tr")
    expect(rows.first).to_contain_text("Sterile Water for Injection")
    expect(rows.first).to_contain_text("D5W")
    shot(page, "demo-pharmacist-1-preparation")
    rows.get_by_role("link", name="Not yet verified").first.click()
    expect(page).to_have_url(re.compile(r"/patients/\d+/courses/\d+#verification$"))
    page.get_by_role("button", name="Verify this plan").click()
    expect(page.locator("#verification").locator("..")).to_contain_text(
        "Plan verified by demo-pharmacist"
    )
    shot(page, "demo-pharmacist-2-verified")
    page.get_by_role("link", name="Vial use").first.click()
    expect(page.get_by_role("heading", name="Vial use")).to_be_visible()
    expect(page.locator("main")).to_contain_text("Ward Patient 1")
    shot(page, "demo-pharmacist-3-vial-use")


def test_the_coordinator_reads_admissions_finds_a_patient_and_registers_one(
    page: Page, demo: Demo
) -> None:
    sign_in_as(page, demo, "coordinator")
    expect(page.locator("table.admissions")).to_contain_text("Ward Patient 2")
    expect(page.locator("table.beds")).to_contain_text("Beds in use")
    shot(page, "demo-coordinator-1-admissions")
    page.get_by_role("link", name="Worklist").first.click()
    search = page.get_by_role("searchbox", name="Name or MRN")
    search.fill("ward patient 2")
    page.get_by_role("button", name="Search").click()
    results = page.locator("table.search-results")
    expect(results.locator("tbody tr")).to_have_count(1)
    mrn = results.locator("tbody tr").first.inner_text()
    assert "DEMO-WARD-" in mrn
    page.get_by_role("searchbox", name="Name or MRN").fill("demo-ward-")
    page.get_by_role("button", name="Search").click()
    expect(results.locator("tbody tr")).to_have_count(3)
    shot(page, "demo-coordinator-2-search")
    page.get_by_role("link", name="Register patient").first.click()
    fill(
        page,
        {
            "mrn": "NEW-REFERRAL-1",
            "name": "Nadia Referral",
            "birth_date": "1971-06-15",
            "sex": "female",
            "diagnosis": "melanoma",
        },
    )
    shot(page, "demo-coordinator-3-register")
    page.get_by_role("button", name="Register patient").click()
    expect(page.get_by_role("heading", name="Nadia Referral")).to_be_visible()
    shot(page, "demo-coordinator-4-registered")


def test_the_researcher_filters_the_outcomes_exports_a_csv_and_opens_a_study_page(
    page: Page, demo: Demo
) -> None:
    sign_in_as(page, demo, "researcher")
    expect(page).to_have_url(re.compile(r"/outcomes$"))
    shot(page, "demo-researcher-1-outcomes")
    page.get_by_label("Diagnosis").select_option("melanoma")
    page.get_by_label("Referred from (year)").fill("2019")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url(re.compile(r"diagnosis=melanoma"))
    expect(page.get_by_role("heading", name="Beside the label")).to_be_visible()
    shot(page, "demo-researcher-2-filtered")
    with page.expect_download() as download:
        page.get_by_role("link", name="Export every table (CSV)").click()
    saved = download.value.path()
    assert saved is not None
    text = Path(saved).read_text(encoding="utf-8")
    assert "melanoma" in text
    assert len(text.splitlines()) > 5
    page.get_by_role("link", name="Worklist").first.click()
    study = page.get_by_role("link", name=re.compile(r"^S-")).first
    number = study.inner_text()
    study.click()
    expect(page).to_have_url(re.compile(f"/study/{number}$"))
    expect(page.locator("main")).to_contain_text(number)
    expect(page.locator("main")).not_to_contain_text("Demo Patient")  # de-identified
    shot(page, "demo-researcher-3-study")


def test_the_administrator_adds_and_deactivates_a_user_and_reads_the_audit(
    page: Page, demo: Demo
) -> None:
    sign_in_as(page, demo, "administrator")
    page.get_by_role("link", name="Users and roles").first.click()
    adding = page.locator("form", has=page.get_by_role("button", name="Add user"))
    fill(adding, {"username": "agency-nurse", "display_name": "Agency Nurse", "role": "nurse"})
    adding.get_by_label("Initial password").fill("a long enough password for the demo")
    adding.get_by_role("button", name="Add user").click()
    accounts = page.get_by_role("table", name="Accounts")
    expect(accounts).to_contain_text("agency-nurse")
    shot(page, "demo-administrator-1-added")
    page.locator('form[action="/admin/users/agency-nurse"]').get_by_role(
        "button", name="Deactivate"
    ).click()
    row = page.get_by_role("table", name="Accounts").locator("tr", has_text="agency-nurse")
    expect(row).to_contain_text(re.compile("inactive|deactivated", re.IGNORECASE))
    shot(page, "demo-administrator-2-deactivated")
    page.get_by_role("link", name="Audit trail").first.click()
    audit = page.locator("table.audit")
    expect(audit).to_contain_text("agency-nurse")
    shot(page, "demo-administrator-3-audit")
