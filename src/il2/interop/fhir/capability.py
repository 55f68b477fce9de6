"""The CapabilityStatement at /fhir/metadata: what the facade answers, built from its registry."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from il2 import __version__
from il2.interop.fhir.model import PATIENT_PARAMS, ResourceType

FHIR_VERSION = "4.0.1"
# The Bulk Data Access IG's operations (hl7.org/fhir/uv/bulkdata/OperationDefinition-export.html,
# OperationDefinition-patient-export.html): il2 answers both for the whole program.
EXPORT = "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export"
PATIENT_EXPORT = "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export"


def _resource(kind: ResourceType) -> dict[str, Any]:
    params = {**PATIENT_PARAMS, **kind.search} if kind.in_compartment else dict(kind.search)
    entry: dict[str, Any] = {
        "type": kind.name,
        "interaction": [{"code": "read"}, {"code": "search-type"}],
        "searchParam": [
            {"name": p.name, "type": p.kind, "documentation": p.description}
            for p in params.values()
        ],
    }
    if kind.profiles:
        entry["supportedProfile"] = list(kind.profiles)
    includes = kind.includes() + (
        tuple(f"{kind.name}:{p}" for p in PATIENT_PARAMS) if kind.in_compartment else ()
    )
    if includes:
        entry["searchInclude"] = list(dict.fromkeys(includes))
    if kind.description:
        entry["documentation"] = kind.description
    if kind.name == "Patient":
        entry["operation"] = [{"name": "export", "definition": PATIENT_EXPORT}]
    return entry


def capability_statement(
    base: str, now: datetime, types: Mapping[str, ResourceType]
) -> dict[str, Any]:
    """The statement of a read-only FHIR R4 server over `types`."""
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": now.isoformat(),
        "publisher": "il2",
        "kind": "instance",
        "software": {"name": "il2", "version": __version__},
        "implementation": {"description": "il2 FHIR R4 facade (read and search)", "url": base},
        "fhirVersion": FHIR_VERSION,
        "format": ["json"],
        "rest": [
            {
                "mode": "server",
                "documentation": (
                    "Read-only. Sign in with POST /api/token and send Authorization: Bearer "
                    "<token>. Every resource but Patient and AuditEvent is searched within one "
                    "patient's compartment (patient=Patient/<id>); AuditEvent is the audit "
                    "trail, for administrators."
                ),
                "security": {"cors": False, "description": "Bearer tokens from il2's sign-in"},
                "resource": [_resource(kind) for kind in types.values()],
                "operation": [{"name": "export", "definition": EXPORT}],
            }
        ],
    }
