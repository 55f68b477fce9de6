"""Accounts, for administrators: list them, and take access away or give it back; and for
everyone, a new password of their own."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request

from il2.api import answers
from il2.api.schemas import OWN_PASSWORD_ERRORS, PasswordChange, PasswordReset, RoleChange
from il2.api.security import Il2Services, SignedIn
from il2.domain import limits
from il2.domain.records import User
from il2.services.accounts import (
    change_password,
    deactivate_user,
    list_users,
    reactivate_user,
    reset_password,
    set_role,
)
from il2.services.parsing import plain

router = APIRouter(prefix="/users", tags=["users"])

Username = Annotated[str, Path(min_length=1, max_length=limits.MAX_USERNAME)]


def _shown(user: User) -> dict[str, Any]:
    """An account as the API shows it (never the password hash)."""
    return {"username": user.username, "role": user.role.value, "active": user.active}


@router.get("", response_model=list[answers.Account])
async def accounts(actor: SignedIn, services: Il2Services) -> list[dict[str, Any]]:
    """Every account with its role and status."""
    return [dict(plain(u)) for u in list_users(services, actor)]


@router.post("/me/password", responses=OWN_PASSWORD_ERRORS, response_model=answers.PasswordChanged)
def own_password(
    body: PasswordChange, request: Request, actor: SignedIn, services: Il2Services
) -> dict[str, Any]:
    """Change the signed-in user's own password, given the current one.

    Every other session of the account ends; the token that asked goes on. A wrong current
    password counts as a failed sign-in, so after too many the answer is 429 with Retry-After.
    """
    credentials = request.headers.get("Authorization", "")
    revoked = change_password(
        services,
        actor,
        current_password=body.current_password,
        new_password=body.new_password,
        keep_token=credentials.removeprefix("Bearer ").strip() or None,
        address=request.client.host if request.client else "",
    )
    return {"username": actor.username, "sessions_revoked": revoked}


@router.post("/{username}/deactivate", response_model=answers.AccountState)
async def deactivate(username: Username, actor: SignedIn, services: Il2Services) -> dict[str, Any]:
    """Take the account's access away: sign-in refused, its sessions ended at once."""
    return _shown(deactivate_user(services, actor, username))


@router.post("/{username}/reactivate", response_model=answers.AccountState)
async def reactivate(username: Username, actor: SignedIn, services: Il2Services) -> dict[str, Any]:
    """Let a deactivated account sign in again."""
    return _shown(reactivate_user(services, actor, username))


@router.post("/{username}/role", response_model=answers.AccountState)
async def change_role(
    username: Username, body: RoleChange, actor: SignedIn, services: Il2Services
) -> dict[str, Any]:
    """Give the account another role; its sessions end at once."""
    return _shown(set_role(services, actor, username, body.role))


@router.post("/{username}/password", response_model=answers.AccountState)
async def new_password(
    username: Username, body: PasswordReset, actor: SignedIn, services: Il2Services
) -> dict[str, Any]:
    """Set a new password for the account; its sessions end at once."""
    return _shown(reset_password(services, actor, username, body.password))
