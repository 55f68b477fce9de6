"""Judge whether a patient's earlier toxicities forbid another course."""

from __future__ import annotations

from il2.domain.findings import read_findings
from il2.domain.retreatment import RetreatmentDecision, judge_retreatment
from il2.rules.loader import RuleSet


def judge_history(rules: RuleSet, document: object) -> RetreatmentDecision:
    """The retreatment verdict for a history document (earlier toxicities and durations)."""
    return judge_retreatment(read_findings(document, rules.retreatment_fields), rules.retreatment)
