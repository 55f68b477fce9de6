"""Typed, path-aware access to a parsed TOML table, so every error names file and field."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources
from typing import Any

from il2.domain.errors import RuleTableError


@dataclass(frozen=True, slots=True)
class Node:
    """A TOML table together with the file it came from and its dotted path in that file."""

    data: Mapping[str, Any]
    file: str
    path: str = ""

    def where(self, key: str) -> str:
        """The dotted path of `key` in this table."""
        return f"{self.path}.{key}" if self.path else key

    def fail(self, key: str, problem: str) -> RuleTableError:
        """An error naming this file and `key`'s path."""
        return RuleTableError(file=self.file, field=self.where(key), problem=problem)

    def has(self, key: str) -> bool:
        """Whether `key` is present."""
        return key in self.data

    def raw(self, key: str) -> Any:
        """The value of a required key, unchecked."""
        if key not in self.data:
            raise self.fail(key, "is required but missing")
        return self.data[key]

    def text(self, key: str, default: str | None = None) -> str:
        """A required (or defaulted) string."""
        if key not in self.data and default is not None:
            return default
        value = self.raw(key)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, f"must be a non-empty string, not {value!r}")
        return value

    def integer(self, key: str, *, minimum: int = 0) -> int:
        """A required whole number of at least `minimum`."""
        value = self.raw(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.fail(key, f"must be a whole number of at least {minimum}, not {value!r}")
        return value

    def optional_integer(self, key: str, *, minimum: int = 0) -> int | None:
        """A whole number, or None when absent."""
        return self.integer(key, minimum=minimum) if key in self.data else None

    def number(self, key: str) -> Decimal:
        """A required number, as an exact decimal."""
        value = self.raw(key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(key, f"must be a number, not {value!r}")
        return Decimal(str(value))

    def optional_number(self, key: str) -> Decimal | None:
        """A number, or None when absent."""
        return self.number(key) if key in self.data else None

    def flag(self, key: str, *, default: bool | None = None) -> bool:
        """A true/false value."""
        if key not in self.data and default is not None:
            return default
        value = self.raw(key)
        if not isinstance(value, bool):
            raise self.fail(key, f"must be true or false, not {value!r}")
        return value

    def texts(self, key: str, *, default: tuple[str, ...] | None = None) -> tuple[str, ...]:
        """A list of strings."""
        if key not in self.data and default is not None:
            return default
        value = self.raw(key)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(key, f"must be a list of strings, not {value!r}")
        return tuple(value)

    def integers(self, key: str, *, minimum: int = 0) -> tuple[int, ...]:
        """A non-empty list of whole numbers."""
        value = self.raw(key)
        ok = isinstance(value, list) and value
        if not ok or not all(type(v) is int and v >= minimum for v in value):
            raise self.fail(key, f"must be a non-empty list of whole numbers, not {value!r}")
        return tuple(value)

    def choice(self, key: str, allowed: tuple[str, ...]) -> str:
        """A string from `allowed`."""
        value = self.text(key)
        if value not in allowed:
            raise self.fail(key, f"{value!r} is not one of {', '.join(allowed)}")
        return value

    def table(self, key: str) -> Node:
        """A required sub-table."""
        value = self.raw(key)
        if not isinstance(value, Mapping):
            raise self.fail(key, "must be a table")
        return Node(value, self.file, self.where(key))

    def tables(self, key: str) -> Iterator[Node]:
        """A required array of tables."""
        value = self.raw(key)
        if not isinstance(value, list) or not value:
            raise self.fail(key, "must be a non-empty array of tables")
        for index, item in enumerate(value):
            if not isinstance(item, Mapping):
                raise self.fail(f"{key}[{index}]", "must be a table")
            yield Node(item, self.file, self.where(f"{key}[{index}]"))

    def children(self) -> Iterator[tuple[str, Node]]:
        """Every sub-table of this table, by key."""
        for key in self.data:
            yield key, self.table(key)

    def only(self, *allowed: str) -> None:
        """Refuse keys other than `allowed` (a typo must not silently vanish)."""
        for key in self.data:
            if key not in allowed:
                raise self.fail(key, f"is not a known field here (known: {', '.join(allowed)})")


def read_bundled(name: str) -> dict[str, Any]:
    """Parse one of the rule files shipped in il2/rules/data, naming it on a syntax error."""
    text = resources.files("il2.rules").joinpath("data", name).read_text(encoding="utf-8")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise RuleTableError(file=name, field="(syntax)", problem=str(error)) from None
