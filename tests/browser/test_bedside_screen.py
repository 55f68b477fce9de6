"""The nurse's dose screen in the browser: a give shows what was checked; a refusal, where."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.browser.conftest import MovableClock, Site, shot, sign_in
from tests.browser.test_journeys import STABLE, assess, at_dose, dose_url, ward_clock

__all__ = ["ward_clock"]  # the fixture, used here by name


def test_a_give_lists_the_rules_checked_and_a_refusal_marks_each_field(
    page: Page, site: Site, ward_clock: MovableClock
) -> None:
    patient_id, course_id = site.with_course()
    at_dose(ward_clock, 1)
    sign_in(page, "nurse", target=dose_url(patient_id, course_id, 1, 1))
    expect(page.locator("fieldset.system legend").first).to_have_text("Cardiovascular")

    assess(page, {**STABLE, "vitals.sbp_mmhg": "112"})
    decision = page.locator("#decision")
    expect(decision.locator("#decision-h")).to_contain_text("give")
    checked = decision.locator("details.checked")
    expect(checked).to_have_attribute("open", "")
    expect(checked).to_contain_text("systolic BP 112 mmHg — passed")
    expect(checked).to_contain_text("Hold when below 90 mmHg")
    expect(checked).to_contain_text("Label-2024 Table 2")
    shot(page, "bedside-give-checked")

    page.locator('[name="vitals.sbp_mmhg"]').fill("abc")
    page.locator('[name="vitals.spo2_pct"]').fill("150")
    page.get_by_role("button", name="Check the before-dose decision").click()
    summary = page.locator("#error-summary")
    expect(summary).to_contain_text("Systolic blood pressure")
    expect(summary).to_contain_text("SpO2")
    for label in ("Systolic blood pressure", "SpO2"):
        field = page.get_by_label(re.compile(f"^{label}"))
        expect(field).to_have_attribute("aria-invalid", "true")
        expect(field).to_have_attribute("aria-describedby", re.compile("-error"))
    expect(page.locator("#f-vitals-spo2_pct-error")).to_be_visible()
    shot(page, "bedside-refused-fields")
