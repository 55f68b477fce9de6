"""The one place where il2's errors become messages and exit codes on the command line.

Exit codes: 0 the command ran (whatever the clinical verdict); 2 unusable input (the message
names the field, the value and what is allowed); 1 il2 cannot run as configured (a bad rule or
site policy file).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import typer

from il2.domain.errors import Il2Error, InvalidInputError, NotFoundError, RuleTableError

EXIT_INPUT = 2
EXIT_CONFIG = 1


def _message(error: Il2Error) -> tuple[str, int]:
    if isinstance(error, InvalidInputError):
        given = "is missing" if error.value in (None, "") else f"{error.value!r} is not allowed"
        text = f"il2: invalid input: field '{error.field}': {given}; expected {error.allowed}"
        return text, EXIT_INPUT
    if isinstance(error, NotFoundError):
        return f"il2: invalid input: {error}", EXIT_INPUT
    if isinstance(error, RuleTableError):
        return f"il2: cannot start: rule or policy file {error}", EXIT_CONFIG
    return f"il2: {error}", EXIT_INPUT


@contextmanager
def reported(write: Callable[[str], object] | None = None) -> Iterator[None]:
    """Turn an Il2Error raised inside the block into a message on stderr and an exit code."""
    try:
        yield
    except Il2Error as error:
        text, code = _message(error)
        (write or (lambda line: sys.stderr.write(line + "\n")))(text)
        raise typer.Exit(code) from None
