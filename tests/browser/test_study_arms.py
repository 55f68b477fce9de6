"""Trial arms in Chromium: a coordinator defines a study, assigns a patient to an arm from the
chart; a researcher then sees the arms compared on the outcomes page, by intention to treat."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.conftest import Site, fill, shot, sign_in


def test_a_coordinator_assigns_an_arm_and_a_researcher_sees_the_arms_compared(
    page: Page, site: Site
) -> None:
    patient = site.patient()
    sign_in(page, "coordinator", target="/studies")
    fill(page, {
        "name": "Browser SBRT trial", "registry_id": "NCT01416831",
        "arms[0].id": "il2", "arms[0].name": "HD IL-2 alone",
        "arms[1].id": "sbrt-il2", "arms[1].name": "SBRT then HD IL-2",
    })  # fmt: skip
    page.get_by_role("button", name="Define the study").click()
    expect(page.get_by_role("heading", name="Browser SBRT trial NCT01416831")).to_be_visible()
    study = int(page.url.rstrip("/").rsplit("/", 1)[-1])

    page.goto(f"/patients/{patient}")
    form = page.get_by_role("form", name="Arm in Browser SBRT trial")
    form.get_by_label("Arm").select_option("sbrt-il2")
    form.get_by_role("button", name="Assign").click()
    arm = page.locator(f"#study-{study} .study-arm")
    expect(arm).to_contain_text("Arm: SBRT then HD IL-2")
    shot(page, "chart-study-arm")

    page.context.clear_cookies()
    sign_in(page, "researcher", target=f"/studies/{study}")
    listed = page.locator("section", has=page.get_by_role("heading", name="Assignments"))
    expect(listed.locator("tr", has_text="SBRT then HD IL-2")).to_contain_text("S-")
    expect(page.locator("body")).not_to_contain_text("Browser Patient")
    page.get_by_role("link", name="Compare the arms' outcomes").click()
    section = page.locator("#by-arm")
    expect(section).to_contain_text("Browser SBRT trial")
    row = section.locator("tr", has_text="SBRT then HD IL-2")
    expect(row).to_contain_text("0/1")  # assigned, never treated: in the denominator
    expect(section.locator("tr", has_text="HD IL-2 alone").first).to_be_visible()
    expect(section).to_contain_text("a patient assigned but never treated is in their arm's")
    shot(page, "outcomes-by-arm")
