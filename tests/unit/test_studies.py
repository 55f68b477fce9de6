"""A patient's chain in a study: where they stand now, and the arm an intention-to-treat
analysis counts them in; registry ids by their format."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from il2.domain.studies import (
    Assignment,
    AssignmentKind,
    current,
    current_arms,
    intention_to_treat_arms,
    intention_to_treat_assigned_on,
    registry_format,
)

A, B = 1, 2


def record(patient: int, sequence: int, kind: AssignmentKind, arm: int | None) -> Assignment:
    return Assignment(sequence * 100 + patient, 7, patient, sequence, kind, arm,
                      date(2026, 1, sequence), None, "coordinator",
                      datetime(2026, 1, sequence, tzinfo=UTC))  # fmt: skip


ASSIGNED, CORRECTED, WITHDRAWN = AssignmentKind


def test_the_last_record_of_a_chain_says_where_the_patient_stands() -> None:
    chain = [record(1, 2, CORRECTED, B), record(1, 1, ASSIGNED, A)]
    last = current(chain)
    assert last is not None
    assert last.arm_id == B
    assert current([]) is None


def test_a_correction_moves_the_patient_to_the_corrected_arm_in_both_views() -> None:
    chain = [record(1, 1, ASSIGNED, A), record(1, 2, CORRECTED, B)]
    assert current_arms(chain) == {1: B}
    assert intention_to_treat_arms(chain) == {1: B}


def test_a_withdrawn_patient_is_in_no_arm_now_but_stays_in_their_arm_for_intention_to_treat() -> (
    None
):
    chain = [record(1, 1, ASSIGNED, A), record(1, 2, WITHDRAWN, None)]
    assert current_arms(chain) == {}
    assert intention_to_treat_arms(chain) == {1: A}


def test_a_patient_assigned_again_after_a_withdrawal_counts_in_the_new_arm() -> None:
    chain = [record(1, 1, ASSIGNED, A), record(1, 2, WITHDRAWN, None), record(1, 3, ASSIGNED, B)]
    assert current_arms(chain) == {1: B}
    assert intention_to_treat_arms(chain) == {1: B}


def test_each_patient_has_their_own_chain_whatever_the_order_of_the_records() -> None:
    records = [record(2, 2, CORRECTED, A), record(1, 1, ASSIGNED, A), record(2, 1, ASSIGNED, B)]
    assert intention_to_treat_arms(records) == {1: A, 2: A}
    assert intention_to_treat_arms(list(reversed(records))) == {1: A, 2: A}


def test_the_time_zero_of_intention_to_treat_is_the_assignment_a_correction_keeps() -> None:
    corrected = [record(1, 1, ASSIGNED, A), record(1, 2, CORRECTED, B)]
    assert intention_to_treat_assigned_on(corrected) == {1: date(2026, 1, 1)}
    withdrawn = [record(2, 1, ASSIGNED, A), record(2, 2, WITHDRAWN, None)]
    assert intention_to_treat_assigned_on(withdrawn) == {2: date(2026, 1, 1)}
    again = [record(3, 1, ASSIGNED, A), record(3, 2, WITHDRAWN, None), record(3, 3, ASSIGNED, B)]
    assert intention_to_treat_assigned_on(list(reversed(again))) == {3: date(2026, 1, 3)}
    assert intention_to_treat_assigned_on([]) == {}


@pytest.mark.parametrize(
    ("given", "registry"),
    [
        ("NCT01416831", "ClinicalTrials.gov"),
        ("ISRCTN12345678", "ISRCTN"),
        ("2015-001234-56", "EudraCT"),
        ("2023-501234-12-00", "EU CT"),
    ],
)
def test_a_registry_id_has_the_format_of_its_registry(given: str, registry: str) -> None:
    found = registry_format(given)
    assert found is not None
    assert found.startswith(registry)


@pytest.mark.parametrize("given", ["NCT0141683", "nct01416831", "NCT01416831 ", "01416831"])
def test_an_id_of_no_registrys_format_is_not_taken_for_one(given: str) -> None:
    assert registry_format(given) is None
