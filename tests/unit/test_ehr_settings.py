"""The EHR's settings: read from the environment, checked by the composition root."""

from __future__ import annotations

from pathlib import Path

import pytest

from il2.bootstrap import ehr_records
from il2.config import Settings


def test_no_url_means_no_ehr() -> None:
    assert ehr_records(Settings.from_environment({})) is None


def test_the_url_and_the_token_file_are_read_and_the_token_never_shown(tmp_path: Path) -> None:
    token = tmp_path / "ehr.token"
    token.write_text("s3cret-token\n", encoding="utf-8")
    settings = Settings.from_environment(
        {"IL2_EHR_FHIR_URL": "https://ehr.example.org/fhir/", "IL2_EHR_TOKEN_FILE": str(token)}
    )

    ehr = ehr_records(settings)

    assert ehr is not None
    assert ehr.where == "https://ehr.example.org/fhir"
    assert "s3cret" not in repr(settings)
    assert "s3cret" not in repr(ehr)


@pytest.mark.parametrize("url", ["ftp://ehr.example.org/fhir", "ehr.example.org/fhir"])
def test_a_url_that_is_not_http_stops_il2_at_start(url: str) -> None:
    with pytest.raises(ValueError, match="IL2_EHR_FHIR_URL"):
        ehr_records(Settings.from_environment({"IL2_EHR_FHIR_URL": url}))


def test_an_unreadable_token_file_stops_il2_at_start(tmp_path: Path) -> None:
    settings = Settings.from_environment(
        {
            "IL2_EHR_FHIR_URL": "https://ehr.example.org/fhir",
            "IL2_EHR_TOKEN_FILE": str(tmp_path / "missing"),
        }
    )
    with pytest.raises(ValueError, match="IL2_EHR_TOKEN_FILE"):
        ehr_records(settings)
