"""Judge whether a patient's earlier toxicities forbid another course.

A history document holds the list's fields (`earlier_toxicities` and the longest durations) and,
optionally, `earlier_grades`: the CTCAE grades recorded during earlier courses, each
`{"term": <CTCAE term id>, "grade": <int>, "observed_on": <ISO date, optional>}`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

from il2.domain.errors import InvalidInputError
from il2.domain.findings import Value, read_findings
from il2.domain.retreatment import RecordedGrade, RetreatmentDecision, judge_retreatment
from il2.rules.loader import RuleSet

GRADES = "earlier_grades"


def read_history(
    rules: RuleSet, document: object
) -> tuple[dict[str, Value], tuple[RecordedGrade, ...]]:
    """The list's fields and the recorded CTCAE grades of a history document."""
    if not isinstance(document, Mapping) or GRADES not in document:
        return read_findings(document, rules.retreatment_fields), ()
    rest = {k: v for k, v in document.items() if k != GRADES}
    return read_findings(rest, rules.retreatment_fields), _grades(rules, document[GRADES])


def _grades(rules: RuleSet, raw: object) -> tuple[RecordedGrade, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, Sequence) or isinstance(raw, str):
        raise InvalidInputError(
            field=GRADES, value=raw, allowed="a list of {term, grade, observed_on}"
        )
    return tuple(_grade(rules, item, f"{GRADES}[{n}]") for n, item in enumerate(raw))


def _grade(rules: RuleSet, item: object, where: str) -> RecordedGrade:
    if not isinstance(item, Mapping):
        raise InvalidInputError(field=where, value=item, allowed="an object {term, grade}")
    extra = sorted(set(item) - {"term", "grade", "observed_on"})
    if extra:
        raise InvalidInputError(
            field=f"{where}.{extra[0]}", value=item[extra[0]], allowed="term, grade, observed_on"
        )
    term_id = item.get("term")
    term = rules.ctcae.terms.get(term_id) if isinstance(term_id, str) else None
    if term is None:
        allowed = "a CTCAE term id of ctcae_v5.toml, e.g. ventricular_tachycardia"
        raise InvalidInputError(field=f"{where}.term", value=term_id, allowed=allowed)
    grade = item.get("grade")
    if (
        isinstance(grade, bool)
        or not isinstance(grade, int)
        or not (grade == 0 or grade in term.grades)
    ):
        allowed = "0 or a grade " + term.name + " has: " + ", ".join(map(str, sorted(term.grades)))
        raise InvalidInputError(field=f"{where}.grade", value=grade, allowed=allowed)
    return RecordedGrade(
        term.id, grade, _parse_day(item.get("observed_on"), f"{where}.observed_on")
    )


def _parse_day(raw: object, where: str) -> date | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        try:
            return date.fromisoformat(raw)
        except ValueError:
            pass
    raise InvalidInputError(field=where, value=raw, allowed="an ISO 8601 date (YYYY-MM-DD)")


def judge_history(rules: RuleSet, document: object) -> RetreatmentDecision:
    """The retreatment verdict for a history document (earlier toxicities, durations, grades)."""
    findings, grades = read_history(rules, document)
    return judge_retreatment(findings, rules.retreatment, grades)
