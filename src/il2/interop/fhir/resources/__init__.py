"""The resource types the facade answers, one module each; `TYPES` is the registry."""

from __future__ import annotations

from il2.interop.fhir.model import ResourceType
from il2.interop.fhir.resources import (
    adverse_event,
    audit_event,
    condition,
    medication_administration,
    medication_request,
    observation,
    patient,
)

TYPES: dict[str, ResourceType] = {
    kind.name: kind
    for kind in (
        patient.TYPE,
        condition.TYPE,
        medication_request.TYPE,
        medication_administration.TYPE,
        observation.TYPE,
        adverse_event.TYPE,
        audit_event.TYPE,
    )
}
"""Every type by name, in the order the CapabilityStatement lists them."""
