"""Who may do what: every permission check of the use cases, read from the rule tables.

The roles and the actions each may take live in the rules (rules/data); this module is the
one place the services ask them, so that a refusal always reads and is typed the same.
"""

from __future__ import annotations

from typing import Literal

from il2.domain.errors import InvalidInputError, PermissionDeniedError
from il2.domain.records import Actor, Role, User
from il2.services.context import Services

ReadMode = Literal["identified", "deidentified"]
"""How an actor reads patient records: as they are, or de-identified (research)."""


def may(services: Services, who: Actor | User, action: str) -> bool:
    """Whether the role of `who` (an actor, or another account) allows the action."""
    return services.rules.permissions.allows(who.role, action)


def require(services: Services, actor: Actor, action: str) -> None:
    """Refuse the action unless the actor's role allows it."""
    if not may(services, actor, action):
        raise PermissionDeniedError(
            f"{actor.username} ({actor.role.value}) may not {action}: "
            f"{services.rules.permissions.descriptions.get(action, 'unknown action')}",
            username=actor.username,
            action=action,
        )


def reads_identified(services: Services, actor: Actor) -> bool:
    """Whether the actor reads identified records (else de-identified, or none at all)."""
    return may(services, actor, "patient.read")


def reads_deidentified_only(services: Services, actor: Actor) -> bool:
    """Whether the actor reads patient records de-identified and never identified."""
    return not reads_identified(services, actor) and may(
        services, actor, "patient.read_deidentified"
    )


def read_mode(services: Services, actor: Actor) -> ReadMode:
    """How the actor reads patient records; refused when the role may read none at all."""
    if reads_identified(services, actor):
        return "identified"
    if may(services, actor, "patient.read_deidentified"):
        return "deidentified"
    raise PermissionDeniedError(
        f"{actor.username} ({actor.role.value}) may not read patient records",
        username=actor.username,
        action="patient.read",
    )


def require_verifier(services: Services, account: User, name: str) -> None:
    """Refuse, as the input `verified_by` (`name`, as given), a second person whose role may
    not verify doses."""
    if not may(services, account, "dose.verify"):
        permissions = services.rules.permissions
        roles = [role.value for role in Role if permissions.allows(role, "dose.verify")]
        raise InvalidInputError(
            field="verified_by",
            value=name,
            allowed=f"a user whose role may verify doses ({', '.join(roles) or 'none'}), "
            f"not a {account.role.value}",
        )
