"""Accounts: access can be taken away, at once, and weak passwords are refused (both databases)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from hypothesis import given
from hypothesis import strategies as st

from il2.bootstrap import App
from il2.domain.errors import (
    ConflictError,
    InvalidInputError,
    InvalidInputsError,
    PermissionDeniedError,
    TooManyAttemptsError,
)
from il2.domain.passwords import password_problem
from il2.domain.records import Role
from il2.rules.passwords import common_passwords
from il2.services import accounts
from il2.services.accounts import (
    RunPasswordCheck,
    actor_for_token,
    actor_for_username,
    add_user,
    change_password,
    deactivate_user,
    lockouts,
    password_matches,
    reactivate_user,
    reset_password,
    set_role,
    sign_in,
    unlock_user,
)
from il2.services.audit import audit_page
from il2.services.ports import AuditQuery
from tests.conftest import PRODUCTION_HASHER
from tests.integration.builders import PASSWORD, staff
from tests.integration.conftest import FixedClock

NEW_PASSWORD = "a different long secret"  # noqa: S105 - a test account's password
WRONG_PASSWORD = "a guess at the password"  # noqa: S105 - a wrong guess
COMMON_PASSWORD = "password"  # noqa: S105 - on the list of common passwords


def _actions(app: App) -> list[str]:
    """The actions the audit trail holds, as an administrator reads them."""
    admin = actor_for_username(app.services, "administrator")
    found = audit_page(app.services, admin, AuditQuery(), limit=200)
    return [str(e["action"]) for e in found.entries]


def test_deactivation_ends_sessions_and_sign_in(app: App) -> None:
    actors = staff(app)
    token, _ = sign_in(app.services, username="nurse", password=PASSWORD)
    assert actor_for_token(app.services, token) is not None

    user = deactivate_user(app.services, actors[Role.ADMINISTRATOR], "nurse")

    assert not user.active
    assert actor_for_token(app.services, token) is None
    with pytest.raises(PermissionDeniedError):
        sign_in(app.services, username="nurse", password=PASSWORD)
    reactivate_user(app.services, actors[Role.ADMINISTRATOR], "nurse")
    assert sign_in(app.services, username="nurse", password=PASSWORD)[1].active
    assert {"deactivate", "reactivate"} <= set(_actions(app))


def test_role_change_applies_at_once(app: App) -> None:
    actors = staff(app)
    token, _ = sign_in(app.services, username="nurse", password=PASSWORD)

    user = set_role(app.services, actors[Role.ADMINISTRATOR], "nurse", "pharmacist")

    assert user.role is Role.PHARMACIST
    assert actor_for_token(app.services, token) is None
    _, again = sign_in(app.services, username="nurse", password=PASSWORD)
    assert again.role is Role.PHARMACIST
    with pytest.raises(InvalidInputError) as refused:
        set_role(app.services, actors[Role.ADMINISTRATOR], "nurse", "surgeon")
    assert refused.value.field == "role"


def test_reset_password_replaces_the_old_one(app: App) -> None:
    actors = staff(app)
    token, _ = sign_in(app.services, username="physician", password=PASSWORD)

    reset_password(app.services, actors[Role.ADMINISTRATOR], "physician", NEW_PASSWORD)

    assert actor_for_token(app.services, token) is None
    with pytest.raises(PermissionDeniedError):
        sign_in(app.services, username="physician", password=PASSWORD)
    assert sign_in(app.services, username="physician", password=NEW_PASSWORD)
    assert "reset_password" in _actions(app)


def test_the_last_active_administrator_is_kept(app: App) -> None:
    actors = staff(app)
    admin = actors[Role.ADMINISTRATOR]
    for change in (
        lambda: deactivate_user(app.services, admin, "administrator"),
        lambda: set_role(app.services, admin, "administrator", "nurse"),
    ):
        with pytest.raises(ConflictError, match="last active administrator"):
            change()
    add_user(app.services, admin, username="second-admin", display_name="Second",
             role="administrator", password=NEW_PASSWORD)  # fmt: skip
    assert not deactivate_user(app.services, admin, "administrator").active


def test_only_administrators_manage_accounts(app: App) -> None:
    actors = staff(app)
    for role, actor in actors.items():
        if role is Role.ADMINISTRATOR:
            continue
        with pytest.raises(PermissionDeniedError):
            deactivate_user(app.services, actor, "nurse2")
        with pytest.raises(PermissionDeniedError):
            reset_password(app.services, actor, "nurse2", NEW_PASSWORD)


@pytest.mark.parametrize(
    ("username", "password", "rule"),
    [
        ("weak1", "aaaaaaaaaaaa", "repeated"),
        ("weak2", "123456789012", "consecutive digits"),
        ("sameasuser12", "sameasuser12", "username"),
        ("weak3", "x-weak3-Password", "username"),
        ("weak4", "qwerty123456", "commonly used"),
        ("weak6", "password1234", "with digits or symbols added"),  # review D3's example
        ("weak7", "!!Dragon2026!", "with digits or symbols added"),
        ("weak5", "short-one", "12 characters"),
    ],
)
def test_weak_passwords_are_refused(app: App, username: str, password: str, rule: str) -> None:
    actors = staff(app)
    with pytest.raises(InvalidInputError) as refused:
        add_user(app.services, actors[Role.ADMINISTRATOR], username=username,
                 display_name=username, role="nurse", password=password)  # fmt: skip
    assert refused.value.field == "password"
    assert rule in refused.value.allowed
    again = password.replace(username, "nurse") if rule == "username" else password
    with pytest.raises(InvalidInputError):
        reset_password(app.services, actors[Role.ADMINISTRATOR], "nurse", again)


@given(st.text(min_size=12, max_size=40))
def test_a_refusal_always_names_a_rule(password: str) -> None:
    problem = password_problem(password, username="someone", common=common_passwords())
    assert problem is None or problem.startswith(("at ", "not "))
    if len(set(password)) == 1:
        assert problem is not None


class _CountingHasher:
    """The accounts' argon2 hasher, counting verifications."""

    def __init__(self, real: PasswordHasher) -> None:
        self.real, self.verified = real, 0

    def verify(self, hashed: str, password: str) -> bool:
        self.verified += 1
        return self.real.verify(hashed, password)

    def check_needs_rehash(self, hashed: str) -> bool:
        return self.real.check_needs_rehash(hashed)

    def hash(self, password: str) -> str:
        return self.real.hash(password)


def test_unknown_and_inactive_users_cost_an_argon2_check(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No timing difference reveals which usernames exist: every refusal runs argon2."""
    actors = staff(app)
    deactivate_user(app.services, actors[Role.ADMINISTRATOR], "nurse2")
    counting = _CountingHasher(accounts._HASHER)
    monkeypatch.setattr(accounts, "_HASHER", counting)
    for username in ("nobody-here", "nurse2", "nurse"):
        with pytest.raises(PermissionDeniedError, match="unknown user or wrong password"):
            sign_in(app.services, username=username, password=NEW_PASSWORD)
    assert not password_matches(None, PASSWORD)
    assert not RunPasswordCheck()(None, PASSWORD)
    assert counting.verified == 5


@pytest.mark.usefixtures("production_argon2")
def test_an_old_argon2_hash_is_upgraded_at_sign_in(app: App) -> None:
    staff(app)
    assert accounts._HASHER is PRODUCTION_HASHER
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
    with app.services.uow() as uow:
        nurse = uow.users.by_username("nurse")
        assert nurse is not None
        uow.users.update(nurse.id, password_hash=weak.hash(PASSWORD))
        uow.commit()

    sign_in(app.services, username="nurse", password=PASSWORD)

    with app.services.uow() as uow:
        upgraded = uow.users.by_username("nurse")
    assert upgraded is not None
    assert not PasswordHasher().check_needs_rehash(upgraded.password_hash)
    assert PasswordHasher().verify(upgraded.password_hash, PASSWORD)


def _fail(app: App, username: str, times: int, address: str = "10.0.0.1") -> None:
    for _ in range(times):
        with pytest.raises(PermissionDeniedError):
            sign_in(app.services, username=username, password=NEW_PASSWORD, address=address)


def test_an_account_is_locked_after_five_failures_until_the_window_passes(
    app: App, clock: FixedClock
) -> None:
    staff(app)
    _fail(app, "nurse", 5)
    with pytest.raises(TooManyAttemptsError) as locked:
        sign_in(app.services, username="nurse", password=PASSWORD, address="10.0.0.2")
    assert locked.value.retry_after == 15 * 60
    clock.now += timedelta(minutes=15, seconds=1)
    assert sign_in(app.services, username="nurse", password=PASSWORD, address="10.0.0.2")
    _fail(app, "nurse", 4)  # the success cleared the count: four more are not a lock
    assert sign_in(app.services, username="nurse", password=PASSWORD)


def test_unknown_usernames_lock_alike_and_an_administrator_unlocks(app: App) -> None:
    actors = staff(app)
    _fail(app, "no-such-user", 5)
    with pytest.raises(TooManyAttemptsError):
        sign_in(app.services, username="no-such-user", password=PASSWORD)
    _fail(app, "physician", 5)
    with pytest.raises(PermissionDeniedError):
        unlock_user(app.services, actors[Role.NURSE], "physician")
    assert unlock_user(app.services, actors[Role.ADMINISTRATOR], "physician") == 5
    assert sign_in(app.services, username="physician", password=PASSWORD)
    assert {"sign_in_failed", "unlock"} <= set(_actions(app))


def test_one_address_is_throttled_across_usernames(app: App) -> None:
    staff(app)
    for number in range(20):
        _fail(app, f"guess-{number}", 1, address="10.9.9.9")
    with pytest.raises(TooManyAttemptsError):
        sign_in(app.services, username="nurse", password=PASSWORD, address="10.9.9.9")
    assert sign_in(app.services, username="nurse", password=PASSWORD, address="10.0.0.5")


def test_sessions_end_when_idle_and_at_their_absolute_limit(app: App, clock: FixedClock) -> None:
    staff(app)
    start = clock.now
    idle, _ = sign_in(app.services, username="nurse", password=PASSWORD)
    busy, _ = sign_in(app.services, username="physician", password=PASSWORD)
    clock.now += timedelta(minutes=29)
    assert actor_for_token(app.services, busy) is not None
    clock.now += timedelta(minutes=2)  # the nurse's session has been idle 31 minutes
    assert actor_for_token(app.services, idle) is None
    assert actor_for_token(app.services, busy) is not None
    while clock.now < start + timedelta(hours=12) - timedelta(minutes=29):
        clock.now += timedelta(minutes=29)  # the physician works on, a request every 29 min
        assert actor_for_token(app.services, busy) is not None
    clock.now = start + timedelta(hours=12)
    assert actor_for_token(app.services, busy) is None


@pytest.mark.parametrize(
    "password", ["correct horse battery staple", "dragonfly-meadow-41", "ilovetomatoes2026"]
)
def test_a_common_word_inside_a_longer_passphrase_is_not_refused(password: str) -> None:
    assert password_problem(password, username="someone", common=common_passwords()) is None


def test_a_user_changes_their_own_password_and_their_other_sessions_end(app: App) -> None:
    actors = staff(app)
    here, _ = sign_in(app.services, username="nurse", password=PASSWORD)
    elsewhere, _ = sign_in(app.services, username="nurse", password=PASSWORD)
    others, _ = sign_in(app.services, username="physician", password=PASSWORD)

    revoked = change_password(
        app.services,
        actors[Role.NURSE],
        current_password=PASSWORD,
        new_password=NEW_PASSWORD,
        keep_token=here,
    )

    assert revoked == 1
    assert actor_for_token(app.services, here) is not None
    assert actor_for_token(app.services, elsewhere) is None
    assert actor_for_token(app.services, others) is not None
    assert sign_in(app.services, username="nurse", password=NEW_PASSWORD)
    with pytest.raises(PermissionDeniedError):
        sign_in(app.services, username="nurse", password=PASSWORD)
    admin = actor_for_username(app.services, "administrator")
    entries = audit_page(app.services, admin, AuditQuery(), limit=200).entries
    changed = [e for e in entries if e["action"] == "change_password"]
    assert len(changed) == 1
    assert PASSWORD not in str(changed)
    assert NEW_PASSWORD not in str(changed)


def test_a_password_change_names_every_problem_at_once_and_changes_nothing(app: App) -> None:
    actors = staff(app)
    token, _ = sign_in(app.services, username="nurse", password=PASSWORD)

    with pytest.raises(InvalidInputsError) as refused:
        change_password(
            app.services,
            actors[Role.NURSE],
            current_password=WRONG_PASSWORD,
            new_password=COMMON_PASSWORD,
            confirm_password=NEW_PASSWORD,
        )

    assert set(refused.value.problems) == {"current_password", "new_password", "confirm_password"}
    assert actor_for_token(app.services, token) is not None
    assert sign_in(app.services, username="nurse", password=PASSWORD)
    assert "change_password" not in _actions(app)


def test_wrong_current_passwords_meet_the_sign_in_throttle(app: App) -> None:
    actors = staff(app)
    for _ in range(5):
        with pytest.raises(InvalidInputError):
            change_password(
                app.services,
                actors[Role.NURSE],
                current_password=WRONG_PASSWORD,
                new_password=NEW_PASSWORD,
                address="10.0.0.7",
            )
    with pytest.raises(TooManyAttemptsError):  # even the right one waits, as at sign-in
        change_password(
            app.services, actors[Role.NURSE], current_password=PASSWORD, new_password=NEW_PASSWORD
        )
    with pytest.raises(TooManyAttemptsError):
        sign_in(app.services, username="nurse", password=PASSWORD)
    assert "nurse" in lockouts(app.services, actors[Role.ADMINISTRATOR])


def test_lockouts_name_the_locked_accounts_until_their_window_ends(
    app: App, clock: FixedClock
) -> None:
    actors = staff(app)
    start = clock.now
    _fail(app, "physician", 5)
    _fail(app, "nurse", 4)

    locked = lockouts(app.services, actors[Role.ADMINISTRATOR])

    assert locked == {"physician": start + timedelta(minutes=15)}
    with pytest.raises(PermissionDeniedError):
        lockouts(app.services, actors[Role.NURSE])
    unlock_user(app.services, actors[Role.ADMINISTRATOR], "physician")
    assert lockouts(app.services, actors[Role.ADMINISTRATOR]) == {}
