"""The retreatment history read from recorded before-dose assessments (services/history.py)."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from il2.domain.retreatment import Retreatment
from il2.rules.loader import load_rules
from il2.services.context import Services
from il2.services.history import history_document, recorded_grades, retreatment_on

RULES = load_rules()
KNOWN = frozenset(RULES.retreatment_fields["earlier_toxicities"].values)


def _services() -> Services:
    return Services(rules=RULES, uow=None, clock=None)  # type: ignore[arg-type]


def assessment(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"vitals": {"rhythm": "sinus"}, "findings": [], "coma_hours": 0,
                            "intubated_hours": 0, "dialysis_hours": 0}  # fmt: skip
    return base | changes


def test_findings_and_rhythms_the_list_knows_become_earlier_toxicities() -> None:
    document = history_document(
        [
            assessment(findings=["myocardial_infarction", "fever_unlisted"]),
            assessment(vitals={"rhythm": "sustained_vt"}),
        ],
        KNOWN,
    )
    assert document["earlier_toxicities"] == ["myocardial_infarction", "sustained_vt"]


def test_the_longest_recorded_duration_is_kept() -> None:
    document = history_document(
        [assessment(intubated_hours=10), assessment(intubated_hours=80), assessment()], KNOWN
    )
    assert document["intubated_hours_max"] == 80
    assert retreatment_on(_services(), [assessment(intubated_hours=80)]).verdict is (
        Retreatment.FORBIDDEN
    )


def test_an_uneventful_course_does_not_forbid_another() -> None:
    assert retreatment_on(_services(), [assessment(), assessment()]).verdict is (
        Retreatment.NOT_FORBIDDEN
    )


def test_durations_no_assessment_recorded_leave_the_verdict_incomplete() -> None:
    decision = retreatment_on(_services(), [{"findings": []}])
    assert decision.verdict is Retreatment.INCOMPLETE
    assert "intubated_hours_max" in decision.not_evaluated


SITE_ZONE = RULES.site.time_zone


def _dose(course_id: int, given_at: str | None, outcome: str = "given") -> dict[str, Any]:
    return {"course_id": course_id, "outcome": outcome, "given_at": given_at}


def _toxicity(
    entry_id: int, course_id: int | None, observed_on: str, term: str, grade: int, *,
    corrects_id: int | None = None,
) -> dict[str, Any]:  # fmt: skip
    grades = {"grades": [{"term": term, "grade": grade}]}
    return {"id": entry_id, "kind": "toxicity", "course_id": course_id, "corrects_id": corrects_id,
            "observed_on": observed_on, "content": {"grades": grades}}  # fmt: skip


def test_grades_of_a_treated_course_or_after_the_first_dose_are_earlier_grades() -> None:
    doses = [_dose(7, "2026-03-02T08:00:00+00:00"), _dose(7, None, "held"),
             _dose(8, None, "held")]  # fmt: skip
    entries = [
        _toxicity(1, 7, "2026-03-02", "hypoxia", 4),
        _toxicity(2, None, "2026-03-05", "atrial_fibrillation", 1),
        _toxicity(3, None, "2026-02-20", "ventricular_tachycardia", 3),  # before any dose
        _toxicity(4, 8, "2026-03-03", "hallucinations", 2),  # a course never given
        _toxicity(5, 7, "2026-03-02", "acute_kidney_injury", 0),  # graded 0: nothing
        {
            "id": 6,
            "kind": "follow_up",
            "course_id": 7,
            "observed_on": "2026-03-04",
            "content": {},
        },
    ]
    assert recorded_grades(doses, entries, SITE_ZONE) == [
        {"term": "hypoxia", "grade": 4, "observed_on": "2026-03-02"},
        {"term": "atrial_fibrillation", "grade": 1, "observed_on": "2026-03-05"},
    ]


def test_a_corrected_grade_counts_as_corrected() -> None:
    doses = [_dose(7, "2026-03-02T08:00:00+00:00")]
    entries = [
        _toxicity(1, 7, "2026-03-02", "hypoxia", 4),
        _toxicity(2, 7, "2026-03-02", "hypoxia", 3, corrects_id=1),
    ]
    grades = recorded_grades(doses, entries, SITE_ZONE)
    assert grades == [{"term": "hypoxia", "grade": 3, "observed_on": "2026-03-02"}]
    assert retreatment_on(_services(), [assessment()], grades).verdict is (
        Retreatment.NOT_FORBIDDEN
    )


def test_no_dose_given_means_no_earlier_grade() -> None:
    entries = [_toxicity(1, 7, "2026-03-02", "hypoxia", 4)]
    assert recorded_grades([_dose(7, None, "held")], entries, SITE_ZONE) == []


def test_the_first_dose_day_is_the_sites_calendar_day() -> None:
    """A dose at 23:30 in New York is 04:30 UTC the next day; a toxicity recorded that evening
    without a course is still after the first dose."""
    doses = [_dose(7, "2026-03-03T04:30:00+00:00")]
    entries = [_toxicity(1, None, "2026-03-02", "hypoxia", 4)]
    assert recorded_grades(doses, entries, ZoneInfo("America/New_York")) != []
    assert recorded_grades(doses, entries, ZoneInfo("UTC")) == []


def test_a_grade_to_review_leaves_the_verdict_incomplete_and_says_why() -> None:
    grades = [{"term": "ventricular_tachycardia", "grade": 3, "observed_on": "2026-03-04"}]
    decision = retreatment_on(_services(), [assessment()], grades)
    assert decision.verdict is Retreatment.INCOMPLETE
    assert decision.not_evaluated == ()
    (review,) = decision.to_review
    assert review.item == "cardiac"
    assert review.finding == "Ventricular tachycardia grade 3 on 2026-03-04"
    assert review.asks == "a physician must confirm whether it was sustained (5 beats or more)"
