"""The EHR's FHIR R4 server over HTTP: the `EhrRecords` port (il2.services.ports), read only.

Every read is a FHIR RESTful search (https://hl7.org/fhir/R4/http.html#search) answered with a
`searchset` Bundle:

- `Patient?identifier=<system>|<value>`: token search on system and code
  (https://hl7.org/fhir/R4/search.html#token);
- `Condition?patient=<id>`: R4 Condition's `patient` parameter
  (https://hl7.org/fhir/R4/condition.html#search), following the Bundle's `next` links
  (https://hl7.org/fhir/R4/http.html#paging);
- per code, `Observation?patient=<id>&code=<system>|<code>&_sort=-date&_count=1`: the latest
  (`_sort` with `-` for descending, https://hl7.org/fhir/R4/search.html#sort; `_count`,
  https://hl7.org/fhir/R4/search.html#count; Observation's `date` is its effective time,
  https://hl7.org/fhir/R4/observation.html#search).

Requests carry `Accept: application/fhir+json` (https://hl7.org/fhir/R4/http.html#mime-type)
and the site's bearer token. An EHR that cannot be reached, is too slow, or answers an error or
something other than a searchset Bundle raises UnavailableError: never a half-read answer.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import httpx

from il2.domain.errors import ConflictError, UnavailableError

FHIR_JSON = "application/fhir+json"
TIMEOUT_S = 10.0
"""How long one request may take to connect, or between bytes of its answer."""
PAGE_SIZE = 100
MAX_PAGES = 20
"""A patient's Conditions are read at most this many pages deep (2,000 Conditions)."""


class FhirEhrRecords:
    """The EHR at `base_url` (e.g. `https://ehr.example.org/fhir`), read with `token`."""

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        timeout_s: float = TIMEOUT_S,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        headers = {"Accept": FHIR_JSON}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.timeout_s = timeout_s
        self._client = httpx.Client(headers=headers, timeout=httpx.Timeout(timeout_s))

    def __repr__(self) -> str:  # never the token
        return f"FhirEhrRecords({self.base_url!r})"

    @property
    def where(self) -> str:
        """The EHR's base URL."""
        return self.base_url

    def close(self) -> None:
        """Close the connections."""
        self._client.close()

    def _bundle(self, url: str, params: Mapping[str, str] | None, what: str) -> Mapping[str, Any]:
        """One searchset Bundle, or UnavailableError saying what went wrong."""
        try:
            answer = self._client.get(url, params=params)
        except httpx.TimeoutException:
            raise UnavailableError(
                f"the EHR at {self.base_url} did not answer {what} within {self.timeout_s:g} s",
                system="ehr",
            ) from None
        except httpx.HTTPError as error:
            raise UnavailableError(
                f"the EHR at {self.base_url} could not be reached for {what}: "
                f"{type(error).__name__}: {error}",
                system="ehr",
            ) from None
        if answer.status_code != httpx.codes.OK:
            raise UnavailableError(
                f"the EHR at {self.base_url} answered {what} with HTTP {answer.status_code}"
                f"{_diagnostics(answer)}",
                system="ehr",
            )
        try:
            found = answer.json()
        except ValueError:
            found = None
        if not isinstance(found, Mapping) or found.get("resourceType") != "Bundle":
            raise UnavailableError(
                f"the EHR at {self.base_url} answered {what} with something other than a "
                "FHIR Bundle",
                system="ehr",
            )
        return found

    def _search(
        self, resource_type: str, params: Mapping[str, str], what: str, *, pages: int = 1
    ) -> Iterator[Mapping[str, Any]]:
        """The matches of a search (never its `include`d resources), up to `pages` pages."""
        url: str | None = f"{self.base_url}/{resource_type}"
        query: Mapping[str, str] | None = params
        for _ in range(pages):
            if url is None:
                return
            bundle = self._bundle(url, query, what)
            for entry in bundle.get("entry") or ():
                resource = entry.get("resource") if isinstance(entry, Mapping) else None
                mode = (entry.get("search") or {}).get("mode", "match")
                if (
                    isinstance(resource, Mapping)
                    and mode == "match"
                    and resource.get("resourceType") == resource_type
                ):
                    yield resource
            url, query = _next(bundle, self.base_url), None

    def patient_by_identifier(self, system: str, value: str) -> Mapping[str, Any] | None:
        """The one Patient with this identifier, or None; ConflictError if several have it."""
        found = list(
            self._search("Patient", {"identifier": f"{system}|{value}"}, "the patient search")
        )
        if len(found) > 1:
            raise ConflictError(
                f"the EHR at {self.base_url} has {len(found)} patients with the identifier "
                f"{system}|{value}; il2 reads none of them"
            )
        return found[0] if found else None

    def conditions(self, patient_id: str) -> Sequence[Mapping[str, Any]]:
        """The patient's Conditions."""
        params = {"patient": f"Patient/{patient_id}", "_count": str(PAGE_SIZE)}
        return list(self._search("Condition", params, "the conditions search", pages=MAX_PAGES))

    def latest_observations(
        self, patient_id: str, codes: Sequence[tuple[str, str]]
    ) -> Sequence[Mapping[str, Any]]:
        """The latest Observation of each code (one search per code)."""
        found: list[Mapping[str, Any]] = []
        for system, code in codes:
            params = {
                "patient": f"Patient/{patient_id}",
                "code": f"{system}|{code}",
                "_sort": "-date",
                "_count": "1",
            }
            found.extend(list(self._search("Observation", params, f"the search for {code}"))[:1])
        return found


def _next(bundle: Mapping[str, Any], base_url: str) -> str | None:
    """The Bundle's `next` link, followed only on the EHR itself (the token goes nowhere else)."""
    for link in bundle.get("link") or ():
        if isinstance(link, Mapping) and link.get("relation") == "next":
            url = str(link.get("url", ""))
            return url if url.startswith(base_url + "/") else None
    return None


def _diagnostics(answer: httpx.Response) -> str:
    """An OperationOutcome's first diagnostics or details, as a suffix ('' if none)."""
    try:
        found = answer.json()
    except ValueError:
        return ""
    if not isinstance(found, Mapping) or found.get("resourceType") != "OperationOutcome":
        return ""
    for issue in found.get("issue") or ():
        if isinstance(issue, Mapping):
            text = issue.get("diagnostics") or (issue.get("details") or {}).get("text")
            if text:
                return f": {str(text)[:300]}"
    return ""
