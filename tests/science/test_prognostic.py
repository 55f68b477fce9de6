"""Synthetic patients' prognostic factors: one factor per diagnosis depends on response as cited,
the rest do not, and every drawn document is a valid screening that keeps its verdict."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from decimal import Decimal
from importlib import resources
from statistics import median

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import binomtest, fisher_exact

from il2.domain.errors import InvalidInputError, RuleTableError
from il2.domain.findings import Value, read_findings
from il2.rules.loader import RuleSet
from il2.science.dataset import DIAGNOSES, RESPONDERS, Diagnosis, Program
from il2.science.simulation import (
    known_dependence,
    parse_simulation,
    prognostic_findings,
    screening_findings,
)
from il2.science.synthetic import synthetic_program
from il2.services.screening import screen_candidate

GOOD = resources.files("il2.science").joinpath("data", "simulation.toml").read_text("utf-8")
Findings = Mapping[str, Value]


@pytest.fixture(scope="module")
def program() -> Program:
    return synthetic_program(patients=4000, rng=np.random.default_rng(21))


def _groups(program: Program, diagnosis: Diagnosis) -> tuple[list[Findings], list[Findings]]:
    """The baselines of evaluable responders and non-responders of `diagnosis`."""
    best = {r.patient_id: r.best_overall_response for r in program.responses}
    of = {p.patient_id: p.diagnosis for p in program.patients}
    responders: list[Findings] = []
    others: list[Findings] = []
    for baseline in program.baselines:
        response = best.get(baseline.patient_id, "NE")
        if of[baseline.patient_id] != diagnosis or response == "NE":
            continue
        (responders if response in RESPONDERS else others).append(baseline.findings)
    return responders, others


def test_melanomas_counts_are_the_only_ones_that_give_phans_three_percentages() -> None:
    # Phan 2001: 374 patients, ORR 15.5%; 53.6% with skin or subcutaneous disease only, 12.4%
    # with other sites (il2 clinical reference, section 10)
    found = [
        (skin_responders, skin, responders)
        for responders in range(375)
        if round(100 * responders / 374, 1) == 15.5
        for skin in range(1, 374)
        for skin_responders in range(min(skin, responders) + 1)
        if round(100 * skin_responders / skin, 1) == 53.6
        and round(100 * (responders - skin_responders) / (374 - skin), 1) == 12.4
    ]
    assert found == [(15, 28, 58)]
    melanoma = known_dependence("melanoma")
    assert (melanoma.responders_with, melanoma.responders) == (15, 58)
    assert (melanoma.non_responders_with, melanoma.non_responders) == (28 - 15, 374 - 58)


def test_ca_ix_is_atkins_counts_and_gives_his_odds_ratio() -> None:
    rcc = known_dependence("renal_cell_carcinoma")
    counts = (rcc.responders_with, rcc.responders, rcc.non_responders_with, rcc.non_responders)
    assert counts == (21, 27, 20, 39)
    assert rcc.above == 85
    assert round(rcc.odds_ratio, 1) == 3.3
    assert rcc.auc == pytest.approx((21 / 27 + 19 / 39) / 2)
    assert rcc.status == "cited"
    assert known_dependence("melanoma").status == "derived"


def test_an_unknown_diagnosis_has_no_known_dependence() -> None:
    with pytest.raises(InvalidInputError):
        known_dependence("glioma")  # type: ignore[arg-type]


@pytest.mark.parametrize("diagnosis", DIAGNOSES)
def test_the_synthetic_factor_shares_are_the_cited_ones(
    program: Program, diagnosis: Diagnosis
) -> None:
    dependence = known_dependence(diagnosis)
    responders, others = _groups(program, diagnosis)
    assert len(responders) > 100
    for group, cited in (
        (responders, dependence.p_responder),
        (others, dependence.p_non_responder),
    ):
        shown = sum(bool(dependence.present(findings)) for findings in group)
        low, high = binomtest(shown, len(group), cited).proportion_ci(0.99, method="exact")
        assert low <= cited <= high, (diagnosis, shown, len(group), cited)


def _binary(name: str, test: Callable[[Findings], bool]) -> tuple[str, Callable[[Findings], bool]]:
    return name, test


def _numbers(field: str) -> Callable[[list[Findings]], Callable[[Findings], bool]]:
    """Above the pooled median of a numeric field (so an exact test can compare the groups)."""

    def split(pooled: list[Findings]) -> Callable[[Findings], bool]:
        middle = median(Decimal(str(f[field])) for f in pooled)
        return lambda findings: Decimal(str(findings[field])) > middle

    return split


NUMERIC = (
    "karnofsky",
    "labs.ldh_u_l",
    "labs.neutrophils_per_ul",
    "labs.calcium_mg_dl",
    "labs.albumin_g_dl",
    "history.months_since_diagnosis",
)
BINARY: dict[Diagnosis, tuple[tuple[str, Callable[[Findings], bool]], ...]] = {
    "renal_cell_carcinoma": (
        _binary("nephrectomy", lambda f: f["history.nephrectomy"] is True),
        _binary("sarcomatoid", lambda f: f["tumour.sarcomatoid"] is True),
        _binary("clear cell", lambda f: f["tumour.histology"] == "clear_cell"),
        _binary("earlier anti-PD-1", lambda f: "anti_pd1" in f["history.prior_therapies"]),  # type: ignore[operator]
        _binary("earlier VEGF TKI", lambda f: "vegf_tki" in f["history.prior_therapies"]),  # type: ignore[operator]
        _binary("lung metastases", lambda f: "lung" in f["tumour.sites"]),  # type: ignore[operator]
        _binary("ECOG 0", lambda f: f["ecog"] == 0),
    ),
    "melanoma": (
        _binary("cutaneous", lambda f: f["tumour.histology"] == "cutaneous_melanoma"),
        _binary("earlier anti-PD-1", lambda f: "anti_pd1" in f["history.prior_therapies"]),  # type: ignore[operator]
        _binary("earlier anti-CTLA-4", lambda f: "anti_ctla4" in f["history.prior_therapies"]),  # type: ignore[operator]
        _binary("ECOG 0", lambda f: f["ecog"] == 0),
    ),
}


@pytest.mark.parametrize("diagnosis", DIAGNOSES)
def test_the_factors_declared_independent_show_no_dependence_on_response(
    program: Program, diagnosis: Diagnosis
) -> None:
    responders, others = _groups(program, diagnosis)
    pooled = responders + others
    tests = [*BINARY[diagnosis], *((field, _numbers(field)(pooled)) for field in NUMERIC)]
    for name, test in tests:
        table = [
            [sum(test(f) for f in group), sum(not test(f) for f in group)]
            for group in (responders, others)
        ]
        assert fisher_exact(table).pvalue > 0.01, (diagnosis, name, table)


def test_the_known_factor_does_show_a_dependence(program: Program) -> None:
    # the same exact test as above, on the factor drawn by response: it must be able to fail
    for diagnosis in DIAGNOSES:
        dependence = known_dependence(diagnosis)
        responders, others = _groups(program, diagnosis)
        table = [
            [sum(bool(dependence.present(f)) for f in group),
             sum(not dependence.present(f) for f in group)]
            for group in (responders, others)
        ]  # fmt: skip
        assert fisher_exact(table).pvalue < 0.001, (diagnosis, table)


def test_every_treated_patient_has_one_baseline_before_the_first_dose(program: Program) -> None:
    treated = {p.patient_id for p in program.patients if p.treated}
    assert {b.patient_id for b in program.baselines} == treated
    first = {c.patient_id: c.first_dose_on for c in program.courses if c.number == 1}
    assert all(b.screened_on < first[b.patient_id] for b in program.baselines)


@given(seed=st.integers(0, 2**32), diagnosis=st.sampled_from(DIAGNOSES))
def test_response_never_changes_a_factor_other_than_the_known_one(
    seed: int, diagnosis: Diagnosis
) -> None:
    drawn = {
        responder: prognostic_findings(
            random.Random(seed),  # noqa: S311 - a simulation's generator
            diagnosis,
            responder=responder,
        )
        for responder in (True, False)
    }
    for document in drawn.values():
        document["tumour"].pop("ca_ix_pct" if diagnosis == "renal_cell_carcinoma" else "sites")
        document["tumour"].pop("m_stage", None)  # melanoma's M category follows its sites
    assert drawn[True] == drawn[False]


@given(
    seed=st.integers(0, 2**32),
    diagnosis=st.sampled_from(DIAGNOSES),
    age=st.integers(28, 72),
    responder=st.booleans(),
)
def test_the_factors_are_valid_screening_fields_and_never_change_the_verdict(
    rules: RuleSet,
    seed: int,
    diagnosis: Diagnosis,
    age: int,
    responder: bool,  # noqa: FBT001 - drawn by hypothesis
) -> None:
    rng = random.Random(seed)  # noqa: S311 - a simulation's generator
    work_up = screening_findings(rng, diagnosis, age)
    factors = prognostic_findings(
        rng,
        diagnosis,
        responder=responder,
        ecog=work_up["ecog"],
        wbc_per_ul=work_up["labs"]["wbc_per_ul"],
    )
    assert set(factors) <= {"karnofsky", "labs", "history", "tumour"}
    merged = {**work_up, **factors, "labs": {**work_up["labs"], **factors["labs"]}}
    findings = read_findings(merged, rules.screening_fields)
    karnofsky = findings["karnofsky"]
    assert {0: 90, 1: 70, 2: 50}[work_up["ecog"]] <= karnofsky <= 100  # type: ignore[operator]
    before = screen_candidate(rules, work_up)
    after = screen_candidate(rules, merged)
    assert after.verdict == before.verdict


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (('status = "cited"\nsource = "Atkins', 'status = "guess"\nsource = "Atkins'), "status"),
        (("responders_with = 21", "responders_with = 28"), "responders_with"),
        (("clear_cell = 0.96", "clear_cell = 0.9"), "histology.renal_cell_carcinoma"),
        (("ldh_u_l = [120, 420]", "ldh_u_l = [420, 120]"), "independent.ldh_u_l"),
        (("ecog_1 = [70, 80]", "ecog_1 = [75, 80]"), "karnofsky.ecog_1"),
        (('only = ["skin_subcutaneous"]\n', ""), "above_pct"),
        (('field = "tumour.sites"', 'field = "tumour.m_stage"'), "melanoma.dependence.field"),
    ],
)
def test_a_bad_prognostic_table_fails_naming_the_field(change: tuple[str, str], field: str) -> None:
    assert change[0] in GOOD
    with pytest.raises(RuleTableError) as raised:
        parse_simulation(GOOD.replace(*change, 1))
    assert field in raised.value.field
