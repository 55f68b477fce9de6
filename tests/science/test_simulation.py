"""The simulation's proportions are cited data, and every term it draws is a CTCAE term."""

from __future__ import annotations

from importlib import resources

import pytest

from il2.domain.errors import RuleTableError
from il2.rules.loader import load_rules
from il2.science.dataset import DIAGNOSES
from il2.science.label import label_efficacy
from il2.science.simulation import (
    SIMULATED_REGIMEN,
    parse_simulation,
    proportions,
    response_proportions,
)

GOOD = resources.files("il2.science").joinpath("data", "simulation.toml").read_text("utf-8")


def test_every_toxicity_is_a_ctcae_term_with_a_source() -> None:
    terms = load_rules().ctcae.terms
    for rate in proportions().toxicities:
        assert rate.term in terms
        assert rate.source.strip()


def test_the_simulated_regimen_is_in_the_rules() -> None:
    assert SIMULATED_REGIMEN in load_rules().regimens


def test_complete_and_partial_responses_are_the_labels() -> None:
    for diagnosis in DIAGNOSES:
        label = label_efficacy()[diagnosis]
        cr, pr, sd, pd = response_proportions(diagnosis)
        assert (cr, pr) == (label.complete / label.patients, label.partial / label.patients)
        assert sd == proportions().stable_disease
        assert cr + pr + sd + pd == pytest.approx(1)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (("grades = [0.25, 0.35, 0.35, 0.05, 0.0]", "grades = [0.5, 0.5]"), "hypotension.grades"),
        (("incidence = 0.71", "incidence = 7.1"), "hypotension.incidence"),
        (('source = "Label table: hypotension 71%"\n', ""), "hypotension.source"),
        (("stable_disease = 0.25", "stable_disease = 1.25"), "responses.stable_disease"),
        (("median_os_months = 41.0", "median_os_month = 41.0"), "renal_cell_carcinoma"),
    ],
)
def test_a_bad_file_fails_naming_the_field(change: tuple[str, str], field: str) -> None:
    with pytest.raises(RuleTableError) as raised:
        parse_simulation(GOOD.replace(*change, 1))
    assert field in raised.value.field


def test_a_syntax_error_names_the_file() -> None:
    with pytest.raises(RuleTableError, match=r"simulation\.toml"):
        parse_simulation("[responses")
