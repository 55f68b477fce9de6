"""Screen a candidate: check their findings and judge every eligibility criterion."""

from __future__ import annotations

from il2.domain.eligibility import Screening, screen
from il2.domain.findings import read_findings
from il2.rules.loader import RuleSet


def screen_candidate(rules: RuleSet, document: object) -> Screening:
    """Judge a candidate's findings (the contract's JSON document) against the criteria."""
    findings = read_findings(document, rules.screening_fields)
    return screen(findings, rules.criteria)
