"""The worklist page's per-stage totals count every matching patient, not the page shown."""

from __future__ import annotations

import re

from fastapi import FastAPI
from tests.integration.builders import PASSWORD, PATIENT, screen_eligible, staff
from tests.web_client import FormClient

from il2.bootstrap import App
from il2.domain.records import Role
from il2.services.patients import create_patient
from il2.web.app import web_router
from il2.web.pages.worklist import PAGE

SCREENED = 3


def _totals(html: str) -> dict[str, int]:
    return {
        stage: int(n.replace(",", ""))
        for stage, n in re.findall(r'data-stage="([a-z_]+)">([\d,]+)<', html)
    }


def test_stage_totals_count_every_page_and_follow_the_search(app: App) -> None:
    doctor = staff(app)[Role.PHYSICIAN]
    for n in range(PAGE + 2):
        create_patient(app.services, doctor, {**PATIENT, "mrn": f"MRN-{n:03}", "name": f"P {n}"})
    for n in range(SCREENED):
        found = create_patient(
            app.services, doctor, {**PATIENT, "mrn": f"SCR-{n}", "name": f"Screened {n}"}
        )
        screen_eligible(app.services, doctor, found.id)
    site = FastAPI()
    site.include_router(web_router(app))
    with FormClient(site, follow_redirects=False) as client:
        signed = client.post("/sign-in", data={"username": "nurse", "password": PASSWORD})
        assert signed.status_code == 303
        first = client.get("/worklist")
        assert first.status_code == 200
        assert _totals(first.text) == {"referred": PAGE + 2, "screening": SCREENED}
        assert f"of {PAGE + 2 + SCREENED} patients" in first.text
        later = client.get(f"/worklist?offset={PAGE}")
        assert _totals(later.text) == _totals(first.text)
        searched = client.get("/worklist?q=scr")
        assert _totals(searched.text) == {"screening": SCREENED}
        assert f"of {SCREENED} patients whose name or MRN contains" in searched.text
