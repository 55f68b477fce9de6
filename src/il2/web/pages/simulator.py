"""The research simulator: a virtual trial of chosen regimens, its figures, table and methods."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from starlette.datastructures import FormData

from il2.domain.errors import InvalidInputError
from il2.domain.records import Actor
from il2.services.permissions import require
from il2.services.simulation import (
    ACTION,
    DEFAULT_PATIENTS,
    MAX_PATIENTS,
    MAX_SEED,
    run_virtual_trial,
    simulated_regimens,
)
from il2.web import forms
from il2.web.core import Form, Web, form_values
from il2.web.pages.patients import DIAGNOSES
from il2.web.session import signed_in

PATH = "/research/simulator"
DEFAULT_SEED = 1
_DIGITS = 20


def _whole(form: FormData, name: str, *, low: int, high: int, allowed: str) -> int:
    """A whole number typed in field `name`, within low..high (else refused, naming it)."""
    raw = forms.text(form, name).replace(",", "").replace("_", "").strip()
    if not raw.isdigit() or len(raw) > _DIGITS or not low <= int(raw) <= high:
        raise InvalidInputError(field=name, value=forms.text(form, name), allowed=allowed)
    return int(raw)


def routes(web: Web) -> APIRouter:
    """The simulator's form and its run."""
    router = APIRouter(route_class=web.route_class)
    SignedIn = Annotated[Actor, Depends(signed_in(web))]  # noqa: N806 - a type alias
    regimens = simulated_regimens(web.services)

    def simulator_page(
        request: Request,
        values: dict[str, Any],
        error: InvalidInputError | None,
        trial: Any = None,
    ) -> HTMLResponse:
        arms = values.get("arms", [])
        return web.page(
            request,
            "simulator.html",
            status=422 if error else 200,
            regimens=regimens,
            chosen_arms=[arms] if isinstance(arms, str) else list(arms),
            diagnoses=DIAGNOSES,
            values=values,
            error=error,
            trial=trial,
            max_patients=MAX_PATIENTS,
        )

    @router.get(PATH, response_class=HTMLResponse)
    def simulator(request: Request, actor: SignedIn) -> HTMLResponse:
        """The form: arms, diagnosis, virtual patients and seed."""
        require(web.services, actor, ACTION)
        defaults = {
            "arms": [regimens[0][0]] if regimens else [],
            "diagnosis": DIAGNOSES[0],
            "patients": str(DEFAULT_PATIENTS),
            "seed": str(DEFAULT_SEED),
        }
        return simulator_page(request, defaults, None)

    def run_again(request: Request, form: FormData, error: InvalidInputError) -> HTMLResponse:
        values = form_values(form)
        values["arms"] = [v for v in form.getlist("arms") if isinstance(v, str)]
        return simulator_page(request, values, error)

    @router.post(PATH, response_class=HTMLResponse)
    @web.redisplay(run_again)
    def run(request: Request, form: Form, actor: SignedIn) -> HTMLResponse:
        """Run the virtual trial and show its figures, table, methods and time taken."""
        require(web.services, actor, ACTION)
        arms = [v for v in form.getlist("arms") if isinstance(v, str)]
        patients = _whole(
            form, "patients", low=1, high=MAX_PATIENTS,
            allowed=f"a whole number of virtual patients from 1 to {MAX_PATIENTS:,} "
            "(the command line il2 trial runs millions)",
        )  # fmt: skip
        seed = _whole(form, "seed", low=0, high=MAX_SEED, allowed=f"a whole number 0 to {MAX_SEED}")
        trial = run_virtual_trial(
            web.services, actor, regimens=arms, diagnosis=forms.text(form, "diagnosis"),
            patients=patients, seed=seed,
        )  # fmt: skip
        values = form_values(form)
        values["arms"] = arms
        return simulator_page(request, values, None, trial)

    return router
