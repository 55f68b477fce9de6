"""Accounts: add users with hashed passwords, sign in, and find who a token belongs to."""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from datetime import datetime, timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import VerificationError

from il2.domain import limits
from il2.domain.errors import (
    ConflictError,
    InvalidInputError,
    InvalidInputsError,
    NotFoundError,
    PermissionDeniedError,
    TooManyAttemptsError,
)
from il2.domain.passwords import password_problem
from il2.domain.records import Actor, Role, User
from il2.domain.scopes import Scopes, parse_scopes
from il2.rules.passwords import common_passwords
from il2.services.auditing import audit
from il2.services.context import Services
from il2.services.parsing import text
from il2.services.permissions import require
from il2.services.ports import UnitOfWork

SESSION_HOURS = 12
TOKEN_CONTEXTS = ("user", "system")
"""The SMART scope contexts il2's own tokens take: `patient/` needs a patient in context, which
il2's sign-in does not establish (https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html,
"Apps that launch from the EHR": granting `patient/` scopes SHALL establish a patient); a
`system/` scope on a user's token (for $export) grants no more than a `user/` one would."""
_HASHER = PasswordHasher()


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _checked_password(password: object, username: str) -> str:
    """The password if the policy accepts it; InvalidInputError naming the rule otherwise."""
    if not isinstance(password, str):
        raise InvalidInputError(field="password", value="(hidden)", allowed="text")
    problem = password_problem(password, username=username, common=common_passwords())
    if problem is not None:
        raise InvalidInputError(field="password", value="(hidden)", allowed=problem)
    return password


def add_user(
    services: Services,
    actor: Actor | None,
    *,
    username: object,
    display_name: object,
    role: object,
    password: object,
) -> User:
    """Create an account; `actor` None only for the first administrator at set-up."""
    if actor is not None:
        require(services, actor, "users.manage")
    if role not in {r.value for r in Role}:
        raise InvalidInputError(
            field="role", value=role, allowed="one of " + ", ".join(r.value for r in Role)
        )
    name = str(text(username, "username", limit=limits.MAX_USERNAME))
    checked = _checked_password(password, name)
    with services.uow() as uow:
        user = uow.users.add(
            username=name,
            display_name=str(text(display_name, "display_name")),
            role=Role(str(role)),
            password_hash=_HASHER.hash(checked),
            at=services.clock(),
        )
        who = actor or Actor(user.id, "(set-up)", Role.ADMINISTRATOR)
        audit(
            uow,
            services,
            who,
            action="create",
            entity="user",
            entity_id=user.id,
            patient_id=None,
            after={"username": user.username, "role": user.role.value},
        )
        uow.commit()
    return user


@cache
def _dummy_hash() -> str:
    """An argon2 hash of a random secret, verified in place of an unknown or inactive account's,
    so that a refusal takes as long whether or not the username exists."""
    return _HASHER.hash(secrets.token_urlsafe(32))


def _password_matches(user: User | None, password: str) -> bool:
    known = user is not None and user.active
    try:
        matches = _HASHER.verify(user.password_hash if user and known else _dummy_hash(), password)
    except VerificationError:
        return False
    return matches and known


def password_matches(user: User | None, password: object) -> bool:
    """Whether `password` is the active user's own (argon2 verification; nothing is kept)."""
    return isinstance(password, str) and _password_matches(user, password)


class RunPasswordCheck:
    """Checks second persons' passwords for one run of many writes (the demo): argon2 the first
    time an account signs, then a constant-time comparison with the password that passed. The
    password is held in this object's memory for the run only, never stored."""

    def __init__(self) -> None:
        self._passed: dict[str, str] = {}

    def __call__(self, user: User | None, password: object) -> bool:
        """Whether `password` is the active user's own."""
        if not isinstance(password, str):
            return False
        if user is None or not user.active:
            return _password_matches(user, password)  # False, after as long as a real check
        known = self._passed.get(user.username)
        if known is not None:
            return hmac.compare_digest(known.encode(), password.encode())
        if not _password_matches(user, password):
            return False
        self._passed[user.username] = password
        return True


def _session_event(uow: UnitOfWork, services: Services, user: User, action: str) -> None:
    """Audit a sign-in or sign-out as the user's own act, and commit."""
    actor = Actor(user.id, user.username, user.role)
    audit(uow, services, actor, action=action, entity="user", entity_id=user.id, patient_id=None)
    uow.commit()


def _printable(name: str) -> str:
    """A name as it may be stored: encodable, without NUL (which PostgreSQL text refuses)."""
    return name.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")


def _failed_sign_in(
    uow: UnitOfWork, services: Services, username: str, user: User | None, reason: str = ""
) -> None:
    """Audit a failed sign-in under the name tried (printable, cut to the column), and commit:
    the refusal that follows must not roll it back. The password is never kept."""
    tried = username.encode("utf-8", "backslashreplace").decode("utf-8")[:80]
    actor = Actor(user.id if user else 0, tried, user.role if user else Role.NURSE)
    reason = reason or (
        "unknown user" if user is None else ("inactive" if not user.active else "password")
    )
    audit(uow, services, actor, action="sign_in_failed", entity="user",
          entity_id=user.id if user else "unknown", patient_id=None,
          after={"reason": reason})  # fmt: skip
    uow.commit()


def _setting(services: Services, name: str) -> int:
    """A whole-number site setting from site_policy.toml (or the site's own policy file)."""
    for setting in services.rules.policies:
        if setting.name == name:
            return int(str(setting.value))
    raise KeyError(name)  # pragma: no cover - the bundled policy file defines every setting


def _account_locked_until(uow: UnitOfWork, services: Services, username: str) -> datetime | None:
    """When an account locked by its own failed sign-ins may try again, if it is locked now."""
    window = timedelta(minutes=_setting(services, "sign_in_window_minutes"))
    found = uow.users.failures(since=services.clock() - window, username=username)
    most = _setting(services, "sign_in_failures_per_account")
    # Unlocked again when enough of the counted failures have aged out of the window.
    return found[len(found) - most] + window if len(found) >= most else None


def lockouts(services: Services, actor: Actor) -> dict[str, datetime]:
    """The accounts locked now by failed sign-ins, each with when the lock ends by itself.

    One query per account: meant for the administrator's list of a site's staff."""
    require(services, actor, "users.manage")
    with services.uow() as uow:
        locked = {
            u.username: _account_locked_until(uow, services, u.username) for u in uow.users.all()
        }
    return {name: until for name, until in locked.items() if until is not None}


def _throttled(uow: UnitOfWork, services: Services, username: str, address: str) -> int | None:
    """Seconds until another attempt may be made, if this name or address is locked now."""
    now = services.clock()
    window = timedelta(minutes=_setting(services, "sign_in_window_minutes"))
    since = now - window
    waits = []
    for found, limit in (
        (uow.users.failures(since=since, username=username), "sign_in_failures_per_account"),
        (uow.users.failures(since=since, address=address), "sign_in_failures_per_address"),
    ):
        most = _setting(services, limit)
        if len(found) >= most:
            # Unlocked again when enough of the counted failures have aged out of the window.
            waits.append(found[len(found) - most] + window - now)
    if not waits:
        return None
    return max(1, math.ceil(max(waits).total_seconds()))


def sign_in(
    services: Services,
    *,
    username: str,
    password: str,
    address: str = "",
    scope: str | None = None,
) -> tuple[str, User]:
    """A new session token for a correct username and password.

    After too many failures for the username or from the client `address` within the site's
    window, TooManyAttemptsError (with the seconds to wait) and the password is not checked.
    `scope`, SMART resource scopes (il2.domain.scopes), narrows what the token may read through
    the FHIR facade; never more than the role allows. `patient/` scopes are refused: il2's
    sign-in puts no patient in context. Unusable scope: InvalidInputError (`scope`) before
    the password is checked.
    """
    granted = None if scope is None else parse_scopes(scope, contexts=TOKEN_CONTEXTS).text
    tried = _printable(username)[: limits.MAX_USERNAME]
    address = _printable(address)[:64]
    with services.uow() as uow:
        user = uow.users.by_username(username)
        wait = _throttled(uow, services, tried, address)
        if wait is not None:
            _failed_sign_in(uow, services, username, user, reason="locked")
            raise TooManyAttemptsError(
                f"too many failed sign-ins; try again in {wait} seconds", retry_after=wait
            )
        if not _password_matches(user, password) or user is None:
            uow.users.add_failure(username=tried, address=address, at=services.clock())
            _failed_sign_in(uow, services, username, user)
            raise PermissionDeniedError("unknown user or wrong password")
        if _HASHER.check_needs_rehash(user.password_hash):
            # Stored under older argon2 parameters: keep the password under today's.
            uow.users.update(user.id, password_hash=_HASHER.hash(password))
        uow.users.clear_failures(user.username)
        token = secrets.token_urlsafe(32)
        now = services.clock()
        uow.users.add_token(
            user_id=user.id,
            token_hash=_token_hash(token),
            expires_at=now + timedelta(hours=_setting(services, "session_absolute_hours")),
            scope=granted,
        )
        uow.users.touch_token(_token_hash(token), now)
        _session_event(uow, services, user, "sign_in")
    return token, user


def unlock_user(services: Services, actor: Actor, username: object) -> int:
    """Let an account locked by failed sign-ins try again now; how many failures were forgotten."""
    require(services, actor, "users.manage")
    with services.uow() as uow:
        user = _account(uow, username)
        forgotten = uow.users.clear_failures(user.username)
        audit(uow, services, actor, action="unlock", entity="user", entity_id=user.id,
              patient_id=None, after={"failures_forgotten": forgotten})  # fmt: skip
        uow.commit()
    return forgotten


def _new_password_problems(
    user: User, new_password: object, confirm_password: object
) -> dict[str, str]:
    """What the policy (and, when given, the second entry) finds wrong with a new password."""
    if not isinstance(new_password, str) or not new_password:
        return {"new_password": "a new password"}
    problems = {}
    problem = password_problem(new_password, username=user.username, common=common_passwords())
    if problem is not None:
        problems["new_password"] = problem
    if confirm_password is not None and confirm_password != new_password:
        problems["confirm_password"] = "the new password typed again, the same"  # noqa: S105 - a field
    return problems


def change_password(
    services: Services,
    actor: Actor,
    *,
    current_password: object,
    new_password: object,
    confirm_password: object = None,
    keep_token: str | None = None,
    address: str = "",
) -> int:
    """A signed-in user's own new password, given the current one; how many sessions ended.

    A wrong current password counts as a failed sign-in for the account and the client
    `address` (so this cannot be used to guess the password past the sign-in throttle), and
    while the account is locked the change is refused with TooManyAttemptsError before any
    check. Every problem is named at once (InvalidInputsError); on success every session of
    the account but `keep_token` (the one asking) ends, and the change is audited without
    either password. `confirm_password`, when given, must repeat the new password.
    """
    address = _printable(address)[:64]
    with services.uow() as uow:
        user = uow.users.by_username(actor.username)
        if user is None or not user.active:
            raise PermissionDeniedError("no active account to change the password of")
        wait = _throttled(uow, services, user.username, address)
        if wait is not None:
            _failed_sign_in(uow, services, user.username, user, reason="locked")
            raise TooManyAttemptsError(
                f"too many failed sign-ins; try again in {wait} seconds", retry_after=wait
            )
        problems: dict[str, str] = {}
        if not password_matches(user, current_password):
            uow.users.add_failure(username=user.username, address=address, at=services.clock())
            _failed_sign_in(uow, services, user.username, user, reason="change_password")
            problems["current_password"] = "your current password"  # noqa: S105 - a field
        problems |= _new_password_problems(user, new_password, confirm_password)
        if problems:
            raise InvalidInputsError(problems)
        uow.users.update(user.id, password_hash=_HASHER.hash(str(new_password)))
        uow.users.clear_failures(user.username)
        revoked = uow.users.remove_tokens(
            user.id, keep=None if keep_token is None else _token_hash(keep_token)
        )
        audit(uow, services, actor, action="change_password", entity="user", entity_id=user.id,
              patient_id=None, after={"sessions_revoked": revoked})  # fmt: skip
        uow.commit()
    return revoked


def sign_out(services: Services, token: str) -> bool:
    """End a session: the token stops working at once. False if it was not a live token."""
    with services.uow() as uow:
        user = uow.users.remove_token(_token_hash(token))
        if user is None:
            return False
        _session_event(uow, services, user, "sign_out")
    return True


def actor_for_token(services: Services, token: str) -> Actor | None:
    """Who a live session token belongs to, or None."""
    found = session_for_token(services, token)
    return None if found is None else found[0]


def session_for_token(services: Services, token: str) -> tuple[Actor, Scopes | None] | None:
    """Who a live session token belongs to and the SMART scopes it was asked with (None: all
    the role allows), or None."""
    with services.uow() as uow:
        now = services.clock()
        idle = timedelta(minutes=_setting(services, "session_idle_minutes"))
        found = uow.users.session_by_token(_token_hash(token), now, now - idle)
        uow.commit()  # the note of the session's use, when one was due
    if found is None:
        return None
    user, scope = found
    scopes = None if scope is None else parse_scopes(scope, contexts=TOKEN_CONTEXTS)
    return Actor(user.id, user.username, user.role), scopes


def actor_for_username(services: Services, username: str) -> Actor:
    """The actor behind a local command-line user."""
    with services.uow() as uow:
        user = uow.users.by_username(username)
    if user is None or not user.active:
        raise PermissionDeniedError(f"no active user {username!r}")
    return Actor(user.id, user.username, user.role)


def _account(uow: UnitOfWork, username: object) -> User:
    """The account named `username`, or NotFoundError."""
    user = uow.users.by_username(str(username)) if isinstance(username, str) else None
    if user is None:
        raise NotFoundError(kind="user", key=str(username))
    return user


def _keep_an_administrator(uow: UnitOfWork, user: User, *, losing: bool) -> None:
    """Refuse to take the last active administrator's administration away."""
    last = losing and user.active and user.role is Role.ADMINISTRATOR
    if last and uow.users.active_administrators() <= 1:
        raise ConflictError(
            f"{user.username} is the last active administrator: add or reactivate another "
            "administrator first, or the site could no longer manage its accounts"
        )


def _change(
    services: Services,
    actor: Actor,
    username: object,
    *,
    action: str,
    active: bool | None = None,
    role: Role | None = None,
    password_hash: str | None = None,
) -> User:
    """Apply one administrative change to an account, revoke its sessions, audit it, commit."""
    require(services, actor, "users.manage")
    with services.uow() as uow:
        user = _account(uow, username)
        demoted = role is not None and role is not Role.ADMINISTRATOR
        _keep_an_administrator(uow, user, losing=active is False or demoted)
        changed = uow.users.update(user.id, active=active, role=role, password_hash=password_hash)
        revoked = uow.users.remove_tokens(user.id)
        audit(uow, services, actor, action=action, entity="user", entity_id=user.id,
              patient_id=None,
              before={"active": user.active, "role": user.role.value},
              after={"active": changed.active, "role": changed.role.value,
                     "sessions_revoked": revoked})  # fmt: skip
        uow.commit()
    return changed


def deactivate_user(services: Services, actor: Actor, username: object) -> User:
    """Take an account's access away: it can no longer sign in, and its sessions end now."""
    return _change(services, actor, username, action="deactivate", active=False)


def reactivate_user(services: Services, actor: Actor, username: object) -> User:
    """Let a deactivated account sign in again (with its existing password)."""
    return _change(services, actor, username, action="reactivate", active=True)


def set_role(services: Services, actor: Actor, username: object, role: object) -> User:
    """Give an account another role; its sessions end now, so the new role applies at once."""
    if role not in {r.value for r in Role}:
        raise InvalidInputError(
            field="role", value=role, allowed="one of " + ", ".join(r.value for r in Role)
        )
    return _change(services, actor, username, action="set_role", role=Role(str(role)))


def reset_password(services: Services, actor: Actor, username: object, password: object) -> User:
    """Set a new password chosen by an administrator; the account's sessions end now."""
    with services.uow() as uow:
        name = _account(uow, username).username
    checked = _checked_password(password, name)
    return _change(
        services, actor, username, action="reset_password", password_hash=_HASHER.hash(checked)
    )


def list_users(services: Services, actor: Actor) -> list[dict[str, object]]:
    """Every account with its role and when it was made (never the password hash)."""
    require(services, actor, "users.manage")
    with services.uow() as uow:
        users = uow.users.all()
        audit(uow, services, actor, action="read", entity="users", entity_id="*", patient_id=None)
        uow.commit()
    return [
        {
            "username": u.username,
            "display_name": u.display_name,
            "role": u.role.value,
            "active": u.active,
            "at": u.created_at,
        }
        for u in users
    ]
