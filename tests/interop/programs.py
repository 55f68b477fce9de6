"""Program records the FHIR facade's tests read, built through il2's API as a site would.

`treat` gives a patient an hd-label course (a dose given, one held for a low systolic pressure,
one that discontinues the course) and an outpatient sc-eu course with a self-injection diary
(one injection taken, one missed); `toxicity_and_response` adds a toxicity graded 2 then
corrected to 3, and a RECIST partial response. `Program` reads the result through /fhir.
"""

from __future__ import annotations

import socket
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import uvicorn
from fhir.resources.R4B.bundle import Bundle

from il2.bootstrap import App
from il2.domain.deidentify import study_number
from il2.server import create_server
from tests.e2e.test_api import screen_eligible, sign_in
from tests.integration.builders import (
    PASSWORD,
    PATIENT,
    keep_course,
    partial_response_so_far,
    stable_assessment,
    taken_report,
)
from tests.integration.conftest import FixedClock

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

HD_FIRST_DOSE = "2026-12-07T08:00:00-08:00"  # the test clock's now, 08:00 at the site


@dataclass
class Program:
    """A treated patient read through the FHIR facade (`client` serves `app`)."""

    client: TestClient
    app: App
    patient_id: int
    hd_course: int
    sc_course: int
    tokens: dict[str, dict[str, str]] = field(default_factory=dict)

    def headers(self, role: str) -> dict[str, str]:
        """A bearer token for `role`, signed in once."""
        if role not in self.tokens:
            self.tokens[role] = sign_in(self.client, role)
        return self.tokens[role]

    def get(self, path: str, role: str = "physician", **params: Any) -> Any:
        answer = self.client.get(f"/fhir/{path}", params=params, headers=self.headers(role))
        assert answer.status_code == 200, answer.text
        return answer.json()

    def search(self, kind: str, role: str = "physician", **params: Any) -> list[dict[str, Any]]:
        """The resources of one search by this patient (its study number for a researcher)."""
        bundle = self.get(kind, role, patient=f"Patient/{self.fhir_id(role)}", **params)
        Bundle.model_validate(bundle)
        return [e["resource"] for e in bundle.get("entry", [])]

    def fhir_id(self, role: str) -> str:
        """The patient's FHIR id as `role` reads it."""
        return self.study_id if role == "researcher" else str(self.patient_id)

    @property
    def study_id(self) -> str:
        return study_number(self.patient_id, key=self.app.services.study_key)


def _dose(client: TestClient, course: int, number: int, **body: Any) -> None:
    answer = client.post(
        f"/api/courses/{course}/doses",
        headers=sign_in(client, "nurse"),
        json={"cycle": 1, "dose_number": number, **body},
    )
    assert answer.status_code == 201, answer.text


def treat(client: TestClient, app: App, clock: FixedClock) -> Program:
    """A patient screened eligible (ECOG 0), an hd-label course given, held (SBP 85) and
    discontinued (sustained VT), and a kept sc-eu course whose diary has a dose taken and one
    missed. `app` must keep subcutaneous courses (`builders.outpatient_app`); the clock moves
    on 16 hours."""
    physician = sign_in(client, "physician")
    patient_id = client.post("/api/patients", json=PATIENT, headers=physician).json()["id"]
    screen_eligible(client, patient_id, physician)
    planned = client.post(
        f"/api/patients/{patient_id}/courses",
        json={"regimen": "hd-label", "weight_kg": 70, "first_dose": HD_FIRST_DOSE},
        headers=physician,
    )
    assert planned.status_code == 201, planned.text
    hd_course = planned.json()["id"]
    _dose(client, hd_course, 1, assessment=stable_assessment(), given_at=HD_FIRST_DOSE,
          verified_by="nurse2", verifier_password=PASSWORD)  # fmt: skip
    clock.now += timedelta(hours=8)
    low = stable_assessment()
    low["vitals"]["sbp_mmhg"] = 85
    _dose(client, hd_course, 2, assessment=low)
    clock.now += timedelta(hours=8)
    arrhythmia = stable_assessment()
    arrhythmia["vitals"]["rhythm"] = "sustained_vt"
    _dose(client, hd_course, 3, assessment=arrhythmia)
    # an outpatient course kept through the repository, as the diary tests keep one
    sc_course = keep_course(app.services, patient_id, number=2)
    diary = f"/api/courses/{sc_course}/diary"
    for report in (
        taken_report(1),
        {"cycle": 1, "dose_number": 2, "status": "missed", "reported_by": "patient",
         "missed_reason": "no syringes"},
    ):  # fmt: skip
        answer = client.post(diary, json=report, headers=sign_in(client, "nurse"))
        assert answer.status_code == 201, answer.text
    return Program(client, app, patient_id, hd_course, sc_course)


def platelets(count: int) -> dict[str, Any]:
    """A CTCAE v5.0 finding of a platelet count, per microlitre."""
    return {"ctcae_version": "5.0",
            "findings": [{"term": "platelet_count_decreased", "value": count, "unit": "per_ul"}]}  # fmt: skip


def toxicity_and_response(client: TestClient, patient_id: int, course_id: int) -> None:
    """A toxicity observed on 2026-12-07, graded 2 then corrected to 3 (misread count), and a
    RECIST partial response so far, both for `course_id`."""
    nurse, physician = sign_in(client, "nurse"), sign_in(client, "physician")
    first = client.post(f"/api/patients/{patient_id}/toxicities", headers=nurse,
                        json={"observed_on": "2026-12-07", "course_id": course_id,
                              "findings": platelets(60000)})  # fmt: skip
    assert first.status_code == 201, first.text
    fixed = client.post(f"/api/patients/{patient_id}/entries/{first.json()['id']}/corrections",
                        headers=physician, json={"content": platelets(40000),
                                                 "reason": "misread the count"})  # fmt: skip
    assert fixed.status_code == 201, fixed.text
    response = client.post(f"/api/patients/{patient_id}/responses", headers=physician,
                           json={"course_id": course_id,
                                 "measurements": partial_response_so_far()})  # fmt: skip
    assert response.status_code == 201, response.text


@contextmanager
def live(app: App) -> Iterator[str]:
    """il2's server on a free local port, in a thread, for clients that speak real HTTP; yields
    its root URL (http://127.0.0.1:PORT)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        create_server(app), log_level="warning", lifespan="off", ws="none", http="h11",
        access_log=False,
    )  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start in time"
        assert thread.is_alive(), "the server stopped while starting"
        time.sleep(0.02)
    host, port = sock.getsockname()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        sock.close()


def people(count: int) -> list[dict[str, Any]]:
    """`count` referrals, MRN-0001 onwards, each named Ada Number<n>."""
    return [
        {**PATIENT, "mrn": f"MRN-{n:04d}", "name": f"Ada Number{n}"} for n in range(1, count + 1)
    ]


def register(client: TestClient, referrals: list[dict[str, Any]]) -> list[int]:
    """Register each referral through the API as the physician; their ids, in order."""
    physician = sign_in(client, "physician")
    ids = []
    for person in referrals:
        answer = client.post("/api/patients", json=person, headers=physician)
        assert answer.status_code == 201, answer.text
        ids.append(answer.json()["id"])
    return ids
