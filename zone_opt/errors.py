"""The one exception hierarchy of zone-opt.

Every error raised on purpose by zone-opt, from Python or from the Rust core, is a
:class:`ZoneOptError`. Bad input is an :class:`InvalidInputError`, which is also a
:class:`ValueError` and carries one :class:`Violation` per problem found, each naming
the table, the column (or argument), the row and the reason. The gRPC layer maps each
class to one status code in a single table; infeasibility of an optimisation is a result,
not an exception.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from zone_opt._deprecated import renamed

__all__ = [
    "AlreadyExistsError",
    "CancelledError",
    "DeadlineExceededError",
    "FailedPreconditionError",
    "InvalidInputError",
    "JoinPolicyError",
    "NotFoundError",
    "ResourceExhaustedError",
    "ServiceError",
    "SolverError",
    "UnauthenticatedError",
    "VerificationError",
    "Violation",
    "ZoneOptError",
    "bounded",
]


@dataclass(frozen=True, slots=True)
class Violation:
    """One problem in the input.

    Attributes:
        field: ``table.column`` for tabular input, or the argument name.
        row: zero-based row index, or ``None`` when the problem is not about one row.
        reason: what is wrong, in words a user can act on.
    """

    field: str
    row: int | None
    reason: str

    def __str__(self) -> str:
        where = self.field if self.row is None else f"{self.field} (row {self.row})"
        return f"{where}: {self.reason}"


class ZoneOptError(Exception):
    """Root of every error zone-opt raises on purpose.

    ``status_code`` is the gRPC status code name (e.g. ``"NOT_FOUND"``) when the error was
    received from a zone-opt server by :mod:`zone_opt.client`, else ``None``.
    """

    status_code: str | None = None


class InvalidInputError(ZoneOptError, ValueError):
    """The input breaks a documented rule; ``violations`` lists each problem."""

    violations: tuple[Violation, ...]

    def __init__(
        self,
        message: str | None = None,
        violations: Iterable[Violation | tuple[str, int | None, str]] = (),
    ) -> None:
        found = tuple(v if isinstance(v, Violation) else Violation(*v) for v in violations)
        if message is None:
            shown = "; ".join(str(v) for v in found[:10])
            more = f" (and {len(found) - 10} more)" if len(found) > 10 else ""
            message = f"invalid input: {shown}{more}" if found else "invalid input"
        super().__init__(message)
        self.violations = found

    @classmethod
    def single(cls, field: str, row: int | None, reason: str) -> InvalidInputError:
        """An error with one violation."""
        return cls(None, [Violation(field, row, reason)])

    @classmethod
    def collect(cls, violations: Sequence[Violation]) -> InvalidInputError | None:
        """An error listing ``violations``, or ``None`` when there are none."""
        return cls(None, violations) if violations else None


class NotFoundError(ZoneOptError, LookupError):
    """A dataset, operation or other named object does not exist (for this tenant)."""


class FailedPreconditionError(ZoneOptError):
    """The request is well formed but the state it refers to does not allow it (a dataset of
    another kind than the field needs). ``subject`` names what is wrong (the request field)
    and ``kind`` the precondition (e.g. ``"DATASET_KIND"``)."""

    def __init__(self, message: str, subject: str = "", kind: str = "") -> None:
        super().__init__(message)
        self.subject = subject
        self.kind = kind


class JoinPolicyError(ZoneOptError):
    """A join policy refuses the request (peer, mode, columns, quota)."""


#: Old names of renamed classes (DeprecationWarning until 0.2; see CHANGELOG.md).
__getattr__ = renamed(__name__, {"PrivacyPolicyError": "zone_opt.errors:JoinPolicyError"})


class VerificationError(ZoneOptError):
    """A certificate, proof or protocol message failed verification."""


class CancelledError(ZoneOptError):
    """The work was cancelled before it finished."""


class SolverError(ZoneOptError):
    """A solver failed for a reason other than the model (crash, licence, timeout)."""


class AlreadyExistsError(ZoneOptError):
    """A request id was reused with a different request body (AIP-155)."""


class ResourceExhaustedError(ZoneOptError):
    """Input too large, or the server is at its admission limit; retry after ``retry_after_s``."""

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class DeadlineExceededError(ZoneOptError, TimeoutError):
    """The work's time limit (the call's deadline) passed before it finished."""


class UnauthenticatedError(ZoneOptError):
    """No credentials, or credentials the server does not accept."""


class ServiceError(ZoneOptError):
    """A remote failure with no more specific class (INTERNAL, UNAVAILABLE, ...)."""


#: Longest piece of request text an error message repeats.
MAX_ECHO_CHARS = 80


def bounded(text: str, limit: int = MAX_ECHO_CHARS) -> str:
    """``text`` as an error may repeat it: at most ``limit`` characters, with the length."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"
