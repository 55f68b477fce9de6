"""The JSON documents of the command-line contract (README, "The command line"), built from results.

Every edge (command line, API) returns these same documents, so a field means one thing
everywhere. Numbers are plain JSON numbers; date-times are ISO 8601 with their offset.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from il2.domain.bedside import DoseDecision
from il2.domain.eligibility import Screening, Verdict
from il2.domain.plan import AldesleukinDose, CompanionPlan, CoursePlan
from il2.domain.quantities import plain, round_to
from il2.domain.regimen import ALDESLEUKIN, CompanionAgent, Dose, DoseBasis, Regimen, Route
from il2.domain.retreatment import RetreatmentDecision
from il2.rules.loader import RuleSet
from il2.services.recist import ResponseAssessment

Document = dict[str, Any]


def _json_number(value: Decimal, places: int) -> int | float:
    rounded = round_to(value, places)
    return int(rounded) if rounded == rounded.to_integral_value() else float(rounded)


def _optional_number(value: Decimal | None, places: int) -> int | float | None:
    return None if value is None else _json_number(value, places)


def dose_document(dose: Dose) -> Document:
    """A dose as its source writes it."""
    return {
        "amount": _json_number(dose.amount, 6),
        "unit": dose.unit.value,
        "basis": dose.basis.value,
        "words": dose.words,
    }


def _companion_agent(agent: CompanionAgent) -> Document:
    return {
        "agent": agent.agent,
        "route": agent.route.value,
        "dose": dose_document(agent.dose) if agent.dose else None,
        "days": list(agent.days),
        "doses_per_day": agent.doses_per_day,
        "duration_h": _optional_number(agent.duration_h, 2),
        "source": agent.source,
        "unconfirmed": list(agent.unconfirmed),
        "notes": agent.notes,
    }


def _schedule(regimen: Regimen) -> Document:
    """Aldesleukin's schedule, companion agents, anchor and course limits."""
    anchor = regimen.anchor
    return {
        "route": regimen.route.value,
        "setting": regimen.setting.value,
        "agents": list(regimen.agent_ids),
        "dose": dose_document(regimen.aldesleukin_dose),
        "schedule": regimen.summary,
        "steps": [
            {
                "days": list(step.days),
                "doses_per_day": step.doses_per_day,
                "every_h": step.every_h,
                "dose": dose_document(step.dose),
                "duration_h": _optional_number(step.duration_h, 2),
                "source": step.source,
            }
            for step in regimen.steps
        ],
        "min_interval_h": regimen.min_interval_h,
        "first_dose_day": regimen.first_dose_day,
        "companions": [_companion_agent(agent) for agent in regimen.agents],
        "anchor": None
        if anchor is None
        else {
            "event": anchor.event,
            "min_h_after": anchor.min_h,
            "max_h_after": anchor.max_h,
            "required": anchor.required,
            "source": anchor.source,
        },
        "course_every_weeks": regimen.course_every_weeks,
        "cycle_length_days": regimen.cycle_length_days,
        "max_cycles_total": regimen.max_cycles_total,
        "needs": [
            field
            for basis, field in ((DoseBasis.PER_M2, "height_cm"), (DoseBasis.PER_LESION, "lesions"))
            if regimen.needs(basis)
        ]
        + ([f"events.{anchor.event}"] if anchor is not None and anchor.required else []),
    }


def regimen_document(regimen: Regimen, sources: dict[str, str] | None = None) -> Document:
    """One regimen as the contract lists it, with its details."""
    return {
        "id": regimen.id,
        "name": regimen.name,
        "dose_iu_per_kg": regimen.dose_iu_per_kg,
        "interval_h": regimen.interval_h,
        "interval_max_h": regimen.interval_max_h,
        "max_doses_per_cycle": regimen.max_doses_per_cycle,
        "cycles_per_course": regimen.cycles_per_course,
        "cycle_start_days": list(regimen.cycle_start_days),
        "dosing_days_per_cycle": regimen.dosing_days_per_cycle,
        "max_doses_per_course": regimen.max_doses_per_course,
        "infusion_min": regimen.infusion_min,
        "indications": list(regimen.indications),
        "source": regimen.source,
        "version": regimen.version,
        "field_sources": dict(sources or {}),
        "unconfirmed": list(regimen.unconfirmed),
        "notes": regimen.notes,
        **_schedule(regimen),
    }


def regimens_document(rules: RuleSet) -> Document:
    """`il2 regimens --json`."""
    return {
        "regimens": [
            {
                **regimen_document(regimen, dict(rules.regimen_sources.get(key, {}))),
                "before_dose_checks": regimen.route.value in rules.before_dose_routes,
            }
            for key, regimen in rules.regimens.items()
        ],
        "before_dose_routes": list(rules.before_dose_routes),
        "before_dose_routes_source": rules.before_dose_routes_source,
        "rules_version": rules.versions["regimens"],
    }


def _setting(rules: RuleSet, name: str) -> Document:
    """A site policy as a plan names it: its value, default, and who set it, with why."""
    setting = next(p for p in rules.policies if p.name == name)
    return {
        "name": name,
        "value": setting.value,
        "default": setting.default,
        "set_by": setting.origin,
        "reason": setting.reason,
    }


def _vial_count(plan: CoursePlan, rules: RuleSet) -> Document:
    """How the vials were counted: the amount drawn from each vial, its basis and setting."""
    product = rules.product
    per_vial = Decimal(plan.vial_extractable_iu) / 1_000_000
    return {
        "extractable_ml_per_vial": _json_number(plan.vial_extractable_ml, 2),
        "extractable_iu_per_vial": plan.vial_extractable_iu,
        "vial_content_iu": product.vial_iu,
        "basis": (
            f"{plain(plan.vial_extractable_ml)} mL drawn from each vial at "
            f"{plain(Decimal(product.reconstituted_iu_per_ml) / 1_000_000)} MIU/mL (reconstituted"
            f" with {plain(product.reconstitution_ml)} mL) = {plain(per_vial)} MIU a vial; the "
            f"vial contains {plain(Decimal(product.vial_iu) / 1_000_000)} MIU. Vials a dose = "
            f"the dose divided by {plain(per_vial)} MIU, rounded up."
        ),
        "setting": _setting(rules, "vial_extractable_ml"),
        "pooling": rules.plan_policy.vial_pooling.value,
        "slots": "every permitted dose slot",
        "note": product.vial_order_note,
        "source": product.vial_order_source,
    }


def _cycle_end(plan: CoursePlan, rules: RuleSet) -> Document:
    """Which cycle-end rule shaped the plan, who chose it, and whether a choice was needed."""
    short = plan.shortfall
    return {
        "rule": plan.cycle_end_rule.value if plan.cycle_end_rule else None,
        "chosen_by": plan.cycle_end_chosen_by.value,
        "conflict": short is not None,
        "site_policy": rules.plan_policy.cycle_end_rule.value,
        "shortfall": None
        if short is None
        else {
            "cycle": short.cycle,
            "first_dose_time": f"{short.start:%H:%M}",
            "doses_within_days": short.fitted,
            "doses_allowed": short.allowed,
            "dosing_days": short.days,
            "last_day_with_every_dose": short.last_day,
        },
    }


def _dosing_weight(plan: CoursePlan, rules: RuleSet) -> Document:
    """The weight the dose is per kg of, on the site's basis (il2 does not convert)."""
    basis = plan.dosing_weight_basis
    per_kg = plan.regimen.dose_iu_per_kg
    what = (
        f"The dose is {per_kg:,} IU per kg of the weight given"
        if per_kg is not None
        else f"The doses ({', '.join(d.words for d in plan.regimen.doses)}) use the weight given"
    )
    return {
        "weight_kg": _json_number(plan.weight_kg, 2),
        "basis": basis.value,
        "basis_words": basis.words,
        "note": (
            f"{what}, {plain(plan.weight_kg)} kg, taken as the {basis.words} (site policy "
            f"dosing_weight_basis); il2 does not convert between weights."
        ),
        "setting": _setting(rules, "dosing_weight_basis"),
    }


def _dose_line(dose: AldesleukinDose) -> Document:
    """What each planned aldesleukin dose carries: agent, route, amount, vials, duration."""
    line: Document = {
        "agent": ALDESLEUKIN,
        "route": dose.route.value,
        "dose_iu": dose.dose_iu,
        "dose_mg": _json_number(dose.dose_mg, 2),
        "vials": dose.vials,
        "step": dose.step + 1,
    }
    if dose.route is Route.CONTINUOUS_INFUSION and dose.duration_h is not None:
        line["duration_h"] = _json_number(dose.duration_h, 2)
    return line


def _companion_plan(companion: CompanionPlan) -> Document:
    agent = companion.agent
    in_iu = companion.unit == "IU"

    def amount(value: Decimal | None) -> int | float | None:
        if value is None:
            return None
        return int(round_to(value, 0)) if in_iu else _json_number(value, 2)

    key = "dose_iu" if in_iu else "dose_mg"
    return {
        "agent": agent.agent,
        "route": agent.route.value,
        "dose": dose_document(agent.dose) if agent.dose else None,
        key: amount(companion.amount),
        f"per_cycle_{key.removeprefix('dose_')}": [amount(v) for v in companion.per_cycle],
        "administrations": [
            {
                "cycle": a.cycle,
                "day": a.day,
                "on": a.on.isoformat(),
                "doses": a.doses,
                key: amount(companion.amount),
            }
            for a in companion.administrations
        ],
        "source": agent.source,
        "unconfirmed": list(agent.unconfirmed),
        "notes": agent.notes,
    }


def _price(rules: RuleSet, name: str) -> Decimal | None:
    """A site price, or None when the site has not set it (0, the default, means unset)."""
    setting = next((p for p in rules.policies if p.name == name), None)
    if setting is None or isinstance(setting.value, bool | str) or setting.value <= 0:
        return None
    return Decimal(str(setting.value))


def _cost(plan: CoursePlan, rules: RuleSet) -> Document:
    """Each agent's cost a cycle, only where the site sets its price (site policy price_per_*)."""
    costs: Document = {}
    vial = _price(rules, "price_per_vial")
    if vial is not None:
        costs["aldesleukin"] = {
            "price_per_vial": _json_number(vial, 2),
            "per_cycle": [_json_number(vial * v, 2) for v in plan.vials_per_cycle],
            "per_course": _json_number(vial * plan.vials_per_course, 2),
        }
    for companion in plan.companions:
        per = "miu" if companion.unit == "IU" else "mg"
        price = _price(rules, f"price_per_{per}_{companion.agent.agent}")
        if price is None or None in companion.per_cycle:
            continue
        scale = Decimal(1_000_000) if per == "miu" else Decimal(1)
        costs[companion.agent.agent] = {
            f"price_per_{per}": _json_number(price, 4),
            "per_cycle": [_json_number(price * (v or 0) / scale, 2) for v in companion.per_cycle],
        }
    return costs


def _regimen_plan(plan: CoursePlan, rules: RuleSet) -> Document:
    """What a plan adds for regimens beyond the IV bolus: route, doses by step, body measures,
    companion agents, events and preparation."""
    body = plan.body
    regimen = plan.regimen
    policy = next(p for p in rules.policies if p.name == "bsa_formula")
    return {
        "route": regimen.route.value,
        "setting": regimen.setting.value,
        "agents": list(regimen.agent_ids),
        "min_interval_h": regimen.min_interval_h,
        "height_cm": _optional_number(body.height_cm, 1) if body else None,
        "bsa_m2": _optional_number(body.bsa_m2, 2) if body else None,
        "lesions": body.lesions if body else None,
        "body_surface": None
        if body is None or body.bsa_m2 is None or body.bsa_formula is None
        else {
            "bsa_m2": _json_number(body.bsa_m2, 4),
            "formula": body.bsa_formula.value,
            "note": f"Body-surface area by the {body.bsa_formula.value} formula (site policy "
            f"bsa_formula) from {plain(body.height_cm or Decimal(0))} cm and "
            f"{plain(body.weight_kg)} kg; the doses use the unrounded area.",
            "source": policy.source,
        },
        "aldesleukin_doses": [
            {
                **dose_document(d.dose),
                **_dose_line(d),
                "reconstituted_ml": _json_number(d.reconstituted_ml, 2),
            }
            for d in plan.aldesleukin_doses
        ],
        "companions": [_companion_plan(c) for c in plan.companions],
        "events": [{"kind": e.kind, "on": e.when} for e in plan.events],
        "preparation": {
            "route": regimen.route.value,
            "note": plan.preparation_note,
            "source": plan.preparation_source,
        }
        if plan.preparation_note
        else None,
        "course_every_weeks": regimen.course_every_weeks,
        "max_cycles_total": regimen.max_cycles_total,
        "unconfirmed": list(regimen.unconfirmed),
        "cost": _cost(plan, rules),
    }


def plan_document(plan: CoursePlan, rules: RuleSet) -> Document:
    """`il2 plan --json`."""
    policy = rules.plan_policy
    return {
        "regimen": plan.regimen.id,
        "regimen_name": plan.regimen.name,
        "weight_kg": _json_number(plan.weight_kg, 2),
        "dosing_weight_basis": plan.dosing_weight_basis.value,
        "dosing_weight": _dosing_weight(plan, rules),
        "dose_iu": plan.dose_iu,
        "dose_mg": _json_number(plan.dose_mg, 2),
        "mg_factor_note": plan.mg_factor_note,
        "reconstituted_ml": _json_number(plan.reconstituted_ml, 2),
        "diluent": plan.diluent,
        "diluent_ml": plan.diluent_ml,
        "concentration_ug_per_ml": _optional_number(plan.concentration_ug_per_ml, 1),
        "concentration_in_window": plan.concentration_in_window,
        "vials_per_dose": plan.vials_per_dose,
        "vials_per_cycle": max(plan.vials_per_cycle),
        "vials_by_cycle": list(plan.vials_per_cycle),
        "vials_per_course": plan.vials_per_course,
        "vial_count": _vial_count(plan, rules),
        "cycle_end": _cycle_end(plan, rules),
        "cycles": [
            {
                "cycle": cycle.cycle,
                "first_day": cycle.first_day.isoformat(),
                "doses": [
                    {
                        "number": d.number,
                        "due_at": d.due_at.isoformat(),
                        "day": d.day,
                        **_dose_line(plan.aldesleukin_doses[d.step]),
                    }
                    for d in cycle.doses
                ],
            }
            for cycle in plan.cycles
        ],
        **_regimen_plan(plan, rules),
        "response_assessment_on": (
            plan.response_assessment_on.isoformat() if plan.response_assessment_on else None
        ),
        "earliest_next_course_on": (
            plan.earliest_next_course_on.isoformat() if plan.earliest_next_course_on else None
        ),
        "warnings": list(plan.warnings),
        "policy": {
            "cycle_end_rule": policy.cycle_end_rule.value,
            "vial_pooling": policy.vial_pooling.value,
            "mg_factor": policy.mg_factor,
            "vial_extractable_ml": _json_number(policy.vial_extractable_ml, 2),
            "dosing_weight_basis": policy.dosing_weight_basis.value,
        },
        "source": plan.regimen.source,
        "rules_version": {
            "regimens": rules.versions["regimens"],
            "product": rules.versions["product"],
            "site_policy": rules.versions.get("site", rules.versions["site_policy"]),
        },
    }


def screening_document(screening: Screening) -> Document:
    """`il2 screen --json`: the criteria judged, and apart from them those switched off."""
    criteria: list[Document] = []
    switched_off: list[Document] = []
    for result in screening.results:
        line: Document = {
            "id": result.criterion.id,
            "title": result.criterion.title,
            "verdict": result.verdict.value,
            "evidence": result.evidence,
            "source": result.criterion.source,
        }
        if result.obtain:
            line["obtain"] = result.obtain
        if result.criterion.unconfirmed:
            line["unconfirmed"] = True
        if result.criterion.site_setting:
            line["site_setting"] = result.criterion.site_setting
        (switched_off if result.verdict is Verdict.NOT_APPLIED else criteria).append(line)
    return {
        "verdict": screening.verdict.value,
        "criteria": criteria,
        "not_applied": switched_off,
        "rules_version": screening.rules_version,
    }


def bedside_document(regimen: Regimen, decision: DoseDecision) -> Document:
    """`il2 bedside --json`."""
    return {
        "decision": decision.action.value,
        "reasons": [
            {
                "rule": r.rule,
                "finding": r.finding,
                "threshold": r.threshold,
                "action": r.action.value,
                "source": r.source,
                **({"unconfirmed": True} if r.unconfirmed else {}),
                **({"resume_when": r.resume, "resume_key": r.resume_key} if r.resume else {}),
                **({"site_setting": r.site_setting} if r.site_setting else {}),
            }
            for r in decision.reasons
        ],
        "missing": list(decision.missing),
        "to_obtain": [
            {"field": o.field, "obtain": o.what, "for_rules": list(o.rules)}
            for o in decision.to_obtain
        ],
        "not_evaluated": list(decision.not_evaluated),
        "warnings": [
            {
                "rule": a.rule,
                "finding": a.finding,
                "threshold": a.threshold,
                "advice": a.advice,
                "source": a.source,
            }
            for a in decision.advice
        ],
        "checked": [
            {
                "rule": c.rule,
                "action": c.action.value,
                "outcome": c.outcome.value,
                "finding": c.seen,
                "threshold": c.threshold,
                "source": c.source,
                "inputs": dict(c.inputs),
            }
            for c in decision.checked
        ],
        "regimen": regimen.id,
        "route": decision.route,
        **_route_checks(decision),
        "rules_version": decision.rules_version,
    }


def _route_checks(decision: DoseDecision) -> Document:
    """For a route other than the IV bolus: when it is assessed and what its sources leave out."""
    checks = decision.route_checks
    if checks is None:
        return {}
    return {
        "route_checks": {
            "assessed": checks.assessed,
            "required": list(checks.required),
            "required_source": checks.required_source,
            "not_in_the_sources": checks.limits,
        }
    }


def retreatment_document(decision: RetreatmentDecision) -> Document:
    """`il2 retreatment --json`."""
    return {
        "retreatment": decision.verdict.value,
        "reasons": [
            {"item": r.item, "finding": r.finding, "threshold": r.threshold, "source": r.source}
            for r in decision.reasons
        ],
        "not_evaluated": list(decision.not_evaluated),
        "to_review": [
            {"item": r.item, "finding": r.finding, "asks": r.asks, "source": r.source}
            for r in decision.to_review
        ],
        "rules_version": decision.rules_version,
    }


def _json_pct(value: Decimal | None) -> float | None:
    return None if value is None else float(round_to(value, 1))


def _mm(value: Decimal | None) -> int | float | None:
    return None if value is None else _json_number(value, 1)


def recist_document(assessment: ResponseAssessment) -> Document:
    """`il2 recist --json`: the contract's fields, and what outcome analysis needs."""
    result, options = assessment.recist, assessment.options
    document: Document = {
        "timepoints": [
            {
                "date": p.date.isoformat(),
                "sum_mm": _mm(p.sum_mm),
                "change_from_baseline_pct": _json_pct(p.change_from_baseline_pct),
                "change_from_nadir_pct": _json_pct(p.change_from_nadir_pct),
                "target": p.target.value if p.target else None,
                "non_target": p.non_target.value if p.non_target else None,
                "overall": p.overall.value if p.overall else None,
                "reasons": list(p.reasons),
                "lesions": [
                    {
                        "id": lesion.id,
                        "diameter_mm": _mm(lesion.diameter_mm),
                        "change_from_baseline_pct": _json_pct(lesion.change_from_baseline_pct),
                    }
                    for lesion in p.lesions
                ],
            }
            for p in result.timepoints
        ],
        "best_overall_response": result.best_overall_response.value,
        "confirmed": result.confirmed,
        "reasons": list(result.reasons),
        "response_on": result.response_on.isoformat() if result.response_on else None,
        "progression_on": result.progression_on.isoformat() if result.progression_on else None,
        "best_change_from_baseline_pct": _json_pct(result.best_change_from_baseline_pct),
        "options": {
            "confirmation_required": options.confirmation_required,
            "confirmation_weeks": options.confirmation_weeks,
            "min_sd_weeks": options.min_sd_weeks,
            "pr_drift": options.pr_drift.value,
        },
        "rules_version": result.rules_version,
    }
    if assessment.irecist is not None:
        document["irecist"] = {
            "timepoints": [
                {
                    "date": p.date.isoformat(),
                    "category": p.category.value,
                    "reasons": list(p.reasons),
                }
                for p in assessment.irecist.timepoints
            ],
            "best_overall_response": assessment.irecist.best_overall_response.value,
            "reasons": list(assessment.irecist.reasons),
        }
    return document


def policy_document(rules: RuleSet) -> Document:
    """Every site-configurable setting in force, with its default and source."""
    return {
        "site": {"name": rules.site.name, "time_zone": rules.site.time_zone.key},
        "policies": [
            {
                "name": p.name,
                "value": p.value,
                "default": p.default,
                "allowed": list(p.allowed),
                "description": p.description,
                "source": p.source,
                "set_by": p.origin,
                "reason": p.reason,
            }
            for p in rules.policies
        ],
        "eligibility_thresholds": [
            {
                "criterion": t.criterion,
                "setting": f"eligibility.{t.criterion}.{t.key}",
                "comparison": t.comparison,
                "value": t.value,
                "default": t.default,
                "unit": t.unit,
                "source": t.source,
                "alternatives": [{"value": v, "source": src} for v, src in t.alternatives],
            }
            for t in rules.thresholds
        ],
        "site_changes": [change.describe() for change in rules.site_changes],
        "versions": dict(rules.versions),
    }
