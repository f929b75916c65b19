"""Errors and warnings shared by every layer of Remit.

Every error a person can cause is a :class:`RemitError` whose message says what was given, what
was expected and what to try. The CLI prints ``str(error)`` on one line and exits with
:attr:`RemitError.exit_code` (2 for bad input).

Examples
--------
>>> err = InputError(
...     "visit 'V99' is not in the protocol",
...     expected="one of V0, V1",
...     hint="run `remit protocol show`",
... )
>>> print(err)
visit 'V99' is not in the protocol; expected one of V0, V1; try: run `remit protocol show`
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class RemitError(Exception):
    """Base of every error Remit raises on purpose.

    Parameters
    ----------
    message
        What is wrong, naming the input that was given.
    expected
        What would have been accepted.
    hint
        What the user can do about it.
    """

    exit_code: int = 2

    def __init__(self, message: str, *, expected: str | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.expected = expected
        self.hint = hint

    def __str__(self) -> str:
        parts = [self.message]
        if self.expected:
            parts.append(f"expected {self.expected}")
        if self.hint:
            parts.append(f"try: {self.hint}")
        return "; ".join(parts)


class InputError(RemitError):
    """Input that does not have the expected form (a bad argument, file or value)."""


class NotFoundError(RemitError):
    """Something asked for by name or id does not exist."""


class ScaleError(RemitError):
    """A scale definition is unknown or malformed."""


class AnswerError(InputError):
    """An answer to a scale item is refused (out of range, not a number, unknown item).

    Attributes
    ----------
    item
        The code of the item the answer was given for (``None`` when it concerns the whole form).
    """

    def __init__(
        self,
        message: str,
        *,
        item: str | None = None,
        expected: str | None = None,
        hint: str | None = None,
    ):
        super().__init__(message, expected=expected, hint=hint)
        self.item = item


@dataclass(frozen=True)
class Problem:
    """One problem found in a protocol file or a scale definition file.

    ``code`` is stable (``P001`` … for protocols, ``S001`` … for scales) so that scripts and
    documentation can refer to it; ``where`` is a key path or a line; ``what`` says what is
    wrong and ``todo`` what to do about it.
    """

    code: str
    where: str
    what: str
    todo: str

    def __str__(self) -> str:
        return f"{self.code} {self.where}: {self.what}; {self.todo}"


class ScaleDefinitionError(ScaleError):
    """A scale definition file is not sound. ``problems`` lists every problem found (``S001`` …).

    The message names every problem, so that one run shows all there is to fix.
    """

    def __init__(self, source: str, problems: Sequence[Problem]):
        self.source = source
        self.problems = tuple(problems)
        count = len(self.problems)
        listed = "; ".join(str(p) for p in self.problems) or "unknown problem"
        super().__init__(
            f"scale definition {source} has {count} problem{'s' if count != 1 else ''}: {listed}",
            hint=f"run `remit scales check {source}`; the codes are in docs/scales.md",
        )


class ProtocolError(RemitError):
    """A protocol file is not sound. ``problems`` lists every problem found."""

    def __init__(self, source: str, problems: Sequence[Problem]):
        self.source = source
        self.problems = tuple(problems)
        count = len(self.problems)
        first = str(self.problems[0]) if self.problems else "unknown problem"
        more = f" (and {count - 1} more)" if count > 1 else ""
        super().__init__(
            f"protocol {source} has {count} problem{'s' if count != 1 else ''}: {first}{more}",
            hint=f"run `remit protocol check {source}` to list them all",
        )


class ScheduleError(RemitError):
    """A schedule cannot be computed from the dates given."""


class StatsError(InputError):
    """Data handed to a statistical function cannot be analysed as asked."""


class ConvergenceError(RemitError):
    """An iterative fit did not converge and the caller asked for a converged fit."""


class StoreError(RemitError):
    """The database refused an operation or is not in the expected state."""

    exit_code = 1


class StorageFullError(StoreError):
    """The disk (or the database's space) is full: nothing of the operation was stored."""


class ServerBusyError(StoreError):
    """Every database connection was busy for the whole wait: nothing of the request was
    stored; sending it again later is safe (HTTP 503 with ``Retry-After``)."""


class ConflictError(RemitError):
    """A save was based on a stale version, or an idempotency key was reused with another body."""


class TransactionCollisionError(ConflictError):
    """The database stopped this save because it collided with another made at the same moment
    (a PostgreSQL deadlock it broke, or a serialisation failure): nothing of it was stored and
    the same request sent again as it is can succeed. Unlike its parent (a stale version, a
    key reused), nothing needs reloading first (HTTP 409 with ``Retry-After``, the API's
    ``"error": "TransactionCollisionError"``)."""


class PermissionDeniedError(RemitError):
    """The acting user's role does not allow this operation."""


class TooManyAttemptsError(PermissionDeniedError):
    """Too many failed password checks for one account: wait ``retry_after_s`` seconds."""

    def __init__(self, message: str, *, retry_after_s: float, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.retry_after_s = retry_after_s


class MfaRequiredError(PermissionDeniedError):
    """The password was right but the login needs a TOTP code (``setup=False``: give one), or
    the user must set TOTP up first (``setup=True``: on the web account page)."""

    def __init__(self, message: str, *, setup: bool = False, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.setup = setup


class LockedError(RemitError):
    """The record is signed or locked and cannot be changed this way."""


class RemitWarning(UserWarning):
    """Base of warnings Remit issues (the result also records what was done)."""


class ConvergenceWarning(RemitWarning):
    """An iterative fit stopped without meeting its convergence criterion."""


class DataWarning(RemitWarning):
    """Data were used in a way the caller should know about (dropped rows, prorated totals)."""
