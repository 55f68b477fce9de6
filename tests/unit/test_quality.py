"""The data-quality checks at and around their boundaries."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest

from il2.domain.deidentify import study_number
from il2.domain.records import CourseOutline, CycleTally, EntryOutline, RecistOutline, Referral
from il2.services import quality
from il2.services.outcomes import assemble

ADMITTED = date(2026, 12, 21)
DAY = timedelta(days=1)


def _course(due_at: str = "2026-12-21T08:00:00+00:00") -> CourseOutline:
    return CourseOutline(
        7, 3, 1, "hd-label", date(2026, 12, 7), 2, ((1, "2026-12-07T08:00:00+00:00"), (2, due_at))
    )


def _tally(last: date | None, given: int = 1) -> dict[int, CycleTally]:
    return {2: CycleTally(7, 2, given, 0, last)}


@pytest.mark.parametrize(
    ("last", "flagged"),
    [
        (ADMITTED + DAY, False),
        (ADMITTED, False),
        (ADMITTED - DAY, True),
        (date(2026, 12, 7), True),
        (None, False),
    ],
)
def test_a_cycle_is_flagged_only_when_a_dose_falls_before_its_first_planned_day(
    last: date | None, *, flagged: bool
) -> None:
    problems, bad = quality.cycle_problems(_course(), _tally(last), {})
    assert bool(problems) is flagged
    assert bad == ({2} if flagged else set())


def test_the_first_planned_day_is_read_in_utc_too() -> None:
    # 00:30 in UTC+01:00 is 23:30 the day before in UTC, as the dose's day is read.
    course = _course("2026-12-21T00:30:00+01:00")
    assert quality.cycle_problems(course, _tally(ADMITTED - DAY), {}) == ([], set())
    assert quality.cycle_problems(course, _tally(ADMITTED - 2 * DAY), {})[1] == {2}


def test_a_cycle_with_a_given_dose_without_time_is_flagged() -> None:
    problems, bad = quality.cycle_problems(_course(), _tally(ADMITTED), {(7, 2): 2})
    assert bad == {2}
    assert problems[0].problem.startswith("2 doses are recorded as given without the time")
    assert problems[0].excluded_from == (quality.USE,)


FIRST = date(2026, 2, 2)


def _response(response_on: date | None, *, baseline: date = date(2026, 1, 20), best: str = "PR",
              change: float | None = -50.0) -> EntryOutline:  # fmt: skip
    recist = RecistOutline(best, response_on.isoformat() if response_on else None, None, change,
                           ((baseline.isoformat(), None), ("2026-04-01", change)))  # fmt: skip
    return EntryOutline(1, 3, "response", None, date(2026, 4, 1), None, None, (), recist)


@pytest.mark.parametrize(
    ("entry", "flagged"),
    [
        (_response(FIRST), False),
        (_response(FIRST - DAY), True),
        (_response(None), False),
        (_response(FIRST, baseline=FIRST), False),
        (_response(FIRST, baseline=FIRST + DAY), True),
        (_response(FIRST, best="XX"), True),
        (_response(FIRST, change=-100.0), False),
        (_response(FIRST, change=-100.5), True),
        (_response(FIRST, change=float("nan")), True),
    ],
)
def test_a_response_is_flagged_at_its_boundaries(entry: EntryOutline, *, flagged: bool) -> None:
    problems = quality.response_problems(3, [entry], FIRST)
    assert bool(problems) is flagged
    assert all(p.excluded_from == (quality.RESPONSE, quality.PROGRESSION) for p in problems)


@pytest.mark.parametrize(
    ("grade", "kept"), [(0, True), (1, True), (5, True), (6, False), (-1, False)]
)
def test_only_ctcae_grades_are_kept(grade: int, *, kept: bool) -> None:
    entry = EntryOutline(1, 3, "toxicity", 7, FIRST, None, None, (("fever", grade),), None)
    problems, grades = quality.toxicity_problems(3, entry, {7})
    assert (grades == (("fever", grade),)) is kept
    assert bool(problems) is not kept


def test_a_toxicity_of_another_patients_course_is_left_out() -> None:
    entry = EntryOutline(1, 3, "toxicity", 8, FIRST, None, None, (("fever", 2),), None)
    problems, grades = quality.toxicity_problems(3, entry, {7})
    assert grades == ()
    assert problems[0].excluded_from == (quality.TOXICITY,)


def test_a_death_on_the_day_of_the_last_dose_fits_and_the_day_before_does_not() -> None:
    later = [(FIRST, "a dose of course 1"), (FIRST - 3 * DAY, "a toxicity")]
    assert quality.death_problem(3, FIRST, later) is None
    problem = quality.death_problem(3, FIRST - DAY, later)
    assert problem is not None
    assert (
        problem.problem
        == "Death is recorded on 2026-02-01, before a dose of course 1 on 2026-02-02."
    )
    assert problem.excluded_from == (quality.SURVIVAL,)


def test_a_problem_names_the_study_number_not_the_id() -> None:
    problem = quality.Problem(42, "registration", "What is wrong.", (quality.EVERYTHING,))
    assert problem.document(b"a site key")["study_id"] == study_number(42, key=b"a site key")
    assert "42" not in problem.document(b"a site key")["study_id"]
    assert "patient_id" not in problem.document(b"a site key")


def test_a_problem_gives_its_dates_as_days_from_the_patients_day_zero() -> None:
    problem = quality.death_problem(7, date(2026, 2, 1), [(date(2026, 2, 2), "a dose of course 1")])
    assert problem is not None
    shown = replace(problem, day_zero=date(2026, 1, 20)).document(b"a site key")
    assert shown["problem"] == "Death is recorded on day 12, before a dose of course 1 on day 13."
    assert shown["record"] == "follow-up of day 12"


def test_a_death_before_the_referral_leaves_only_survival() -> None:
    patient = Referral(3, "melanoma", date(2026, 1, 5))
    death = EntryOutline(1, 3, "follow_up", None, date(2025, 12, 1), None, "dead", (), None)
    data, problems = assemble([patient], {}, {}, {3: [death]}, verdicts={}, untimed={}, as_of=FIRST)
    assert [p.problem for p in problems] == [
        "Death is recorded on 2025-12-01, before the referral on 2026-01-05."
    ]
    assert data.unfollowed == {3}
    assert data.patients[0].death_on is None
