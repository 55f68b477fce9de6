"""SMART resource scopes: parse a token's scope and say what it grants on a FHIR resource type.

The grammar is SMART App Launch 2.x's "FHIR Resource Scope Syntax"
(https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html#fhir-resource-scope-syntax):
`patient|user|system` `/` a resource type or `*` `.` a non-empty, in-order subset of `cruds`
(c create, r read, u update, d delete, s search). SMART 1.0's `.read`, `.write` and `.*` are
read as v2's `.rs`, `.cud` and `.cruds`, as the same page says servers SHOULD. A scope never
grants an interaction it does not name, and `*` names every type, today's and tomorrow's.

What il2 refuses, and why (all as InvalidInputError on the field `scope`):
- granular constraints (`patient/Observation.rs?category=...`): il2 cannot filter by them, and
  accepting a scope while ignoring its constraint would grant more than it says;
- undefined or out-of-order interactions (`.dus`, `.sr`), which the page allows a server to
  reject "to prevent misinterpretation";
- scopes that are not resource scopes (`openid`, `launch`, `offline_access`): il2's sign-in
  is not an OAuth authorization server and has no launch context or identity token to give;
- a context the caller does not allow (il2's own tokens refuse `patient/`: it needs a patient
  in context, which the page says the EHR "SHALL establish", and il2's sign-in establishes none).

Pure: the standard library only.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Final, Literal, cast

from il2.domain.errors import InvalidInputError

Context = Literal["patient", "user", "system"]
CONTEXTS: Final[tuple[Context, ...]] = ("patient", "user", "system")
INTERACTIONS: Final = "cruds"
"""The v2 interactions, in the only order a scope may list them."""
CREATE, READ, SEARCH = "c", "r", "s"

V1_SUFFIXES: Final = {"read": "rs", "write": "cud", "*": "cruds"}
"""SMART 1.0 suffixes and the v2 interactions they mean (scopes-and-launch-context.html)."""

WILDCARD: Final = "*"
MAX_SCOPES = 50
MAX_SCOPE_TEXT = 2000
"""The longest scope string il2 keeps with a session (SMART advises keeping scopes short)."""

_TYPE = re.compile(r"[A-Z][A-Za-z]{0,63}")
_SCOPE = re.compile(r"(?P<context>[a-z]+)/(?P<type>[^.]+)\.(?P<suffix>.+)")

_ALLOWED = (
    "space-separated SMART resource scopes, context/Type.interactions: user/ or system/, a "
    "FHIR resource type or *, and an in-order subset of cruds (or v1 read, write, *); "
    "for example user/Patient.rs user/Observation.rs"
)


@dataclass(frozen=True, slots=True, order=True)
class ResourceScope:
    """One resource scope: a context, a resource type (or `*`) and the interactions granted."""

    context: Context
    resource_type: str
    interactions: str
    """A non-empty, in-order subset of `cruds`."""

    def grants(self, resource_type: str, interaction: str) -> bool:
        """Whether this scope grants `interaction` (one of `cruds`) on `resource_type`."""
        named = self.resource_type in (WILDCARD, resource_type)
        return named and len(interaction) == 1 and interaction in self.interactions

    @property
    def text(self) -> str:
        """The scope in v2 syntax, its shortest form."""
        return f"{self.context}/{self.resource_type}.{self.interactions}"


@dataclass(frozen=True, slots=True)
class Scopes:
    """A token's scopes: the union of the access each grants."""

    scopes: tuple[ResourceScope, ...]
    text: str
    """The scope string as granted: each scope once, in the order asked, as written."""

    def grants(self, resource_type: str, interaction: str) -> bool:
        """Whether any scope grants `interaction` on `resource_type`."""
        return any(scope.grants(resource_type, interaction) for scope in self.scopes)


def _refused(value: object, why: str = "") -> InvalidInputError:
    return InvalidInputError(
        field="scope", value=value, allowed=f"{_ALLOWED}{'; ' + why if why else ''}"
    )


def _interactions(suffix: str, scope: str) -> str:
    """The v2 interactions a suffix names: itself when an in-order subset of cruds, else v1."""
    if suffix in V1_SUFFIXES:
        return V1_SUFFIXES[suffix]
    letters = [letter for letter in INTERACTIONS if letter in suffix]
    if not suffix or "".join(letters) != suffix:
        raise _refused(scope, f"{suffix!r} is not an in-order subset of cruds")
    return suffix


def parse_scope(scope: str, *, contexts: Collection[str] = CONTEXTS) -> ResourceScope:
    """One resource scope; InvalidInputError (field `scope`) naming what is wrong with it."""
    if "?" in scope:
        raise _refused(scope, "granular constraints (?param=value) are not supported")
    found = _SCOPE.fullmatch(scope)
    if found is None:
        raise _refused(scope, "only resource scopes are accepted")
    context = found["context"]
    if context not in CONTEXTS:
        raise _refused(scope, f"{context!r} is not patient, user or system")
    if context not in contexts:
        raise _refused(scope, f"{context}/ scopes are not accepted here")
    kind = found["type"]
    if kind != WILDCARD and _TYPE.fullmatch(kind) is None:
        raise _refused(scope, f"{kind[:64]!r} is not a FHIR resource type name or *")
    return ResourceScope(cast(Context, context), kind, _interactions(found["suffix"], scope))


def parse_scopes(text: object, *, contexts: Collection[str] = CONTEXTS) -> Scopes:
    """A space-separated scope string (RFC 6749 section 3.3) as Scopes; InvalidInputError
    naming the field `scope` when it is not text, is empty, too long, or any scope is refused."""
    if not isinstance(text, str):
        raise _refused(text, "text")
    if len(text) > MAX_SCOPE_TEXT:
        raise _refused(f"{text[:64]}...", f"at most {MAX_SCOPE_TEXT} characters")
    words = [word for word in dict.fromkeys(text.split(" ")) if word]
    if not words:
        raise _refused(text, "at least one scope")
    if len(words) > MAX_SCOPES:
        raise _refused(f"{text[:64]}...", f"at most {MAX_SCOPES} scopes")
    return Scopes(tuple(parse_scope(w, contexts=contexts) for w in words), " ".join(words))


def needed(resource_type: str, interaction: str, *, context: Context = "user") -> str:
    """The narrowest scope that grants `interaction` on `resource_type`, to name in a refusal."""
    return ResourceScope(context, resource_type, interaction).text
