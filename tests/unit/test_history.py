"""The retreatment history read from recorded before-dose assessments (services/history.py)."""

from __future__ import annotations

from typing import Any

from il2.domain.retreatment import Retreatment
from il2.rules.loader import load_rules
from il2.services.context import Services
from il2.services.history import history_document, retreatment_on

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
