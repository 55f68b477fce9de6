"""The dose screen's ledger facts are the ledger service's count, not a page's own."""

from il2.services.doses import ledger_facts


def _dose(course: int, cycle: int, outcome: str, given_at: str | None) -> dict[str, object]:
    return {"course_id": course, "cycle": cycle, "outcome": outcome, "given_at": given_at}


def test_a_cycle_counts_doses_given_with_a_time_and_doses_held() -> None:
    doses = [
        _dose(1, 1, "given", "2026-03-02T08:00:00+00:00"),
        _dose(1, 1, "given", "2026-03-02T16:00:00+00:00"),
        _dose(1, 1, "held", None),
        _dose(1, 1, "given", None),  # no time given: not counted as given
        _dose(1, 2, "given", "2026-03-20T08:00:00+00:00"),  # another cycle
        _dose(2, 1, "held", None),  # another course
    ]
    assert ledger_facts(doses, 1, 1) == {
        "doses_given_this_cycle": 2,
        "doses_held_this_cycle": 1,
        "last_given_at": "2026-03-02T16:00:00+00:00",
    }


def test_a_cycle_with_nothing_given_has_no_last_dose() -> None:
    assert ledger_facts([_dose(1, 1, "held", None)], 1, 1) == {
        "doses_given_this_cycle": 0,
        "doses_held_this_cycle": 1,
        "last_given_at": "",
    }
