"""The chart's worst grade per term, Fahrenheit fever, and clinician-facing CTCAE text."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from il2.domain.ctcae import Finding, grade_findings
from il2.domain.errors import InvalidInputError
from il2.rules.ctcae import load_ctcae
from il2.web.record import worst_grades

TABLE = load_ctcae()
NAMES = {key: term.name for key, term in TABLE.terms.items()}


def _entry(day: str, *grades: tuple[str, int]) -> dict[str, Any]:
    return {
        "observed_on": day,
        "content": {"grades": {"grades": [{"term": t, "grade": g} for t, g in grades]}},
    }


def test_a_grade_3_stays_on_the_chart_behind_later_grade_1s() -> None:
    entries = [_entry("2026-12-01", ("hypotension", 3))] + [
        _entry(f"2026-12-0{day}", ("hypotension", 1), ("fever", 1)) for day in range(2, 9)
    ]
    rows = worst_grades(entries, NAMES)
    assert [(r.name, r.worst, r.worst_on, r.latest, r.latest_on) for r in rows] == [
        ("Hypotension", 3, "2026-12-01", 1, "2026-12-08"),
        ("Fever", 1, "2026-12-02", 1, "2026-12-08"),
    ]
    assert rows[0].entries == 8


@given(
    st.lists(
        st.tuples(
            st.dates().map(lambda d: d.isoformat()),
            st.sampled_from(("fever", "hypotension", "nausea")),
            st.integers(min_value=0, max_value=5),
        ),
        min_size=1,
        max_size=20,
    )
)
def test_the_worst_grade_is_the_highest_ever_recorded_and_the_latest_the_last_day(
    seen: list[tuple[str, str, int]],
) -> None:
    rows = worst_grades([_entry(day, (term, grade)) for day, term, grade in seen], NAMES)
    for row in rows:
        mine = [(day, grade) for day, term, grade in seen if term == row.term]
        assert row.worst == max(grade for _, grade in mine)
        assert row.worst_on == min(day for day, grade in mine if grade == row.worst)
        assert row.latest_on == max(day for day, _ in mine)
        assert row.latest <= row.worst
    assert [r.worst for r in rows] == sorted((r.worst for r in rows), reverse=True)


def _fever(value: str, unit: str | None) -> tuple[int, str]:
    finding = Finding(term="fever", value=Decimal(value), unit=unit, duration_h=Decimal(12))
    graded = grade_findings([finding], TABLE)[0]
    return graded.grade, graded.criterion


def test_fahrenheit_fever_is_converted_exactly_before_grading() -> None:
    assert _fever("100.4", "f")[0] == 1  # 38.0 °C, the lower end of grade 1, exactly
    assert _fever("100.3", "f")[0] == 0
    assert _fever("98.6", "f")[0] == 0
    grade, criterion = _fever("103", "f")
    assert grade == 2
    assert "103°F, converted to 39.44°C ((value - 32) x 5 / 9)" in criterion


@given(st.decimals(min_value=90, max_value=115, places=1))
def test_a_fahrenheit_reading_grades_as_its_celsius_equivalent(fahrenheit: Decimal) -> None:
    celsius = (fahrenheit - 32) * 5 / 9
    assert _fever(str(fahrenheit), "f")[0] == _fever(str(celsius), "c")[0]


_INTERNAL = re.compile(
    r"shared/|\.md\b|admiral:|AVAL|\bBASE \d|TODO|FIXME|clinical_grade|section 8"
)


def test_no_internal_note_reaches_the_criteria_clinicians_read() -> None:
    shown = [TABLE.source]
    for term in TABLE.terms.values():
        shown += [term.name, term.source, *term.grades.values()]
        shown += [clause.text for clause in term.clauses]
        shown += [f"{c.label} {c.source}" for c in term.units.values()]
    leaks = [text for text in shown if _INTERNAL.search(text)]
    assert leaks == []


def test_a_missing_unit_is_refused_naming_the_units_in_words() -> None:
    with pytest.raises(InvalidInputError) as refused:
        _fever("39.5", "kg")
    assert "°C (c), °F (f)" in refused.value.allowed
