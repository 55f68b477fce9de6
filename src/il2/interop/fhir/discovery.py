"""`/fhir/.well-known/smart-configuration`: what il2's FHIR facade supports of SMART, truly.

The fields are SMART App Launch 2.2's "Metadata"
(https://hl7.org/fhir/smart-app-launch/conformance.html#metadata). il2 is not an OAuth2
authorization server: its tokens come from its own sign-in, `POST /api/token` with a username
and password as JSON (optionally with SMART `scope`, il2.domain.scopes), which is neither
of the grants SMART defines ("authorization_code", "client_credentials"). So:

- `token_endpoint` (REQUIRED) names /api/token, where il2's bearer tokens come from;
- `grant_types_supported` (REQUIRED) is empty: il2 supports none of SMART's grant types;
- `code_challenge_methods_supported` (REQUIRED; SMART says S256 SHALL be listed) is empty: il2
  has no authorization endpoint, so no code challenge is ever checked, and listing S256 would
  claim what il2 does not do. A SMART client library will not find a flow it can use: true;
- no `authorization_endpoint`: required only with `launch-ehr` or `launch-standalone`,
  which il2 as a server does not support (il2 is launched *by* an EHR: /smart/launch);
- `capabilities` (REQUIRED): `permission-user` (user/ scopes on il2's tokens) and
  `permission-v1` (v1 `.read` read as `.rs`, as the page asks); not `permission-v2`, whose
  definition is the granular `?param=value` syntax il2 refuses; not `permission-patient`
  (no patient in context); no client type, launch or SSO capability;
- `scopes_supported` (RECOMMENDED): the scopes il2 accepts and honours ("the server SHALL support
  all scopes listed here");
- `service_documentation` (RFC 8414 section 2): il2's API documentation, where /api/token is.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from il2.domain.scopes import WILDCARD

CAPABILITIES = ("permission-user", "permission-v1")


def smart_configuration(*, server: str, types: Iterable[str]) -> dict[str, Any]:
    """The discovery document for the facade of the il2 server at `server` (its root URL)."""
    names = [WILDCARD, *types]
    scopes = [f"{context}/{name}.rs" for context in ("user", "system") for name in names]
    return {
        "token_endpoint": f"{server}/api/token",
        "grant_types_supported": [],
        "code_challenge_methods_supported": [],
        "capabilities": list(CAPABILITIES),
        "scopes_supported": [*scopes, "user/*.read", "system/*.read"],
        "service_documentation": f"{server}/docs",
    }
