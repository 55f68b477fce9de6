"""Load RECIST 1.1 and iRECIST thresholds (recist.toml)."""

from __future__ import annotations

from il2.domain.irecist import IrecistCriteria
from il2.domain.recist import RecistCriteria
from il2.rules.reader import Node


def recist_criteria(data: Node, version: str) -> RecistCriteria:
    """RECIST 1.1's thresholds and the reappearance-after-CR rule, validated."""
    node = data.table("recist")
    node.only(
        "non_nodal_target_min_mm", "nodal_target_min_short_axis_mm", "nodal_normal_below_mm",
        "max_targets", "max_targets_per_organ", "pr_change_from_baseline_pct",
        "pd_change_from_nadir_pct", "pd_increase_min_mm", "source",
    )  # fmt: skip
    return RecistCriteria(
        non_nodal_target_min_mm=node.number("non_nodal_target_min_mm"),
        nodal_target_min_short_axis_mm=node.number("nodal_target_min_short_axis_mm"),
        nodal_normal_below_mm=node.number("nodal_normal_below_mm"),
        max_targets=node.integer("max_targets", minimum=1),
        max_targets_per_organ=node.integer("max_targets_per_organ", minimum=1),
        pr_change_from_baseline_pct=node.number("pr_change_from_baseline_pct"),
        pd_change_from_nadir_pct=node.number("pd_change_from_nadir_pct"),
        pd_increase_min_mm=node.number("pd_increase_min_mm"),
        source=node.text("source"),
        version=version,
        reappearance_source=_reappearance_source(data),
    )


def _reappearance_source(data: Node) -> str:
    node = data.table("reappearance")
    node.only("source")
    return node.text("source")


def irecist_criteria(data: Node) -> IrecistCriteria:
    """iRECIST's confirmation window and growth thresholds, validated."""
    node = data.table("irecist")
    node.only(
        "confirm_after_weeks_min", "confirm_after_weeks_max", "further_target_increase_mm",
        "further_new_target_increase_mm", "source",
    )  # fmt: skip
    return IrecistCriteria(
        confirm_after_weeks_min=node.integer("confirm_after_weeks_min", minimum=1),
        confirm_after_weeks_max=node.integer("confirm_after_weeks_max", minimum=1),
        further_target_increase_mm=node.number("further_target_increase_mm"),
        further_new_target_increase_mm=node.number("further_new_target_increase_mm"),
        source=node.text("source"),
    )
