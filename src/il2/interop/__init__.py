"""The interoperability edge: il2 in the standards an EHR, a registry or a trial reads.

Beside the JSON API (`il2.api`) and the pages (`il2.web`), and independent of both: the FHIR R4
facade with mCODE profiles and Bulk Data `$export` (`il2.interop.fhir`), CDS Hooks services
(`il2.interop.cds`) and the SMART App Launch (`il2.interop.smart`). Each module turns a
protocol into calls on the services and their answers back into the protocol; clinical
knowledge stays in the rule tables and the codes in `rules/data/codes.toml`.
"""
