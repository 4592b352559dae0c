"""Checks every request message passes before a handler sees it.

The interceptor (:mod:`zone_opt.service.transport.interceptors`) runs :func:`check_request` on each
decoded request message, after authentication, so that rules shared by every RPC live in
one place instead of in each handler:

- **Decodable.** A message gRPC could not decode reaches the handler as
  :class:`Undecodable` (see :func:`lenient`) and is INVALID_ARGUMENT, after authentication,
  logged as one access-log line (gRPC itself would answer INTERNAL before authentication and
  log a traceback on every call).
- **Enums** hold one of their declared values (proto3 keeps unknown numbers).
- **Timestamps** lie in protobuf's range (0001-01-01 to 9999-12-31, nanos in [0, 1e9));
  **durations** in theirs (about ±10,000 years, nanos of the seconds' sign).
- **Floating-point** fields are finite (no request field has a meaning for NaN or inf).
- **Identifiers** (fields named ``*_id``, ``name``, ``peer``) are at most
  :data:`MAX_ID_CHARS` characters; other strings and byte fields have their own limits in
  each handler (scenario texts 1 MiB, IPC bytes the message size limit).

Errors never repeat unbounded input: :func:`zone_opt.errors.bounded` cuts what is echoed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from zone_opt.errors import InvalidInputError, Violation, bounded

__all__ = ["MAX_ID_CHARS", "Undecodable", "check_request", "lenient"]

#: Longest identifier (dataset id, operation name, request id, peer name) a request may hold.
MAX_ID_CHARS = 128

# google.protobuf.Timestamp: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z.
_TIMESTAMP_MIN_S = -62_135_596_800
_TIMESTAMP_MAX_S = 253_402_300_799
# google.protobuf.Duration: +-315,576,000,000 s (about 10,000 years).
_DURATION_MAX_S = 315_576_000_000
_NANOS = 1_000_000_000

_FLOATS = (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT)


@dataclass(frozen=True, slots=True)
class Undecodable:
    """What a request deserializer wrapped by :func:`lenient` returns for bytes it could not
    decode (the message type and its size, never the bytes)."""

    message: str
    size: int
    reason: str


def lenient(parse: Any, message: str) -> Any:
    """``parse`` (a gRPC request deserializer) returning :class:`Undecodable` instead of
    raising, so that the interceptor answers after authentication."""

    def parse_or_mark(data: bytes) -> Any:
        try:
            return parse(data)
        except Exception as exc:  # protobuf's DecodeError, RuntimeWarning, anything a parser raises
            return Undecodable(message, len(data), type(exc).__name__)

    return parse_or_mark


def check_request(request: Any) -> None:
    """Raise :class:`InvalidInputError` naming every field that breaks a shared rule.

    ``request`` is a decoded protobuf message or :class:`Undecodable`; other objects (the
    upload parser's own type) are left to their handler. O(fields).
    """
    if isinstance(request, Undecodable):
        raise InvalidInputError.single(
            "request",
            None,
            f"not a serialised {request.message} ({request.size} bytes; {request.reason})",
        )
    if isinstance(request, Message):
        violations: list[Violation] = []
        _walk(request, "", violations)
        error = InvalidInputError.collect(violations)
        if error is not None:
            raise error


def _walk(message: Message, prefix: str, out: list[Violation]) -> None:
    full_name = message.DESCRIPTOR.full_name
    if full_name == "google.protobuf.Timestamp":
        _check_timestamp(message, prefix.rstrip("."), out)
        return
    if full_name == "google.protobuf.Duration":
        _check_duration(message, prefix.rstrip("."), out)
        return
    # Fields are read one by one and only where a rule applies: a bytes field (an inline
    # IPC table) is never materialised here.
    for fd in message.DESCRIPTOR.fields:
        if fd.type == FieldDescriptor.TYPE_BYTES or (
            fd.type == FieldDescriptor.TYPE_STRING and not _is_id(fd.name)
        ):
            continue
        path = f"{prefix}{fd.name}"
        if fd.message_type is not None and fd.message_type.GetOptions().map_entry:
            value_fd = fd.message_type.fields_by_name["value"]
            for key, item in getattr(message, fd.name).items():
                _check_scalar(value_fd, item, f"{path}[{bounded(str(key))!r}]", out)
                if isinstance(item, Message):
                    _walk(item, f"{path}[{bounded(str(key))!r}].", out)
            continue
        if fd.is_repeated:
            for i, item in enumerate(getattr(message, fd.name)):
                if fd.type == FieldDescriptor.TYPE_MESSAGE:
                    _walk(item, f"{path}[{i}].", out)
                else:
                    _check_scalar(fd, item, f"{path}[{i}]", out)
        elif fd.type == FieldDescriptor.TYPE_MESSAGE:
            if message.HasField(fd.name):
                _walk(getattr(message, fd.name), f"{path}.", out)
        else:
            _check_scalar(fd, getattr(message, fd.name), path, out)


def _check_scalar(fd: Any, value: Any, where: str, out: list[Violation]) -> None:
    enum = fd.enum_type
    if enum is not None:
        if enum.values_by_number.get(value) is None:
            known = ", ".join(v.name for v in enum.values)
            out.append(Violation(where, None, f"unknown {enum.name} {value}; one of {known}"))
    elif fd.type in _FLOATS:
        if not math.isfinite(value):
            out.append(Violation(where, None, f"must be a finite number, got {value}"))
    elif fd.type == FieldDescriptor.TYPE_STRING and _is_id(fd.name) and len(value) > MAX_ID_CHARS:
        out.append(Violation(where, None, f"longer than {MAX_ID_CHARS} characters ({len(value)})"))


def _is_id(name: str) -> bool:
    return name.endswith("_id") or name in ("name", "peer", "request_id", "session_id")


def _check_timestamp(ts: Any, where: str, out: list[Violation]) -> None:
    if not (_TIMESTAMP_MIN_S <= ts.seconds <= _TIMESTAMP_MAX_S and 0 <= ts.nanos < _NANOS):
        out.append(
            Violation(
                where,
                None,
                "outside the Timestamp range 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z"
                f" (seconds={ts.seconds}, nanos={ts.nanos})",
            )
        )


def _check_duration(d: Any, where: str, out: list[Violation]) -> None:
    seconds, nanos = d.seconds, d.nanos
    in_range = -_DURATION_MAX_S <= seconds <= _DURATION_MAX_S and -_NANOS < nanos < _NANOS
    same_sign = seconds == 0 or nanos == 0 or (seconds > 0) == (nanos > 0)
    if not (in_range and same_sign):
        out.append(
            Violation(
                where,
                None,
                f"not a valid Duration (seconds={seconds}, nanos={nanos}): at most"
                f" {_DURATION_MAX_S} s either way, nanos of the seconds' sign",
            )
        )
