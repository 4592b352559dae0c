"""Private set intersection and privacy-preserving joins between two parties.

The sender (:class:`JoinSender`) holds keys and, in labelled mode, payload columns; the
receiver (:class:`JoinReceiver`) holds keys and learns only what the mode allows:

- ``"intersection"``: which of its rows have a key in the sender's set;
- ``"labelled"``: plus the sender's payload rows for them (``join="inner"`` or ``"left"``);
- ``"cardinality"``: the number of common distinct keys;
- ``"sum"``: the number of common keys and the sum of a receiver column over them, only
  when at least the sender's ``min_intersection`` keys are common.

The sender learns the receiver's number of distinct keys (in sum mode also the
intersection size). ``verifiable=True`` (intersection, labelled) makes the sender prove
each evaluation with a batched DLEQ proof, so a cheating sender is caught.

Hash suite (``suite``): a verifiable session follows RFC 9497's ``ristretto255-SHA512``
VOPRF exactly (``"rfc9497"``: its HashToGroup, Finalize and proof transcript, one proof per
65536 evaluations; see :mod:`zone_opt.join.rfc9497`); intersection and labelled sessions
may choose it too (RFC OPRF mode). The older zone-opt suite (``"zone-opt-v1"``) is the
default without ``verifiable`` and stays readable for one release: the setup's header
names its suite, and a client not told one follows it (``docs/join-rfc9497.md``).

Messages are bytes with a versioned header and session ids; each object serves one
session (fresh keys), refuses a second request/response, and validates every received
point. Keys are canonicalised before hashing: trimmed, upper-cased and, with
``key_kind="uscc"`` (the default), checked as 18-character unified social credit codes.

``protocol="vole"`` (intersection mode only) runs the VOLE-based PSI of Raghuraman and
Rindal (RR22, semi-honest; see ``docs/join-vole.md``): silent VOLE over GF(2^128) from 128
base OTs on ristretto255, an RB-OKVS, fixed-key AES hashing. It takes five messages instead
of three and about 28 bytes and well under 1 µs of CPU per element at 2^20 instead of 76
bytes and about 40 µs; the sender learns the receiver's number of distinct keys, the
receiver the intersection and the sender's number of distinct keys::

    setup = server.setup_message()
    request = client.request(setup)
    vole = server.respond(request)
    correction = client.correction(vole)
    result = client.finish(setup, server.respond(correction))

Costs of ``protocol="dh"``: O(n) group operations per side (about 4 scalar
multiplications per element in total), run on the engine's thread pool with the GIL
released; messages are about 76 bytes per element in intersection mode.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from zone_opt import _core
from zone_opt._deprecated import options_from_keywords
from zone_opt.arguments import check_bytes, check_choice, check_int
from zone_opt.errors import InvalidInputError, VerificationError
from zone_opt.join.options import JoinOptions, JoinType, KeyKind, Mode, Protocol, Suite

__all__ = [
    "JoinOptions",
    "JoinReceiver",
    "JoinResult",
    "JoinSender",
    "Mode",
    "Protocol",
    "Suite",
    "joined",
    "setup_key_kind",
    "setup_protocol",
    "setup_suite",
]

_FLAG_USCC = 2
_FLAG_RFC9497 = 4

KeysLike: TypeAlias = pa.Array | pa.ChunkedArray | npt.NDArray[np.str_] | list[str]


def _string_buffers(
    column: pa.Array | pa.ChunkedArray, field: str, binary: bool = False
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.uint8], npt.NDArray[np.bool_] | None]:
    """Offsets, data and validity of a column as a large (binary) string array."""
    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    target = pa.large_binary() if binary else pa.large_string()
    if arr.type != target:
        try:
            arr = pc.cast(arr, target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise InvalidInputError.single(
                field, None, f"type {column.type} cannot be carried as text: {exc}"
            ) from exc
    n = len(arr)
    bufs = arr.buffers()
    if n == 0 or bufs[1] is None:
        return np.zeros(n + 1, np.int64), np.zeros(0, np.uint8), None
    offsets = np.frombuffer(bufs[1], dtype=np.int64, count=arr.offset + n + 1)[arr.offset :]
    data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else np.zeros(0, np.uint8)
    valid = None
    if arr.null_count:
        valid = np.ascontiguousarray(pc.is_valid(arr).to_numpy(zero_copy_only=False))
    return np.ascontiguousarray(offsets), data, valid


def _keys(keys: KeysLike) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.uint8]]:
    if keys is None or isinstance(keys, str | bytes):
        raise InvalidInputError.single(
            "keys", None, f"must be a column of strings, got {type(keys).__name__}"
        )
    if not isinstance(keys, pa.Array | pa.ChunkedArray):
        try:
            keys = pa.array(keys, type=pa.large_string())
        except (TypeError, pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise InvalidInputError.single(
                "keys", None, f"must be a column of strings: {str(exc)[:200]}"
            ) from None
    if not (pa.types.is_string(keys.type) or pa.types.is_large_string(keys.type)):
        raise InvalidInputError.single("keys", None, f"must be strings, got {keys.type}")
    if keys.null_count:
        row = int(np.flatnonzero(pc.is_null(keys).to_numpy(zero_copy_only=False))[0])
        raise InvalidInputError.single("keys", row, "a key is null")
    offsets, data, _ = _string_buffers(keys, "keys")
    return offsets, data


def _check_vole(options: JoinOptions, mode: Mode, payload: bool) -> None:
    """What ``protocol="vole"`` cannot do, refused naming the option."""
    if options.protocol == "vole":
        if mode != "intersection":
            raise InvalidInputError.single(
                "mode",
                None,
                "protocol='vole' computes the intersection only: its receiver evaluates the "
                "OPRF on its own keys, so it cannot be kept from linking matches to keys "
                "(cardinality and sum), and labels are not carried; use protocol='dh'",
            )
        if options.verifiable or payload:
            raise InvalidInputError.single(
                "protocol", None, "'vole' is semi-honest and carries no payload; use 'dh'"
            )


class JoinSender:
    """The sending party of one session.

    Args:
        keys: the join keys, one per row (Arrow string array, or anything ``pa.array``
            turns into one); duplicates allowed.
        payload: an Arrow table aligned with ``keys`` whose columns the receiver gets for
            matched rows (labelled mode). Values travel as text, padded per column to the
            column's longest value; rows sharing a key form one entry padded to the largest
            group, so the receiver learns the largest multiplicity, not each one.
        options: :class:`JoinOptions` (mode, verifiable, key_kind, protocol, suite), which
            the receiver's must match; the defaults when None (mode: ``"labelled"`` with a
            payload, else ``"intersection"``). The same fields as keywords are deprecated.
        min_intersection: sum mode releases nothing below this many common keys.
    """

    def __init__(
        self,
        keys: KeysLike,
        payload: pa.Table | None = None,
        *,
        options: JoinOptions | None = None,
        min_intersection: int = 1,
        **deprecated: Any,
    ) -> None:
        options = options_from_keywords(JoinOptions, options, deprecated, caller="JoinSender")
        mode = options.resolved_mode(has_payload=payload is not None)
        _check_vole(options, mode, payload is not None)
        self.protocol: Protocol = options.protocol
        min_intersection = check_int("min_intersection", min_intersection, low=0, high=2**64 - 1)
        if payload is not None and not isinstance(payload, pa.Table):
            raise InvalidInputError.single(
                "payload", None, f"must be a pyarrow Table, got {type(payload).__name__}"
            )
        offsets, data = _keys(keys)
        self.mode: Mode = mode
        self._core: _core.JoinSender | _core.VoleJoinSender
        uscc = options.key_kind == "uscc"
        if self.protocol == "vole":
            self._core = _core.VoleJoinSender(offsets, data, uscc)
            return
        columns = None
        schema = b""
        if payload is not None:
            if payload.num_rows != len(offsets) - 1:
                raise InvalidInputError.single(
                    "payload", None, f"has {payload.num_rows} rows for {len(offsets) - 1} keys"
                )
            columns = [
                _string_buffers(payload.column(i), f"payload.{name}", _is_binary(payload.column(i)))
                for i, name in enumerate(payload.column_names)
            ]
            schema = payload.schema.remove_metadata().serialize().to_pybytes()
        self._core = _core.JoinSender(
            (offsets, data),
            {
                "mode": mode,
                "verifiable": options.verifiable,
                "uscc": uscc,
                "min_intersection": min_intersection,
                "suite": options.suite,
            },
            columns,
            schema,
        )

    def setup_message(self) -> bytes:
        """The sender's table for the receiver (computed once, O(n))."""
        return self._core.setup_message()

    def respond(self, request: bytes) -> bytes:
        """Evaluate the receiver's blinded keys; a session answers once.

        ``protocol="vole"``: answer the receiver's request (the VOLE message), then its
        correction (the sender's tags, sorted)."""
        return self._core.respond(check_bytes("request", request))

    @property
    def receiver_count(self) -> int:
        """The receiver's number of distinct keys (0 until its request is answered)."""
        return self._core.receiver_len

    @property
    def distinct_count(self) -> int:
        """Number of distinct canonical keys (what the receiver learns of this side's size)."""
        return self._core.distinct_len

    @property
    def suite(self) -> Suite | None:
        """The session's hash suite (None for ``protocol="vole"``, which hashes no group
        elements)."""
        if isinstance(self._core, _core.VoleJoinSender):
            return None
        return self._core.suite  # type: ignore[return-value]


def _is_binary(column: pa.ChunkedArray) -> bool:
    return bool(
        pa.types.is_binary(column.type)
        or pa.types.is_large_binary(column.type)
        or pa.types.is_fixed_size_binary(column.type)
    )


@dataclass(frozen=True, slots=True)
class JoinResult:
    """What the receiver learned.

    Attributes:
        indices: int64 positions of the receiver's rows in the intersection, ascending (in
            labelled mode one per output row: a row matching k sender rows appears k times;
            with ``join="left"`` unmatched rows appear once with a null payload).
        payload: labelled mode: the sender's columns, aligned with ``indices``.
        count: cardinality and sum modes: number of common distinct keys (sum: ``None``
            when withheld below the sender's minimum).
        sum: sum mode: the sum of the receiver's values over the intersection, or ``None``.
    """

    indices: npt.NDArray[np.int64]
    payload: pa.Table | None = None
    count: int | None = None
    sum: int | None = None


class JoinReceiver:
    """The receiving party of one session.

    Args:
        keys: the receiver's join keys (duplicates allowed).
        options: :class:`JoinOptions`; must match the sender's (mode default
            ``"intersection"``). With ``suite=None`` the receiver follows the suite the setup
            passed to :meth:`request` names (RFC 9497 when verifiable and no setup is given),
            so setups of the previous release's format stay readable. The same fields as
            keywords are deprecated.
        join: labelled mode: ``"inner"`` or ``"left"``.
        values: sum mode: one non-negative integer per row (their total must stay below
            2^40, the bound of the decryption's discrete logarithm).
    """

    def __init__(
        self,
        keys: KeysLike,
        *,
        options: JoinOptions | None = None,
        join: JoinType = "inner",
        values: pa.Array | pa.ChunkedArray | npt.NDArray[np.integer] | None = None,
        **deprecated: Any,
    ) -> None:
        options = options_from_keywords(JoinOptions, options, deprecated, caller="JoinReceiver")
        mode = options.resolved_mode(has_payload=False)
        join = check_choice("join", join, ("inner", "left"))
        _check_vole(options, mode, values is not None)
        self.protocol: Protocol = options.protocol
        offsets, data = _keys(keys)
        self.mode: Mode = mode
        self._vole: _core.VoleJoinReceiver | None = None
        uscc = options.key_kind == "uscc"
        if self.protocol == "vole":
            self._vole = _core.VoleJoinReceiver(offsets, data, uscc)
            return
        vals = None
        if values is not None:
            if isinstance(values, pa.Array | pa.ChunkedArray):
                if values.null_count:
                    raise InvalidInputError.single("values", None, "null values")
                values = values.to_numpy(zero_copy_only=False)
            arr = np.asarray(values)
            if not np.issubdtype(arr.dtype, np.integer):
                raise InvalidInputError.single("values", None, "must be integers")
            if arr.size and int(arr.min()) < 0:
                row = int(np.flatnonzero(arr < 0)[0])
                raise InvalidInputError.single("values", row, "must be non-negative")
            vals = np.ascontiguousarray(arr, dtype=np.uint64)
        self._core = _core.JoinReceiver(
            (offsets, data),
            {
                "mode": mode,
                "verifiable": options.verifiable,
                "uscc": uscc,
                "left_join": join == "left",
                "suite": options.suite,
            },
            vals,
        )

    def request(self, setup: bytes | None = None) -> bytes:
        """The blinded keys for the sender. Sum mode needs the sender's setup first; with
        the setup, a client not told a suite uses the setup's, and in the other modes a
        setup given is checked (this mode and options).

        ``protocol="vole"``: needs the setup; returns the OT-extension request."""
        if self._vole is not None:
            if setup is None:
                raise InvalidInputError.single("setup", None, "protocol='vole' needs the setup")
            return self._vole.request(check_bytes("setup", setup))
        return self._core.request(None if setup is None else check_bytes("setup", setup))

    @property
    def suite(self) -> Suite:
        """The session's hash suite (after :meth:`request`, the one it used)."""
        return self._core.suite  # type: ignore[return-value]

    def correction(self, vole: bytes) -> bytes:
        """``protocol="vole"`` only: from the sender's VOLE message, this side's keys
        encoded in the OKVS and masked by the VOLE (about 17.8 bytes per distinct key)."""
        if self._vole is None:
            raise InvalidInputError.single("protocol", None, "correction is a 'vole' step")
        return self._vole.correction(vole)

    def finish(self, setup: bytes, response: bytes) -> JoinResult:
        """Check the messages belong to this session and compute the result."""
        if self._vole is not None:
            return JoinResult(indices=self._vole.finish(setup, response))
        indices, records, record_len, widths, schema, count, total = self._core.finish(
            check_bytes("setup", setup), check_bytes("response", response)
        )
        payload = None
        if self.mode == "labelled":
            payload = _decode_records(records, record_len, widths, schema, len(indices))
        return JoinResult(indices=indices, payload=payload, count=count, sum=total)


def joined(left: pa.Table, result: JoinResult) -> pa.Table:
    """The receiver's rows at ``result.indices`` with the sender's payload columns appended
    (a name already in ``left`` gets the prefix ``peer_``). O(rows)."""
    out = left.take(pa.array(result.indices))
    if result.payload is not None:
        for name, column in zip(result.payload.column_names, result.payload.columns, strict=True):
            out = out.append_column(f"peer_{name}" if name in out.column_names else name, column)
    return out


def _setup_flags(setup: bytes) -> int:
    setup = check_bytes("setup", setup)
    if len(setup) < 8 or setup[:4] not in (b"ZPSI", b"ZPSV"):
        raise InvalidInputError.single("setup", None, "not a zone-opt PSI message")
    return setup[7]


def setup_key_kind(setup: bytes) -> KeyKind:
    """The key kind a setup message was made with (its header's flags), so a receiver can
    canonicalise its keys the way the sender's policy says."""
    return "uscc" if _setup_flags(setup) & _FLAG_USCC else "text"


def setup_suite(setup: bytes) -> Suite:
    """The hash suite a setup message was made with (its header's flags)."""
    return "rfc9497" if _setup_flags(setup) & _FLAG_RFC9497 else "zone-opt-v1"


def setup_protocol(setup: bytes) -> Protocol:
    """The protocol a setup message belongs to (``"dh"`` or ``"vole"``)."""
    if len(setup) < 8 or setup[:4] not in (b"ZPSI", b"ZPSV"):
        raise InvalidInputError.single("setup", None, "not a zone-opt PSI message")
    return "vole" if setup[:4] == b"ZPSV" else "dh"


def _decode_records(
    records: npt.NDArray[np.uint8],
    record_len: int,
    widths: list[int],
    schema_bytes: bytes,
    n: int,
) -> pa.Table:
    """Split fixed-width records into typed Arrow columns (vectorised, no per-row Python)."""
    # The schema and the values come from the peer: decoded, then checked like any bytes
    # from outside (names UTF-8, every column valid Arrow data) before they are used.
    try:
        schema = pa.ipc.read_schema(pa.py_buffer(schema_bytes))
        _ = schema.names  # decoding the names checks they are UTF-8
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError, UnicodeDecodeError) as exc:
        raise VerificationError(f"the sender's payload schema is not valid: {exc}") from None
    if len(schema) != len(widths):
        raise VerificationError("the sender's schema and column widths disagree")
    rows = records.reshape(n, record_len) if n else np.zeros((0, record_len), np.uint8)
    arrays = []
    pos = 0
    for field, width in zip(schema, widths, strict=True):
        flags = rows[:, pos]
        lens = np.ascontiguousarray(rows[:, pos + 1 : pos + 5]).view("<u4").reshape(n)
        block = rows[:, pos + 5 : pos + 5 + width]
        pos += 5 + width
        if n and int(lens.max(initial=0)) > width:
            raise VerificationError(f"payload column {field.name}: a value exceeds its width")
        mask = np.arange(width)[None, :] < lens[:, None]
        data = np.ascontiguousarray(block[mask])
        offsets = np.zeros(n + 1, np.int64)
        np.cumsum(lens, out=offsets[1:])
        valid = flags == 1
        bitmap = pa.py_buffer(np.packbits(valid, bitorder="little")) if not valid.all() else None
        binary = (
            pa.types.is_binary(field.type)
            or pa.types.is_large_binary(field.type)
            or pa.types.is_fixed_size_binary(field.type)
        )
        text = pa.Array.from_buffers(
            pa.large_binary() if binary else pa.large_string(),
            n,
            [bitmap, pa.py_buffer(offsets), pa.py_buffer(data)],
        )
        try:
            text.validate(full=True)  # UTF-8 of string payloads
            arrays.append(text if text.type == field.type else pc.cast(text, field.type))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise VerificationError(f"payload column {field.name}: {exc}") from None
    return pa.Table.from_arrays(arrays, schema=schema)
