"""Response rates, doses per cycle, toxicity incidence and use per year on a hand-built program."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from il2.science.dataset import Cycle
from il2.science.stats import (
    ANY_TERM,
    median_doses_per_cycle,
    nights_by_year,
    response_rates,
    toxicity_incidence,
    use_by_year,
)
from tests.science.builders import clinic, course, cycle, patient, program, toxicity


def test_orr_counts_cr_and_pr_among_treated_patients_with_a_response_ne_included() -> None:
    rates = response_rates(clinic())["melanoma"]
    assert (rates.referred, rates.eligible, rates.treated, rates.assessed) == (5, 4, 4, 4)
    assert rates.orr is not None
    assert (rates.orr.count, rates.orr.total) == (2, 4)
    assert rates.cr_rate is not None
    assert rates.cr_rate.value == 0.25
    assert dict(rates.best) == {"CR": 1, "PR": 1, "SD": 0, "PD": 1, "NE": 1}


def test_a_diagnosis_without_assessed_patients_has_no_rate() -> None:
    rates = response_rates(clinic())["renal_cell_carcinoma"]
    assert (rates.referred, rates.orr, rates.cr_rate) == (0, None, None)


def test_median_doses_per_cycle_is_taken_over_each_diagnosis_cycles() -> None:
    # the clinic's four cycles gave 8, 10, 12 and 14 doses
    assert median_doses_per_cycle(clinic()) == {"melanoma": 11.0, "renal_cell_carcinoma": None}


def test_incidence_counts_each_patient_once_per_term_at_the_worst_grade() -> None:
    rows = {row.term: row for row in toxicity_incidence(clinic())}
    assert rows["hypotension"].at_least == (2, 2, 1, 0, 0)
    assert rows["diarrhea"].at_least == (2, 1, 1, 1, 0)
    assert rows["hypotension"].treated == 4


def test_the_any_term_row_comes_first_and_takes_each_patients_worst_event() -> None:
    rows = toxicity_incidence(clinic())
    assert rows[0].term == ANY_TERM
    assert rows[0].at_least == (3, 3, 2, 1, 0)
    assert rows[0].patients_at_least(3) == 2


def test_events_of_patients_never_treated_are_left_out() -> None:
    records = program(
        patients=[patient(1), patient(2, treated=False)],
        courses=[course(10), course(11, patient_id=2)],
        toxicities=[toxicity("fever", 1, patient_id=2, course_id=11)],
    )
    assert toxicity_incidence(records) == ()


def test_a_stay_over_new_year_splits_its_nights_between_the_years() -> None:
    assert nights_by_year(date(2024, 12, 29), date(2025, 1, 3)) == {2024: 3, 2025: 2}
    assert nights_by_year(date(2024, 12, 27), date(2025, 1, 1)) == {2024: 5}
    assert nights_by_year(date(2024, 3, 1), date(2024, 3, 1)) == {}


def _two_years() -> list[Cycle]:
    return [
        cycle(10, admitted_on=date(2024, 12, 29), discharged_on=date(2025, 1, 3), doses_given=10),
        cycle(
            10,
            number=2,
            admitted_on=date(2025, 1, 12),
            discharged_on=date(2025, 1, 17),
            doses_given=8,
        ),
        cycle(11, admitted_on=date(2022, 5, 1), discharged_on=date(2022, 5, 6), doses_given=12),
    ]


def test_cycles_days_doses_and_vials_are_counted_per_year_with_empty_years_shown() -> None:
    records = program(
        patients=[
            patient(1, last_contact_on=date(2025, 2, 1)),
            patient(2, referred_on=date(2022, 1, 1)),
        ],
        courses=[
            course(
                10,
                first_dose_on=date(2024, 12, 29),
                last_dose_on=date(2025, 1, 16),
                vials_per_dose=3,
            ),
            course(11, patient_id=2, first_dose_on=date(2022, 5, 1), vials_per_dose=2),
        ],
        cycles=_two_years(),
    )
    years = {y.year: y for y in use_by_year(records)}
    assert sorted(years) == [2022, 2023, 2024, 2025]
    assert [(y.cycles, y.inpatient_days, y.doses_given, y.vials) for y in years.values()] == [
        (1, 5, 12, 24),
        (0, 0, 0, 0),
        (1, 3, 10, 30),
        (1, 7, 8, 24),
    ]
    assert years[2025].cost(Decimal("1000.50")) == Decimal("24012.00")


def test_a_program_without_cycles_uses_nothing() -> None:
    assert use_by_year(program(patients=[patient()])) == ()


def test_incidence_never_rises_with_grade() -> None:
    for row in toxicity_incidence(clinic()):
        assert list(row.at_least) == sorted(row.at_least, reverse=True)
