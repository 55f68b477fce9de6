"""A FHIR R4 facade over il2's records (read and search, JSON), mounted at /fhir."""
