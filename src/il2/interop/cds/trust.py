"""Trusting CDS Clients: the site's list of trusted EHRs, and the JWT each call carries.

CDS Hooks 2.0, "Trusting CDS Clients" (https://cds-hooks.hl7.org/2.0/#trusting-cds-clients):
the client sends `Authorization: Bearer <JWT>` signed with its private key (JWS, rfc7515); the
header names `alg`, `kid` and `typ` "JWT" (and may name `jku`, the URL of its JWK Set); the
payload carries `iss`, `aud` (the URL of the service endpoint called), `exp`, `iat` and `jti`
("A nonce ... used to protect against replay attacks"). JWTs "SHALL NOT be signed using the
`none` algorithm" nor "any symmetric algorithm"; services "SHOULD limit the CDS Clients they
trust by maintaining an allowlist of `iss` and `jku` urls".

The allowlist is a TOML file (`IL2_CDS_CLIENTS`), one `[[clients]]` table per EHR:

    [[clients]]
    iss = "https://ehr.example.org"          # the JWT's issuer, exactly
    account = "ehr-cds"                      # the il2 account its reads are audited under
    jwks_url = "https://ehr.example.org/jwks" # its JWK Set by URL (also the only `jku` allowed)
    # or the keys inline:  jwks = { keys = [ { kty = "EC", crv = "P-384", kid = "...", ... } ] }
"""

from __future__ import annotations

import threading
import time
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jwt

# The asymmetric JWS algorithms of rfc7518 (and EdDSA, rfc8037) that PyJWT verifies: never
# `none` and never an HMAC (HS256/384/512), as CDS Hooks 2.0 "JWT Signing Algorithm" requires.
ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
JWKS_MAX_AGE_S = 300.0
"""How long a JWK Set fetched by URL is kept before it is fetched again (il2's choice)."""
LEEWAY_S = 30
"""Clock skew allowed between the client and il2 on `exp` and `iat` (il2's choice)."""


class NotTrustedError(Exception):
    """A CDS call without a JWT il2 can trust; the sentence says why (answered 401)."""


class ClientsFileError(ValueError):
    """The trusted-clients file is unusable; the sentence names the file and the field."""


@dataclass(frozen=True, slots=True)
class TrustedClient:
    """One EHR il2 trusts: its issuer, its keys (inline or by URL) and its il2 account."""

    iss: str
    account: str
    jwks: Mapping[str, Any] | None = None
    jwks_url: str | None = None


def load_clients(path: Path | None) -> tuple[TrustedClient, ...]:
    """The clients the site's file lists (none without a file); ClientsFileError naming the
    file and field on a bad entry."""
    if path is None:
        return ()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ClientsFileError(f"{path}: {error}") from error
    entries = data.get("clients", [])
    if not isinstance(entries, list):
        raise ClientsFileError(f"{path}: clients must be an array of tables ([[clients]])")
    found = [_client(path, n, entry) for n, entry in enumerate(entries)]
    issuers = [c.iss for c in found]
    if len(set(issuers)) != len(issuers):
        raise ClientsFileError(f"{path}: clients: each iss may be listed once")
    return tuple(found)


def _client(path: Path, index: int, entry: object) -> TrustedClient:
    where = f"{path}: clients[{index}]"
    if not isinstance(entry, Mapping):
        raise ClientsFileError(f"{where}: must be a table")
    unknown = set(entry) - {"iss", "account", "jwks", "jwks_url"}
    if unknown:
        raise ClientsFileError(f"{where}.{sorted(unknown)[0]}: unknown field")
    for name in ("iss", "account"):
        if not isinstance(entry.get(name), str) or not entry[name].strip():
            raise ClientsFileError(f"{where}.{name}: a non-empty string is required")
    jwks, url = entry.get("jwks"), entry.get("jwks_url")
    if (jwks is None) == (url is None):
        raise ClientsFileError(f"{where}: give exactly one of jwks (inline keys) or jwks_url")
    if jwks is not None:
        try:
            jwt.PyJWKSet.from_dict(dict(jwks))
        except (jwt.PyJWKSetError, TypeError, AttributeError) as error:
            raise ClientsFileError(f"{where}.jwks: not a usable JWK Set ({error})") from error
    if url is not None and not (isinstance(url, str) and url.startswith(("https://", "http://"))):
        raise ClientsFileError(f"{where}.jwks_url: an http(s) URL is required")
    return TrustedClient(iss=entry["iss"], account=entry["account"], jwks=jwks, jwks_url=url)


Fetch = Callable[[str], Mapping[str, Any]]


def fetch_jwks(url: str) -> Mapping[str, Any]:
    """A JWK Set read from its URL (rfc7517 section 5)."""
    answer = httpx.get(url, timeout=5.0, follow_redirects=False)
    answer.raise_for_status()
    found: Mapping[str, Any] = answer.json()
    return found


@dataclass
class Verifier:
    """Checks the JWT of a CDS call against the trusted clients; remembers each `jti` until
    its token expires, so a token is accepted once (within this server process)."""

    clients: Sequence[TrustedClient]
    fetch: Fetch = fetch_jwks
    clock: Callable[[], float] = time.time
    _seen: dict[tuple[str, str], float] = field(default_factory=dict)
    _fetched: dict[str, tuple[float, Mapping[str, Any]]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def verify(self, authorization: str | None, audience: str) -> TrustedClient:
        """The client whose valid, fresh, unreplayed JWT for `audience` the header carries."""
        token = _bearer(authorization)
        try:
            header = jwt.get_unverified_header(token)
            claimed = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError as error:
            raise NotTrustedError(f"the bearer token is not a JWT ({error})") from error
        algorithm = header.get("alg")
        if algorithm not in ALGORITHMS:
            raise NotTrustedError(
                f"alg {algorithm!r} is refused: sign with an asymmetric algorithm "
                "(ES384 or RS384 recommended), never none or HMAC"
            )
        if not isinstance(header.get("kid"), str):
            raise NotTrustedError("the JWT header has no kid naming the signing key")
        client = self._client(claimed.get("iss"))
        key = self._key(client, header)
        try:
            payload = jwt.decode(
                token,
                key=key,
                algorithms=[algorithm],
                audience=audience,
                issuer=client.iss,
                leeway=LEEWAY_S,
                options={"require": ["iss", "aud", "exp", "iat", "jti"]},
            )
        except jwt.ExpiredSignatureError as error:
            raise NotTrustedError("the JWT has expired (exp); send a new one") from error
        except jwt.InvalidAudienceError as error:
            raise NotTrustedError(f"the JWT's aud is not this service's URL, {audience}") from error
        except jwt.PyJWTError as error:
            raise NotTrustedError(f"the JWT is refused: {error}") from error
        self._once(client.iss, str(payload["jti"]), float(payload["exp"]))
        return client

    def _client(self, issuer: object) -> TrustedClient:
        for client in self.clients:
            if client.iss == issuer:
                return client
        raise NotTrustedError(f"the JWT's issuer {issuer!r} is not a trusted CDS client")

    def _key(self, client: TrustedClient, header: Mapping[str, Any]) -> Any:
        jku = header.get("jku")
        if jku is not None and jku != client.jwks_url:
            raise NotTrustedError(f"jku {jku!r} is not the JWK Set URL trusted for {client.iss}")
        kid = header["kid"]
        found = self._find(self._jwks(client, refresh=False), kid)
        if found is None and client.jwks_url is not None:  # the client may have rotated keys
            found = self._find(self._jwks(client, refresh=True), kid)
        if found is None:
            raise NotTrustedError(f"no key {kid!r} in the JWK Set trusted for {client.iss}")
        return found

    @staticmethod
    def _find(jwks: Mapping[str, Any], kid: str) -> Any:
        try:
            keys = jwt.PyJWKSet.from_dict(dict(jwks))
        except jwt.PyJWKSetError:
            return None
        return next((k.key for k in keys.keys if k.key_id == kid), None)

    def _jwks(self, client: TrustedClient, *, refresh: bool) -> Mapping[str, Any]:
        if client.jwks is not None:
            return client.jwks
        url = str(client.jwks_url)
        now = self.clock()
        with self._lock:
            kept = self._fetched.get(url)
        if kept is not None and not refresh and now - kept[0] < JWKS_MAX_AGE_S:
            return kept[1]
        try:
            fetched = self.fetch(url)
        except (httpx.HTTPError, ValueError) as error:
            raise NotTrustedError(f"the JWK Set at {url} could not be read ({error})") from error
        with self._lock:
            self._fetched[url] = (now, fetched)
        return fetched

    def _once(self, issuer: str, jti: str, expires: float) -> None:
        now = self.clock()
        with self._lock:
            for key in [k for k, until in self._seen.items() if until + LEEWAY_S < now]:
                del self._seen[key]
            if (issuer, jti) in self._seen:
                raise NotTrustedError(f"the JWT's jti {jti!r} was used before (a replay)")
            self._seen[(issuer, jti)] = expires


def _bearer(authorization: str | None) -> str:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotTrustedError(
            "send Authorization: Bearer <JWT> signed by a trusted CDS client "
            "(CDS Hooks 2.0, Trusting CDS Clients)"
        )
    return token.strip()
