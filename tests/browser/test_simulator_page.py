"""Issue 20 in Chromium: a researcher opens the simulator from the navigation, runs a small
virtual trial of two arms and sees the figures, the table and the methods; the page passes
axe-core before and after the run."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.axe import assert_accessible
from tests.browser.conftest import Site, shot, sign_in


def test_a_researcher_runs_a_small_virtual_trial_and_sees_the_figures(
    page: Page, site: Site
) -> None:
    sign_in(page, "researcher")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Simulator").click()
    page.wait_for_url("**/research/simulator")
    expect(page.get_by_role("heading", name="Run a virtual trial")).to_be_visible()
    assert_accessible(page, "simulator-form")

    page.get_by_label("Low-dose IV bolus aldesleukin").check()
    page.get_by_label("Diagnosis").select_option("renal_cell_carcinoma")
    page.get_by_label("Virtual patients").fill("200")
    page.get_by_label("Seed").fill("11")
    # The run happens in the request; in a fresh checkout its first run also compiles the numba
    # kernels (no disk cache yet: about 5-40 s by load), so the submit may take that long.
    page.get_by_role("button", name="Run the virtual trial").click(timeout=180_000)

    expect(page.get_by_role("heading", name="Result: renal cell carcinoma")).to_be_visible(
        timeout=60_000
    )
    table = page.locator("#arms-table")
    expect(table.get_by_role("row")).to_have_count(3)  # the head and two arms
    expect(table).to_contain_text("(hd-label)")
    expect(table).to_contain_text("(ld-iv-nci)")
    for figure in ("rates", "occupancy", "trajectories-1", "waterfall-1", "waterfall-2"):
        shown = page.locator(f"#figure-{figure}")
        expect(shown.locator("svg")).to_be_visible()
        expect(shown.locator("figcaption")).not_to_be_empty()
    expect(page.locator("#methods")).to_contain_text("Held out")
    expect(page.locator("#time-taken")).to_contain_text("Time taken")
    expect(page.get_by_label("Low-dose IV bolus aldesleukin")).to_be_checked()
    shot(page, "simulator-run")
    assert_accessible(page, "simulator-run")
