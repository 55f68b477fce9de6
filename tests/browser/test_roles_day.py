"""The pharmacist's, physician's and coordinator's day in Chromium, each kept as a screenshot:
signing in leads each to its page, and from there to its work."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from il2.domain.records import DoseOutcome, Role
from il2.services.doses import DoseSubmission, submit_dose
from tests.browser.conftest import Site, shot, sign_in
from tests.integration.builders import stable_assessment


def _name(site: Site, patient_id: int) -> str:
    with site.app.services.uow() as uow:
        patient = uow.patients.get(patient_id)
    assert patient is not None
    return patient.name


def test_the_pharmacist_prepares_the_days_doses_and_verifies_a_plan(page: Page, site: Site) -> None:
    patient_id, course_id = site.with_course()
    name = _name(site, patient_id)
    sign_in(page, "pharmacist")
    expect(page).to_have_url(f"{site.url}/pharmacy")
    expect(page.get_by_role("heading", name="Doses to prepare")).to_be_visible()
    row = page.locator("table.preparation tbody tr", has_text=name).first
    expect(row).to_contain_text("42,000,000 IU")
    expect(row).to_contain_text("Sterile Water for Injection")
    expect(row).to_contain_text("D5W")
    expect(row).to_contain_text("Not yet verified")
    shot(page, "pharmacist-preparation-list")
    row.get_by_role("link", name="Not yet verified").click()
    expect(page).to_have_url(f"{site.url}/patients/{patient_id}/courses/{course_id}#verification")
    page.get_by_role("button", name="Verify this plan").click()
    expect(page.locator("#verification").locator("..")).to_contain_text(
        "Plan verified by pharmacist"
    )
    page.get_by_role("link", name="Vial use").first.click()
    expect(page.get_by_role("heading", name="Vial use")).to_be_visible()
    shot(page, "pharmacist-vial-use")


def test_the_physician_sees_a_held_dose_among_pending_decisions(page: Page, site: Site) -> None:
    patient_id, course_id = site.with_course()
    name = _name(site, patient_id)
    low = stable_assessment()
    low["vitals"]["sbp_mmhg"] = 85
    submit_dose(
        site.app.services,
        site.actors[Role.NURSE],
        course_id,
        DoseSubmission(cycle=1, dose_number=1, assessment=low, outcome=DoseOutcome.HELD),
    )
    sign_in(page, "physician")
    expect(page).to_have_url(f"{site.url}/schedule")
    held = page.locator("table.held-doses")
    expect(held).to_contain_text(name)
    shot(page, "physician-pending-decisions")
    held.locator("tr", has_text=name).get_by_role("link", name="Dose 1.1").click()
    expect(page.locator("main")).to_contain_text(name)


def test_the_coordinator_sees_admissions_and_beds(page: Page, site: Site) -> None:
    patient_id, _course = site.with_course()
    name = _name(site, patient_id)
    sign_in(page, "coordinator")
    expect(page).to_have_url(f"{site.url}/schedule")
    admissions = page.locator("table.admissions")
    expect(admissions.locator("tr", has_text=name).first).to_contain_text("Course 1, cycle 1")
    expect(page.locator("table.beds")).to_contain_text("Beds in use")
    shot(page, "coordinator-admissions")
