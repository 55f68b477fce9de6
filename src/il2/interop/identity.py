"""How an EHR's patient is found in il2: by the MRN, under the site's identifier system."""

from __future__ import annotations

from il2.services.context import Services


def mrn_system(services: Services) -> str:
    """The site setting `ehr_mrn_system` (site_policy.toml): the Patient.identifier system under
    which the site's EHR writes the MRN il2 registered the patient with."""
    setting = next(p for p in services.rules.policies if p.name == "ehr_mrn_system")
    return str(setting.value)
