"""Outcome analysis of a 10-year demo program: its response rates against the label's figures."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from il2.api.answers import OutcomeSummary
from il2.bootstrap import build_app, upgrade_database
from il2.config import Settings
from il2.domain.deidentify import WITHHELD
from il2.services.accounts import actor_for_username
from il2.services.demo import build_demo
from il2.services.outcomes import report
from il2.web.core import templates
from il2.web.report import render_report

UNTIL = date(2026, 11, 1)
LABEL = {  # Proleukin label pools: RCC 37/255 (17 CR), melanoma 43/270 (17 CR)
    "renal_cell_carcinoma": {"orr": 37 / 255, "cr_rate": 17 / 255},
    "melanoma": {"orr": 43 / 270, "cr_rate": 17 / 270},
}

# Under pytest-xdist (`make unit`, --dist loadfile) the module runs on one worker, which builds
# the 10-year demo once for the session.


@pytest.fixture(scope="session")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str]:
    path: Path = tmp_path_factory.mktemp("demo") / "il2.sqlite3"
    app = build_app(Settings(database_url=f"sqlite:///{path}"))
    upgrade_database(app)
    build_demo(app.services, seed=11, years=10, until=UNTIL)
    researcher = actor_for_username(app.services, "demo-researcher")
    summary, figures = report(app.services, researcher, as_of=UNTIL)
    return summary, render_report(templates(app.services.rules), summary, figures)


@pytest.mark.parametrize("diagnosis", list(LABEL))
@pytest.mark.parametrize("rate", ["orr", "cr_rate"])
def test_the_demo_response_rates_agree_with_the_label_within_their_intervals(
    outcome: tuple[dict[str, Any], str], diagnosis: str, rate: str
) -> None:
    low, high = outcome[0]["by_diagnosis"][diagnosis][rate]["ci95"]
    assert low <= LABEL[diagnosis][rate] <= high


def test_the_report_has_the_contract_fields_and_the_four_plots(
    outcome: tuple[dict[str, Any], str],
) -> None:
    summary, html = outcome
    for diagnosis in LABEL:
        figures = summary["by_diagnosis"][diagnosis]
        assert {"patients", "orr", "cr_rate", "median_doses_per_cycle"} <= set(figures)
        assert 8 <= figures["median_doses_per_cycle"] <= 12
    years = summary["cycles_per_year"]
    full = [count for year, count in years.items() if "2017" < year < "2026"]
    assert all(50 <= count <= 85 for count in full), years
    assert summary["inpatient_days_per_year"]
    assert html.count("<svg") >= 4
    assert "http://" not in html.replace("http://www.w3.org", "")


def test_the_report_states_who_responds_with_its_method_and_selects_result(
    outcome: tuple[dict[str, Any], str],
) -> None:
    summary, html = outcome
    prediction = summary["prediction"]
    assert {"response", "survival", "method", "select_trial", "sources", "verdict"} <= set(
        prediction
    )
    assert "nested cross-validation" in prediction["method"]
    json.dumps(prediction, allow_nan=False)  # plain JSON: no NaN or infinity anywhere
    assert prediction["patients"]["with_baseline"] == prediction["patients"]["treated"] > 0
    for block in (prediction["response"], prediction["survival"]):
        assert block["verdict"] in {"signal", "no_evidence", "too_few"}
        assert block["verdict_text"] in prediction["verdict"]
    assert "Who responds: the program's own model" in html
    assert "SELECT (McDermott 2015)" in html
    assert "never enters the eligibility verdict" in html
    # the published scores, computed from the same baselines, are set beside the model
    for block, measure in ((prediction["response"], "auc"), (prediction["survival"], "c_index")):
        compared = {row["name"]: row for row in block["comparison"]}
        for score in ("IMDC (Heng) risk", "MSKCC (Motzer) risk", "Melanoma prognostic factors"):
            assert compared[score]["patients"] > 0, compared
            assert 0 <= compared[score][measure]["value"] <= 1
        assert "IMDC (Heng) risk" in html


def test_the_demo_report_analyses_the_demo_physicians_overrides_de_identified(
    outcome: tuple[dict[str, Any], str],
) -> None:
    summary, html = outcome
    OutcomeSummary.model_validate(summary)  # the API's answer model takes the summary
    overrides = summary["overrides"]
    assert 0 < overrides["overridden"] < overrides["holds"]
    assert len(overrides["overrides"]) == overrides["overridden"]
    assert {o["prescriber"] for o in overrides["overrides"]} == {
        row["key"] for row in overrides["by_prescriber"]
    }
    assert all(o["prescriber"].startswith("prescriber-") for o in overrides["overrides"])
    assert {o["reason"] for o in overrides["overrides"]} == {WITHHELD}
    assert sum(y["overridden"]["holds"] for y in overrides["by_year"]) == overrides["overridden"]
    assert "Overrides and what followed" in html
    assert overrides["method"][:40] in html
