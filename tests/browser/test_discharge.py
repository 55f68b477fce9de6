"""Recording a course's discharge from the chart: the day shown on the course, and a day
before the last dose refused beside the field with what was typed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from playwright.sync_api import Page, expect

from il2.domain.records import DoseOutcome, Role
from il2.services.doses import DoseSubmission, submit_dose
from tests.browser.conftest import MovableClock, Site, sign_in
from tests.integration.builders import PASSWORD, stable_assessment

DOSE_1_1 = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)


@pytest.fixture
def ward_clock(site: Site) -> Iterator[MovableClock]:
    """The server's clock, put back after the test moves it."""
    before = site.clock.now
    yield site.clock
    site.clock.now = before


def _treated(site: Site, clock: MovableClock) -> tuple[int, int]:
    """A patient whose first dose was given at 08:00 today; the clock back at 16:00."""
    patient_id, course_id = site.with_course()
    now = clock.now
    clock.now = DOSE_1_1
    given = DoseSubmission(cycle=1, dose_number=1, assessment=stable_assessment(),
                           outcome=DoseOutcome.GIVEN, given_at=DOSE_1_1, verified_by="nurse2",
                           verifier_password=PASSWORD)  # fmt: skip
    submit_dose(site.app.services, site.actors[Role.NURSE], course_id, given)
    clock.now = now
    return patient_id, course_id


def test_a_discharge_recorded_on_the_chart_is_shown_on_its_course(
    page: Page, site: Site, ward_clock: MovableClock
) -> None:
    patient_id, course_id = _treated(site, ward_clock)
    sign_in(page, "nurse", target=f"/patients/{patient_id}")
    course = page.locator(f"#discharge-{course_id}")
    expect(course).to_contain_text("No discharge recorded")
    field = page.locator(f"#f-discharged_on-{course_id}")
    expect(field).to_have_value("2026-12-07")
    page.get_by_role("button", name="Record discharge").click()
    expect(course).to_contain_text("Discharged on")
    expect(course).not_to_contain_text("No discharge recorded")
    expect(page.locator("#discharge-entries")).to_contain_text(
        "discharged on 2026-12-07 after course 1"
    )


def test_a_discharge_before_the_last_dose_is_refused_beside_the_field(
    page: Page, site: Site, ward_clock: MovableClock
) -> None:
    patient_id, course_id = _treated(site, ward_clock)
    sign_in(page, "nurse", target=f"/patients/{patient_id}")
    page.locator(f"#f-discharged_on-{course_id}").fill("2026-12-06")
    page.get_by_role("button", name="Record discharge").click()
    field = page.locator(f"#f-discharged_on-{course_id}")
    expect(field).to_have_value("2026-12-06")
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(page.locator(f"#f-discharged_on-{course_id}-error")).to_contain_text(
        "a date on or after the course's last dose given (2026-12-07)"
    )
    page.goto(f"/patients/{patient_id}")
    expect(page.locator(f"#discharge-{course_id}")).to_contain_text("No discharge recorded")
