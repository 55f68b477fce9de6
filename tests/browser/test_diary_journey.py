"""The self-injection diary in Chromium: a nurse enters what an outpatient reports of an
injection, sees it counted and marked in the course calendar, and is not offered to give the
same injection in clinic (the service refuses it too: tests/integration/test_diary_timeline.py)."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.browser.conftest import Site, fill, shot, sign_in


def test_a_nurse_enters_an_injection_taken_at_home_and_the_diary_counts_it(
    page: Page, site: Site
) -> None:
    patient, course = site.with_course("sc-eu")  # first injection at 08:00 today
    sign_in(page, "nurse", target=f"/patients/{patient}/courses/{course}")
    form = page.get_by_role("form", name="Enter an injection the patient reports")
    form.get_by_label("Injection", exact=True).select_option("1.1")
    form.get_by_label("Taken or missed").select_option("taken")
    fill(form, {"taken_at": "2026-12-07T08:10"})
    form.get_by_label("Reported by").select_option("patient")
    form.locator('[name="side_effects[0].term"]').select_option("injection_site_reaction")
    form.locator('[name="side_effects[0].grade"]').select_option("1")
    form.get_by_role("button", name="Enter the injection").click()
    diary = page.locator("#diary")
    expect(diary).to_contain_text(re.compile(r"Taken\s*1"))
    expect(diary).to_contain_text("Injection site reaction")
    shot(page, "diary-entered")

    page.goto(f"/patients/{patient}/courses/{course}")
    calendar_slot = page.get_by_role("link", name=re.compile(r"Dose 1\.1 at .*: taken at home"))
    expect(calendar_slot).to_be_visible()
    calendar_slot.click()
    expect(page.locator("#diary-reported")).to_contain_text("taken at home")
    expect(page.get_by_role("button", name=re.compile("Record"))).to_have_count(0)
