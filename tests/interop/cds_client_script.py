"""HealthChain's CDS Hooks client calling a live il2: run by tests/interop/test_cds_client.py
with `.venv-cds-client/bin/python` (HealthChain 0.16.1, requirements/cds-client.lock).

Reads one JSON object on stdin: {"base", "iss", "kid", "key_pem", "calls": [{"service",
"workflow", "context", "prefetch", "extension"}]}. For each call it builds the request with
HealthChain's own CdsRequestConstructor and sends it with HealthChain's SandboxClient, then
prints one JSON object: per call, the HTTP status, whether HealthChain's CDSResponse model
accepted the answer (and its error if not), and the response body as received.

What had to be worked around, and how (everything else is HealthChain's own code path):

- `SandboxClient.send_requests()` makes its own `httpx.Client(follow_redirects=True)` with no
  headers, auth or hooks, so it cannot send the JWT CDS Hooks 2.0 requires ("Trusting CDS
  Clients", https://cds-hooks.hl7.org/2.0/#trusting-cds-clients). The script rebinds the name
  `httpx` inside `healthchain.sandbox.sandboxclient` (that module only) to a stand-in whose
  `Client` is httpx's own with two more arguments: `auth=` an httpx.Auth that signs a fresh
  ES384 JWT per request (aud = the request's URL, a new jti each time), and an event hook that
  records each response's status (send_requests turns an HTTP error into `{}`). HealthChain's
  code and httpx itself are untouched.
- HealthChain's loaders build the hook context from `{}` (random ids), so the script calls
  `CdsRequestConstructor.construct_request(prefetch, workflow=..., context=...)` itself (the
  workflow by keyword: given positionally beside a keyword `context`, its `validate_workflow`
  decorator finds no workflow and fails) and appends the request to `SandboxClient.requests`,
  the queue its loaders fill.
- HealthChain's `CDSRequest.context` is declared as `BaseHookContext`, and pydantic 2 dumps a
  field by its declared type: `model_dump()`, which `send_requests` sends, drops the fields of
  the hook's own context class, so every order-sign request goes out without its REQUIRED
  `draftOrders` (https://cds-hooks.hl7.org/hooks/order-sign/), and il2 rightly answers 400.
  The script re-declares the field in a subclass, `context: SerializeAsAny[BaseHookContext]`,
  and sends that (the same context object, dumped whole); it reports the keys HealthChain's
  own dump keeps, so the test notices a release that fixes this.
- HealthChain types the request's `extension` as a list of objects; CDS Hooks 2.0 makes it an
  object (https://cds-hooks.hl7.org/2.0/#extensions). The script assigns the spec's object
  after the model is built (pydantic does not validate assignment) and silences pydantic's
  serialisation warning about the type.
- HealthChain's `Link.autoLaunchable` has no default, so its CDSResponse refuses links that
  leave out the spec's OPTIONAL `autolaunchable` (https://cds-hooks.hl7.org/2.0/#link);
  `send_requests` then keeps the raw JSON. The script reports whether the model accepted each
  answer; the test reads the cards by the spec's rules either way.
"""

from __future__ import annotations

import json
import sys
import time
import types
import uuid
import warnings
from collections.abc import Generator
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from healthchain.models import CDSRequest, CDSResponse
from healthchain.models.hooks.basehookcontext import BaseHookContext
from healthchain.sandbox import sandboxclient
from healthchain.sandbox.requestconstructors import CdsRequestConstructor
from healthchain.sandbox.sandboxclient import SandboxClient
from healthchain.sandbox.workflows import Workflow
from pydantic import SerializeAsAny


class WholeContextRequest(CDSRequest):
    """HealthChain's CDSRequest, dumping the hook's context with all its fields."""

    context: SerializeAsAny[BaseHookContext]


class CdsJwt(httpx.Auth):
    """A new signed JWT for every request (CDS Hooks 2.0: iss, aud, exp, iat, jti; kid, typ)."""

    def __init__(self, iss: str, kid: str, key: Any) -> None:
        self.iss, self.kid, self.key = iss, kid, key

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        now = int(time.time())
        claims = {"iss": self.iss, "aud": str(request.url), "exp": now + 300, "iat": now,
                  "jti": str(uuid.uuid4())}  # fmt: skip
        token = jwt.encode(
            claims, self.key, algorithm="ES384", headers={"kid": self.kid, "typ": "JWT"}
        )
        request.headers["Authorization"] = f"Bearer {token}"
        yield request


def _httpx_signing(auth: httpx.Auth, seen: list[dict[str, Any]]) -> types.SimpleNamespace:
    """httpx's names, with a Client that signs each request and records each answer's status
    and body (send_requests keeps `{}` for an HTTP error)."""

    def record(response: httpx.Response) -> None:
        response.read()
        seen.append({"status": response.status_code, "text": response.text})

    def client(**kwargs: Any) -> httpx.Client:
        return httpx.Client(auth=auth, event_hooks={"response": [record]}, **kwargs)

    names = {name: getattr(httpx, name) for name in dir(httpx) if not name.startswith("_")}
    return types.SimpleNamespace(**{**names, "Client": client})


def main() -> None:
    given = json.load(sys.stdin)
    key = load_pem_private_key(given["key_pem"].encode(), password=None)
    auth = CdsJwt(given["iss"], given["kid"], key)
    answers = []
    for call in given["calls"]:
        seen: list[dict[str, Any]] = []
        sandboxclient.httpx = _httpx_signing(auth, seen)  # type: ignore[attr-defined]
        workflow = Workflow(call["workflow"])
        client = SandboxClient(
            url=f"{given['base']}/cds-services/{call['service']}", workflow=workflow
        )
        # by keyword: its validate_workflow decorator looks for `workflow` only among the
        # keyword arguments once any is given
        request = CdsRequestConstructor().construct_request(
            call["prefetch"], workflow=workflow, context=call["context"]
        )
        kept = sorted(request.model_dump(exclude_none=True, mode="json")["context"])
        request = WholeContextRequest(
            **{name: getattr(request, name) for name in CDSRequest.model_fields}
        )
        if call.get("extension") is not None:
            request.extension = call["extension"]
        client.requests.append(request)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Pydantic serializer warnings")
            sent = request.model_dump(exclude_none=True, mode="json")
            (body,) = client.send_requests()
        try:
            CDSResponse(**body)
        except Exception as error:  # what HealthChain's model says, reported
            accepted, rejection = False, str(error)
        else:
            accepted, rejection = True, None
        answers.append({"service": call["service"], "http": seen, "sent": sent, "healthchain_context_keys": kept,
                        "healthchain_accepted": accepted, "rejection": rejection, "body": body})  # fmt: skip
    json.dump(answers, sys.stdout)


if __name__ == "__main__":
    main()
