"""Ward walkthrough D7 in Chromium: the worklist finds a patient by name or MRN."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.conftest import Site, shot, sign_in


def test_a_nurse_finds_a_patient_by_name_then_by_mrn(page: Page, site: Site) -> None:
    site.patient(name="Zelda Quintero-Search", mrn="ZQ-90210")
    site.patient(name="Yusuf Quintana", mrn="YQ-11")
    sign_in(page, "nurse", target="/worklist")
    search = page.get_by_role("searchbox", name="Name or MRN")
    search.fill("quint")
    page.get_by_role("button", name="Search").click()
    results = page.locator("table.search-results")
    expect(results).to_contain_text("Zelda Quintero-Search")
    expect(results).to_contain_text("Yusuf Quintana")
    search = page.get_by_role("searchbox", name="Name or MRN")
    search.fill("zq-90210")
    page.get_by_role("button", name="Search").click()
    expect(results.locator("tbody tr")).to_have_count(1)
    shot(page, "worklist-search")
    results.get_by_role("link", name="Zelda Quintero-Search").click()
    expect(page.locator("body")).to_contain_text("ZQ-90210")


def test_a_search_with_no_match_or_one_letter_says_so(page: Page, site: Site) -> None:
    sign_in(page, "physician", target="/worklist")
    page.get_by_role("searchbox", name="Name or MRN").fill("nobody-by-this-name")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("body")).to_contain_text("No patient's name or MRN contains")
    page.get_by_role("searchbox", name="Name or MRN").fill("q")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("alert")).to_contain_text("2 to 100 characters")


def test_researchers_are_not_offered_a_search_by_name(page: Page, site: Site) -> None:
    sign_in(page, "researcher", target="/worklist")
    expect(page.get_by_role("heading", name="Patients by stage")).to_be_visible()
    expect(page.get_by_role("searchbox")).to_have_count(0)
    page.goto("/worklist?q=quint")
    expect(page.locator("body")).not_to_contain_text("Quintero")
