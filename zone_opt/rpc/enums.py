"""Every proto enum and its domain names, in one place (both directions).

Unknown or unspecified values coming in are :class:`~zone_opt.errors.InvalidInputError`
naming the field; the edge (:mod:`zone_opt.service.transport.edge`) refuses undeclared
numbers before a handler runs, so these maps see only declared ones from a server's caller.
"""

from __future__ import annotations

from zone_opt.api.v1 import common_pb2, join_pb2, matching_pb2
from zone_opt.errors import InvalidInputError

__all__ = [
    "DISPATCH_STATUS",
    "MATCH_MODES",
    "MATCH_MODE_VALUES",
    "RESULT_KIND",
    "STATUS_CODES",
    "TABLE_KINDS",
    "checksum_from_proto",
    "join_mode_from_proto",
    "join_mode_to_proto",
    "join_protocol_from_proto",
    "join_protocol_to_proto",
    "kind_from_proto",
    "kind_to_proto",
]

#: Kind of tables the server writes (operation results); not accepted on upload.
RESULT_KIND = "result"


_KINDS: dict[int, str] = {
    common_pb2.TABLE_KIND_PARKS: "parks",
    common_pb2.TABLE_KIND_SPACES: "spaces",
    common_pb2.TABLE_KIND_ENTERPRISES: "enterprises",
    common_pb2.TABLE_KIND_TENANCIES: "tenancies",
    common_pb2.TABLE_KIND_METERS: "meters",
    common_pb2.TABLE_KIND_PARK_ASSETS: "park_assets",
    common_pb2.TABLE_KIND_GRID_FACTORS: "grid_factors",
    common_pb2.TABLE_KIND_RESULT: RESULT_KIND,
}


_KIND_VALUES = {name: value for value, name in _KINDS.items()}
#: Table kinds a client may upload (every kind but results).
TABLE_KINDS = frozenset(name for name in _KIND_VALUES if name != RESULT_KIND)


MATCH_MODES = {
    matching_pb2.MATCH_MODE_UNSPECIFIED: "optimal",
    matching_pb2.MATCH_MODE_OPTIMAL: "optimal",
    matching_pb2.MATCH_MODE_STABLE: "stable",
}
MATCH_MODE_VALUES = {
    "optimal": matching_pb2.MATCH_MODE_OPTIMAL,
    "stable": matching_pb2.MATCH_MODE_STABLE,
}


def kind_from_proto(value: int, field: str, *, allow_result: bool = False) -> str:
    """The table name of a ``TableKind``; INVALID_ARGUMENT for unspecified or unknown."""
    name = _KINDS.get(value)
    if name is None or (name == RESULT_KIND and not allow_result):
        raise InvalidInputError.single(field, None, "a table kind such as TABLE_KIND_SPACES")
    return name


def kind_to_proto(name: str) -> int:
    return _KIND_VALUES[name]


_CHECKSUMS: dict[int, str] = {
    common_pb2.CHECKSUM_UNSPECIFIED: "sha256",
    common_pb2.CHECKSUM_SHA256: "sha256",
    common_pb2.CHECKSUM_BLAKE3: "blake3",
    common_pb2.CHECKSUM_XXH3_128: "xxh3_128",
}


def checksum_from_proto(value: int, field: str) -> str:
    """The checksum name (a key of ``datasets.CHECKSUMS``) of a ``Checksum``; unspecified
    is SHA-256, what clients sent before the field existed."""
    name = _CHECKSUMS.get(value)
    if name is None:
        raise InvalidInputError.single(field, None, f"unknown checksum {value}")
    return name


STATUS_CODES = {
    "CANCELLED": 1,
    "INVALID_ARGUMENT": 3,
    "DEADLINE_EXCEEDED": 4,
    "NOT_FOUND": 5,
    "ALREADY_EXISTS": 6,
    "PERMISSION_DENIED": 7,
    "RESOURCE_EXHAUSTED": 8,
    "FAILED_PRECONDITION": 9,
    "ABORTED": 10,
    "INTERNAL": 13,
    "UNAVAILABLE": 14,
    "DATA_LOSS": 15,
    "UNAUTHENTICATED": 16,
}


DISPATCH_STATUS = {
    "optimal": 1,
    "feasible": 2,
    "infeasible": 3,
    "unbounded": 4,
    "time_limit": 5,
    "cancelled": 6,
    "error": 7,
}


# join
_JOIN_MODES = {1: "intersection", 2: "labelled", 3: "cardinality", 4: "sum"}


def join_mode_from_proto(value: int, field: str) -> str:
    """``JoinMode`` -> ``"intersection" | "labelled" | "cardinality" | "sum"``."""
    if value not in _JOIN_MODES:
        raise InvalidInputError.single(field, None, "a join mode is required")
    return _JOIN_MODES[value]


def join_mode_to_proto(mode: str) -> int:
    return {v: k for k, v in _JOIN_MODES.items()}[mode]


# JoinProtocol: UNSPECIFIED is DH, what clients sent before the field existed.
_JOIN_PROTOCOLS: dict[int, str] = {
    join_pb2.JOIN_PROTOCOL_UNSPECIFIED: "dh",
    join_pb2.JOIN_PROTOCOL_DH: "dh",
    join_pb2.JOIN_PROTOCOL_VOLE: "vole",
}
_JOIN_PROTOCOL_VALUES = {"dh": join_pb2.JOIN_PROTOCOL_DH, "vole": join_pb2.JOIN_PROTOCOL_VOLE}


def join_protocol_from_proto(value: int, field: str) -> str:
    """``JoinProtocol`` -> ``"dh" | "vole"`` (unspecified: ``"dh"``)."""
    if value not in _JOIN_PROTOCOLS:
        raise InvalidInputError.single(field, None, f"unknown join protocol {value}")
    return _JOIN_PROTOCOLS[value]


def join_protocol_to_proto(protocol: str) -> join_pb2.JoinProtocol.ValueType:
    return _JOIN_PROTOCOL_VALUES[protocol]
