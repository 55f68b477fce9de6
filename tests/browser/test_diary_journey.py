"""The self-injection diary in Chromium: a nurse enters what an outpatient reports of an
injection, sees it counted, and cannot then give the same injection in clinic."""

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

    page.goto(f"/patients/{patient}/courses/{course}/doses/1/1")
    fill(page, {"vitals.sbp_mmhg": "118", "vitals.spo2_pct": "97"})
    page.locator('[name="mental_status"]').select_option("normal")
    page.get_by_role("button", name=re.compile("Record")).first.click()
    expect(page.locator("body")).to_contain_text("already reported in the patient's diary")
