"""The responder and survival models on generated data whose dependence on the factors is known."""

from __future__ import annotations

import math
import warnings
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter  # type: ignore[import-untyped]
from lifelines.utils import concordance_index  # type: ignore[import-untyped]
from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]

from il2.domain.errors import InvalidInputError, RuleTableError
from il2.science.dataset import Baseline, Course, Patient, Program, Response
from il2.science.prediction import (
    Feature,
    Preparation,
    ResponderModel,
    SurvivalModel,
    Validation,
    _preprocess,
    analyse,
    feature_value,
    harrell_c,
    parse_spec,
    prediction_spec,
    response_analysis,
    ridge_cox,
    ridge_logistic,
    sample_patients,
    survival_analysis,
)
from il2.science.simulation import known_dependence
from il2.science.synthetic import synthetic_program

QUICK = Validation(bootstrap=400, coefficient_bootstrap=100)
FACTOR = Feature(id="factor", label="The factor", kind="number", field="factor", source="test")
NOISE = Feature(id="noise", label="Noise", kind="number", field="noise", source="test")
BASE_RATE, ODDS_RATIO, PREVALENCE = 0.15, 5.0, 0.5


def _one_factor(seed: int, n: int = 400) -> tuple[np.ndarray, np.ndarray]:
    """A yes/no factor with a known odds ratio of response, and a noise column (10% missing)."""
    rng = np.random.default_rng(seed)
    factor = (rng.random(n) < PREVALENCE).astype(float)
    odds = BASE_RATE / (1 - BASE_RATE) * ODDS_RATIO**factor
    y = (rng.random(n) < odds / (1 + odds)).astype(float)
    noise = rng.normal(size=n)
    noise[rng.random(n) < 0.1] = np.nan
    return np.column_stack([factor, noise]), y


def _known_auc() -> float:
    """The AUC of the factor itself, from the generating probabilities."""
    odds = BASE_RATE / (1 - BASE_RATE) * ODDS_RATIO
    p_exposed = odds / (1 + odds)
    responders_exposed = PREVALENCE * p_exposed
    responders = responders_exposed + (1 - PREVALENCE) * BASE_RATE
    p1 = responders_exposed / responders  # P(factor | responder)
    p0 = PREVALENCE * (1 - p_exposed) / (1 - responders)  # P(factor | non-responder)
    return p1 * (1 - p0) + 0.5 * (p1 * p0 + (1 - p1) * (1 - p0))


def _analysis(x: np.ndarray, y: np.ndarray, seed: int = 0) -> dict[str, Any]:
    return response_analysis(
        x, y, [FACTOR, NOISE], validation=QUICK, rng=np.random.default_rng(seed)
    )


@pytest.fixture(scope="module")
def known() -> dict[str, Any]:
    return _analysis(*_one_factor(1))


def test_the_out_of_fold_auc_interval_covers_the_auc_the_data_were_made_with(
    known: dict[str, Any],
) -> None:
    low, high = known["auc"]["ci95"]
    assert low <= _known_auc() <= high
    assert known["verdict"] == "signal"


def test_the_factor_raises_the_odds_of_response_and_its_interval_excludes_no_effect(
    known: dict[str, Any],
) -> None:
    factor = next(c for c in known["coefficients"] if c["feature"] == "factor")
    assert factor["ratio"] > 1
    assert factor["ci95"][0] > 1


def test_calibration_groups_cover_every_patient_and_the_model_beats_no_model(
    known: dict[str, Any],
) -> None:
    bins = known["calibration"]["bins"]
    assert sum(b["patients"] for b in bins) == known["patients"]
    assert sum(b["events"] for b in bins) == known["events"]
    assert known["brier"]["model"] < known["brier"]["no_model"]
    assert 0.5 < known["calibration"]["slope"] < 2.0
    names = [row["name"] for row in known["comparison"]]
    assert names[0].startswith("No model")
    assert names[1].startswith("This model")


@pytest.mark.parametrize("seed", [2, 3, 4])
def test_data_with_no_signal_give_no_evidence_the_model_discriminates(seed: int) -> None:
    x, _ = _one_factor(seed)
    y = (np.random.default_rng(seed + 100).random(len(x)) < 0.3).astype(float)
    result = _analysis(x, y, seed)
    assert result["verdict"] == "no_evidence"
    assert result["auc"]["ci95"][0] <= 0.5


def test_too_few_responders_say_so_with_the_counts_and_fit_nothing() -> None:
    x, _ = _one_factor(5, n=120)
    y = np.zeros(len(x))
    y[:8] = 1
    result = _analysis(x, y)
    assert result["verdict"] == "too_few"
    # two features and a missing indicator: three columns, 10 events each with the defaults
    assert (result["events"], result["columns"], result["events_needed"]) == (8, 3, 30)
    assert "auc" not in result


def test_the_same_data_and_seed_give_the_same_numbers() -> None:
    x, y = _one_factor(6, n=200)
    assert _analysis(x, y, seed=9) == _analysis(x, y, seed=9)


def test_a_published_score_is_compared_on_the_patients_with_a_complete_score(
    known: dict[str, Any],
) -> None:
    x, y = _one_factor(1)
    points = np.where(x[:, 0] > 0, 0.0, 2.0)  # fewer adverse points with the factor
    points[:40] = np.nan
    result = response_analysis(
        x,
        y,
        [FACTOR, NOISE],
        validation=QUICK,
        rng=np.random.default_rng(0),
        scores={"score": points},
    )
    row = result["comparison"][-1]
    assert (row["name"], row["patients"], row["left_out"]) == ("score", 360, 40)
    assert row["auc"]["value"] > 0.5


def test_the_responder_model_follows_the_estimator_contract() -> None:
    x, y = _one_factor(7, n=200)
    model = ResponderModel(rng=np.random.default_rng(1))
    with pytest.raises(InvalidInputError):
        model.predict_proba(x)
    assert model.fit(x, y) is model
    assert model.penalty_ in model.c_grid
    assert model.coef_.shape == (3,)  # two features and the noise's missing indicator
    again = ResponderModel(rng=np.random.default_rng(1)).fit(x, y)
    assert np.array_equal(model.predict_proba(x), again.predict_proba(x))
    assert ((model.predict_proba(x) > 0) & (model.predict_proba(x) < 1)).all()


def test_the_survival_model_follows_the_estimator_contract_and_finds_a_known_hazard() -> None:
    rng = np.random.default_rng(8)
    x, _ = _one_factor(8, n=300)
    time = rng.exponential(np.where(x[:, 0] > 0, 6.0, 12.0))  # hazard ratio 2
    death = (rng.random(len(x)) < 0.8).astype(float)
    model = SurvivalModel(rng=np.random.default_rng(2))
    with pytest.raises(InvalidInputError):
        model.predict_risk(x)
    assert model.fit(x, np.column_stack([time, death])) is model
    assert model.penalizer_ in model.penalizer_grid
    result = survival_analysis(
        x, time, death, [FACTOR, NOISE], validation=QUICK, rng=np.random.default_rng(3)
    )
    assert result["verdict"] == "signal"
    factor = next(c for c in result["coefficients"] if c["feature"] == "factor")
    assert factor["ci95"][0] > 1


def test_the_numpy_preparation_is_the_pipelines() -> None:
    x, _ = _one_factor(9, n=100)
    x[:, 0][:5] = np.nan
    mine = Preparation.of(x).apply(x)
    assert np.allclose(mine, _preprocess().fit(x).transform(x))


def test_the_bootstrap_logistic_fit_is_scikit_learns() -> None:
    x, y = _one_factor(10, n=200)
    design = Preparation.of(x).apply(x)
    theirs = LogisticRegression(C=0.3).fit(design, y)
    mine = ridge_logistic(design, y, c=0.3)
    assert np.allclose(mine[1:], theirs.coef_[0], atol=1e-4)
    assert math.isclose(mine[0], theirs.intercept_[0], abs_tol=1e-4)


@pytest.mark.parametrize("penalizer", [0.0, 0.1])
def test_the_ridge_cox_fit_agrees_with_lifelines(penalizer: float) -> None:
    rng = np.random.default_rng(11)
    x = rng.normal(size=(150, 2))
    x = (x - x.mean(0)) / x.std(0)
    time = rng.exponential(np.exp(-0.7 * x[:, 0]))
    death = (rng.random(150) < 0.7).astype(float)
    frame = pd.DataFrame(x, columns=["a", "b"]).assign(T=time, E=death)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lifelines calls pandas in a way pandas 4 will refuse
        theirs = CoxPHFitter(penalizer=penalizer).fit(frame, "T", "E").params_.to_numpy()
        c_theirs = concordance_index(time, -x[:, 0], death)
    assert np.allclose(ridge_cox(x, time, death, penalizer=penalizer), theirs, rtol=0.02)
    assert math.isclose(harrell_c(time, death, x[:, 0]) or 0, c_theirs)


@pytest.mark.parametrize(
    ("kind", "findings", "diagnosis", "expected"),
    [
        ("ca_ix_high", {"tumour.ca_ix_pct": Decimal(85)}, "renal_cell_carcinoma", 0.0),
        ("ca_ix_high", {"tumour.ca_ix_pct": Decimal("85.5")}, "renal_cell_carcinoma", 1.0),
        ("ca_ix_high", {}, "renal_cell_carcinoma", math.nan),
        ("ca_ix_high", {}, "melanoma", 0.0),
        (
            "skin_subcutaneous_only",
            {"tumour.sites": frozenset({"skin_subcutaneous"})},
            "melanoma",
            1.0,
        ),
        (
            "skin_subcutaneous_only",
            {"tumour.sites": frozenset({"skin_subcutaneous", "lung"})},
            "melanoma",
            0.0,
        ),
        (
            "prior_anti_pd1",
            {"history.prior_therapies": frozenset({"anti_pd1", "chemotherapy"})},
            "melanoma",
            1.0,
        ),
        (
            "hemoglobin_below_lln",
            {"labs.hemoglobin_g_dl": Decimal("11.9"), "labs.hemoglobin_lln_g_dl": Decimal(12)},
            "melanoma",
            1.0,
        ),
        (
            "log_ldh_uln",
            {"labs.ldh_u_l": Decimal(500), "labs.ldh_uln_u_l": Decimal(250)},
            "melanoma",
            math.log(2),
        ),
        ("melanoma", {"diagnosis": "melanoma"}, "melanoma", 1.0),
    ],
)
def test_each_factor_is_read_from_the_baseline_as_the_data_file_says(
    kind: str, findings: dict[str, Any], diagnosis: str, expected: float
) -> None:
    feature = next(f for f in prediction_spec().features if f.id == kind)
    value = feature_value(feature, findings, diagnosis)
    assert (math.isnan(value) and math.isnan(expected)) or math.isclose(value, expected)


def test_the_bundled_specification_cites_every_factor_and_states_selects_result() -> None:
    spec = prediction_spec()
    assert all(f.source for f in spec.features)
    assert "SELECT" in spec.select_trial
    assert "McDermott" in spec.sources["select_trial"]
    assert "never enters the eligibility" in spec.advice
    assert spec.validation.events_per_variable >= 5


def test_a_feature_of_an_unknown_kind_is_refused_naming_the_field() -> None:
    text = resources.files("il2.science").joinpath("data", "prediction.toml").read_text("utf-8")
    broken = text.replace('kind = "number"', 'kind = "guess"', 1)
    with pytest.raises(RuleTableError, match=r"features\[1\]\.kind"):
        parse_spec(broken)


def _program(n: int, seed: int) -> Program:
    """Treated patients whose response goes with CA-IX above 85% (RCC) and skin-only disease
    (melanoma), each with a baseline, a response and follow-up."""
    rng = np.random.default_rng(seed)
    start, as_of = date(2020, 1, 1), date(2026, 1, 1)
    patients, courses, responses, baselines = [], [], [], []
    for pid in range(1, n + 1):
        diagnosis = "melanoma" if pid % 2 else "renal_cell_carcinoma"
        favoured = rng.random() < 0.4
        found: dict[str, Any] = {"diagnosis": diagnosis, "ecog": Decimal(int(rng.integers(2)))}
        if diagnosis == "melanoma":
            found["tumour.sites"] = frozenset({"skin_subcutaneous"} if favoured else {"lung"})
        else:
            found["tumour.ca_ix_pct"] = Decimal(95 if favoured else 30)
        responder = rng.random() < (0.45 if favoured else 0.08)
        first = start + timedelta(days=int(rng.integers(0, 700)))
        died = first + timedelta(days=int(rng.exponential(2500 if responder else 500)))
        death = died if died < as_of else None
        patients.append(
            Patient(
                pid,
                diagnosis,
                first,
                eligible=True,
                treated=True,
                death_on=death,
                last_contact_on=death or as_of,
            )
        )
        courses.append(Course(pid, pid, 1, "hd", first, first, 4))
        responses.append(Response(pid, "PR" if responder else "PD", None, None, None, (), first))
        baselines.append(Baseline(pid, first, found))
    return Program(
        tuple(patients),
        tuple(courses),
        (),
        (),
        tuple(responses),
        as_of=as_of,
        baselines=tuple(baselines),
    )


QUICK_SPEC = replace(prediction_spec(), validation=QUICK)


@pytest.fixture(scope="module")
def program_analysis() -> dict[str, Any]:
    return analyse(_program(400, 12), rng=np.random.default_rng(5), spec=QUICK_SPEC)


def test_on_a_program_the_model_recovers_the_factors_its_responses_were_made_with(
    program_analysis: dict[str, Any],
) -> None:
    response = program_analysis["response"]
    assert response["verdict"] == "signal"
    ratios = {c["feature"]: c for c in response["coefficients"]}
    for factor in ("ca_ix_high", "skin_subcutaneous_only"):
        assert ratios[factor]["ci95"][0] > 1, ratios[factor]
    assert "ecog" in ratios
    assert response["left_out"]["log_ldh_uln"] == "not a candidate for response"
    assert program_analysis["survival"]["verdict"] in {"signal", "no_evidence"}


def test_the_analysis_is_the_same_again_and_a_change_to_one_answer_never_reaches_the_next(
    program_analysis: dict[str, Any],
) -> None:
    again = analyse(_program(400, 12), rng=np.random.default_rng(5), spec=QUICK_SPEC)
    assert again == program_analysis
    again["response"]["auc"]["value"] = -1.0
    third = analyse(_program(400, 12), rng=np.random.default_rng(5), spec=QUICK_SPEC)
    assert third["response"]["auc"] == program_analysis["response"]["auc"]


def test_a_program_larger_than_the_limit_is_analysed_on_a_seeded_sample() -> None:
    spec = replace(prediction_spec(), validation=replace(QUICK, max_patients=150))
    result = analyse(_program(240, 13), rng=np.random.default_rng(1), spec=spec)
    assert result["patients"]["treated"] == 240
    assert result["patients"]["with_baseline"] == 150
    assert sample_patients(range(240), limit=150, seed=3) == sample_patients(
        list(reversed(range(240))), limit=150, seed=3
    )
    assert len(sample_patients(range(10), limit=150, seed=3)) == 10


# --- the demo's own simulation: the dependence it was built with, recovered -------------------

DEMO_REFERRALS, DEMO_SEED = 4000, 21


@pytest.fixture(scope="module")
def demo_simulation() -> Program:
    """The demo's simulation (science.synthetic: the model's responses, the cited factor
    shares of science/data/simulation.toml), large enough for its ~1,000 sampled patients."""
    return synthetic_program(patients=DEMO_REFERRALS, rng=np.random.default_rng(DEMO_SEED))


def test_on_the_demos_simulation_the_model_recovers_the_cited_factors_and_reports_calibration(
    demo_simulation: Program,
) -> None:
    response = analyse(demo_simulation, rng=np.random.default_rng(5))["response"]
    assert response["verdict"] == "signal", response["auc"]
    ratios = {c["feature"]: c for c in response["coefficients"]}
    built_with = {
        "ca_ix_high": known_dependence("renal_cell_carcinoma"),
        "skin_subcutaneous_only": known_dependence("melanoma"),
    }
    for feature, known in built_with.items():
        low, high = ratios[feature]["ci95"]
        assert 1 < low <= known.odds_ratio <= high, (feature, ratios[feature], known.odds_ratio)
    for independent in ("ecog", "prior_anti_pd1"):  # drawn independent of response
        low, high = ratios[independent]["ci95"]
        assert low <= 1 <= high, ratios[independent]
    calibration = response["calibration"]
    assert sum(b["patients"] for b in calibration["bins"]) == response["patients"]
    assert math.isfinite(calibration["slope"])
    assert math.isfinite(calibration["intercept"])


def test_on_the_demos_simulation_with_the_factors_shuffled_the_model_reports_no_signal(
    demo_simulation: Program,
) -> None:
    """Each diagnosis's baselines dealt out again at random among its own patients: every
    factor keeps its distribution and loses any link with the patient's response."""
    rng = np.random.default_rng(8)
    diagnosis = {p.patient_id: p.diagnosis for p in demo_simulation.patients}
    dealt: list[Baseline] = []
    for each in ("renal_cell_carcinoma", "melanoma"):
        mine = [b for b in demo_simulation.baselines if diagnosis[b.patient_id] == each]
        order = rng.permutation(len(mine))
        dealt += [
            replace(b, findings=mine[int(i)].findings) for b, i in zip(mine, order, strict=True)
        ]
    unlinked = replace(demo_simulation, baselines=tuple(dealt))
    assert analyse(unlinked, rng=np.random.default_rng(5))["response"]["verdict"] == "no_evidence"
