"""Load the no-retreatment list (retreatment.toml)."""

from __future__ import annotations

from collections.abc import Mapping

from il2.domain.ctcae import CtcaeTable
from il2.domain.findings import FieldSpec
from il2.domain.retreatment import GradeReview, RetreatmentItem, RetreatmentTable
from il2.rules.bedside import check_from
from il2.rules.reader import Node


def retreatment_table(
    data: Node, fields: Mapping[str, FieldSpec], version: str, ctcae: CtcaeTable
) -> RetreatmentTable:
    """Validate retreatment.toml against its fields and the CTCAE terms, and build the list."""
    items = []
    for key, node in data.table("items").children():
        node.only("kind", "field", "label", "unit", "comparison", "limit", "values", "source")
        items.append(RetreatmentItem(key, check_from(node, fields), node.text("source")))
    names = {item.id for item in items}
    reviews = []
    if data.has("reviews"):
        for term_id, node in data.table("reviews").children():
            reviews.append(_review(term_id, node, names, ctcae))
    return RetreatmentTable(items=tuple(items), version=version, reviews=tuple(reviews))


def _review(term_id: str, node: Node, items: set[str], ctcae: CtcaeTable) -> GradeReview:
    node.only("item", "min_grade", "asks", "source")
    term = ctcae.terms.get(term_id)
    if term is None:
        raise node.fail("item", f"reviews a CTCAE term il2 does not grade: {term_id!r}")
    item = node.text("item")
    if item not in items:
        raise node.fail("item", f"must be an item of the list ({', '.join(sorted(items))})")
    grade = node.integer("min_grade", minimum=1)
    if grade not in term.grades:
        graded = ", ".join(str(g) for g in sorted(term.grades))
        raise node.fail("min_grade", f"must be a grade {term.name} has ({graded})")
    return GradeReview(term_id, term.name, grade, item, node.text("asks"), node.text("source"))
