"""The password policy: which new passwords are refused, and why (no I/O)."""

from __future__ import annotations

import itertools
import string
from collections.abc import Collection

from il2.domain.limits import MAX_PASSWORD

MIN_LENGTH = 12
_PADDING = string.digits + string.punctuation + " "
MIN_ROOT = 4  # a shorter root ("love", "pass") is a word, not yet a recognisable password


def _ascending_digits(password: str) -> bool:
    """Whether the password is a run of consecutive digits, like 123456789012."""
    if not password.isdigit() or not password.isascii():
        return False
    return all(int(b) == (int(a) + 1) % 10 for a, b in itertools.pairwise(password))


def password_problem(password: str, *, username: str, common: Collection[str]) -> str | None:
    """None if `password` may be used by `username`; else the rule it breaks, in words.

    The rules follow NIST SP 800-63B section 5.1.1.2: a minimum length, and no password that
    is commonly used (or a common one with digits or symbols added), repetitive or sequential,
    or made from the account's own name.
    """
    lowered = password.lower()
    root = lowered.strip(_PADDING)
    padded = root != lowered and len(root) >= MIN_ROOT and root in common
    broken = (
        (len(password) < MIN_LENGTH, f"at least {MIN_LENGTH} characters"),
        (len(password) > MAX_PASSWORD, f"at most {MAX_PASSWORD} characters"),
        (len(set(password)) == 1, "not one character repeated"),
        (_ascending_digits(password), "not a run of consecutive digits"),
        (bool(username) and username.lower() in lowered, "not containing the username"),
        (lowered in common, "not one of the commonly used passwords"),
        (padded, "not a commonly used password with digits or symbols added"),
    )
    return next((rule for fails, rule in broken if fails), None)
