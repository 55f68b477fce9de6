"""The list of common passwords the password policy refuses (il2/rules/data)."""

from __future__ import annotations

from functools import cache
from importlib import resources


@cache
def common_passwords() -> frozenset[str]:
    """The shipped common passwords, lower-cased (comment lines left out)."""
    text = resources.files("il2.rules").joinpath("data", "common_passwords.txt")
    lines = text.read_text(encoding="utf-8").splitlines()
    return frozenset(
        line.strip().lower() for line in lines if line.strip() and not line.startswith("#")
    )
