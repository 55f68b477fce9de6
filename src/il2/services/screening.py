"""Screen a candidate: check their findings and judge every eligibility criterion.

The published prognostic scores (IMDC, MSKCC, melanoma factors) are computed from the same
findings and answered apart, under `prognosis`: they never change the eligibility verdict.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from il2.domain.eligibility import Screening, screen
from il2.domain.findings import Value, read_findings
from il2.domain.prognosis import PrognosticScore, PrognosticTable, assess_prognosis
from il2.rules.loader import RuleSet
from il2.services.documents import screening_document

Document = dict[str, Any]


def screen_candidate(rules: RuleSet, document: object) -> Screening:
    """Judge a candidate's findings (the contract's JSON document) against the criteria."""
    findings = read_findings(document, rules.screening_fields)
    return screen(findings, rules.criteria)


def prognosis_for(
    findings: Mapping[str, Value], table: PrognosticTable
) -> tuple[str | None, tuple[PrognosticScore, ...]]:
    """The diagnosis read from the findings and the scores that apply to it (none without)."""
    diagnosis = findings.get("diagnosis")
    if not isinstance(diagnosis, str):
        return None, ()
    return diagnosis, assess_prognosis(findings, diagnosis=diagnosis, table=table)


def prognosis_document(
    diagnosis: str | None, scores: tuple[PrognosticScore, ...], table: PrognosticTable
) -> Document:
    """The `prognosis` key of a screening answer: each score, its group or range, its factors."""
    rules = {rule.id: rule for rule in table.scores}
    answered = []
    for found in scores:
        groups = {g.id: g for g in rules[found.id].groups}
        answered.append(
            {
                "id": found.id,
                "name": found.name,
                "source": found.source,
                "built_for": found.built_for,
                "group": found.group,
                "group_label": groups[found.group].label if found.group else None,
                "possible_groups": [
                    {"id": g, "label": groups[g].label, "source": groups[g].source}
                    for g in found.possible_groups
                ],
                "count_low": found.count_low,
                "count_high": found.count_high,
                "factor_count": len(found.factors),
                "unknown_factors": [f.id for f in found.unknown],
                "factors": [
                    {
                        "id": f.id,
                        "label": f.label,
                        "status": f.status.value,
                        "finding": f.finding,
                        "threshold": f.threshold,
                        "source": f.source,
                        **({"method": f.method} if f.method else {}),
                    }
                    for f in found.factors
                ],
            }
        )
    return {
        "diagnosis": diagnosis,
        "caveat": table.caveat,
        "in_verdict": False,
        "version": table.version,
        "scores": answered,
    }


def screening_answer(rules: RuleSet, document: object) -> Document:
    """`il2 screen --json` and POST /api/engine/screen: the checklist and, apart, the scores."""
    findings = read_findings(document, rules.screening_fields)
    answer = screening_document(screen(findings, rules.criteria))
    table = rules.prognostic_scores
    answer["prognosis"] = prognosis_document(*prognosis_for(findings, table), table)
    return answer
