"""The stateless engines, answering the same JSON documents as the CLI's --json."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from il2.api import answers
from il2.api.schemas import CoursePlan, JsonObject
from il2.api.security import Il2Services
from il2.services import documents
from il2.services.bedside import assess_before_dose
from il2.services.grading import grade_document, grading_document
from il2.services.planning import plan as plan_course
from il2.services.recist import assess_response
from il2.services.screening import screening_answer

# Pure computations taking a few milliseconds at most: they run on the event loop (async),
# sparing each request a hand-off to a worker thread.
router = APIRouter(prefix="/engine", tags=["engines"])


@router.post("/screen", response_model=answers.ScreeningDocument)
async def screen(candidate: JsonObject, services: Il2Services) -> dict[str, Any]:
    """Screen a candidate: every eligibility criterion with its verdict, evidence and source;
    apart from the verdict, the published prognostic scores (`prognosis`)."""
    return screening_answer(services.rules, candidate)


@router.post("/plan", response_model=answers.PlanDocument)
async def plan(body: CoursePlan, services: Il2Services) -> dict[str, Any]:
    """Plan a course: dose, preparation, vials and the time of every dose."""
    course = plan_course(
        services.rules,
        regimen_id=body.regimen,
        weight_kg=body.weight_kg,
        first_dose=body.first_dose,
        cycle_end_rule=body.cycle_end_rule,
        height_cm=body.height_cm,
        lesions=body.lesions,
        events=[event.model_dump() for event in body.events] if body.events else None,
    )
    return documents.plan_document(course, services.rules)


@router.post("/bedside", response_model=answers.BedsideDocument)
async def bedside(assessment: JsonObject, services: Il2Services) -> dict[str, Any]:
    """Before a dose: give, hold, stop the cycle or discontinue, with every rule that fired."""
    regimen, decision = assess_before_dose(services.rules, assessment)
    return documents.bedside_document(regimen, decision)


@router.post("/grade", response_model=answers.GradingDocument)
async def grade(findings: JsonObject, services: Il2Services) -> dict[str, Any]:
    """Grade toxicities by CTCAE, naming the criterion met."""
    return grading_document(grade_document(services.rules.ctcae, findings))


@router.post("/recist", response_model=answers.RecistDocument)
async def recist(measurements: JsonObject, services: Il2Services) -> dict[str, Any]:
    """RECIST 1.1 (and iRECIST) time points and the best overall response, with reasons."""
    return documents.recist_document(assess_response(services.rules, measurements))
