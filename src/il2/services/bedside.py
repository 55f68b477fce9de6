"""Decide before a dose: check the assessment, find its regimen, apply the before-dose rules."""

from __future__ import annotations

from il2.domain.bedside import DoseDecision, decide_before_dose
from il2.domain.errors import InvalidInputError
from il2.domain.findings import Value, read_findings
from il2.domain.pressors import DERIVED, pressor_document, running
from il2.domain.regimen import Regimen
from il2.rules.loader import RuleSet
from il2.services.planning import find_regimen


def assessment_findings(rules: RuleSet, document: object) -> dict[str, Value]:
    """The before-dose document read into checked findings, the running vasopressors derived."""
    findings = read_findings(pressor_document(document, rules.pressor_agents), rules.bedside_fields)
    agents = running(findings, rules.pressor_agents)
    if agents is not None:
        findings[DERIVED] = agents
    return findings


def assess_before_dose(rules: RuleSet, document: object) -> tuple[Regimen, DoseDecision]:
    """The decision for the contract's before-dose document, and the regimen it applies to."""
    findings = assessment_findings(rules, document)
    regimen_id = findings.get("regimen")
    if not isinstance(regimen_id, str):
        raise InvalidInputError(
            field="regimen", value=None, allowed="a regimen id: " + ", ".join(rules.regimens)
        )
    regimen = find_regimen(rules, regimen_id)
    if regimen.route.value not in rules.before_dose_routes:
        checked = [r for r in rules.regimens.values() if r.route.value in rules.before_dose_routes]
        raise InvalidInputError(
            field="regimen",
            value=regimen_id,
            allowed="a regimen whose aldesleukin route has before-dose checks in il2 ("
            + ", ".join(r.id for r in checked)
            + f"): the before-dose checks for {regimen.route.value.replace('_', ' ')} "
            "are not in il2 yet",
        )
    decision = decide_before_dose(
        findings, regimen=regimen, table=rules.bedside, policy=rules.bedside_policy
    )
    return regimen, decision
