"""What if: a course's ledger and alternative schedules given to the same virtual twins."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from il2.domain.errors import InvalidInputError
from il2.rules.loader import load_rules
from il2.science.mechanism.cells import tumour_cells as total_tumour_cells
from il2.science.mechanism.kernel import simulate_population
from il2.science.mechanism.population import CellModel, population_spec
from il2.science.mechanism.readout import (
    best_overall_response,
    diameter_mm,
    time_point_responses,
)
from il2.science.mechanism.schedule import MIN_PER_DAY, SbrtPlan, course_of
from il2.science.mechanism.trial import TrialPlan, readout_rules
from il2.science.mechanism.trial import draw_blocks as trial_draw
from il2.science.mechanism.whatif import (
    ACTUAL,
    AS_PLANNED,
    DISCLAIMER,
    LABEL,
    ORIGIN_DAYS,
    CourseLedger,
    LedgerDose,
    WhatIf,
    band_figure,
    dosing,
    what_if,
)
from il2.science.stats import clopper_pearson

RULES = load_rules()
SPEC = population_spec()
HD = RULES.regimens["hd-label"]
WEIGHT = 82.0
TWINS = 48
RULES_READOUT = readout_rules(RULES, SPEC)


def hd_ledger(
    outcome: Any = lambda k: "given", *, late_min: float = 0.0, diagnosis: str = "melanoma"
) -> CourseLedger:
    """The high-dose label course planned at course_of's times, each dose's outcome from
    `outcome(k)`, given doses `late_min` minutes after their due time."""
    full = course_of(HD)
    doses = []
    for k, (at, per_kg) in enumerate(zip(full.dose_min, full.dose_iu_per_kg, strict=True)):
        status = outcome(k)
        doses.append(
            LedgerDose(
                cycle=1 if at < 7 * MIN_PER_DAY else 2,
                number=k + 1,
                due_min=float(at),
                outcome=status,
                dose_iu=float(per_kg) * WEIGHT,
                given_min=float(at) + late_min if status == "given" else None,
            )
        )
    return CourseLedger("hd-label", diagnosis, WEIGHT, tuple(doses))


def with_holds(k: int) -> str:
    """Doses 5 and 9 held, the second cycle stopped at its 5th dose (19th of the course)."""
    if k in (4, 8):
        return "held"
    if k == 18:
        return "stopped"
    return "given" if k < 18 else "not_given"


@pytest.fixture(scope="module")
def held() -> WhatIf:
    return what_if(hd_ledger(with_holds, late_min=20.0), (AS_PLANNED, LABEL), twins=TWINS, seed=7)


def test_the_ledger_with_holds_gives_fewer_doses_than_as_planned(held: WhatIf) -> None:
    actual, planned, label = held.schedules
    assert (actual.name, planned.name, label.name) == (ACTUAL, AS_PLANNED, LABEL)
    assert held.ledger == {"given": 16, "held": 2, "stopped": 1, "not_given": 9}
    assert actual.doses_given == 16 < planned.doses_given == 28 == label.doses_given
    # the doses given start 20 minutes after their due times, hours from the first planned dose
    due = course_of(HD).dose_min / 60.0
    kept = [k for k in range(28) if with_holds(k) == "given"]
    assert actual.dose_hours == pytest.approx([due[k] + 1 / 3 for k in kept], abs=1e-3)
    assert planned.dose_hours == pytest.approx(due.tolist(), abs=1e-3)
    # fewer doses cannot make a tumour-size band lower at its end than every dose does
    assert actual.band.median[-1] >= planned.band.median[-1]


def test_every_band_starts_at_no_change_and_rates_carry_exact_intervals(held: WhatIf) -> None:
    for schedule in held.schedules:
        assert schedule.band.days[0] == 0.0
        assert schedule.band.median[0] == pytest.approx(0.0, abs=1e-9)
        assert all(
            lo <= mid <= hi
            for lo, mid, hi in zip(
                schedule.band.p10, schedule.band.median, schedule.band.p90, strict=True
            )
        )
        assert sum(schedule.counts.values()) == TWINS
        responders = schedule.counts["CR"] + schedule.counts["PR"]
        assert schedule.orr.ci95 == clopper_pearson(responders, TWINS)
        assert schedule.cr_rate.ci95 == clopper_pearson(schedule.counts["CR"], TWINS)


def test_the_result_says_it_is_a_model_with_its_calibration(held: WhatIf) -> None:
    out = held.as_json()
    assert out["kind"] == "model what-if"
    assert out["disclaimer"] == DISCLAIMER
    assert "not advice" in DISCLAIMER
    assert "Nothing here decides clinical care" in DISCLAIMER
    assert out["seed"] == 7
    assert out["twins"] == TWINS
    calibration = out["calibration"]
    assert isinstance(calibration, dict)
    stored = SPEC.calibrated["melanoma"]
    assert calibration["calibrated"] is True
    assert calibration["shifts"] == dict(stored.shifts)
    assert calibration["achieved_orr"]["count"] == stored.objective  # type: ignore[index]
    assert calibration["target_orr"]["total"] == 270  # type: ignore[index]  # label pool


def test_the_twins_are_the_trial_patients_of_the_seed_with_the_patients_weight(
    held: WhatIf,
) -> None:
    trial = TrialPlan(
        arms=(), diagnosis="melanoma", seed=7, patients=TWINS,
        readout=readout_rules(RULES, SPEC), shifts=None, hold_above=None, spec=SPEC,
    )  # fmt: skip
    patients = trial_draw(trial, 0, 1, CellModel.bundled())
    twins = held.population
    np.testing.assert_array_equal(twins.params, patients.params)
    np.testing.assert_array_equal(twins.y0, patients.y0)
    np.testing.assert_array_equal(twins.clearance_scale, patients.clearance_scale)
    assert np.all(twins.weight_kg == WEIGHT)


def test_the_same_twins_answer_in_every_schedule_whatever_else_is_asked(held: WhatIf) -> None:
    """Common random numbers: a schedule's per-twin outcomes do not depend on which other
    schedules are compared, nor on their order."""
    alone = what_if(hd_ledger(with_holds, late_min=20.0), (LABEL,), twins=TWINS, seed=7)
    np.testing.assert_array_equal(alone.schedules[1].best, held.schedules[2].best)
    np.testing.assert_array_equal(alone.schedules[0].best, held.schedules[0].best)
    assert alone.schedules[1].band == held.schedules[2].band


def test_as_planned_at_the_label_times_is_the_label_course(held: WhatIf) -> None:
    _, planned, label = held.schedules
    np.testing.assert_array_equal(planned.best, label.best)
    assert planned.band == label.band


def test_the_same_seed_gives_the_same_result_and_another_seed_other_twins() -> None:
    ledger = hd_ledger(with_holds)
    first = what_if(ledger, (AS_PLANNED,), twins=16, seed=3)
    again = what_if(ledger, (AS_PLANNED,), twins=16, seed=3)
    assert first.as_json() == again.as_json()
    other = what_if(ledger, (AS_PLANNED,), twins=16, seed=4)
    assert not np.array_equal(first.population.params, other.population.params)


def test_a_course_with_no_dose_given_is_an_untreated_cohort() -> None:
    """Every dose held: the twins' tumours follow the untreated model, computed here on other
    interval edges with no signal at all."""
    ledger = hd_ledger(lambda k: "held" if k < 3 else "not_given", diagnosis="renal_cell_carcinoma")
    result = what_if(ledger, (), twins=24, seed=11)
    (actual,) = result.schedules
    assert actual.doses_given == 0
    assert actual.dose_hours == ()
    twins = result.population
    days = np.asarray(actual.band.days)
    scans = np.asarray(actual.scan_days)
    first = (HD.response_assessment_weeks_after_course or SPEC.first_after_course_weeks) * 7
    assert scans[0] == pytest.approx(ORIGIN_DAYS + first)
    t_out = np.unique(np.concatenate([days, scans]))
    edges = np.array([0.0, 0.5 * t_out[-1], t_out[-1]])
    zero = np.zeros((twins.size, 2, 4))
    rt = np.full((twins.size, 1), np.nan)
    run = simulate_population(
        twins.params, twins.y0, edges, zero, zero, math.inf, rt, np.zeros_like(rt), t_out
    )
    cells = total_tumour_cells(run.y)
    readout = RULES_READOUT
    change = 100 * (
        diameter_mm(cells[:, np.searchsorted(t_out, days)], readout)
        / diameter_mm(twins.baseline_cells, readout)[:, None]
        - 1
    )
    np.testing.assert_allclose(actual.band.median, np.median(change, axis=0), atol=0.01)
    np.testing.assert_allclose(actual.band.p90, np.percentile(change, 90, axis=0), atol=0.01)
    points = time_point_responses(
        cells[:, np.searchsorted(t_out, scans)], twins.baseline_cells, readout
    )
    np.testing.assert_array_equal(actual.best, best_overall_response(points, scans / 7, readout))
    # untreated tumours of the plausible population grow: the median is above baseline
    assert actual.band.median[-1] > 0


def test_another_regimen_is_its_own_course() -> None:
    result = what_if(hd_ledger(), ("ld-iv-nci",), twins=8, seed=1)
    ld = result.schedules[1]
    assert ld.regimen == "ld-iv-nci"
    assert ld.doses_given == course_of(RULES.regimens["ld-iv-nci"]).doses
    assert ld.label == "ld-iv-nci course"


def test_a_regimen_after_sbrt_keeps_its_fractions_before_the_first_dose() -> None:
    result = what_if(hd_ledger(), ("sbrt-hd",), twins=8, seed=2)
    sbrt = result.schedules[1]
    regimen = RULES.regimens["sbrt-hd"]
    full = course_of(regimen, sbrt=_sbrt_plan())
    mine = dosing(regimen, full.dose_min - full.lead_days * MIN_PER_DAY, full.dose_iu_per_kg, SPEC)
    np.testing.assert_allclose(mine.sbrt_days, full.sbrt_days + ORIGIN_DAYS)
    assert mine.lead_days == pytest.approx(full.lead_days + ORIGIN_DAYS)
    assert sbrt.doses_given == full.doses
    assert sbrt.dose_hours[0] == 0.0


def _sbrt_plan() -> SbrtPlan:
    return SbrtPlan(
        SPEC.sbrt_gy, SPEC.sbrt_max_fractions, SPEC.sbrt_spacing_days,
        SPEC.sbrt_days_before_first_dose,
    )  # fmt: skip


def test_the_dosing_edges_are_those_of_the_regimens_course_shifted_to_the_origin() -> None:
    for regimen_id in ("hd-label", "ld-iv-nci", "hd-nci-720", "ld-sc-nci"):
        regimen = RULES.regimens[regimen_id]
        full = course_of(regimen)
        mine = dosing(regimen, full.dose_min.tolist(), full.dose_iu_per_kg.tolist(), SPEC)
        np.testing.assert_allclose(mine.edges_days, full.edges_days + ORIGIN_DAYS, atol=1e-12)
        np.testing.assert_array_equal(mine.interval_dose, full.interval_dose)
        assert mine.route == full.route
        assert mine.infusion_min == full.infusion_min


@settings(max_examples=60, deadline=None)
@given(st.lists(st.booleans(), min_size=28, max_size=28), st.integers(-60, 120))
def test_each_given_dose_opens_one_interval_and_edges_increase(
    gave: list[bool], late_min: int
) -> None:
    ledger = hd_ledger(lambda k: "given" if gave[k] else "held", late_min=float(late_min))
    times = [d.given_min for d in ledger.doses if d.given_min is not None]
    course = dosing(HD, times, [600_000.0] * len(times), SPEC)
    assert course.doses == sum(gave)
    assert np.all(np.diff(course.edges_days) > 0)
    assert course.edges_days[0] >= 0
    opened = course.interval_dose[course.interval_dose >= 0]
    np.testing.assert_array_equal(opened, np.arange(course.doses))
    starts = course.edges_days[:-1][course.interval_dose >= 0] * MIN_PER_DAY
    np.testing.assert_allclose(starts, course.dose_min, atol=1e-6)


def test_the_figure_is_one_svg_with_a_line_per_schedule(held: WhatIf) -> None:
    svg = band_figure(held)
    assert svg.startswith("<svg")
    for schedule in held.schedules:
        assert schedule.label in svg


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"regimen": "no-such"}, "regimen"),
        ({"diagnosis": "glioma"}, "diagnosis"),
        ({"weight_kg": 0.0}, "weight_kg"),
        ({"weight_kg": math.nan}, "weight_kg"),
        ({"doses": ()}, "doses"),
    ],
)
def test_a_bad_ledger_is_refused_naming_the_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInputError) as refused:
        what_if(replace(hd_ledger(), **change), (), twins=2, seed=0)
    assert refused.value.field == field


@pytest.mark.parametrize(
    ("dose", "field"),
    [
        ({"outcome": "lost"}, "doses[2].outcome"),
        ({"outcome": "given", "given_min": None}, "doses[2].given_min"),
        ({"outcome": "held", "given_min": 960.0}, "doses[2].given_min"),
        ({"given_min": -2 * MIN_PER_DAY}, "doses[2].given_min"),
        ({"dose_iu": -1.0}, "doses[2].dose_iu"),
        ({"due_min": math.inf}, "doses[2].due_min"),
    ],
)
def test_a_bad_dose_is_refused_naming_it(dose: dict[str, Any], field: str) -> None:
    ledger = hd_ledger()
    doses = list(ledger.doses)
    doses[2] = replace(doses[2], **dose)
    with pytest.raises(InvalidInputError) as refused:
        what_if(replace(ledger, doses=tuple(doses)), (), twins=2, seed=0)
    assert refused.value.field == field


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"twins": 0}, "twins"),
        ({"seed": -1}, "seed"),
        ({"alternatives": ("no-such-regimen",)}, "alternatives"),
        ({"alternatives": ("",)}, "alternatives"),
    ],
)
def test_bad_options_are_refused_naming_them(options: dict[str, Any], field: str) -> None:
    alternatives = options.pop("alternatives", ())
    with pytest.raises(InvalidInputError) as refused:
        what_if(hd_ledger(), alternatives, **{"twins": 2, "seed": 0, **options})
    assert refused.value.field == field


def test_two_doses_given_at_one_time_are_refused() -> None:
    ledger = hd_ledger()
    doses = list(ledger.doses)
    doses[1] = replace(doses[1], given_min=doses[0].given_min)
    with pytest.raises(InvalidInputError) as refused:
        what_if(replace(ledger, doses=tuple(doses)), (), twins=2, seed=0)
    assert refused.value.field == "doses"


def _modelled(regimen_id: str) -> bool:
    try:
        course_of(RULES.regimens[regimen_id])
    except InvalidInputError:
        return False
    return True


def test_a_regimen_the_model_cannot_simulate_is_refused_by_name() -> None:
    unmodelled = next(r for r in RULES.regimens.values() if not _modelled(r.id))
    with pytest.raises(InvalidInputError) as refused:
        what_if(hd_ledger(), (unmodelled.id,), twins=2, seed=0)
    assert refused.value.field == "regimen"
    assert unmodelled.id in str(refused.value.value)
