"""Load the permission matrix (permissions.toml)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from il2.domain.records import Role
from il2.rules.reader import Node


@dataclass(frozen=True, slots=True)
class Permissions:
    """Which roles may take each action."""

    roles_by_action: Mapping[str, frozenset[Role]]
    descriptions: Mapping[str, str]
    version: str

    def allows(self, role: Role, action: str) -> bool:
        """Whether `role` may take `action` (unknown actions are allowed to no one)."""
        return role in self.roles_by_action.get(action, frozenset())


def permissions_table(data: Node, version: str) -> Permissions:
    """Validate the matrix: every action names known roles."""
    known = tuple(r.value for r in Role)
    roles: dict[str, frozenset[Role]] = {}
    descriptions: dict[str, str] = {}
    for action, node in data.table("actions").children():
        node.only("roles", "description")
        for role in node.texts("roles"):
            if role not in known:
                raise node.fail("roles", f"{role!r} is not a role (known: {', '.join(known)})")
        roles[action] = frozenset(Role(r) for r in node.texts("roles"))
        descriptions[action] = node.text("description")
    return Permissions(roles, descriptions, version)
