"""`il2 ehr values` and `il2 refer --bundle` on a real SQLite file, the EHR being the FHIR peer."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from tests.e2e.test_cli_records import run
from tests.integration.builders import PATIENT, keep_course, staff
from tests.integration.test_ehr_import import MRN_SYSTEM, create, ehr_patient, observation

from il2.bootstrap import build_app, upgrade_database
from il2.config import Settings
from il2.domain.records import Role
from il2.services.patients import create_patient


def test_ehr_values_prints_the_offers_as_json_and_refer_registers_a_bundle(
    tmp_path: Path, fhir_peer_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = tmp_path / "ehr.sqlite3"
    mrn = f"C{uuid.uuid4().hex[:12]}"
    found = ehr_patient(fhir_peer_server, mrn)
    create(
        fhir_peer_server, observation(found["id"], "8480-6", "2025-01-07T06:00:00Z", 109, "mm[Hg]")
    )
    app = build_app(Settings(database_url=f"sqlite:///{database}"))
    upgrade_database(app)
    people = staff(app)
    patient = create_patient(app.services, people[Role.PHYSICIAN], PATIENT | {"mrn": mrn}).id
    course = keep_course(app.services, patient, regimen="hd-label")
    app.engine.dispose()
    monkeypatch.setenv("IL2_EHR_FHIR_URL", fhir_peer_server)

    values = run("ehr", "values", "--course", str(course), "--cycle", "1", "--dose", "1",
                 "--user", "nurse", database=database)  # fmt: skip

    assert values.returncode == 0, values.stderr
    document = json.loads(values.stdout)
    assert document["fill"]["vitals.sbp_mmhg"] == "109"
    assert document["offers"][0]["effective"] == "2025-01-07T06:00:00+00:00"

    other = f"C{uuid.uuid4().hex[:12]}"
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"fullUrl": "urn:uuid:0c3e1d2a-4f5b-4c6d-8e9f-0a1b2c3d4e5f", "resource": {
                "resourceType": "Patient", "identifier": [{"system": MRN_SYSTEM, "value": other}],
                "name": [{"text": "Lin Hale"}], "birthDate": "1970-05-06", "gender": "male"}},
            {"resource": {"resourceType": "Condition", "code": {"text": "renal cell carcinoma"},
                          "subject": {"reference": "urn:uuid:0c3e1d2a-4f5b-4c6d-8e9f-0a1b2c3d4e5f"}}},
        ],
    }  # fmt: skip
    referred = run("refer", "--bundle", "-", "--user", "coordinator", database=database,
                   stdin=json.dumps(bundle))  # fmt: skip

    assert referred.returncode == 0, referred.stderr
    assert json.loads(referred.stdout)["diagnosis"] == "renal_cell_carcinoma"
    bundle["entry"][0]["resource"]["birthDate"] = "1970"  # type: ignore[index]
    refused = run("refer", "--bundle", "-", "--user", "coordinator", database=database,
                  stdin=json.dumps(bundle))  # fmt: skip
    assert refused.returncode == 2
    assert "Bundle.entry[0].resource.birthDate" in refused.stderr
