"""The bedside dose screen: assess, see the decision before anything is saved, then record.

The preview calls the bedside engine alone; the record calls `submit_dose`, which assesses the
same document again with the ledger's own facts, so what is saved never rests on the preview.
"""

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData

from il2.domain.bedside import BOLUS, holds_still_open
from il2.domain.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    RefusedError,
    UnavailableError,
)
from il2.domain.limits import MAX_ID
from il2.domain.records import Actor, DoseOutcome
from il2.rules.findings_display import load_findings_display
from il2.services.doses import (
    RECHECK,
    VERIFIED_PLAN_POLICY,
    DoseSubmission,
    correct_recheck,
    ledger_facts,
    needs_verified_plan,
    preview_dose,
    record_recheck,
    submit_dose,
)
from il2.services.ehr import ehr_bedside_values, ehr_configured, fill_form
from il2.services.infusions import (
    ROUTE as INFUSION_ROUTE,
)
from il2.services.infusions import (
    InfusionSubmission,
    read_infusion,
    record_infusion_event,
)
from il2.services.parsing import aware
from il2.services.patients import read_patient
from il2.services.permissions import require
from il2.services.pharmacy import plan_verification
from il2.web import forms, record
from il2.web.core import Form, RecordId, SlotNumber, Web, form_values, is_htmx, see_other
from il2.web.session import signed_in

# Filled from the ledger, never typed: the record recomputes them itself.
SLOT_FIELDS = (
    "regimen", "cycle", "dose_number", "doses_given_this_cycle", "doses_held_this_cycle",
    "hours_since_last_dose",
)  # fmt: skip
_COUNTS = ("cycle", "dose_number", "doses_given_this_cycle", "doses_held_this_cycle")
_ORDER = (
    "Vital signs", "Fluid balance", "Neurological and airway", "Labs", "Pressors and oxygen",
    "Findings", "Earlier holds", "After TIL therapy", "Supportive medicines",
    "Baseline (from the plan and screening)",
)  # fmt: skip
_TIL_ONLY = ("hours_since_til_infusion",)
_OUTCOMES = {o.value: o for o in DoseOutcome}
CHECK_BUTTON = "check-decision"  # the button asking for the decision, by its id
PATH = "/patients/{patient_id}/courses/{course_id}/doses/{cycle}/{number}"


@dataclass(frozen=True, slots=True)
class Dose:
    """Which dose slot a page is about, from its path."""

    patient_id: int
    course_id: int
    cycle: int
    number: int

    @classmethod
    def of(cls, request: Request) -> "Dose":
        """The slot named by the request's path."""
        p = request.path_params
        return cls(int(p["patient_id"]), int(p["course_id"]), int(p["cycle"]), int(p["number"]))

    @property
    def url(self) -> str:
        """The dose screen's address."""
        return PATH.format(
            patient_id=self.patient_id,
            course_id=self.course_id,
            cycle=self.cycle,
            number=self.number,
        )


def _entry_id(value: object) -> int | None:
    """The form's `correcting` entry id, or None when absent or not a number."""
    text = str(value or "").strip()
    return int(text) if text.isdigit() and int(text) <= MAX_ID else None


def dose_path(
    patient_id: RecordId, course_id: RecordId, cycle: SlotNumber, number: SlotNumber
) -> Dose:
    """The dose slot of the path, its numbers checked by FastAPI."""
    return Dose(patient_id, course_id, cycle, number)


DosePath = Annotated[Dose, Depends(dose_path)]


def _kept(form: FormData) -> dict[str, Any]:
    """The form's values to show again: never the verifier's password."""
    values = form_values(form)
    values.pop("verifier_password", None)
    return values


class Screen:
    """The dose screen's pieces, shared by its page, its preview and its record."""

    def __init__(self, web: Web) -> None:
        self.web = web
        self.specs = web.rules.bedside_fields
        self.agents = web.rules.pressor_agents
        self.pressor_fields = tuple(p for p in self.specs if p.startswith("vasopressor"))
        # held_for is the ledger's (the holds the last dose left open), never ticked by hand
        self.typed = (*SLOT_FIELDS, "vasopressor_agents", "held_for")
        self.finding_groups = forms.term_groups(self.specs["findings"], load_findings_display())

    def groups(self, regimen: str) -> list[forms.TermGroup]:
        """The findings offered for a course of `regimen`: those its route's checks name."""
        route = self.route(regimen)
        if route == BOLUS:
            return self.finding_groups
        named = self.web.rules.bedside.terms_for(route, "findings")
        kept = [forms.TermGroup(g.title, tuple(t for t in g.terms if t[0] in named))
                for g in self.finding_groups]  # fmt: skip
        return [g for g in kept if g.terms]

    def route(self, regimen: str) -> str:
        """The route of the regimen's aldesleukin (the IV bolus for one il2 no longer knows)."""
        known = self.web.rules.regimens.get(regimen)
        return known.route.value if known is not None else BOLUS

    def sections(self, regimen: str) -> list[forms.Section]:
        """The form's sections for a course of `regimen` (the TIL timing only after TIL; for a
        route other than the IV bolus, only what its own checks read)."""
        skip = [*self.typed, *(() if regimen == "post-til" else _TIL_ONLY)]
        route = self.route(regimen)
        if route != BOLUS:
            read = self.web.rules.bedside.read_for(route)
            skip += [path for path in self.specs if path not in read]
        return sorted(
            forms.sections(self.specs, skip=skip, bedside=True),
            key=lambda s: _ORDER.index(s.title) if s.title in _ORDER else len(_ORDER),
        )

    def now_input(self) -> str:
        """Now, as a datetime-local input shows it in the site's time zone."""
        zone = self.web.rules.site.time_zone
        return self.web.services.clock().astimezone(zone).strftime("%Y-%m-%dT%H:%M")

    def assessment(self, form: FormData) -> dict[str, Any]:
        """The findings typed into the form (no slot facts), vasopressors as a list.

        Every field is checked first, so a refusal names all the fields to correct at once.
        """
        forms.check_all(form, self.specs, skip=self.typed)
        document = forms.document(form, self.specs, skip=(*self.typed, *self.pressor_fields))
        listed = forms.pressor_list(form, self.agents)
        if listed is not None:
            document["vasopressors"] = listed
        return document

    def decision(self, form: FormData, dose: Dose, actor: Actor) -> dict[str, Any]:
        """What the engine decides for the form, with the ledger's counts; nothing is saved."""
        given_at = forms.text(form, "given_at")
        services = self.web.services
        submission = DoseSubmission(
            cycle=dose.cycle,
            dose_number=dose.number,
            assessment=self.assessment(form),
            given_at=aware(given_at, "given_at", services) if given_at else None,
        )
        return preview_dose(services, actor, dose.course_id, submission)

    def page(
        self,
        request: Request,
        dose: Dose,
        actor: Actor,
        *,
        values: dict[str, Any] | None = None,
        error: InvalidInputError | None = None,
        decision: Mapping[str, Any] | None = None,
        refused: RefusedError | None = None,
        correct: int | None = None,
        ehr: Mapping[str, Any] | None = None,
    ) -> HTMLResponse:
        """The dose screen: the form (with a decision if known), or the record once made.

        `ehr` is what the "From the EHR" panel shows once read: the offers (`found`), the
        fields filled (`marks`, each with the EHR's time) and those kept as typed, or an error.

        `correct` (or the form's `correcting`) names a recheck of this slot to correct: the
        form starts from its assessment and asks for the reason.

        A refused record comes back as the form with everything typed and each reason (409).
        A de-identified reader has no dose screen: it is dated to the minute (Safe Harbor).
        """
        if self.web.deidentified(actor):
            raise PermissionDeniedError(
                f"{actor.username} ({actor.role.value}) reads de-identified records: "
                "the dose screen is dated and is not shown"
            )
        found = read_patient(self.web.services, actor, dose.patient_id)
        course = record.course(found, dose.course_id)
        slot = course.slot(dose.cycle, dose.number)
        if slot.record is None:  # the form: only for who may record a dose
            require(self.web.services, actor, "dose.record")
        rechecks = [
            e
            for e in record.current(found["entries"], RECHECK)
            if e["course_id"] == dose.course_id
            and (e["content"]["cycle"], e["content"]["dose_number"]) == (dose.cycle, dose.number)
        ]
        wanted = next(
            (
                found_id
                for found_id in (
                    correct,
                    _entry_id(request.path_params.get("entry_id")),  # a correction redisplayed
                    _entry_id((values or {}).get("correcting")),
                )
                if found_id is not None
            ),
            None,
        )
        correcting = next((e for e in rechecks if e["id"] == wanted), None)
        if wanted is not None and correcting is None:
            raise NotFoundError(kind="current recheck of this dose", key=str(wanted))
        if values is None and correcting is not None:
            values = self.recheck_values(correcting)
        if values is None:
            screening = found["screenings"][-1]["findings"] if found["screenings"] else {}
            creatinine = screening.get("labs", {}).get("creatinine_mg_dl")
            values = {
                "baseline.weight_kg": course.weight_kg,
                "baseline.creatinine_mg_dl": "" if creatinine is None else str(creatinine),
                "given_at": self.now_input(),
            }
        earlier = [
            (d["cycle"], d["dose_number"], d["outcome"], d.get("decision") or {})
            for d in course.doses
        ]
        unverified = (
            needs_verified_plan(self.web.services)
            and not any(d["outcome"] == "given" for d in course.doses)
            and plan_verification(self.web.services, actor, course.id) is None
        )
        facts = {
            "plan_unverified": VERIFIED_PLAN_POLICY if unverified else None,
            "rechecks": rechecks,
            "correcting": correcting,
            "corrected": {
                e["id"]: e
                for e in found["entries"]
                if e["kind"] == RECHECK and e["id"] in {r.get("corrects_id") for r in rechecks}
            },
            "open_holds": holds_still_open(earlier, dose.cycle, dose.number),
            "regimen": course.regimen_id,
            "cycle": dose.cycle,
            "dose_number": dose.number,
            **ledger_facts(found["doses"], course.id, dose.cycle),
            "idempotency_key": values.get("idempotency_key") or uuid.uuid4().hex,
        }
        infusion = None
        existing = slot.record
        if (
            existing is not None
            and existing["outcome"] == DoseOutcome.GIVEN.value
            and existing.get("given_at")
            and self.route(course.regimen_id) == INFUSION_ROUTE
        ):
            infusion = read_infusion(
                self.web.services, actor, dose.course_id, dose.cycle, dose.number,
                patient_id=dose.patient_id,
            )  # fmt: skip
            if error is None:
                values = {"at": self.now_input()}
        panel: dict[str, Any] | None = None
        if ehr_configured(self.web.services) and self.web.can(actor, "dose.record"):
            where = self.web.services.ehr.where if self.web.services.ehr else ""
            panel = {"where": where, "found": None, "error": None, "marks": {}, "kept": []}
            panel |= dict(ehr or {})
        return self.web.page(
            request,
            "bedside.html",
            status=422 if error else 409 if refused else 200,
            ehr=panel,
            infusion=infusion,
            record=found,
            label=record.label(found),
            course=course,
            slot=slot,
            existing=slot.record,
            facts=facts,
            sections=self.sections(course.regimen_id),
            finding_groups=self.groups(course.regimen_id),
            route_checks=self.web.rules.bedside.routes.get(self.route(course.regimen_id))
            if self.web.rules.bedside.routes
            else None,
            values=values,
            error=error,
            errors=forms.each_field(error, values),
            decision=decision,
            refused=refused,
            now=self.now_input(),
        )

    def recheck_values(self, entry: Mapping[str, Any]) -> dict[str, Any]:
        """A recheck's assessment as the dose form's values, to correct it."""
        assessment = dict(entry["content"]["assessment"])
        pressors = assessment.pop("vasopressors", None)
        values = forms.flatten(assessment)
        for item in pressors or ():
            agent = item.get("agent")
            values.update(
                {f"vasopressors.{agent}.{k}": str(v) for k, v in item.items() if k != "agent"}
            )
        if pressors == []:
            values[forms.PRESSORS_NONE] = "yes"
        zone = self.web.rules.site.time_zone
        assessed = datetime.fromisoformat(entry["content"]["assessed_at"]).astimezone(zone)
        values["assessed_at"] = assessed.strftime("%Y-%m-%dT%H:%M")
        values["correcting"] = str(entry["id"])
        return values

    def fragment(
        self,
        request: Request,
        *,
        decision: Mapping[str, Any] | None,
        values: dict[str, Any],
        error: InvalidInputError | None = None,
    ) -> HTMLResponse:
        """The decision alone, for htmx to put under the form."""
        return self.web.page(
            request,
            "_decision.html",
            status=422 if error else 200,
            decision=decision,
            preview_error=error,
            preview_errors=forms.each_field(error, values),
            values=values,
            now=self.now_input(),
        )

    def record_again(
        self, request: Request, form: FormData, error: InvalidInputError
    ) -> HTMLResponse:
        """The dose screen again after a refused record, with the decision if it can be had."""
        try:
            decision: dict[str, Any] | None = self.decision(
                form, Dose.of(request), request.state.actor
            )
        except InvalidInputError:
            decision = None
        values = _kept(form)
        return self.page(
            request,
            Dose.of(request),
            request.state.actor,
            values=values,
            error=error,
            decision=decision,
        )

    def refused_again(self, request: Request, form: FormData, refused: RefusedError) -> Response:
        """The dose screen again after a refusal: what was typed, the decision, each reason."""
        dose, actor = Dose.of(request), request.state.actor
        try:
            decision: dict[str, Any] | None = self.decision(form, dose, actor)
        except InvalidInputError:
            decision = None
        return self.page(
            request, dose, actor, values=_kept(form), decision=decision, refused=refused
        )

    def preview_again(
        self, request: Request, form: FormData, error: InvalidInputError
    ) -> HTMLResponse:
        """A refused preview: while typing, the problems where the decision would be; asked for
        with the button (or without htmx), the whole screen with each problem beside its field."""
        if is_htmx(request) and request.headers.get("HX-Trigger") != CHECK_BUTTON:
            return self.fragment(request, decision=None, values=_kept(form), error=error)
        page = self.record_again(request, form, error)
        if is_htmx(request):
            page.headers.update({"HX-Retarget": "main", "HX-Reselect": "main"})
            page.headers["HX-Reswap"] = "outerHTML"
        return page

    def entered(self, form: FormData) -> bool:
        """Whether the form carries an assessment (any of its fields filled in)."""
        names = [p for p in self.specs if p not in self.typed]
        return any(
            str(v).strip()
            for key in form
            if key in names or key.startswith("vasopressors.")
            for v in form.getlist(key)
        )

    def infusion_submission(self, dose: Dose, form: FormData) -> InfusionSubmission:
        """What the running infusion's form asks to record: the event, when, and why."""
        at = forms.text(form, "at")
        return InfusionSubmission(
            cycle=dose.cycle,
            dose_number=dose.number,
            event=forms.text(form, "event"),
            at=aware(at, "at", self.web.services) if at else None,
            assessment=self.assessment(form) if self.entered(form) else None,
            reason=forms.text(form, "reason") or None,
        )

    def infusion_again(
        self, request: Request, form: FormData, error: InvalidInputError
    ) -> HTMLResponse:
        """The dose screen again after a refused infusion event: what was typed, the problem
        beside its field; nothing was recorded."""
        return self.page(request, Dose.of(request), request.state.actor, values=_kept(form),
                         error=error)  # fmt: skip

    def submission(self, dose: Dose, form: FormData) -> DoseSubmission:
        """What the form asks the ledger to record."""
        outcome = _OUTCOMES.get(forms.text(form, "outcome"))
        if outcome is None:
            raise InvalidInputError(
                field="outcome", value=forms.text(form, "outcome"), allowed="given, held or stopped"
            )
        given = outcome is DoseOutcome.GIVEN
        services = self.web.services
        given_at: datetime | None = None
        if given and forms.text(form, "given_at"):
            given_at = aware(forms.text(form, "given_at"), "given_at", services)
        assessed = forms.text(form, "assessed_at")
        password = form.get("verifier_password")
        return DoseSubmission(
            cycle=dose.cycle,
            dose_number=dose.number,
            assessment=self.assessment(form),
            outcome=outcome,
            given_at=given_at,
            verified_by=(forms.text(form, "verified_by") or None) if given else None,
            override_reason=(forms.text(form, "override_reason") or None) if given else None,
            idempotency_key=forms.text(form, "idempotency_key") or None,
            verifier_password=password if given and isinstance(password, str) else None,
            assessed_at=aware(assessed, "assessed_at", services) if assessed else None,
            overrides=tuple(str(code) for code in form.getlist("overrides")) if given else (),
        )


def routes(web: Web) -> APIRouter:
    """The dose screen, its preview and the record."""
    router = APIRouter(route_class=web.route_class)
    SignedIn = Annotated[Actor, Depends(signed_in(web))]  # noqa: N806 - a type alias
    screen = Screen(web)

    @router.get(PATH, response_class=HTMLResponse)
    def dose_screen(
        request: Request,
        dose: DosePath,
        actor: SignedIn,
        correct: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    ) -> HTMLResponse:
        return screen.page(request, dose, actor, correct=correct)

    @router.post(PATH + "/preview", response_class=HTMLResponse)
    @web.redisplay(screen.preview_again)
    def preview(request: Request, dose: DosePath, form: Form, actor: SignedIn) -> HTMLResponse:
        decision = screen.decision(form, dose, actor)
        if not is_htmx(request):
            values = _kept(form)
            return screen.page(request, dose, actor, values=values, decision=decision)
        return screen.fragment(request, decision=decision, values=_kept(form))

    @router.post(PATH + "/ehr", response_class=HTMLResponse)
    @web.redisplay(screen.record_again)
    def from_ehr(request: Request, dose: DosePath, form: Form, actor: SignedIn) -> HTMLResponse:
        """The form again with its empty fields filled from the EHR, each marked with the
        EHR's time; nothing is recorded until the nurse records the dose."""
        typed = _kept(form)
        try:
            found = ehr_bedside_values(web.services, actor, dose.course_id, dose.cycle, dose.number)
        except (NotFoundError, UnavailableError, ConflictError) as problem:
            return screen.page(request, dose, actor, values=typed, ehr={"error": str(problem)})
        values, marks = fill_form(found, typed)
        kept = [o["field"] for o in found["offers"] if o["usable"] and o["field"] not in marks]
        shown = {"found": found, "marks": marks, "kept": kept}
        return screen.page(request, dose, actor, values=values, ehr=shown)

    @router.post(PATH + "/recheck")
    @web.redisplay(screen.record_again)
    def recheck(request: Request, dose: DosePath, form: Form, actor: SignedIn) -> Response:
        """Keep the assessment as a recheck: audited and charted, the dose still open."""
        assessed = forms.text(form, "assessed_at")
        submission = DoseSubmission(
            cycle=dose.cycle,
            dose_number=dose.number,
            assessment=screen.assessment(form),
            assessed_at=aware(assessed, "assessed_at", web.services) if assessed else None,
        )
        try:
            record_recheck(
                web.services, actor, dose.course_id, submission, patient_id=dose.patient_id
            )
        except RefusedError as refused:
            return screen.refused_again(request, form, refused)
        return see_other(dose.url + "#rechecks")

    @router.post(PATH + "/rechecks/{entry_id}/corrections")
    @web.redisplay(screen.record_again)
    def correct_a_recheck(
        request: Request, dose: DosePath, entry_id: RecordId, form: Form, actor: SignedIn
    ) -> Response:
        """Correct a recheck of this dose: decided again, the old one kept and marked."""
        assessed = forms.text(form, "assessed_at")
        try:
            correct_recheck(
                web.services,
                actor,
                dose.patient_id,
                entry_id,
                assessment=screen.assessment(form),
                reason=forms.text(form, "reason"),
                assessed_at=aware(assessed, "assessed_at", web.services) if assessed else None,
            )
        except RefusedError as refused:
            return screen.refused_again(request, form, refused)
        return see_other(dose.url + "#rechecks")

    @router.post(PATH + "/infusion")
    @web.redisplay(screen.infusion_again)
    def infusion_event(request: Request, dose: DosePath, form: Form, actor: SignedIn) -> Response:
        """Pause, resume or stop the running infusion of a given continuous-infusion dose."""
        record_infusion_event(
            web.services,
            actor,
            dose.course_id,
            screen.infusion_submission(dose, form),
            patient_id=dose.patient_id,
        )
        return see_other(dose.url + "#infusion")

    @router.post(PATH)
    @web.redisplay(screen.record_again)
    def record_dose(request: Request, dose: DosePath, form: Form, actor: SignedIn) -> Response:
        try:
            submit_dose(
                web.services,
                actor,
                dose.course_id,
                screen.submission(dose, form),
                patient_id=dose.patient_id,
            )
        except RefusedError as refused:
            return screen.refused_again(request, form, refused)
        return see_other(dose.url)

    return router
