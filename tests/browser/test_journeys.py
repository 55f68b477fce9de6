"""What staff do in the browser, from signing in to recording a dose and a response."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, Route, expect

from tests.browser.conftest import MovableClock, Site, fill, shot, sign_in
from tests.integration.builders import PASSWORD

DOSE_1_1 = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)  # a course planned from 08:00 today


@pytest.fixture
def ward_clock(site: Site) -> Iterator[MovableClock]:
    """The server's clock, for a test that walks it through the dose times; put back after."""
    before = site.clock.now
    yield site.clock
    site.clock.now = before


def at_dose(clock: MovableClock, number: int) -> None:
    """Set the clock to the due time of dose 1.`number` (every 8 h from 08:00 today)."""
    clock.now = DOSE_1_1 + timedelta(hours=8 * (number - 1))


def verify(where: Page | object, username: str = "nurse2") -> None:
    """The second nurse signs the check: username and their own password."""
    where.get_by_label("Second nurse verifying (username)").fill(username)  # type: ignore[attr-defined]
    where.get_by_label("Second nurse: password").fill(PASSWORD)  # type: ignore[attr-defined]


STABLE = {
    "vitals.sbp_mmhg": "104",
    "vitals.heart_rate_bpm": "96",
    "vitals.spo2_pct": "95",
    "vitals.temperature_c": "38.1",
    "vitals.rhythm": "sinus",
    "weight_kg": "72.5",
    "urine_output_ml_last_8h": "300",
    "labs.creatinine_mg_dl": "1.3",
    "labs.bilirubin_mg_dl": "1.2",
    "labs.platelets_per_ul": "90000",
    "labs.bicarbonate_mmol_l": "21",
    "labs.hours_since_drawn": "4",
    "oxygen_l_min": "0",
    "mental_status": "normal",
    "coma_hours": "0",
    "intubated_hours": "0",
    "dialysis_hours": "0",
}


def dose_url(patient_id: int, course_id: int, cycle: int, number: int) -> str:
    return f"/patients/{patient_id}/courses/{course_id}/doses/{cycle}/{number}"


def assess(page: Page, values: dict[str, str]) -> None:
    """Enter a before-dose assessment and ask for the decision (nothing is saved)."""
    fill(page, values)
    for reviewed in ("#f-findings-none", "#f-vasopressors-none"):
        page.locator(reviewed).check()
    page.get_by_role("button", name="Check the before-dose decision").click()


def test_signing_in_lands_on_a_home_page_for_the_role(page: Page) -> None:
    page.goto("/worklist")
    expect(page).to_have_url(re.compile(r"/sign-in\?next=/worklist"))
    page.get_by_label("Username").fill("nurse")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("Unknown user or wrong password")
    shot(page, "sign-in")

    page.get_by_label("Password").fill("correct horse battery staple")
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/worklist$"))
    page.get_by_role("link", name="Home").click()
    expect(page.get_by_role("heading", name="Good to see you, nurse")).to_be_visible()
    expect(page.get_by_text("Signed in as nurse")).to_be_visible()
    expect(page.get_by_role("link", name="Administration")).to_have_count(0)
    shot(page, "home-nurse")


def test_signing_out_revokes_the_session_not_only_the_cookie(page: Page) -> None:
    sign_in(page, "nurse", target="/worklist")
    kept = page.context.cookies()
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/sign-in$"))
    page.context.add_cookies(kept)  # a copied cookie must not open the ward again
    page.goto("/worklist")
    expect(page).to_have_url(re.compile(r"/sign-in\?next=/worklist"))


def test_screening_a_candidate_shows_what_is_missing(page: Page) -> None:
    sign_in(page, "coordinator", target="/patients/new")
    fill(
        page,
        {
            "mrn": "WEB-SCREEN-1",
            "name": "Ada Candidate",
            "birth_date": "1963-05-01",
            "sex": "female",
            "diagnosis": "melanoma",
        },
    )
    page.get_by_role("button", name="Register patient").click()
    expect(page.get_by_role("heading", name="Ada Candidate")).to_be_visible()
    page.get_by_role("link", name="Screen this candidate").click()

    fill(page, {"age_years": "63", "ecog": "1", "weight_kg": "700"})
    page.get_by_role("button", name="Screen and save the checklist").click()
    summary = page.locator("#error-summary")
    expect(summary).to_contain_text("Weight")
    expect(summary).to_contain_text("from 20 to 350 kg")
    expect(page.get_by_label("Weight")).to_have_attribute("aria-invalid", "true")

    fill(
        page,
        {
            "weight_kg": "74",
            "labs.creatinine_mg_dl": "0.9",
            "labs.bilirubin_mg_dl": "0.6",
            "labs.platelets_per_ul": "180000",
            "cardiac.stress_test": "not_done",
            "brain_imaging": "not_done",
        },
    )
    shot(page, "screening-form")
    page.get_by_role("button", name="Screen and save the checklist").click()
    expect(page.locator(".verdict")).to_contain_text("incomplete")
    to_obtain = page.locator("#to-obtain")
    expect(to_obtain).to_be_visible()
    expect(to_obtain.get_by_role("listitem").first).to_be_visible()
    expect(page.locator("table.checklist")).to_contain_text("missing")
    shot(page, "chart-screening")


COMPLETE_WORKUP = {
    "age_years": "58",
    "diagnosis": "renal_cell_carcinoma",
    "metastatic": "yes",
    "ecog": "0",
    "weight_kg": "82",
    "labs.creatinine_mg_dl": "1.1",
    "labs.bilirubin_mg_dl": "0.9",
    "labs.ast_u_l": "30",
    "labs.alt_u_l": "28",
    "labs.ast_uln_u_l": "40",
    "labs.alt_uln_u_l": "40",
    "labs.platelets_per_ul": "210,000",
    "labs.wbc_per_ul": "6000",
    "labs.hemoglobin_g_dl": "13.2",
    "cardiac.lvef_pct": "60",
    "cardiac.wall_motion": "normal",
    "cardiac.significant_cad": "no",
    "cardiac.stress_test": "normal",
    "cardiac.cardiac_history": "no",
    "pulmonary.fev1_l": "2.8",
    "pulmonary.fev1_pct_predicted": "85",
    "pulmonary.smoking_history": "yes",
    "pulmonary.lung_disease": "no",
    "brain_imaging": "negative",
    "hypersensitivity_to_aldesleukin": "no",
    "pregnant": "no",
}


def test_a_complete_work_up_entered_in_the_form_screens_eligible(page: Page, site: Site) -> None:
    patient_id = site.patient(diagnosis="renal_cell_carcinoma")
    sign_in(page, "coordinator", target=f"/patients/{patient_id}/screening")
    for heading in ("Patient", "Labs", "Cardiac work-up", "Pulmonary work-up", "Other criteria"):
        expect(page.get_by_role("group", name=heading, exact=True)).to_be_visible()
    expect(page.get_by_role("group", name="Other", exact=True)).to_have_count(0)
    fill(page, COMPLETE_WORKUP)
    for listed in ("conditions", "medications"):
        page.locator(f'input[name="{listed}"][value="__none__"]').check()
    page.get_by_role("button", name="Screen and save the checklist").click()
    expect(page.locator(".verdict")).to_contain_text("eligible")
    expect(page.locator(".verdict")).not_to_contain_text("incomplete")
    checklist = page.locator("table.checklist")
    expect(checklist).to_contain_text("Left ventricular ejection fraction normal")
    expect(checklist).to_contain_text("FEV1 2.8 L (rule: above 2 L) — met")
    expect(checklist).to_contain_text("not applied")
    shot(page, "chart-screening-eligible")

    page.goto(f"/patients/{patient_id}/screening")
    fill(page, {"cardiac.lvef_pct": ""})
    page.get_by_role("button", name="Screen and save the checklist").click()
    expect(page.locator(".verdict")).to_contain_text("incomplete")
    expect(page.locator("#to-obtain")).to_contain_text("resting left ventricular ejection fraction")


def test_planning_a_course_shows_dose_vials_dilution_and_calendar(page: Page, site: Site) -> None:
    patient_id = site.eligible()
    sign_in(page, "physician", target=f"/patients/{patient_id}/courses/new")
    expect(page.get_by_label("Weight")).to_have_value("70")
    page.get_by_label("First dose").fill("2026-12-14T08:00")
    page.get_by_role("button", name="Show the plan").click()
    preview = page.locator("#plan-preview")
    expect(preview).to_contain_text("42,000,000 IU")
    expect(preview).to_contain_text("per dose")
    expect(preview).to_contain_text("Cycle 2")
    shot(page, "plan-preview")

    page.get_by_role("button", name="Plan this course").click()
    expect(page.get_by_role("heading", name=re.compile("Course 1"))).to_be_visible()
    expect(page.locator(".calendar")).to_contain_text("Mon 14 Dec 2026")
    shot(page, "course")

    page.get_by_role("link", name=re.compile("What to expect")).click()
    expect(page.get_by_role("heading", name=re.compile("what to expect"))).to_be_visible()
    expect(page.locator("article")).to_contain_text("skipped")
    shot(page, "schedule")


def test_an_evening_first_dose_asks_how_each_cycle_ends_before_it_plans(
    page: Page, site: Site
) -> None:
    patient_id = site.eligible()
    sign_in(page, "physician", target=f"/patients/{patient_id}/courses/new")
    expect(page.get_by_label("Weight")).to_have_value("70")
    page.get_by_label("First dose").fill("2026-12-14T08:00")
    page.get_by_role("button", name="Show the plan").click()
    preview = page.locator("#plan-preview")
    expect(preview).to_contain_text("actual body weight")
    expect(preview).to_contain_text("planned, not promised")
    choice = page.get_by_role("group", name=re.compile("End of each cycle"))
    expect(choice).to_have_count(0)  # a daytime start fits every dose: nothing to choose

    page.get_by_label("First dose").fill("2026-12-14T20:00")
    page.get_by_role("button", name="Show the plan").click()
    expect(preview.get_by_role("alert")).to_contain_text("fits 13 of 14 doses in days 1-5")
    expect(choice).to_be_visible()
    expect(choice.get_by_role("radio")).to_have_count(2)  # the site asks: no default
    shot(page, "plan-cycle-end-choice")

    # Without a choice the course is not planned: the browser asks first (required), and the
    # server refuses a form sent without one, showing the choice on the page it sends back.
    token = page.locator('#plan-form input[name="csrf_token"]').get_attribute("value") or ""
    refused = page.request.post(
        f"/patients/{patient_id}/courses",
        form={"regimen": "hd-label", "weight_kg": "70", "first_dose": "2026-12-14T20:00",
              "csrf_token": token},
    )  # fmt: skip
    assert refused.status == 422
    assert 'name="cycle_end_rule"' in refused.text()
    assert "fits 13 of 14 doses in days 1-5" in refused.text()

    page.get_by_label(re.compile("Give every dose")).check()
    expect(page.locator("#plan-preview")).to_contain_text("dose 14 falls after day 5")
    expect(choice).to_contain_text("A first dose at 20:00 fits 13 of 14 doses in days 1")
    expect(choice).to_contain_text("dose 14 on day 6")
    expect(page.get_by_label(re.compile("Give every dose"))).to_be_checked()
    page.get_by_role("button", name="Plan this course").click()
    expect(page.get_by_role("heading", name=re.compile("Course 1"))).to_be_visible()
    expect(page.locator("main")).to_contain_text("dose count")
    expect(page.locator("main")).to_contain_text("chosen for this plan")
    expect(page.locator(".calendar")).to_contain_text("Sat 19 Dec 2026")

    page.get_by_role("link", name=re.compile("What to expect")).click()
    expect(page.locator("article")).to_contain_text("actual body weight")


def test_the_plan_preview_follows_the_last_change_while_an_earlier_one_is_still_answering(
    page: Page, site: Site
) -> None:
    """A slow server must not lose the physician's latest choice: the preview asked for by an
    earlier change is replaced by the newer one, not the newer one dropped."""
    patient_id = site.eligible()
    sign_in(page, "physician", target=f"/patients/{patient_id}/courses/new")
    page.get_by_label("First dose").fill("2026-12-14T20:00")
    page.get_by_role("button", name="Show the plan").click()
    preview = page.locator("#plan-preview")
    expect(preview.get_by_role("alert")).to_contain_text("fits 13 of 14 doses in days 1-5")

    held: list[Route] = []

    def hold_the_first(route: Route) -> None:
        if not held:
            held.append(route)  # left unanswered: this preview stays in flight
        else:
            route.continue_()

    page.route("**/courses/preview", hold_the_first)
    page.get_by_label("Weight").fill("71")
    page.get_by_label("Weight").press("Tab")  # a change: the form asks for a preview
    page.wait_for_timeout(1_000)  # past the form's 300 ms delay
    assert len(held) == 1
    page.get_by_label(re.compile("Give every dose")).check()
    expect(preview).to_contain_text("dose 14 falls after day 5")
    with contextlib.suppress(PlaywrightError):  # the browser has already given that request up
        held[0].continue_()
    page.unroute("**/courses/preview")


def test_a_dose_given_a_hold_for_sbp_86_and_a_refused_double_entry(
    page: Page, site: Site, ward_clock: MovableClock
) -> None:
    patient_id, course_id = site.with_course()
    at_dose(ward_clock, 1)
    sign_in(page, "nurse", target=dose_url(patient_id, course_id, 1, 1))

    assess(page, STABLE)
    decision = page.locator("#decision")
    expect(decision.locator("#decision-h")).to_contain_text("give")
    page.get_by_label("Given at").fill("2026-12-07T08:00")
    verify(page)
    shot(page, "bedside-give")
    page.get_by_role("button", name="Record dose given").click()
    expect(page.get_by_role("heading", name="Dose 1.1: given")).to_be_visible()
    expect(page.locator(".dose-record")).to_contain_text("nurse2")

    at_dose(ward_clock, 2)
    page.goto(dose_url(patient_id, course_id, 1, 2))
    assess(page, {**STABLE, "vitals.sbp_mmhg": "86"})
    expect(decision.locator("#decision-h")).to_contain_text("hold")
    expect(decision.locator(".reasons")).to_contain_text("systolic BP 86 mmHg")
    expect(decision.locator(".reasons")).to_contain_text("Label-2024")
    expect(page.get_by_role("button", name="Record dose given")).to_have_count(0)
    shot(page, "bedside-hold")
    page.get_by_role("button", name="Record dose held").click()
    expect(page.get_by_role("heading", name="Dose 1.2: held")).to_be_visible()

    at_dose(ward_clock, 3)  # a new shift: the session of 16 h ago has expired
    sign_in(page, "nurse", target=dose_url(patient_id, course_id, 1, 3))
    second = page.context.new_page()
    second.goto(dose_url(patient_id, course_id, 1, 3))
    for screen in (page, second):
        assess(screen, STABLE)
        expect(screen.locator("#decision-h")).to_contain_text("give")
        verify(screen)
    page.get_by_role("button", name="Record dose given").click()
    expect(page.get_by_role("heading", name="Dose 1.3: given")).to_be_visible()
    second.get_by_role("button", name="Record dose given").click()
    expect(second.get_by_role("heading", name="This dose is already recorded")).to_be_visible()
    expect(second.locator(".dose-record")).to_contain_text("Dose 1.3: given")
    expect(second.locator(".dose-record")).to_contain_text("nurse")
    shot(second, "bedside-conflict")


def test_a_physician_gives_a_held_dose_only_with_an_override_reason(
    page: Page, site: Site, ward_clock: MovableClock
) -> None:
    patient_id, course_id = site.with_course()
    at_dose(ward_clock, 1)
    sign_in(page, "physician", target=dose_url(patient_id, course_id, 1, 1))
    assess(page, {**STABLE, "vitals.sbp_mmhg": "86"})
    override = page.get_by_role("group", name="Physician override: give anyway")
    expect(override).to_be_visible()
    verify(override)
    override.get_by_role("button", name="Give with override").click()
    expect(page.locator("#error-summary")).to_contain_text("Override reason is missing")

    override = page.get_by_role("group", name="Physician override: give anyway")
    override.get_by_label("Second nurse: password").fill(PASSWORD)
    override.get_by_label("Reason for giving despite the decision").fill(
        "SBP 86 after a 500 mL bolus, asymptomatic; agreed with the ICU team"
    )
    override.get_by_role("button", name="Give with override").click()
    expect(page.get_by_role("heading", name="Dose 1.1: given")).to_be_visible()
    expect(page.locator(".dose-record")).to_contain_text("physician: SBP 86 after a 500 mL bolus")


def test_the_flowsheet_grades_assessments_and_plots_the_trend(
    page: Page, site: Site, ward_clock: MovableClock
) -> None:
    patient_id, course_id = site.with_course()
    at_dose(ward_clock, 1)
    sign_in(page, "nurse", target=dose_url(patient_id, course_id, 1, 1))
    assess(page, STABLE)
    page.get_by_label("Given at").fill("2026-12-07T08:00")
    verify(page)
    page.get_by_role("button", name="Record dose given").click()
    at_dose(ward_clock, 2)
    page.goto(dose_url(patient_id, course_id, 1, 2))
    assess(page, {**STABLE, "vitals.temperature_c": "39.2", "vitals.sbp_mmhg": "86"})
    page.get_by_role("button", name="Record dose held").click()
    expect(page.get_by_role("heading", name="Dose 1.2: held")).to_be_visible()

    page.goto(f"/patients/{patient_id}/flowsheet")
    page.get_by_label("Creatinine upper limit of normal").fill("1.1")
    page.get_by_role("button", name="Grade with these limits").click()
    table = page.locator("table.flowsheet")
    expect(table.locator("tbody tr")).to_have_count(2)
    expect(table).to_contain_text("86")
    expect(table.locator(".grade-2").first).to_be_visible()
    expect(page.locator("figure.plot svg")).to_have_count(1)

    fill(page, {"observed_on": "2026-12-07", "term": "fever", "value": "39.2", "unit": "c"})
    page.get_by_role("button", name="Grade and record").click()
    expect(page.locator("#toxicities")).to_be_visible()
    expect(page.locator("section[aria-labelledby=toxicities] table")).to_contain_text("Grade 2")
    shot(page, "flowsheet")


def test_two_scans_show_a_partial_response(page: Page, site: Site) -> None:
    patient_id = site.patient()
    sign_in(page, "physician", target=f"/patients/{patient_id}/response")
    fill(
        page,
        {
            "lesion0.id": "L1",
            "lesion0.organ": "lung",
            "lesion1.id": "L2",
            "lesion1.organ": "liver",
            "scan0.date": "2026-09-28",
            "scan0.lesion0": "30",
            "scan0.lesion1": "25",
            "scan1.date": "2026-11-30",
            "scan1.lesion0": "18",
            "scan1.lesion1": "15",
        },
    )
    page.get_by_label("Non-target lesions at baseline").select_option("absent")
    page.get_by_label("Non-target lesions at scan 2").select_option("absent")
    page.get_by_label("A CR or PR needs confirmation by a later scan").uncheck()
    page.get_by_role("button", name="Assess and save").click()
    expect(
        page.get_by_role("heading", name=re.compile("Best overall response: PR"))
    ).to_be_visible()
    rows = page.get_by_role("table", name="Time points").locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(1)).to_contain_text("-40")
    expect(rows.nth(1).locator(".badge")).to_have_text("PR")
    expect(page.locator("figure.plot svg")).to_have_count(2)
    expect(page.get_by_label("Lesion 1 diameter at scan 2 (mm)")).to_have_value("18")
    shot(page, "response")


def test_the_worklist_shows_patients_by_stage_and_todays_doses(page: Page, site: Site) -> None:
    patient_id, course_id = site.with_course()
    sign_in(page, "nurse", target="/worklist")
    expect(page.get_by_role("heading", name="Patients by stage")).to_be_visible()
    expect(page.locator("table.worklist caption").first).to_be_visible()
    today = page.locator("section[aria-labelledby=doses-today]")
    link = today.locator(f'a[href="{dose_url(patient_id, course_id, 1, 1)}"]')
    expect(link).to_have_text("Assess dose 1.1")
    shot(page, "worklist")
    link.click()
    expect(page.get_by_role("heading", name=re.compile("Before dose 1.1"))).to_be_visible()


def test_a_nurse_is_refused_an_administrator_page(page: Page) -> None:
    sign_in(page, "nurse", target="/admin")
    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("nurse (nurse) may not users.manage")


def test_an_administrator_adds_a_user_and_reads_the_audit_trail(page: Page) -> None:
    sign_in(page, "administrator", target="/admin")
    adding = page.locator("form", has=page.get_by_role("button", name="Add user"))
    fill(adding, {"username": "nurse3", "display_name": "Third Nurse", "role": "nurse"})
    adding.get_by_label("Initial password").fill("a long enough password")
    adding.get_by_role("button", name="Add user").click()
    expect(page.get_by_role("status")).to_contain_text("nurse3")
    expect(page.get_by_role("table", name="Accounts")).to_contain_text("nurse3")
    shot(page, "admin-users")
    page.get_by_role("link", name="Audit trail").first.click()
    expect(page.locator("table.audit")).to_contain_text("sign in")
    shot(page, "admin-audit")
    page.get_by_role("link", name="Site policy").first.click()
    expect(page.locator("table.policy")).to_contain_text("max_cycles_total")
    shot(page, "policy")


def test_a_researcher_reads_the_outcome_report(page: Page) -> None:
    sign_in(page, "researcher", target="/outcomes")
    expect(page.locator("svg").first).to_be_visible()
    expect(page.locator("body")).to_contain_text("Kaplan")
    shot(page, "outcomes")
