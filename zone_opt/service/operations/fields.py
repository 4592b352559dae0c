"""Request fields every operation reads the same way."""

from __future__ import annotations

from google.protobuf import duration_pb2

from zone_opt.errors import InvalidInputError

__all__ = ["required", "time_limit_s"]


def required(value: str, field: str) -> str:
    """``value`` if not empty; INVALID_ARGUMENT naming ``field`` otherwise."""
    if not value:
        raise InvalidInputError.single(field, None, "required")
    return value


def time_limit_s(duration: duration_pb2.Duration, field: str) -> float:
    """A positive time limit in seconds (the edge already checked the Duration's range)."""
    seconds = duration.ToTimedelta().total_seconds()
    if seconds <= 0:
        raise InvalidInputError.single(field, None, "must be positive")
    return seconds
