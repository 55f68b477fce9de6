"""Outside systems il2 reads from, beside storage: the site's EHR over FHIR R4 (fhir.py)."""
