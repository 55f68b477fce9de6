"""FHIR's JSON on the wire: the media type and a response that writes it."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import JSONResponse

FHIR_JSON = "application/fhir+json"


class FhirResponse(JSONResponse):
    """A FHIR resource answered as `application/fhir+json; charset=utf-8`."""

    media_type = FHIR_JSON

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)
