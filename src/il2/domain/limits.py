"""What input il2 accepts at all: id range, date-time range, JSON depth, text sizes and characters.

These bounds sit in front of every clinical check, so that no input can crash a request or
bloat the record, whatever door it comes through (API, web form, command line).

- Ids are the database's 64-bit signed integers; a larger number names no record and would
  overflow the driver.
- Date-times stay within years 1900-2199: a course or an observation outside them is a typing
  error, and the ends of Python's range (years 1 and 9999) overflow once an offset or a
  schedule's days are added.
- JSON documents nest at most 32 levels. The deepest document il2 reads (a RECIST assessment:
  measurements -> assessments -> lesions -> lesion) is 4 levels; 32 leaves ample room for a
  client's own structure while every recursive reader (validation, `plain`, the audit writer)
  stays far below Python's recursion limit of 1000.
- Text: identifiers and names match their database columns (MRN 40, name 200, username 80);
  free text (notes, reasons) is capped at 4,000 characters, about two typed pages: longer than
  any follow-up note or correction reason seen, and small enough that a record written twice
  (entry and audit) stays a few kB.
- Characters: no lone UTF-16 surrogate anywhere (it cannot be stored as UTF-8). Names and
  identifiers also refuse control characters, bidirectional overrides and isolates, zero-width
  characters and noncharacters, which can hide or disguise what a reader sees; free text keeps
  its line breaks and tabs but refuses the rest.
"""

from __future__ import annotations

from datetime import UTC, datetime

from il2.domain.errors import InvalidInputError

MAX_ID = 2**63 - 1
"""The largest record id (a 64-bit signed integer)."""

MIN_YEAR = 1900
MAX_YEAR = 2199
MAX_JSON_DEPTH = 32
MAX_NAME = 200
MAX_IDENTIFIER = 40
MAX_USERNAME = 80
MAX_FREE_TEXT = 4000
MAX_PASSWORD = 1024
"""A password (argon2 hashes whatever it is given: a megabyte would cost every sign-in)."""
MAX_KEY = 200
"""An Idempotency-Key."""

MAX_API_BODY = 1_000_000
"""The largest JSON request body, in bytes (1 MB: a full course record is a few kB)."""

_BIDI = frozenset(range(0x202A, 0x202F)) | frozenset(range(0x2066, 0x206A))
_ZERO_WIDTH = frozenset({0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF, 0x00AD, 0x180E})
_MULTILINE = frozenset({0x09, 0x0A, 0x0D})


def _noncharacter(code: int) -> bool:
    return 0xFDD0 <= code <= 0xFDEF or (code & 0xFFFE) == 0xFFFE


def _control(code: int) -> bool:
    return code < 0x20 or 0x7F <= code <= 0x9F


def refused_character(value: str, *, multiline: bool = False) -> str | None:
    """The first character `value` may not hold, described; None when every one is allowed."""
    for index, char in enumerate(value):
        code = ord(char)
        if 0xD800 <= code <= 0xDFFF:
            return f"a lone UTF-16 surrogate U+{code:04X} at position {index}"
        if multiline and code in _MULTILINE:
            continue
        if _control(code):
            return f"a control character U+{code:04X} at position {index}"
        if code in _BIDI:
            return f"a bidirectional override U+{code:04X} at position {index}"
        if code in _ZERO_WIDTH:
            return f"a zero-width character U+{code:04X} at position {index}"
        if _noncharacter(code):
            return f"a noncharacter U+{code:04X} at position {index}"
    return None


def has_surrogate(value: str) -> bool:
    """Whether `value` holds a lone UTF-16 surrogate (which no UTF-8 store can keep)."""
    return any(0xD800 <= ord(char) <= 0xDFFF for char in value)


def checked_text(value: str, field: str, *, limit: int, multiline: bool = False) -> str:
    """`value` if it is at most `limit` characters of allowed ones; else InvalidInputError."""
    kind = "text" if multiline else "single-line text"
    allowed = f"a {kind} of at most {limit} characters"
    if len(value) > limit:
        shown = value[:40] + f"... ({len(value)} characters)"
        raise InvalidInputError(field=field, value=shown, allowed=allowed)
    problem = refused_character(value, multiline=multiline)
    if problem is not None:
        shown = value[:200].encode("utf-8", "backslashreplace").decode("utf-8")
        raise InvalidInputError(
            field=field,
            value=shown,
            allowed=f"{allowed}, without {problem} (no control, bidirectional, zero-width "
            "or noncharacter code points)"
            if not multiline
            else f"{allowed}, without {problem}",
        )
    return value


def checked_id(value: int, field: str) -> int:
    """`value` if it can be a record id (a 64-bit signed integer); else InvalidInputError."""
    if not -MAX_ID - 1 <= value <= MAX_ID:
        raise InvalidInputError(field=field, value=value, allowed=f"a whole number up to {MAX_ID}")
    return value


def checked_moment(value: datetime, field: str) -> datetime:
    """`value` if it and its UTC time lie within years MIN_YEAR-MAX_YEAR; else InvalidInputError."""
    allowed = f"a date-time in the years {MIN_YEAR} to {MAX_YEAR}"
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise InvalidInputError(field=field, value=value.isoformat(), allowed=allowed)
    if value.tzinfo is not None:
        try:
            utc = value.astimezone(UTC)
        except OverflowError:
            raise InvalidInputError(field=field, value=value.isoformat(), allowed=allowed) from None
        if not MIN_YEAR <= utc.year <= MAX_YEAR:
            raise InvalidInputError(field=field, value=value.isoformat(), allowed=allowed)
    return value


def json_too_deep(value: object, limit: int = MAX_JSON_DEPTH) -> tuple[str, ...] | None:
    """The path to the first place `value` nests deeper than `limit`, or None (no recursion)."""
    stack: list[tuple[object, tuple[str, ...], int]] = [(value, (), 1)]
    while stack:
        item, path, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > limit:
                return path
            pairs = item.items() if isinstance(item, dict) else enumerate(item)
            stack.extend((child, (*path, str(key)), depth + 1) for key, child in pairs)
    return None


def surrogate_path(value: object) -> tuple[str, ...] | None:
    """The path to the first string (or key) in a JSON value holding a lone surrogate, or None."""
    stack: list[tuple[object, tuple[str, ...]]] = [(value, ())]
    while stack:
        item, path = stack.pop()
        if isinstance(item, str):
            if has_surrogate(item):
                return path
        elif isinstance(item, dict):
            for key, child in item.items():
                if has_surrogate(str(key)):
                    return (*path, str(key).encode("utf-8", "backslashreplace").decode())
                stack.append((child, (*path, str(key))))
        elif isinstance(item, list):
            stack.extend((child, (*path, str(index))) for index, child in enumerate(item))
    return None
