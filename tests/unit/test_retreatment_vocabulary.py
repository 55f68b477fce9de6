"""The bedside and the no-retreatment list speak one vocabulary for permanent discontinuation.

A patient discontinued at the bedside (Label-2024 Table 2, "Permanently discontinue") must be
barred by `il2 retreatment`. The tests read both rule files as shipped and key on
`action = "discontinue"`, not on rule ids, so a new or renamed bedside rule is covered too.
"""

from __future__ import annotations

from typing import Any

import pytest

from il2.domain.errors import InvalidInputError, RuleTableError
from il2.rules.ctcae import load_ctcae
from il2.rules.loader import load_rules
from il2.rules.reader import Node, read_bundled
from il2.rules.retreatment import retreatment_table
from il2.services.retreatment import judge_history

RULES = load_rules()
CLEAR = {"earlier_toxicities": [], "intubated_hours_max": 0, "dialysis_hours_max": 0,
         "coma_hours_max": 0}  # fmt: skip


def _discontinue_rules(kind: str) -> list[dict[str, Any]]:
    """Discontinue rules of every regimen.

    A rule kept to some regimens (after TIL therapy: a vasopressor or fluid-refractory
    hypotension, Betof Warner et al., J Immunother Cancer 2024;12:e008735, Table 2) ends IL-2
    within that regimen, which has no further course; the label's no-retreatment list is about
    the high-dose courses.
    """
    rules = read_bundled("bedside.toml")["rules"].values()
    return [
        r
        for r in rules
        if r.get("action") == "discontinue" and r.get("kind") == kind and "regimens" not in r
    ]


def _bedside_discontinue_terms() -> set[str]:
    """Every coded value (a finding, a rhythm) that makes the bedside answer discontinue."""
    return {value for rule in _discontinue_rules("one_of") for value in rule["values"]}


def _retreatment_terms() -> set[str]:
    """Every term of `earlier_toxicities` that the no-retreatment list forbids."""
    items = read_bundled("retreatment.toml")["items"].values()
    return {
        value
        for item in items
        if item["kind"] == "one_of" and item["field"] == "earlier_toxicities"
        for value in item["values"]
    }


def test_the_bedside_has_discontinue_terms_to_compare() -> None:
    terms = _bedside_discontinue_terms()
    assert {"sustained_vt", "ecg_ischemia", "chest_pain", "seizures"} <= terms


def test_every_bedside_discontinue_term_is_a_retreatment_term() -> None:
    missing = _bedside_discontinue_terms() - _retreatment_terms()
    assert not missing, (
        f"bedside.toml discontinues on {sorted(missing)}, which retreatment.toml does not know: "
        "add them to an item of retreatment.toml"
    )


def test_the_retreatment_field_accepts_every_bedside_discontinue_term() -> None:
    accepted = set(RULES.retreatment_fields["earlier_toxicities"].values)
    assert _bedside_discontinue_terms() <= accepted


@pytest.mark.parametrize("term", sorted(_bedside_discontinue_terms()))
def test_a_patient_discontinued_at_the_bedside_for_it_is_barred(term: str) -> None:
    decision = judge_history(RULES, {**CLEAR, "earlier_toxicities": [term]})
    assert decision.verdict.value == "forbidden", term


def test_every_bedside_discontinue_limit_has_the_same_limit_in_the_retreatment_list() -> None:
    """`intubated_hours > 72` at the bedside is `intubated_hours_max > 72` in the history."""
    items = {i["field"]: i for i in read_bundled("retreatment.toml")["items"].values()}
    for rule in _discontinue_rules("limit"):
        item = items.get(f"{rule['field']}_max")
        assert item is not None, f"no retreatment item on {rule['field']}_max"
        assert (item["comparison"], item["limit"]) == (rule["comparison"], rule["limit"]), rule


def test_the_older_chest_pain_term_is_still_understood() -> None:
    decision = judge_history(
        RULES, {**CLEAR, "earlier_toxicities": ["chest_pain_with_ecg_changes"]}
    )
    assert decision.verdict.value == "forbidden"


# --- CTCAE grades recorded on the flowsheet -------------------------------------------------


def _retreatment_with(reviews: dict[str, Any]) -> Any:
    data = read_bundled("retreatment.toml") | {"reviews": reviews}
    return retreatment_table(
        Node(data, "retreatment.toml"), RULES.retreatment_fields, "test", load_ctcae()
    )


def test_every_review_names_a_ctcae_term_a_grade_it_has_and_an_item_of_the_list() -> None:
    items = {item.id for item in RULES.retreatment.items}
    assert RULES.retreatment.reviews
    for review in RULES.retreatment.reviews:
        term = RULES.ctcae.terms[review.term]
        assert review.min_grade in term.grades
        assert review.item in items
        assert "CTCAE v5.0" in review.source
        assert "Label" in review.source


@pytest.mark.parametrize(
    ("review", "field", "says"),
    [
        ({"term_x": {"item": "cardiac", "min_grade": 1, "asks": "a", "source": "s"}},
         "reviews.term_x.item", "does not grade"),
        ({"hypoxia": {"item": "lungs", "min_grade": 4, "asks": "a", "source": "s"}},
         "reviews.hypoxia.item", "an item of the list"),
        ({"hypoxia": {"item": "intubation", "min_grade": 1, "asks": "a", "source": "s"}},
         "reviews.hypoxia.min_grade", "a grade Hypoxia has (2, 3, 4, 5)"),
        ({"hypoxia": {"item": "intubation", "min_grade": 4, "asks": "a"}},
         "reviews.hypoxia.source", "required"),
    ],
    ids=["unknown term", "unknown item", "grade the term lacks", "no source"],
)  # fmt: skip
def test_a_bad_review_fails_at_start_naming_the_field(
    review: dict[str, Any], field: str, says: str
) -> None:
    with pytest.raises(RuleTableError) as failed:
        _retreatment_with(review)
    assert failed.value.field == field
    assert says in failed.value.problem


@pytest.mark.parametrize(
    ("grades", "field"),
    [
        ("atrial_fibrillation", "earlier_grades"),
        ([{"term": "atrial_fibrilation", "grade": 2}], "earlier_grades[0].term"),
        ([{"term": "hypoxia", "grade": 1}], "earlier_grades[0].grade"),
        ([{"term": "hypoxia", "grade": True}], "earlier_grades[0].grade"),
        ([{"term": "hypoxia", "grade": 4, "observed_on": "2026-13-01"}],
         "earlier_grades[0].observed_on"),
        ([{"term": "hypoxia", "grade": 4}, {"term": "hypoxia", "grade": 4, "by": "x"}],
         "earlier_grades[1].by"),
    ],
)  # fmt: skip
def test_a_bad_recorded_grade_is_refused_naming_the_field(grades: object, field: str) -> None:
    with pytest.raises(InvalidInputError) as refused:
        judge_history(RULES, CLEAR | {"earlier_grades": grades})
    assert refused.value.field == field
