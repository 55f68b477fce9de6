"""Courses that must not start, don't: each refusal shown beside the planning form.

Ward walkthrough D8 (no screening; a first dose years away), D9 (a course overlapping one in
progress) and D10 (a new course after a permanent discontinue), and a physician planning
against a short rest with a recorded reason.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from playwright.sync_api import Page, expect

from il2.domain.records import DoseOutcome, Role
from il2.services.doses import DoseSubmission, submit_dose
from tests.browser.conftest import FIRST_DOSE, Site, sign_in
from tests.integration.builders import PASSWORD, stable_assessment


def plan(page: Page, patient_id: int, first_dose: str) -> None:
    """Open the planning form, enter an hd-label course for 70 kg, and plan it."""
    page.goto(f"/patients/{patient_id}/courses/new")
    page.get_by_label("Weight").fill("70")
    page.get_by_label("First dose").fill(first_dose)
    page.get_by_role("button", name="Plan this course").click()


def test_d8_an_unscreened_patient_and_a_first_dose_years_away_are_refused(
    page: Page, site: Site
) -> None:
    patient_id = site.patient()
    sign_in(page, "physician", target=f"/patients/{patient_id}/courses/new")
    plan(page, patient_id, "2026-12-14T08:00")
    refused = page.locator("#plan-refused")
    expect(refused).to_contain_text("nothing was recorded")
    expect(refused).to_contain_text("The patient has no eligibility screening")
    expect(page.get_by_label(re.compile("Override reason"))).to_have_count(0)

    screened = site.eligible()
    plan(page, screened, "2035-01-06T08:00")
    expect(page.locator("#error-summary")).to_contain_text("84 days ahead")
    expect(page.locator("main")).not_to_contain_text("Course 1")


def test_d9_a_course_overlapping_one_in_progress_is_refused(page: Page, site: Site) -> None:
    patient_id, _ = site.with_course()
    sign_in(page, "physician", target=f"/patients/{patient_id}/courses/new")
    plan(page, patient_id, "2026-12-08T08:00")
    refused = page.locator("#plan-refused")
    expect(refused).to_contain_text("Course 1 is still planned to run until")
    expect(refused).to_contain_text("At least one reason cannot be overridden")
    expect(page.get_by_label(re.compile("Override reason"))).to_have_count(0)


def test_d10_no_course_after_a_permanent_discontinue(page: Page, site: Site) -> None:
    patient_id, course_id = site.with_course()
    infarction = stable_assessment()
    infarction["findings"] = ["myocardial_infarction"]
    record = submit_dose(
        site.app.services,
        site.actors[Role.NURSE],
        course_id,
        DoseSubmission(cycle=1, dose_number=1, assessment=infarction),
    ).record
    assert (record.decision_action, record.outcome) == ("discontinue", DoseOutcome.STOPPED)
    sign_in(page, "physician", target=f"/patients/{patient_id}/courses/new")
    plan(page, patient_id, "2027-02-15T08:00")
    refused = page.locator("#plan-refused")
    expect(refused).to_contain_text("permanently discontinued in course 1")
    expect(page.get_by_label(re.compile("Override reason"))).to_have_count(0)


def test_a_physician_plans_against_a_short_rest_with_a_recorded_reason(
    page: Page, site: Site
) -> None:
    patient_id, _ = site.with_course()
    sign_in(page, "physician", target=f"/patients/{patient_id}/courses/new")
    plan(page, patient_id, "2027-01-20T08:00")
    refused = page.locator("#plan-refused")
    expect(refused).to_contain_text("shorter than the 7 weeks between courses")
    reason = page.get_by_label(re.compile("Override reason"))
    expect(reason).to_be_visible()
    reason.fill("Tumour board agreed to an early second course")
    page.get_by_role("button", name="Plan this course").click()
    expect(page.get_by_role("heading", name=re.compile("Course 2"))).to_be_visible()


def test_the_chart_says_what_comes_next_from_the_records(page: Page, site: Site) -> None:
    patient_id, course_id = site.with_course()
    due = datetime.fromisoformat(FIRST_DOSE)
    given = DoseSubmission(cycle=1, dose_number=1, assessment=stable_assessment(),
                           outcome=DoseOutcome.GIVEN, given_at=due, verified_by="nurse2",
                           verifier_password=PASSWORD, assessed_at=due - timedelta(minutes=10))  # fmt: skip
    submit_dose(site.app.services, site.actors[Role.NURSE], course_id, given)
    sign_in(page, "physician", target=f"/patients/{patient_id}")
    upcoming = page.locator("#next-step")
    expect(upcoming).to_contain_text("What comes next")
    expect(upcoming).not_to_contain_text("il2 ")
    expect(upcoming).not_to_contain_text("No dose given yet")
