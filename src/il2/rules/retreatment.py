"""Load the no-retreatment list (retreatment.toml)."""

from __future__ import annotations

from collections.abc import Mapping

from il2.domain.findings import FieldSpec
from il2.domain.retreatment import RetreatmentItem, RetreatmentTable
from il2.rules.bedside import check_from
from il2.rules.reader import Node


def retreatment_table(
    data: Node, fields: Mapping[str, FieldSpec], version: str
) -> RetreatmentTable:
    """Validate retreatment.toml against its fields and build the no-retreatment list."""
    items = []
    for key, node in data.table("items").children():
        node.only("kind", "field", "label", "unit", "comparison", "limit", "values", "source")
        items.append(RetreatmentItem(key, check_from(node, fields), node.text("source")))
    return RetreatmentTable(items=tuple(items), version=version)
