"""The one error tree of il2.

    Il2Error                    400 root: catch this to catch everything il2 raises on purpose
     ├── InvalidInputError      422 bad input; names the field, the value given and what is
     │    │                         allowed
     │    └── InvalidInputsError    several fields at once (a form shows each beside its field)
     ├── NotFoundError          404 a named thing (a regimen, a patient) does not exist
     ├── ConflictError          409 the write clashes with what is already recorded
     ├── RefusedError           409 the action must not happen now (a dose too soon, a course
     │                              that must not start); carries each reason, and whether a
     │                              physician may act against it with a recorded reason
     ├── PermissionDeniedError  403 the user's role does not allow the action
     │    └── TooManyAttemptsError 429 sign-in refused for a while after too many failures
     ├── UnavailableError       502 a system il2 reads from (the EHR) did not answer, or answered
     │                              an error: nothing was read, nothing half-filled
     └── RuleTableError         500 a rule or policy file is malformed; names the file and the field

Clinical outcomes ("ineligible", "hold") are never errors: they are values with reasons.
These exceptions are for input that cannot be used and for broken invariants.

The numbers are each error's `status`: the HTTP status both edges (the JSON API and the web
pages) answer it with, kept here once so that the two cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


class Il2Error(Exception):
    """Root of every error il2 raises on purpose."""

    status: ClassVar[int] = 400
    """The HTTP status the API and the pages answer this error with."""


class InvalidInputError(Il2Error):
    """Input that cannot be used: says which field, what was given and what is allowed."""

    status: ClassVar[int] = 422

    def __init__(self, *, field: str, value: object, allowed: str) -> None:
        self.field = field
        self.value = value
        self.allowed = allowed
        super().__init__(f"{field}: {value!r} is not allowed; expected {allowed}")


class InvalidInputsError(InvalidInputError):
    """Several fields unusable at once: `problems` maps each field to what it allows. As an
    InvalidInputError it names the first, so an edge that shows one field still names one."""

    def __init__(self, problems: dict[str, str], *, value: object = "(hidden)") -> None:
        self.problems = dict(problems)
        field, allowed = next(iter(self.problems.items()))
        super().__init__(field=field, value=value, allowed=allowed)


class NotFoundError(Il2Error):
    """A named thing does not exist; `known` lists what does, when that helps."""

    status: ClassVar[int] = 404

    def __init__(self, *, kind: str, key: str, known: tuple[str, ...] = ()) -> None:
        self.kind = kind
        self.key = key
        self.known = known
        hint = f" (known: {', '.join(known)})" if known else ""
        super().__init__(f"no {kind} {key!r}{hint}")


class ConflictError(Il2Error):
    """The write clashes with what is already recorded; `existing` is what was there first."""

    status: ClassVar[int] = 409

    def __init__(self, message: str, *, existing: object = None) -> None:
        self.existing = existing
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class Refusal:
    """One reason an action is refused: a stable code, words for people, and whether a
    physician may act against it with a recorded reason (`overridable`)."""

    code: str
    message: str
    overridable: bool = False


class RefusedError(Il2Error):
    """The action must not happen now; nothing was recorded. `reasons` says why, each one."""

    status: ClassVar[int] = 409

    def __init__(self, reasons: tuple[Refusal, ...] | list[Refusal]) -> None:
        self.reasons = tuple(reasons)
        super().__init__("; ".join(reason.message for reason in self.reasons) or "refused")

    @property
    def overridable(self) -> bool:
        """True when every reason is one a physician may act against with a recorded reason."""
        return bool(self.reasons) and all(reason.overridable for reason in self.reasons)


class PermissionDeniedError(Il2Error):
    """The user's role does not allow the action (`username` and `action` name the attempt,
    so the edge can audit it once the service's transaction has unwound)."""

    status: ClassVar[int] = 403

    def __init__(
        self, message: str, *, username: str | None = None, action: str | None = None
    ) -> None:
        self.username = username
        self.action = action
        super().__init__(message)


class TooManyAttemptsError(PermissionDeniedError):
    """Sign-in refused for a while after too many failures; `retry_after` seconds to wait."""

    status: ClassVar[int] = 429

    def __init__(self, message: str, *, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class UnavailableError(Il2Error):
    """A system il2 reads from (the EHR's FHIR server) did not answer in time, could not be
    reached, or answered an error; `system` names it. Nothing it said is used."""

    status: ClassVar[int] = 502

    def __init__(self, message: str, *, system: str) -> None:
        self.system = system
        super().__init__(message)


class RuleTableError(Il2Error):
    """A rule or policy file is malformed."""

    status: ClassVar[int] = 500

    def __init__(self, *, file: str, field: str, problem: str) -> None:
        self.file = file
        self.field = field
        self.problem = problem
        super().__init__(f"{file}: {field}: {problem}")
