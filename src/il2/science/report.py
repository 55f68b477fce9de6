"""The outcome summary of a program: the JSON document `il2 report --json` prints."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import numpy as np

from il2.domain.errors import InvalidInputError
from il2.science.dataset import CTCAE_GRADES, DIAGNOSES, Diagnosis, Program
from il2.science.label import LabelEfficacy, label_efficacy
from il2.science.stats import (
    Incidence,
    Proportion,
    ResponseRates,
    YearUse,
    clopper_pearson_arrays,
    median_doses_per_cycle,
    proportion,
    response_rates,
    toxicity_incidence,
    use_by_year,
)
from il2.science.survival import CI_METHOD, DAYS_PER_MONTH, ENDPOINTS, KaplanMeier, fit

LANDMARK_MONTHS = (12, 24, 36, 60)
METHODS = {
    "response_rates": (
        "Objective response rate (ORR) = (CR + PR) / treated patients with a best overall "
        "response recorded (RECIST 1.1; NE stays in the denominator); CR and PR rates alike. "
        "95% CIs are exact Clopper-Pearson intervals from beta-distribution quantiles "
        "(scipy.stats.beta)."
    ),
    "label": (
        "Label figures are the published counts (data/label_efficacy.toml, each with its "
        "source); their 95% CIs are recomputed by the same Clopper-Pearson method."
    ),
    "survival": (
        "Kaplan-Meier product-limit estimates (lifelines KaplanMeierFitter); "
        f"{CI_METHOD}. Overall survival: first dose to death. Progression-free survival: first "
        "dose to progression (RECIST 1.1, or found at a follow-up contact) or death. Duration "
        "of response: first documented CR or PR to progression or death. All censored at last "
        "contact and at the data cut-off; treated patients only. The median is the first time "
        "at which S(t) <= 0.5. Months are days / 30.4375."
    ),
    "toxicity": (
        "Incidence at grade g = treated patients with at least one event of the term at CTCAE "
        "grade g or worse / treated patients; a patient counts once per term, at the worst "
        "grade; the 'any' row takes the worst event of any term. 95% CIs Clopper-Pearson."
    ),
    "doses": "Median of doses given per cycle, over every recorded cycle.",
    "use": (
        "Cycles, doses and vials (doses given x the course's vials per dose) count in the year "
        "of admission; inpatient days are nights in hospital (a midnight census), each counted "
        "in its own year. Cost = vials x the site's price per vial, omitted without a price."
    ),
}


def _r(value: float, places: int = 4) -> float:
    return round(float(value), places)


def _proportion(value: Proportion | None) -> dict[str, Any] | None:
    if value is None:
        return None
    return {
        "count": value.count,
        "total": value.total,
        "value": _r(value.value),
        "ci95": [_r(value.ci95[0]), _r(value.ci95[1])],
    }


def _days_in_months(days: float | None) -> float | None:
    return None if days is None else _r(days / DAYS_PER_MONTH, 2)


def _curve(estimate: KaplanMeier) -> dict[str, Any]:
    longest = float(estimate.timeline_[-1]) if estimate.n_ else -1.0
    landmarks: dict[str, Any] = {}
    for months in LANDMARK_MONTHS:
        day = months * DAYS_PER_MONTH
        if day > longest:
            landmarks[str(months)] = None
            continue
        lower, upper = estimate.ci_at([day])
        landmarks[str(months)] = {
            "survival": _r(estimate.survival_at([day])[0]),
            "ci95": [_r(lower[0]), _r(upper[0])],
            "at_risk": int(estimate.at_risk_at([day])[0]),
        }
    return {
        "patients": estimate.n_,
        "events": estimate.events_,
        "median_months": _days_in_months(estimate.median_),
        "median_ci95_months": [
            _days_in_months(estimate.median_ci_[0]),
            _days_in_months(estimate.median_ci_[1]),
        ],
        "at_months": landmarks,
    }


def _diagnosis(
    rates: ResponseRates, median_doses: float | None, curves: dict[str, KaplanMeier]
) -> dict[str, Any]:
    return {
        "patients": rates.referred,
        "eligible": rates.eligible,
        "treated": rates.treated,
        "assessed": rates.assessed,
        "best_overall_response": dict(rates.best),
        "orr": _proportion(rates.orr),
        "cr_rate": _proportion(rates.cr_rate),
        "pr_rate": _proportion(rates.pr_rate),
        "median_doses_per_cycle": median_doses,
        **{endpoint: _curve(estimate) for endpoint, estimate in curves.items()},
    }


def _label(label: LabelEfficacy, rates: ResponseRates) -> dict[str, Any]:
    return {
        "population": label.population,
        "source": label.source,
        "patients": label.patients,
        "orr": _proportion(proportion(label.objective, label.patients)),
        "cr_rate": _proportion(proportion(label.complete, label.patients)),
        "pr_rate": _proportion(proportion(label.partial, label.patients)),
        "published_orr_pct": label.published_orr_pct,
        "published_cr_pct": label.published_cr_pct,
        "published_orr_ci95_pct": list(label.published_ci95_pct)
        if label.published_ci95_pct
        else None,
        "program": {"orr": _proportion(rates.orr), "cr_rate": _proportion(rates.cr_rate)},
        "program_itt": _intention_to_treat(rates),
    }


def _intention_to_treat(rates: ResponseRates) -> dict[str, Any]:
    """The program's rates on the label's denominator: every treated patient, assessed or not
    (a treated patient with no response record counts as a non-responder)."""
    complete = rates.best.get("CR", 0)
    return {
        "denominator": "treated",
        "orr": _proportion(proportion(complete + rates.best.get("PR", 0), rates.treated)),
        "cr_rate": _proportion(proportion(complete, rates.treated)),
    }


def _toxicity(rows: tuple[Incidence, ...]) -> dict[str, Any]:
    treated = rows[0].treated if rows else 0
    if not rows or treated == 0:
        return {"treated_patients": treated, "terms": {}}
    counts = np.array([row.at_least for row in rows])
    lower, upper = clopper_pearson_arrays(counts, np.full(counts.shape, treated))
    terms = {
        row.term: {
            "grade_at_least": {
                str(grade): {
                    "patients": int(counts[i, g]),
                    "value": _r(counts[i, g] / treated),
                    "ci95": [_r(lower[i, g]), _r(upper[i, g])],
                }
                for g, grade in enumerate(CTCAE_GRADES)
            }
        }
        for i, row in enumerate(rows)
    }
    return {"treated_patients": treated, "terms": terms}


def _price(price_per_vial: Decimal | float | None) -> Decimal | None:
    if price_per_vial is None:
        return None
    price = Decimal(str(price_per_vial))
    if not price.is_finite() or price < 0:
        raise InvalidInputError(
            field="price_per_vial", value=price_per_vial, allowed="a price of 0 or more"
        )
    return price


def _per_year(years: tuple[YearUse, ...], price: Decimal | None) -> dict[str, Any]:
    document: dict[str, Any] = {
        "inpatient_days_per_year": {str(y.year): y.inpatient_days for y in years},
        "cycles_per_year": {str(y.year): y.cycles for y in years},
        "doses_per_year": {str(y.year): y.doses_given for y in years},
        "vials_per_year": {str(y.year): y.vials for y in years},
    }
    if price is not None:
        document["price_per_vial"] = float(price)
        document["cost_per_year"] = {
            str(y.year): float(y.cost(price).quantize(Decimal("0.01"))) for y in years
        }
    return document


def summarize(program: Program, *, price_per_vial: Decimal | float | None = None) -> dict[str, Any]:
    """The program's outcomes as a JSON-ready document (see `METHODS` for every definition)."""
    price = _price(price_per_vial)
    rates = response_rates(program)
    doses = median_doses_per_cycle(program)
    curves: dict[Diagnosis, dict[str, KaplanMeier]] = {d: {} for d in DIAGNOSES}
    for endpoint, durations_of in ENDPOINTS.items():
        for diagnosis, durations in durations_of(program).items():
            curves[diagnosis][endpoint] = fit(durations)
    labels = label_efficacy()
    return {
        "as_of": program.as_of.isoformat(),
        "patients": {
            "referred": sum(r.referred for r in rates.values()),
            "eligible": sum(r.eligible for r in rates.values()),
            "treated": sum(r.treated for r in rates.values()),
            "courses": len(program.courses),
            "cycles": len(program.cycles),
        },
        "by_diagnosis": {d: _diagnosis(rates[d], doses[d], curves[d]) for d in DIAGNOSES},
        "label": {d: _label(labels[d], rates[d]) for d in DIAGNOSES},
        "toxicity": _toxicity(toxicity_incidence(program)),
        **_per_year(use_by_year(program), price),
        "methods": dict(METHODS),
    }
