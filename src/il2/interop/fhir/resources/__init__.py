"""The resource types the facade answers, one module each; `TYPES` is the registry."""

from __future__ import annotations

from il2.interop.fhir.model import ResourceType
from il2.interop.fhir.resources import adverse_event, audit_event, observation, patient

TYPES: dict[str, ResourceType] = {
    kind.name: kind
    for kind in (patient.TYPE, observation.TYPE, adverse_event.TYPE, audit_event.TYPE)
}
"""Every type by name, in the order the CapabilityStatement lists them."""
