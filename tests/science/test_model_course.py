"""Synthetic patients' tumours are the mechanistic model's: reproducible from their draw, read
out as the trial module reads the same patients, and measured as the model's tumour shrinks."""

from __future__ import annotations

import math
import random
from datetime import date, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from il2.domain.errors import InvalidInputError
from il2.rules.loader import load_rules
from il2.science.dataset import DIAGNOSES
from il2.science.mechanism.population import population_spec
from il2.science.mechanism.readout import CATEGORIES, diameter_mm
from il2.science.mechanism.trial import Arm, best_responses, plan_arm, readout_rules
from il2.science.model_course import FOLLOW_DAYS, TumourCourse, seed_of, virtual_patients
from il2.science.simulation import (
    SIMULATED_REGIMEN,
    lesion_measurements,
    tumour_course,
    tumour_courses,
)
from il2.services.recist import assess_response

RULES = load_rules()
_DRAWN = random.Random(41)  # noqa: S311 - reproducible draws, not cryptography
DRAWS = [_DRAWN.random() for _ in range(120)]
DIAGNOSED = [DIAGNOSES[i % 2] for i in range(len(DRAWS))]


@pytest.fixture(scope="module")
def courses() -> list[TumourCourse]:
    return tumour_courses(DRAWS, DIAGNOSED, rules=RULES)


def test_a_seed_gives_the_same_course_every_time() -> None:
    first = tumour_course(random.Random(3), "melanoma", rules=RULES)  # noqa: S311
    again = tumour_course(random.Random(3), "melanoma", rules=RULES)  # noqa: S311
    assert first == again


def test_a_patients_course_depends_on_its_own_draw_only(courses: list[TumourCourse]) -> None:
    alone = tumour_courses(DRAWS[5:6], DIAGNOSED[5:6], rules=RULES)
    assert alone[0] == courses[5]


def test_the_course_takes_one_draw_where_the_category_was_drawn() -> None:
    rng, twin = random.Random(9), random.Random(9)  # noqa: S311
    tumour_course(rng, "renal_cell_carcinoma", rules=RULES)
    twin.random()
    assert rng.random() == twin.random()


def test_the_category_is_the_trial_read_out_of_the_same_patients(
    courses: list[TumourCourse],
) -> None:
    # an independent path: the trial module simulates only at its scans and reads them out
    spec = population_spec()
    plan = plan_arm(Arm(SIMULATED_REGIMEN, sbrt=False), RULES.regimens, spec)
    population = virtual_patients(DRAWS, DIAGNOSED)
    codes = best_responses(plan, population, readout_rules(RULES, spec), math.inf)
    assert [CATEGORIES[int(c)] for c in codes] == [c.category for c in courses]
    assert {c.category for c in courses} >= {"CR", "SD", "PD"}


def test_ratios_start_at_one_and_match_the_categories(courses: list[TumourCourse]) -> None:
    for course in courses:
        assert course.ratio_on(0) == 1.0
        assert len(course.ratios) == FOLLOW_DAYS + 1
        assert course.ratio_on(10 * FOLLOW_DAYS) == course.ratios[-1]
        nadir = min(course.scan_ratios)
        if course.category == "CR":
            assert nadir == 0.0
            assert course.best_change_pct == -100.0
        elif course.category == "PR":
            assert 0.0 < nadir <= 0.7 + 1e-12
        else:  # shrinkage by 30% at the first two scans (8 weeks apart) is confirmed PR
            first, second = course.scan_ratios[:2]  # unless the second grew 20% over the nadir
            if first <= 0.7 and second <= 0.7:
                assert second >= 1.2 * first * (1 - 1e-12)


def test_a_ratio_is_the_cube_root_of_the_cell_ratio() -> None:
    readout = readout_rules(RULES, population_spec())
    cells = np.array([readout.detection_cells * 8.0, readout.detection_cells * 0.999])
    baseline = np.array([readout.detection_cells * 64.0])
    ratio = diameter_mm(cells, readout) / diameter_mm(baseline, readout)
    assert ratio == pytest.approx([0.5, 0.0], abs=1e-12)


def test_lesions_are_scaled_by_the_ratio_on_the_scan_day() -> None:
    ratios = tuple(1.0 - d / 100 for d in range(FOLLOW_DAYS + 1))
    course = TumourCourse("SD", ratios, (0.5, 0.4))
    dosed = date(2025, 3, 3)
    scan = dosed + timedelta(days=40)
    found = lesion_measurements(random.Random(2), dosed - timedelta(days=7), scan, course, dosed)  # noqa: S311
    baseline, first, later = found["assessments"]
    for before, at_first, at_later in zip(
        baseline["target_lesions"], first["target_lesions"], later["target_lesions"], strict=True
    ):
        assert at_first["diameter_mm"] == round(before["diameter_mm"] * 0.60, 1)
        assert at_later["diameter_mm"] == pytest.approx(round(before["diameter_mm"] * 0.04, 1))
    assert later["date"] == (scan + timedelta(weeks=8)).isoformat()


def test_il2s_recist_engine_reads_a_vanished_tumour_as_complete_response() -> None:
    ratios = (1.0,) + (0.0,) * FOLLOW_DAYS
    course = TumourCourse("CR", ratios, (0.0, 0.0, 0.0, 0.0))
    dosed = date(2025, 3, 3)
    for seed in range(20):
        document = lesion_measurements(
            random.Random(seed),  # noqa: S311
            dosed - timedelta(days=7),
            dosed + timedelta(days=47),
            course,
            dosed,
        )
        assert assess_response(RULES, document).recist.best_overall_response == "CR"


@settings(max_examples=25, deadline=None)
@given(st.floats(min_value=0.0, max_value=1.0, exclude_max=True))
def test_every_draw_seeds_a_generator(draw: float) -> None:
    assert 0 <= seed_of(draw) < 2**53
    assert seed_of(draw) / 2**53 <= draw


@pytest.mark.parametrize("draw", [-0.1, 1.0, math.nan])
def test_a_draw_outside_the_unit_interval_is_refused(draw: float) -> None:
    with pytest.raises(InvalidInputError, match="draw"):
        seed_of(draw)


def test_a_draw_needs_a_known_diagnosis_and_one_each() -> None:
    with pytest.raises(InvalidInputError, match="diagnosis"):
        virtual_patients([0.5], ["glioma"])  # type: ignore[list-item]
    with pytest.raises(InvalidInputError, match="diagnoses"):
        virtual_patients([0.5, 0.2], ["melanoma"])
