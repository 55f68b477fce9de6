"""Ward walkthrough D1, D2, D3, D4 and D6 in the browser: each is refused in words a nurse reads."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.conftest import MovableClock, Site, sign_in
from tests.browser.test_journeys import STABLE, assess, at_dose, dose_url, verify, ward_clock

__all__ = ["ward_clock"]  # the fixture, used by the journeys below


def _give_first(page: Page, site: Site, clock: MovableClock) -> tuple[int, int]:
    """A course from 08:00 today with dose 1.1 given at 08:00, the nurse signed in."""
    patient_id, course_id = site.with_course()
    at_dose(clock, 1)
    sign_in(page, "nurse", target=dose_url(patient_id, course_id, 1, 1))
    assess(page, STABLE)
    verify(page)
    page.get_by_role("button", name="Record dose given").click()
    expect(page.get_by_role("heading", name="Dose 1.1: given")).to_be_visible()
    return patient_id, course_id


def test_ward_walkthrough_d1_a_cycle_2_dose_is_not_due_minutes_after_dose_1_1(
    page: Page, site: Site, ward_clock: MovableClock
) -> None:
    patient_id, course_id = _give_first(page, site, ward_clock)
    page.goto(dose_url(patient_id, course_id, 2, 1))
    assess(page, STABLE)
    banner = page.locator(".timeline-status")
    expect(banner).to_contain_text("Not due yet.")
    expect(banner).to_contain_text("it becomes due at")
    expect(page.get_by_role("button", name="Record dose given")).to_have_count(0)
    expect(page.get_by_role("button", name="Record dose held")).to_have_count(0)


def test_ward_walkthrough_d2_a_given_at_in_the_future_is_refused(
    page: Page, site: Site, ward_clock: MovableClock
) -> None:
    patient_id, course_id = site.with_course()
    at_dose(ward_clock, 1)
    sign_in(page, "nurse", target=dose_url(patient_id, course_id, 1, 1))
    assess(page, STABLE)
    page.get_by_label("Given at").fill("2026-12-07T08:30")
    verify(page)
    page.get_by_role("button", name="Record dose given").click()
    expect(page.locator("main")).to_contain_text("Refused: nothing was recorded")
    expect(page.locator("main")).to_contain_text("is in the future")
    # the form comes back with what the nurse typed, so the time can be corrected
    expect(page.get_by_label("Given at")).to_have_value("2026-12-07T08:30")
    page.goto(dose_url(patient_id, course_id, 1, 1))
    expect(page.get_by_role("heading", name="Dose 1.1: given")).to_have_count(0)


def test_ward_walkthrough_d3_no_override_is_offered_inside_the_interval(
    page: Page, site: Site, ward_clock: MovableClock
) -> None:
    patient_id, course_id = _give_first(page, site, ward_clock)
    ward_clock.now = ward_clock.now.replace(minute=2)
    page.context.clear_cookies()
    sign_in(page, "physician", target=dose_url(patient_id, course_id, 1, 3))
    assess(page, {**STABLE, "vitals.sbp_mmhg": "86"})
    expect(page.locator(".timeline-status")).to_contain_text("Not due yet.")
    expect(page.get_by_role("group", name="Physician override: give anyway")).to_have_count(0)


def test_ward_walkthrough_d4_a_researcher_cannot_verify_a_dose(
    page: Page, site: Site, ward_clock: MovableClock
) -> None:
    patient_id, course_id = site.with_course()
    at_dose(ward_clock, 1)
    sign_in(page, "nurse", target=dose_url(patient_id, course_id, 1, 1))
    assess(page, STABLE)
    verify(page, "researcher")
    page.get_by_role("button", name="Record dose given").click()
    expect(page.locator("main")).to_contain_text("a user whose role may verify doses")
    expect(page.locator("main")).not_to_contain_text("correct horse battery staple")


def test_ward_walkthrough_d6_after_a_discontinue_the_preview_says_so(
    page: Page, site: Site, ward_clock: MovableClock
) -> None:
    patient_id, course_id = _give_first(page, site, ward_clock)
    at_dose(ward_clock, 2)
    page.goto(dose_url(patient_id, course_id, 1, 2))
    assess(page, {**STABLE, "vitals.rhythm": "sustained_vt"})
    page.get_by_role("button", name="Record: discontinue").click()
    expect(page.get_by_role("heading", name="Dose 1.2: stopped")).to_be_visible()
    at_dose(ward_clock, 3)
    sign_in(page, "nurse", target=dose_url(patient_id, course_id, 1, 3))
    assess(page, STABLE)
    expect(page.locator(".timeline-status")).to_contain_text(
        "IL-2 was discontinued for this patient."
    )
    expect(page.get_by_role("button", name="Record dose given")).to_have_count(0)
