"""Who responds: a responder model and a survival model fitted to the program's own registry.

Features come from the patients' baselines as `data/prediction.toml` says. `ResponderModel`
(penalised logistic regression) and `SurvivalModel` (ridge Cox, lifelines' penalizer scale)
follow the estimator contract. `nested_cv` gives out-of-fold predictions: the outer folds
estimate performance, the inner folds of each training part choose the penalty. `analyse`
returns a JSON-ready document: discrimination with bootstrap intervals, calibration, the
comparison with published scores and with no model, the coefficients, and a verdict. The
model is advice; nothing here feeds the eligibility verdict.
"""

from __future__ import annotations

import copy
import hashlib
import math
import tomllib
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from sklearn.impute import SimpleImputer  # type: ignore[import-untyped]
from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]
from sklearn.model_selection import StratifiedKFold  # type: ignore[import-untyped]
from sklearn.pipeline import Pipeline, make_pipeline  # type: ignore[import-untyped]
from sklearn.preprocessing import StandardScaler  # type: ignore[import-untyped]

from il2.domain.errors import InvalidInputError, RuleTableError
from il2.domain.findings import Value
from il2.rules.reader import Node
from il2.science.dataset import RESPONDERS, Baseline, Program

_FILE = "prediction.toml"
Floats = NDArray[np.float64]
Verdict = Literal["signal", "no_evidence", "too_few"]
OUTCOMES = ("response", "survival")
KINDS = ("number", "log_ratio", "above", "below_reference", "has_term", "only_terms", "equals")


# ---------------------------------------------------------------- the cited specification


@dataclass(frozen=True, slots=True)
class Feature:
    """One feature: how a baseline finding becomes a number (see the kinds in the data file)."""

    id: str
    label: str
    kind: str
    field: str
    source: str
    reference: str | None = None
    threshold: Decimal | None = None
    value: str | None = None
    terms: frozenset[str] = frozenset()
    applies_to: frozenset[str] | None = None
    outcomes: frozenset[str] = frozenset(OUTCOMES)


@dataclass(frozen=True, slots=True)
class Validation:
    """How the models are chosen and judged: folds, penalty grids, bootstrap counts."""

    outer_folds: int = 5
    inner_folds: int = 3
    c_grid: tuple[float, ...] = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0)
    penalizer_grid: tuple[float, ...] = (0.01, 0.1, 1.0)
    bootstrap: int = 1000
    coefficient_bootstrap: int = 200
    calibration_bins: int = 5
    max_patients: int = 1000
    confidence: float = 0.95
    events_per_variable: int = 10


_DEFAULTS = Validation()


@dataclass(frozen=True, slots=True)
class PredictionSpec:
    """The whole data file: features, validation settings, and the texts shown beside results."""

    version: str
    features: tuple[Feature, ...]
    validation: Validation
    sources: Mapping[str, str]
    missing_method: str
    select_trial: str
    advice: str


def _feature(node: Node) -> Feature:
    node.only(
        "id",
        "label",
        "kind",
        "field",
        "source",
        "reference",
        "threshold",
        "value",
        "term",
        "terms",
        "applies_to",
        "outcomes",
    )
    kind = node.choice("kind", KINDS)
    needs = {
        "log_ratio": "reference",
        "below_reference": "reference",
        "above": "threshold",
        "equals": "value",
        "has_term": "term",
        "only_terms": "terms",
    }
    if kind in needs and not node.has(needs[kind]):
        raise node.fail(needs[kind], f"a {kind} feature needs it")
    terms = node.texts("terms") if node.has("terms") else ()
    if node.has("term"):
        terms = (node.text("term"),)
    return Feature(
        id=node.text("id"),
        label=node.text("label"),
        kind=kind,
        field=node.text("field"),
        source=node.text("source"),
        reference=node.text("reference") if node.has("reference") else None,
        threshold=node.number("threshold") if node.has("threshold") else None,
        value=node.text("value") if node.has("value") else None,
        terms=frozenset(terms),
        applies_to=frozenset(node.texts("applies_to")) if node.has("applies_to") else None,
        outcomes=frozenset(_outcomes(node)),
    )


def _outcomes(node: Node) -> tuple[str, ...]:
    if not node.has("outcomes"):
        return OUTCOMES
    chosen = node.texts("outcomes")
    if not chosen or not set(chosen) <= set(OUTCOMES):
        raise node.fail("outcomes", "must list response, survival or both")
    return chosen


def _numbers(node: Node, key: str) -> tuple[float, ...]:
    raw = node.raw(key)
    if (
        not isinstance(raw, list)
        or not raw
        or not all(isinstance(x, int | float) and x > 0 for x in raw)
    ):
        raise node.fail(key, "must be a non-empty list of positive numbers")
    return tuple(float(x) for x in raw)


def parse_spec(text: str, *, file: str = _FILE) -> PredictionSpec:
    """Validate a prediction file; a bad one raises `RuleTableError` naming the field."""
    try:
        root = Node(tomllib.loads(text), file)
    except tomllib.TOMLDecodeError as error:
        raise RuleTableError(file=file, field="(syntax)", problem=str(error)) from None
    root.only(
        "meta", "validation", "events_per_variable", "missing", "select_trial", "advice", "features"
    )
    meta, checks = root.table("meta"), root.table("validation")
    epv, missing = root.table("events_per_variable"), root.table("missing")
    select, advice = root.table("select_trial"), root.table("advice")
    confidence = float(checks.number("confidence"))
    if not 0.5 < confidence < 1:
        raise checks.fail("confidence", "must be between 0.5 and 1")
    validation = Validation(
        outer_folds=checks.integer("outer_folds", minimum=2),
        inner_folds=checks.integer("inner_folds", minimum=2),
        c_grid=_numbers(checks, "logistic_c_grid"),
        penalizer_grid=_numbers(checks, "cox_penalizer_grid"),
        bootstrap=checks.integer("bootstrap", minimum=100),
        coefficient_bootstrap=checks.integer("coefficient_bootstrap", minimum=0),
        calibration_bins=checks.integer("calibration_bins", minimum=2),
        max_patients=checks.integer("max_patients", minimum=50),
        confidence=confidence,
        events_per_variable=epv.integer("minimum", minimum=1),
    )
    features = tuple(_feature(n) for n in root.tables("features"))
    if len({f.id for f in features}) != len(features):
        raise root.fail("features", "two features share an id")
    return PredictionSpec(
        version=meta.text("version"),
        features=features,
        validation=validation,
        sources={
            "validation": checks.text("source"),
            "events_per_variable": epv.text("source"),
            "missing": missing.text("source"),
            "select_trial": select.text("source"),
        },
        missing_method=missing.text("method"),
        select_trial=select.text("text"),
        advice=advice.text("text"),
    )


@cache
def prediction_spec() -> PredictionSpec:
    """The bundled specification (read once)."""
    text = resources.files("il2.science").joinpath("data", _FILE).read_text(encoding="utf-8")
    return parse_spec(text)


def sample_patients(patient_ids: Sequence[int], *, limit: int, seed: int) -> list[int]:
    """At most `limit` of the patients, by id: all of them, or a random sample drawn from
    `seed` (the same ids and seed, the same sample)."""
    ids = sorted(patient_ids)
    if len(ids) <= limit:
        return ids
    chosen = np.random.default_rng(seed).choice(len(ids), size=limit, replace=False)
    return sorted(ids[i] for i in chosen.tolist())


# ---------------------------------------------------------------- the feature table


@dataclass(frozen=True, slots=True)
class FeatureTable:
    """One row per patient, one column per feature; NaN where the finding is missing."""

    patient_ids: tuple[int, ...]
    features: tuple[Feature, ...]
    values: Floats = field(repr=False)


def _decimal(value: Value | None) -> Decimal | None:
    return value if isinstance(value, Decimal) else None


def _categorical(feature: Feature, found: Value | None, diagnosis: str) -> float:
    if feature.kind == "equals":
        found = diagnosis if feature.field == "diagnosis" and found is None else found
        return math.nan if found is None else float(found == feature.value)
    if not isinstance(found, frozenset):
        return math.nan
    if feature.kind == "has_term":
        return float(feature.terms <= found)
    return float(bool(found) and found <= feature.terms)  # only_terms


def _numeric(feature: Feature, findings: Mapping[str, Value]) -> float:
    # thresholds compare exactly, in decimals (85% is not "above 85%")
    number = _decimal(findings.get(feature.field))
    if number is None:
        return math.nan
    if feature.kind == "number":
        return float(number)
    if feature.kind == "above":
        return float(number > (feature.threshold or Decimal(0)))
    reference = _decimal(findings.get(feature.reference or ""))
    if reference is None or reference <= 0:
        return math.nan
    if feature.kind == "log_ratio":
        return math.log(number / reference) if number > 0 else math.nan
    return float(number < reference)  # below_reference


def feature_value(feature: Feature, findings: Mapping[str, Value], diagnosis: str) -> float:
    """One feature of one patient (NaN when missing; 0 where the feature does not apply)."""
    if feature.applies_to is not None and diagnosis not in feature.applies_to:
        return 0.0
    if feature.kind in ("equals", "has_term", "only_terms"):
        return _categorical(feature, findings.get(feature.field), diagnosis)
    return _numeric(feature, findings)


def feature_table(
    baselines: Sequence[Baseline], diagnoses: Mapping[int, str], spec: PredictionSpec
) -> FeatureTable:
    """The features of each patient with a baseline, in the order of `baselines`."""
    rows = [
        [feature_value(f, b.findings, diagnoses[b.patient_id]) for f in spec.features]
        for b in baselines
    ]
    values = np.array(rows, dtype=np.float64).reshape(len(rows), len(spec.features))
    return FeatureTable(tuple(b.patient_id for b in baselines), spec.features, values)


# ---------------------------------------------------------------- estimators


def _seed(rng: np.random.Generator) -> int:
    return int(rng.integers(2**31 - 1))


def _preprocess() -> Pipeline:
    # keep_empty_features: a column missing in a whole training fold is kept (as 0) rather
    # than dropped with a warning, so every fold's model has the same columns.
    return make_pipeline(
        SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
        StandardScaler(),
    )


@dataclass(frozen=True, slots=True)
class Preparation:
    """The pipeline's preparation (`_preprocess`) in plain numpy, for the hundreds of refits
    of the inner searches and the bootstrap: each column's median imputes its missing values
    (0 when a column has none), a 0/1 indicator follows for each column with a missing value,
    then every column is centred and scaled (a constant column keeps scale 1)."""

    medians: Floats
    flagged: NDArray[np.intp]
    mean: Floats
    scale: Floats

    @classmethod
    def of(cls, x: Floats) -> Preparation:
        """Fitted to the rows `x`."""
        missing = np.isnan(x)
        medians = np.array(
            [
                float(np.median(c[~m])) if (~m).any() else 0.0
                for c, m in zip(x.T, missing.T, strict=True)
            ]
        )
        flagged = np.flatnonzero(missing.any(axis=0))
        design = np.column_stack([np.where(missing, medians, x), missing[:, flagged]])
        scale = design.std(axis=0)
        return cls(medians, flagged, design.mean(axis=0), np.where(scale > 0, scale, 1.0))

    def design(self, x: Floats) -> Floats:
        """Imputed, with the missing indicators, not yet scaled."""
        missing = np.isnan(x)
        return np.column_stack([np.where(missing, self.medians, x), missing[:, self.flagged]])

    def apply(self, x: Floats) -> Floats:
        """Imputed, with the indicators, centred and scaled."""
        return np.asarray((self.design(x) - self.mean) / self.scale, dtype=np.float64)


def _folds(strata: NDArray[Any], k: int, rng: np.random.Generator) -> list[tuple[Any, Any]]:
    splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=_seed(rng))
    return list(splitter.split(np.zeros((len(strata), 1)), strata))


def _log_loss(y: Floats, p: Floats) -> float:
    p = np.clip(p, 1e-12, 1 - 1e-12)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


class ResponderModel:
    """Penalised (ridge) logistic regression of response on the features, in a scikit-learn
    pipeline (median imputation with missing indicators, scaling); the penalty `C` is chosen
    by an inner stratified cross-validation on held-out log loss."""

    def __init__(
        self,
        *,
        c_grid: Sequence[float] = _DEFAULTS.c_grid,
        inner_folds: int = _DEFAULTS.inner_folds,
        rng: np.random.Generator | None = None,
    ) -> None:
        self.c_grid = tuple(c_grid)
        self.inner_folds = inner_folds
        self.rng = rng

    def _pipeline(self, c: float) -> Pipeline:
        return Pipeline(
            [
                ("prepare", _preprocess()),
                ("model", LogisticRegression(C=c, solver="newton-cholesky")),
            ]
        )

    def fit(self, x: Floats, y: NDArray[Any]) -> ResponderModel:
        """Choose the penalty in the inner folds, then fit on every row given."""
        x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
        if len(np.unique(y)) != 2:
            raise InvalidInputError(field="y", value=sorted(set(y.tolist())), allowed="0 and 1")
        rng = self.rng if self.rng is not None else np.random.default_rng()
        folds = _folds(y, self.inner_folds, rng)
        held = np.empty((len(folds), len(self.c_grid)))
        for k, (train, test) in enumerate(folds):
            # the preparation does not depend on C: fitted once per inner split
            prepare = Preparation.of(x[train])
            inner, outer = prepare.apply(x[train]), prepare.apply(x[test])
            for j, c in enumerate(self.c_grid):
                beta = ridge_logistic(inner, y[train], c=c)
                held[k, j] = _log_loss(y[test], 1 / (1 + np.exp(-(beta[0] + outer @ beta[1:]))))
        losses = held.mean(axis=0).tolist()
        # On a tie, the stronger penalty (smaller C): the simpler model.
        best = min(range(len(self.c_grid)), key=lambda i: (round(losses[i], 12), self.c_grid[i]))
        self.penalty_ = self.c_grid[best]
        self.cv_log_loss_ = dict(zip(self.c_grid, losses, strict=True))
        self.pipeline_ = self._pipeline(self.penalty_).fit(x, y)
        logistic = self.pipeline_.named_steps["model"]
        self.coef_ = np.asarray(logistic.coef_[0], dtype=np.float64)
        self.intercept_ = float(logistic.intercept_[0])
        self.n_features_in_ = x.shape[1]
        return self

    def predict_proba(self, x: Floats) -> Floats:
        """The probability of response of each row (one column, not sklearn's two)."""
        if not hasattr(self, "pipeline_"):
            raise InvalidInputError(field="model", value="not fitted", allowed="call fit first")
        return np.asarray(self.pipeline_.predict_proba(np.asarray(x, float))[:, 1], np.float64)


def _cox_parts(time: Floats, event: Floats) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Rows by time, longest first, and for each row the last row (in that order) still at
    risk at its time: Breslow's handling of tied times."""
    order = np.argsort(-time, kind="stable")
    ordered = time[order]
    # the risk set of a row is every row whose time is >= its own: up to its tie group's end
    ends = np.searchsorted(-ordered, -ordered, side="right") - 1
    return order, ends


def ridge_cox(
    x: Floats,
    time: Floats,
    event: Floats,
    *,
    penalizer: float,
    iterations: int = 50,
    start: Floats | None = None,
) -> Floats:
    """Coefficients maximising Breslow's log partial likelihood over n minus
    penalizer/2 * |beta|^2 (lifelines' scale for an L2 penalty), by Newton's method from
    `start` (zero without)."""
    n, p = x.shape
    order, ends = _cox_parts(time, event)
    x, d = x[order], event[order]
    beta = np.zeros(p) if start is None else np.array(start, dtype=np.float64)

    def objective(b: Floats) -> float:
        eta = x @ b
        shift = eta.max()
        risk = np.cumsum(np.exp(eta - shift))[ends]
        return float(-(d * (eta - shift - np.log(risk))).sum() / n + 0.5 * penalizer * b @ b)

    current = objective(beta)
    for _ in range(iterations):
        eta = x @ beta
        w = np.exp(eta - eta.max())
        s0 = np.cumsum(w)[ends]
        mean = np.cumsum(w[:, None] * x, axis=0)[ends] / s0[:, None]
        gradient = -(d[:, None] * (x - mean)).sum(0) / n + penalizer * beta
        # sum over deaths i of the risk set's weighted second moment, without an n x p x p
        # array: row k is in the risk set of every death whose set ends at or after k
        share = np.bincount(ends, weights=d / s0, minlength=n)[::-1].cumsum()[::-1] * w
        second = x.T @ (share[:, None] * x) - (mean * d[:, None]).T @ mean
        hessian = second / n + penalizer * np.eye(p)
        step = np.linalg.solve(hessian, gradient)
        scale = 1.0
        while scale > 1e-6:
            trial = beta - scale * step
            value = objective(trial)
            if value <= current + 1e-15:
                break
            scale /= 2
        else:
            break
        beta, improvement, current = trial, current - value, value
        if improvement < 1e-12:
            break
    return beta


@dataclass(frozen=True, slots=True)
class Pairs:
    """The pairs a concordance counts: `wins[i, j]` is 1 (0.5 on a tie) when row patient
    `rows[i]` is ranked above column patient `cols[j]` as the outcome says it should be, and
    `pairs[i, j]` is 1 when the pair counts at all."""

    rows: NDArray[np.intp]
    cols: NDArray[np.intp]
    wins: Floats
    pairs: Floats
    n: int

    def concordance(self, weights: Floats) -> Floats:
        """The concordance under each row of `weights` (how often each patient is drawn)."""
        # single precision: counts and halves are exact in it, and it halves the time
        left = weights[:, self.rows].astype(np.float32)
        right = weights[:, self.cols].astype(np.float32)
        top = np.einsum("bi,bi->b", left @ self.wins.astype(np.float32), right, dtype=np.float64)
        bottom = np.einsum(
            "bi,bi->b", left @ self.pairs.astype(np.float32), right, dtype=np.float64
        )
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.asarray(top / bottom, dtype=np.float64)


def _ranked(above: Floats, below: Floats) -> Floats:
    return np.asarray(
        (above[:, None] > below[None, :]) + 0.5 * (above[:, None] == below[None, :]), np.float64
    )


def survival_pairs(time: Floats, event: Floats, risk: Floats) -> Pairs:
    """Harrell's pairs: the shorter time is a death; concordant when that patient's risk is
    the higher."""
    rows = np.flatnonzero(event > 0)
    cols = np.arange(len(time))
    comparable = (time[rows, None] < time[None, :]).astype(np.float64)
    return Pairs(rows, cols, comparable * _ranked(risk[rows], risk), comparable, len(time))


def response_pairs(y: Floats, score: Floats) -> Pairs:
    """The AUC's pairs: a responder and a non-responder; concordant when the responder's
    score is the higher."""
    rows, cols = np.flatnonzero(y > 0), np.flatnonzero(y == 0)
    wins = _ranked(score[rows], score[cols])
    return Pairs(rows, cols, wins, np.ones_like(wins), len(y))


def harrell_c(time: Floats, event: Floats, risk: Floats) -> float | None:
    """Harrell's C: of the pairs whose shorter time is a death, the share where that patient
    had the higher risk (ties in risk count one half); None with no such pair."""
    value = survival_pairs(time, event, risk).concordance(np.ones((1, len(time))))[0]
    return None if math.isnan(value) else float(value)


class SurvivalModel:
    """Ridge Cox regression of overall survival on the features (median imputation with
    missing indicators, scaling: `Preparation`); the penalizer is chosen by an inner
    cross-validation on held-out Harrell's C. `y`: two columns, time and event (1 death)."""

    def __init__(
        self,
        *,
        penalizer_grid: Sequence[float] = _DEFAULTS.penalizer_grid,
        inner_folds: int = _DEFAULTS.inner_folds,
        rng: np.random.Generator | None = None,
    ) -> None:
        self.penalizer_grid = tuple(penalizer_grid)
        self.inner_folds = inner_folds
        self.rng = rng

    def fit(self, x: Floats, y: Floats) -> SurvivalModel:
        """Choose the penalizer in the inner folds, then fit on every row given."""
        x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
        if y.ndim != 2 or y.shape[1] != 2 or not y[:, 1].any():
            raise InvalidInputError(field="y", value=y.shape, allowed="time and event, a death")
        rng = self.rng if self.rng is not None else np.random.default_rng()
        folds = _folds(y[:, 1], self.inner_folds, rng)
        held = np.empty((len(folds), len(self.penalizer_grid)))
        for k, (train, test) in enumerate(folds):
            prepare = Preparation.of(x[train])
            inner, outer = prepare.apply(x[train]), prepare.apply(x[test])
            beta = None
            for j, penalizer in enumerate(self.penalizer_grid):
                # each fit starts from the last: neighbouring penalties have close solutions
                beta = ridge_cox(inner, y[train, 0], y[train, 1], penalizer=penalizer, start=beta)
                c = harrell_c(y[test, 0], y[test, 1], outer @ beta)
                held[k, j] = 0.5 if c is None else c
        scores = held.mean(axis=0).tolist()
        best = max(range(len(scores)), key=lambda i: (round(scores[i], 12), self.penalizer_grid[i]))
        self.penalizer_ = self.penalizer_grid[best]
        self.cv_c_index_ = dict(zip(self.penalizer_grid, scores, strict=True))
        self.preparation_ = Preparation.of(x)
        self.coef_ = ridge_cox(
            self.preparation_.apply(x), y[:, 0], y[:, 1], penalizer=self.penalizer_
        )
        self.n_features_in_ = x.shape[1]
        return self

    def predict_risk(self, x: Floats) -> Floats:
        """The linear predictor of each row (higher: shorter expected survival)."""
        if not hasattr(self, "coef_"):
            raise InvalidInputError(field="model", value="not fitted", allowed="call fit first")
        return np.asarray(self.preparation_.apply(np.asarray(x, float)) @ self.coef_)


# ---------------------------------------------------------------- nested cross-validation


def nested_cv(
    make: Callable[[np.random.Generator], ResponderModel | SurvivalModel],
    x: Floats,
    y: NDArray[Any],
    *,
    strata: NDArray[Any],
    folds: int,
    rng: np.random.Generator,
) -> tuple[Floats, Floats, list[float]]:
    """Out-of-fold predictions from outer stratified folds (each model, made by `make`,
    chooses its own penalty inside its training part), the training prevalence of `strata`
    each row's fold saw (the "no model" prediction), and each fold's chosen penalty."""
    predicted = np.empty(len(x))
    prevalence = np.empty(len(x))
    penalties = []
    for train, test in _folds(strata, folds, rng):
        model = make(rng).fit(x[train], y[train])
        if isinstance(model, ResponderModel):
            predicted[test] = model.predict_proba(x[test])
            penalties.append(model.penalty_)
        else:
            predicted[test] = model.predict_risk(x[test])
            penalties.append(model.penalizer_)
        prevalence[test] = float(np.mean(strata[train]))
    return predicted, prevalence, penalties


# ---------------------------------------------------------------- measures


def _interval(samples: Floats, confidence: float) -> list[float | None]:
    kept = samples[~np.isnan(samples)]
    if not len(kept):
        return [None, None]
    tail = 100 * (1 - confidence) / 2
    return [float(np.percentile(kept, tail)), float(np.percentile(kept, 100 - tail))]


def _draws(n: int, count: int, rng: np.random.Generator) -> Floats:
    """Bootstrap draws as counts: row b says how often each patient is drawn in resample b."""
    drawn = rng.integers(n, size=(count, n)) + n * np.arange(count)[:, None]
    return np.bincount(drawn.ravel(), minlength=count * n).reshape(count, n).astype(np.float32)


def discrimination(
    pairs: Pairs, *, validation: Validation, rng: np.random.Generator
) -> dict[str, Any]:
    """A concordance (AUC or Harrell's C) with its percentile bootstrap interval."""
    bootstrap, confidence = validation.bootstrap, validation.confidence
    value = float(pairs.concordance(np.ones((1, pairs.n)))[0])
    if math.isnan(value):
        return {"value": None, "ci95": [None, None]}
    chunks = [min(250, bootstrap - start) for start in range(0, bootstrap, 250)]
    samples = np.concatenate([pairs.concordance(_draws(pairs.n, k, rng)) for k in chunks])
    return {"value": value, "ci95": _interval(samples, confidence)}


def auc(
    y: Floats, score: Floats, *, validation: Validation, rng: np.random.Generator
) -> dict[str, Any]:
    """The area under the ROC curve of `score` for `y` (1 event), with its bootstrap interval."""
    pairs = response_pairs(np.asarray(y, float), np.asarray(score, float))
    return discrimination(pairs, validation=validation, rng=rng)


def ridge_logistic(x: Floats, y: Floats, *, c: float, iterations: int = 50) -> Floats:
    """Intercept then coefficients minimising scikit-learn's objective for an L2 logistic
    regression (|w|^2 / 2 + c * log loss summed; the intercept not penalised), by Newton's
    method: the same model as `LogisticRegression(C=c)`, without its per-call checks (the
    coefficient bootstrap refits it hundreds of times)."""
    design = np.column_stack([np.ones(len(x)), x])
    penalty = np.eye(design.shape[1]) / c
    penalty[0, 0] = 0.0
    beta = np.zeros(design.shape[1])
    for _ in range(iterations):
        p = 1 / (1 + np.exp(-(design @ beta)))
        gradient = design.T @ (y - p) - penalty @ beta
        hessian = design.T @ (design * (p * (1 - p))[:, None]) + penalty
        step = np.linalg.lstsq(hessian, gradient, rcond=None)[0]
        beta = beta + step
        if np.abs(step).max() < 1e-9:
            break
    return beta


def _logistic(x: Floats, y: Floats, offset: Floats, *, slope: bool) -> Floats:
    """Maximum-likelihood intercept (and slope on x when asked) with `offset`, by Newton."""
    design = np.column_stack([np.ones_like(x), x]) if slope else np.ones((len(x), 1))
    beta = np.zeros(design.shape[1])
    for _ in range(100):
        p = 1 / (1 + np.exp(-(design @ beta + offset)))
        hessian = design.T @ (design * (p * (1 - p))[:, None]) + 1e-9 * np.eye(len(beta))
        step = np.linalg.solve(hessian, design.T @ (y - p))
        beta = beta + step
        if np.abs(step).max() < 1e-10:
            break
    return beta


def calibration(y: Floats, p: Floats, *, bins: int) -> dict[str, Any]:
    """Observed against predicted in equal-count bins, and the calibration intercept
    (calibration in the large: 0 is perfect) and slope (1 is perfect) on the logit scale."""
    order = np.argsort(p, kind="stable")
    rows = [
        {
            "patients": len(chunk),
            "predicted": float(p[chunk].mean()),
            "observed": float(y[chunk].mean()),
            "events": int(y[chunk].sum()),
        }
        for chunk in np.array_split(order, bins)
        if len(chunk)
    ]
    logit = np.log(np.clip(p, 1e-9, 1 - 1e-9) / np.clip(1 - p, 1e-9, 1))
    intercept = float(_logistic(logit, y, logit, slope=False)[0])
    slope = float(_logistic(logit, y, np.zeros_like(y), slope=True)[1])
    # every prediction alike (a model that shrank to the prevalence) has no slope: None, not NaN
    return {
        "bins": rows,
        "intercept": intercept if math.isfinite(intercept) else None,
        "slope": slope if math.isfinite(slope) and np.ptp(logit) > 1e-9 else None,
    }


# ---------------------------------------------------------------- the analyses


def _verdict(block: Mapping[str, Any], what: str) -> tuple[Verdict, str]:
    lower = block["ci95"][0]
    if lower is not None and lower > 0.5:
        return "signal", f"Signal: the {what}'s lower 95% bound is above 0.5."
    return "no_evidence", (
        f"No evidence the model discriminates: the {what}'s 95% interval reaches 0.5."
    )


def _too_few(n: int, events: int, columns: int, epv: int, what: str) -> dict[str, Any]:
    return {
        "verdict": "too_few",
        "verdict_text": (
            f"Too few {what} to fit a model: {events} among {n} patients, and {columns} "
            f"columns need at least {epv * columns} ({epv} per column)."
        ),
    }


def _columns(features: Sequence[Feature], x: Floats) -> list[tuple[str, str]]:
    """The model's columns (id, label): each feature, then a missing indicator for each
    feature with a missing value (as SimpleImputer orders them)."""
    columns = [(f.id, f.label) for f in features]
    missing = np.flatnonzero(np.isnan(x).any(axis=0)).tolist()
    columns += [(f"{features[j].id}_missing", f"{features[j].label}: missing") for j in missing]
    return columns


def _ratios(
    columns: Sequence[tuple[str, str]],
    design: Floats,
    *,
    estimate: Floats,
    draws: Floats,
    confidence: float,
    scale: Floats,
) -> list[dict[str, Any]]:
    """Per-unit ratios (odds or hazard) of each column, with the bootstrap interval."""
    rows = []
    for j, (key, label) in enumerate(columns):
        if scale[j] == 0:
            continue  # constant in these patients: no coefficient to show
        lower, upper = _interval(draws[:, j] / scale[j], confidence) if len(draws) else [None] * 2
        rows.append(
            {
                "feature": key,
                "label": label,
                "coefficient": float(estimate[j] / scale[j]),
                "ratio": math.exp(float(estimate[j] / scale[j])),
                "ci95": [
                    None if lower is None else math.exp(lower),
                    None if upper is None else math.exp(upper),
                ],
                "mean": float(design[:, j].mean()),
            }
        )
    return rows


def response_analysis(
    x: Floats,
    y: NDArray[Any],
    features: Sequence[Feature],
    *,
    validation: Validation,
    rng: np.random.Generator,
    scores: Mapping[str, Floats] | None = None,
) -> dict[str, Any]:
    """The responder model's nested cross-validation, calibration, coefficients, comparison
    with each score (points per patient, NaN where incomplete; more points, worse) and with no
    model, and the verdict. `y`: 1 for a responder (CR or PR)."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    n, events = len(y), int(y.sum())
    columns = _columns(features, x)
    smaller = min(events, n - events)
    counts = {
        "patients": n,
        "events": events,
        "columns": len(columns),
        "events_needed": validation.events_per_variable * len(columns),
    }
    if smaller < counts["events_needed"] or smaller < validation.outer_folds:
        return counts | _too_few(
            n, smaller, len(columns), validation.events_per_variable, "responders or non-responders"
        )

    def make(g: np.random.Generator) -> ResponderModel:
        return ResponderModel(c_grid=validation.c_grid, inner_folds=validation.inner_folds, rng=g)

    predicted, prevalence, penalties = nested_cv(
        make, x, y, strata=y, folds=validation.outer_folds, rng=rng
    )
    model_auc = auc(y, predicted, validation=validation, rng=rng)
    verdict, text = _verdict(model_auc, "AUC")
    final = make(rng).fit(x, y)
    prepare = Preparation.of(x)
    design, scaled = prepare.design(x), prepare.apply(x)
    draws = []
    for _ in range(validation.coefficient_bootstrap):
        rows = rng.integers(n, size=n)
        if len(np.unique(y[rows])) == 2:
            draws.append(ridge_logistic(scaled[rows], y[rows], c=final.penalty_)[1:])
    brier = float(np.mean((predicted - y) ** 2))
    brier_null = float(np.mean((prevalence - y) ** 2))
    comparison = [
        {
            "name": "No model (the training folds' response rate)",
            "patients": n,
            "auc": {"value": 0.5, "ci95": [0.5, 0.5]},
            "brier": brier_null,
        },
        {"name": "This model (out of fold)", "patients": n, "auc": model_auc, "brier": brier},
    ]
    for name, points in (scores or {}).items():
        known = ~np.isnan(points)
        row: dict[str, Any] = {
            "name": name,
            "patients": int(known.sum()),
            "left_out": int((~known).sum()),
        }
        # more adverse points, less response: the score's AUC is that of minus its points
        row["auc"] = auc(y[known], -points[known], validation=validation, rng=rng)
        row["brier"] = None
        comparison.append(row)
    return counts | {
        "verdict": verdict,
        "verdict_text": text,
        "auc": model_auc,
        "penalty": {"C_by_fold": penalties, "C_final": final.penalty_},
        "calibration": calibration(y, predicted, bins=validation.calibration_bins),
        "brier": {
            "model": brier,
            "no_model": brier_null,
            "skill": 1 - brier / brier_null if brier_null else None,
        },
        "coefficients": _ratios(
            columns,
            design,
            estimate=final.coef_,
            draws=np.array(draws).reshape(-1, len(columns)),
            confidence=validation.confidence,
            scale=np.where(design.std(axis=0) > 0, prepare.scale, 0.0),
        ),
        "comparison": comparison,
    }


def survival_analysis(
    x: Floats,
    time_days: Floats,
    death: Floats,
    features: Sequence[Feature],
    *,
    validation: Validation,
    rng: np.random.Generator,
    scores: Mapping[str, Floats] | None = None,
) -> dict[str, Any]:
    """The survival model's nested cross-validation (Harrell's C of out-of-fold risks),
    hazard ratios, comparison with each score (more points, more risk) and with no model."""
    x = np.asarray(x, dtype=np.float64)
    y = np.column_stack([np.asarray(time_days, float), np.asarray(death, float)])
    n, events = len(y), int(y[:, 1].sum())
    columns = _columns(features, x)
    counts = {
        "patients": n,
        "events": events,
        "columns": len(columns),
        "events_needed": validation.events_per_variable * len(columns),
    }
    if events < counts["events_needed"] or min(events, n - events) < validation.outer_folds:
        return counts | _too_few(n, events, len(columns), validation.events_per_variable, "deaths")

    def make(g: np.random.Generator) -> SurvivalModel:
        return SurvivalModel(
            penalizer_grid=validation.penalizer_grid, inner_folds=validation.inner_folds, rng=g
        )

    risk, _, penalties = nested_cv(
        make, x, y, strata=y[:, 1], folds=validation.outer_folds, rng=rng
    )
    c_index = discrimination(survival_pairs(y[:, 0], y[:, 1], risk), validation=validation, rng=rng)
    verdict, text = _verdict(c_index, "C-index")
    final = make(rng).fit(x, y)
    prepare = Preparation.of(x)
    design, scaled = prepare.design(x), prepare.apply(x)
    draws = []
    for _ in range(validation.coefficient_bootstrap):
        rows = rng.integers(n, size=n)
        if y[rows, 1].any():
            draws.append(
                ridge_cox(
                    scaled[rows],
                    y[rows, 0],
                    y[rows, 1],
                    penalizer=final.penalizer_,
                    start=final.coef_,
                )
            )
    comparison = [
        {
            "name": "No model (everyone the same risk)",
            "patients": n,
            "c_index": {"value": 0.5, "ci95": [0.5, 0.5]},
        },
        {"name": "This model (out of fold)", "patients": n, "c_index": c_index},
    ]
    for name, points in (scores or {}).items():
        known = ~np.isnan(points)
        parts = survival_pairs(y[known, 0], y[known, 1], points[known])
        comparison.append(
            {
                "name": name,
                "patients": int(known.sum()),
                "left_out": int((~known).sum()),
                "c_index": discrimination(parts, validation=validation, rng=rng),
            }
        )
    return counts | {
        "verdict": verdict,
        "verdict_text": text,
        "c_index": c_index,
        "penalty": {"penalizer_by_fold": penalties, "penalizer_final": final.penalizer_},
        "coefficients": _ratios(
            columns,
            design,
            estimate=final.coef_,
            draws=np.array(draws).reshape(-1, len(columns)),
            confidence=validation.confidence,
            scale=np.where(design.std(axis=0) > 0, prepare.scale, 0.0),
        ),
        "comparison": comparison,
    }


METHOD = (
    "Features are read from each treated patient's last screening on or before the first "
    "dose. Missing values: {missing}; a factor that applies to one diagnosis only (CA-IX in "
    "renal cell carcinoma, skin-only disease in melanoma) is 0 in the other. Response: "
    "ridge logistic regression of objective response (CR or PR, RECIST 1.1) in the patients "
    "with a response assessment. Overall survival: ridge Cox regression (Breslow ties) from "
    "the first dose, censored at the last contact. Each is validated by nested "
    "cross-validation: {outer} outer stratified folds give every patient an out-of-fold "
    "prediction, and {inner} inner folds of each training part choose the penalty. "
    "Discrimination is the AUC (response) or Harrell's C-index (survival) of the out-of-fold "
    "predictions, with a {bootstrap}-resample percentile bootstrap interval. Calibration: "
    "observed against predicted response in {bins} equal-count groups, and the calibration "
    "intercept and slope on the logit scale. The Brier score is set beside that of no model "
    "(each training part's response rate). Odds and hazard ratios are per unit of each "
    "feature (present against absent for a yes/no factor), with {coef}-resample bootstrap "
    "intervals at the chosen penalty (shrunk towards 1 by it). Published scores are compared "
    "on the patients with a complete score. At most {most} treated patients are analysed (a "
    "random sample when the program has more: precision is ample, and the time stays short). "
    "A model is fitted only with at least {epv} events "
    "per column. A signal is claimed only when the interval's lower bound is above 0.5."
)


def _method(spec: PredictionSpec) -> str:
    v = spec.validation
    return METHOD.format(
        missing=spec.missing_method.lower(),
        outer=v.outer_folds,
        inner=v.inner_folds,
        bootstrap=v.bootstrap,
        bins=v.calibration_bins,
        coef=v.coefficient_bootstrap,
        epv=v.events_per_variable,
        most=f"{v.max_patients:,}",
    )


def _score_arrays(
    scores: Mapping[str, Mapping[int, int | float]] | None, ids: Sequence[int]
) -> dict[str, Floats]:
    return {
        name: np.array([float(points.get(i, math.nan)) for i in ids], dtype=np.float64)
        for name, points in (scores or {}).items()
    }


_REMEMBERED: OrderedDict[str, dict[str, Any]] = OrderedDict()
_REMEMBER = 16


def _key(
    spec: PredictionSpec,
    *,
    rng: np.random.Generator,
    x: Floats,
    y: Floats,
    scores: Mapping[str, Floats],
    features: Sequence[str],
) -> str:
    """A digest of everything an analysis depends on (data, settings, the generator's state)."""
    digest = hashlib.sha256(repr((spec.version, spec.validation, features, x.shape)).encode())
    digest.update(repr(rng.bit_generator.state).encode())
    for array in (x, y, *scores.values()):
        digest.update(np.ascontiguousarray(array).tobytes())
    digest.update(repr(sorted(scores)).encode())
    return digest.hexdigest()


def _remembered(key: str, compute: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """The analysis of these inputs, computed once: the outcomes page and the report ask for
    the same program again and again, and the answer is the same (a copy each time, so that a
    caller's change never reaches the next)."""
    if key not in _REMEMBERED:
        _REMEMBERED[key] = compute()
        while len(_REMEMBERED) > _REMEMBER:
            _REMEMBERED.popitem(last=False)
    _REMEMBERED.move_to_end(key)
    return copy.deepcopy(_REMEMBERED[key])


def usable(
    features: Sequence[Feature], values: Floats, diagnoses: Sequence[str], outcome: str
) -> tuple[list[int], dict[str, str]]:
    """The columns a model of `outcome` takes, and why each other feature is left out: not
    meant for this outcome, never recorded in the patients it applies to, or the same in all."""
    kept, left_out = [], {}
    for j, feature in enumerate(features):
        column = values[:, j]
        applies = np.array(
            [feature.applies_to is None or d in feature.applies_to for d in diagnoses], bool
        )
        seen = column[~np.isnan(column)]
        if outcome not in feature.outcomes:
            left_out[feature.id] = f"not a candidate for {outcome}"
        elif not (applies & ~np.isnan(column)).any():
            left_out[feature.id] = "no value recorded in the patients it applies to"
        elif len(np.unique(seen)) < 2 and not np.isnan(column).any():
            left_out[feature.id] = "the same in every patient"
        else:
            kept.append(j)
    return kept, left_out


def analyse(
    program: Program,
    *,
    rng: np.random.Generator,
    spec: PredictionSpec | None = None,
    scores: Mapping[str, Mapping[int, int | float]] | None = None,
) -> dict[str, Any]:
    """The prediction section of the outcome summary (JSON-ready). `scores`: each published
    score's points by patient id (a patient without a complete score is absent)."""
    spec = spec or prediction_spec()
    first_dose: dict[int, date] = {}
    for course in program.courses:
        day = first_dose.get(course.patient_id)
        first_dose[course.patient_id] = min(day or course.first_dose_on, course.first_dose_on)
    patients = {p.patient_id: p for p in program.patients if p.treated}
    based = [b for b in program.baselines if b.patient_id in first_dose]
    most = spec.validation.max_patients
    if len(based) > most:
        kept = set(sample_patients([b.patient_id for b in based], limit=most, seed=_seed(rng)))
        based = [b for b in based if b.patient_id in kept]
    diagnoses = {p.patient_id: p.diagnosis for p in patients.values()}
    table = feature_table(based, diagnoses, spec)
    row = {pid: i for i, pid in enumerate(table.patient_ids)}
    best = {r.patient_id: r.best_overall_response for r in program.responses}
    assessed = [pid for pid in table.patient_ids if pid in best]
    followed = [pid for pid in table.patient_ids if pid not in program.unfollowed]

    def columns(ids: Sequence[int], outcome: str) -> tuple[Floats, list[Feature], dict[str, str]]:
        values = table.values[[row[i] for i in ids]].reshape(len(ids), len(spec.features))
        kept, left_out = usable(spec.features, values, [diagnoses[i] for i in ids], outcome)
        return values[:, kept], [spec.features[j] for j in kept], left_out

    # one generator each, so that either analysis, remembered or not, leaves the other's alone
    response_rng, survival_rng = rng.spawn(2)
    x, features, response_out = columns(assessed, "response")
    responded = np.array([best[i] in RESPONDERS for i in assessed], dtype=np.float64)
    response_scores = _score_arrays(scores, assessed)
    key = _key(
        spec,
        rng=response_rng,
        x=x,
        y=responded,
        scores=response_scores,
        features=[f.id for f in features],
    )
    response = _remembered(
        key,
        lambda: response_analysis(
            x,
            responded,
            features,
            validation=spec.validation,
            rng=response_rng,
            scores=response_scores,
        ),
    )
    x, features, survival_out = columns(followed, "survival")
    days = np.array([(patients[i].followed_to - first_dose[i]).days for i in followed], float)
    died = np.array([patients[i].death_on is not None for i in followed], float)
    survival_scores = _score_arrays(scores, followed)
    key = _key(
        spec,
        rng=survival_rng,
        x=x,
        y=np.column_stack([days, died]),
        scores=survival_scores,
        features=[f.id for f in features],
    )
    survival = _remembered(
        key,
        lambda: survival_analysis(
            x,
            days,
            died,
            features,
            validation=spec.validation,
            rng=survival_rng,
            scores=survival_scores,
        ),
    )
    response["left_out"], survival["left_out"] = response_out, survival_out
    missing = np.isnan(table.values).sum(axis=0).tolist()
    return {
        "version": spec.version,
        "patients": {
            "treated": len(patients),
            "with_baseline": len(based),
            "assessed": len(assessed),
            "followed": len(followed),
            "at_most": most,
        },
        "features": [
            {
                "id": f.id,
                "label": f.label,
                "source": f.source,
                "missing": m,
                "outcomes": sorted(f.outcomes),
            }
            for f, m in zip(spec.features, missing, strict=True)
        ],
        "response": response,
        "survival": survival,
        "verdict": f"Response: {response['verdict_text']} Survival: {survival['verdict_text']}",
        "advice": spec.advice,
        "select_trial": {"text": spec.select_trial, "source": spec.sources["select_trial"]},
        "method": _method(spec),
        "sources": [spec.sources[k] for k in ("validation", "events_per_variable", "missing")]
        + [f.source for f in spec.features],
    }
