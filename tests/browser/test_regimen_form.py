"""The plan form shows height, lesions and the anchoring event only for a regimen that needs
them, and its preview shows each agent's doses and days."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.conftest import Site, sign_in


def test_the_fields_follow_the_chosen_regimen_and_the_preview_lists_each_agent(
    page: Page, site: Site
) -> None:
    patient_id = site.eligible()
    sign_in(page, "physician", target=f"/patients/{patient_id}/courses/new")
    height = page.get_by_label("Height")
    lesions = page.get_by_label("Lesions")
    fraction = page.get_by_label("sbrt fraction")
    for field in (height, lesions, fraction):
        expect(field).to_be_hidden()  # hd-label, the default, needs none of them

    page.get_by_label("Weight").fill("70")
    page.get_by_label("First dose").fill("2026-12-14T08:00")
    page.locator("#f-regimen-biochemo-cvd").check()
    expect(height).to_be_visible()
    expect(lesions).to_be_hidden()
    height.fill("175")
    page.get_by_role("button", name="Show the plan").click()
    preview = page.locator("#plan-preview")
    expect(preview).to_contain_text("16,601,958 IU")
    expect(preview.locator('tr[data-agent="cisplatin"]')).to_contain_text("36.89 mg")

    page.locator("#f-regimen-intralesional").check()
    expect(height).to_be_hidden()
    expect(lesions).to_be_visible()
    page.locator("#f-regimen-sbrt-hd").check()
    expect(fraction).to_be_visible()
    expect(lesions).to_be_hidden()
    page.locator("#f-regimen-hd-label").check()
    expect(fraction).to_be_hidden()
    expect(height).to_have_value("175")  # nothing typed is lost
