"""CDS Hooks 2.0 services, mounted at /cds-services as their own application.

Discovery (`GET /cds-services`) lists il2-order-sign and il2-patient-view; each service is
`POST /cds-services/{id}` (https://cds-hooks.hl7.org/2.0/#discovery,
https://cds-hooks.hl7.org/2.0/#calling-a-cds-service). A sub-application so that every error
under /cds-services keeps one JSON shape and its routes stay out of the JSON API's OpenAPI.

Every service call carries a JWT from a trusted client (trust.py); the client's il2 account is
the actor the services check the role of and audit every read under.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Body, FastAPI, Request
from fastapi.responses import JSONResponse

from il2 import __version__
from il2.bootstrap import App
from il2.domain.errors import NotFoundError, PermissionDeniedError
from il2.interop.cds import errors, hooks, prefetch
from il2.interop.cds.trust import NotTrustedError, Verifier, load_clients
from il2.services.accounts import actor_for_username

ORDER_SIGN = "il2-order-sign"
PATIENT_VIEW = "il2-patient-view"
_HOOKS = {ORDER_SIGN: "order-sign", PATIENT_VIEW: "patient-view"}


def _server(request: Request) -> str:
    """il2's base URL as the client reached it (the path the services are mounted at removed)."""
    root = str(request.base_url).rstrip("/")
    mounted = str(request.scope.get("root_path", "")).rstrip("/")
    return root.removesuffix(mounted) if mounted else root


def discovery(app: App) -> dict[str, Any]:
    """The discovery document: each service with its hook, description and prefetch."""
    rules = app.services.rules
    extension = {
        hooks.EXTENSION: "optional: the before-dose fields no verified FHIR code carries "
        "(vitals.rhythm, mental_status, urine_output_ml_last_8h, findings, held_for, "
        "coma_hours, intubated_hours, dialysis_hours, vasopressors, baseline), as il2's "
        "before-dose document writes them (docs/contract.md, CDS Hooks)"
    }
    return {
        "services": [
            {
                "hook": "order-sign",
                "id": ORDER_SIGN,
                "title": "il2 aldesleukin order check",
                "description": "When an aldesleukin order is signed: the patient's latest il2 "
                "eligibility screening, and il2's before-dose decision (give, hold, stop the "
                "cycle, discontinue) for the next dose of an active course, from the latest "
                "vital signs and laboratory results, with each rule and its source.",
                "prefetch": prefetch.templates(rules, with_observations=True),
                "usageRequirements": "The EHR's Patient must carry the MRN il2 registered "
                "under the site's ehr_mrn_system; calls need a JWT from a client il2 trusts.",
                "extension": extension,
            },
            {
                "hook": "patient-view",
                "id": PATIENT_VIEW,
                "title": "il2 aldesleukin program status",
                "description": "When a chart is opened: where the patient is in the il2 "
                "aldesleukin program, the next action and the doses due today.",
                "prefetch": prefetch.templates(rules, with_observations=False),
            },
        ]
    }


def create_cds(app: App, *, verifier: Verifier | None = None) -> FastAPI:
    """The CDS services over `app`'s services, to mount at /cds-services."""
    cds = FastAPI(
        title="il2 CDS Hooks", version=__version__, docs_url=None, redoc_url=None, openapi_url=None
    )
    checker = verifier or Verifier(load_clients(app.settings.cds_clients))
    errors.install(cds)
    services = app.services
    known = discovery(app)

    @cds.get("/")
    def services_list() -> JSONResponse:
        """Discovery (no patient data, so no token is needed to read it)."""
        return JSONResponse(known)

    @cds.post("/{service_id}")
    def call(
        service_id: str, request: Request, body: Annotated[Any, Body()] = None
    ) -> JSONResponse:
        """One service call: the JWT checked, the request read, the cards answered."""
        hook = _HOOKS.get(service_id)
        if hook is None:
            raise NotFoundError(kind="CDS service", key=service_id[:64], known=tuple(_HOOKS))
        server = _server(request)
        client = checker.verify(
            request.headers.get("authorization"), f"{server}/cds-services/{service_id}"
        )
        try:
            actor = actor_for_username(services, client.account)
        except PermissionDeniedError as error:
            raise NotTrustedError(
                f"the il2 account {client.account!r} of client {client.iss} is not active"
            ) from error
        parsed = hooks.parse_call(body, hook)
        answer = hooks.order_sign if hook == "order-sign" else hooks.patient_view
        found = answer(services, actor, parsed, server=server, fetch=hooks.fetch_fhir)
        return JSONResponse({"cards": found})

    return cds
