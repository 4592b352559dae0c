"""How the client spells its requests: options objects to protos, and the keywords the
client took before its options objects (kept until zone-opt 0.2, each with a warning)."""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from google.protobuf import timestamp_pb2

from zone_opt._deprecated import REMOVED_IN, options_from_keywords
from zone_opt.api.v1 import matching_pb2
from zone_opt.client.models import PeerDataset
from zone_opt.errors import InvalidInputError
from zone_opt.join import JoinQuery
from zone_opt.matching.options import MatchOptions, resolve_options
from zone_opt.matching.scoring import ScoreWeights
from zone_opt.rpc.enums import MATCH_MODE_VALUES

__all__ = [
    "date_timestamp",
    "match_options",
    "match_options_proto",
    "run_join_arguments",
    "timestamp",
    "without_zero_defaults",
]


def without_zero_defaults(deprecated: dict[str, Any]) -> dict[str, Any]:
    """The deprecated keywords without the old values that meant "the server's default"."""
    return {k: v for k, v in deprecated.items() if (k, v) not in _CLIENT_ZERO_DEFAULTS}


#: Old keyword values that meant "the server's default" (kept out of the options they spell).
_CLIENT_ZERO_DEFAULTS = {("mip_rel_gap", 0.0), ("workers", 0), ("k", 0)}


def run_join_arguments(
    theirs: PeerDataset | None, query: JoinQuery | None, deprecated: dict[str, Any]
) -> tuple[PeerDataset, JoinQuery]:
    """``run_join``'s peer dataset and query, from the deprecated keywords if need be."""
    peer_keys = {"peer": "peer", "peer_dataset_id": "dataset_id", "peer_token": "token"}
    old_peer = {peer_keys[k]: v for k, v in deprecated.items() if k in peer_keys}
    old_query = {k: v for k, v in deprecated.items() if k not in peer_keys}
    if old_peer:
        if theirs is not None:
            raise InvalidInputError.single(
                "theirs", None, "give theirs=PeerDataset(...) or peer=..., not both"
            )
        warnings.warn(
            "run_join(..., peer=, peer_dataset_id=, peer_token=) is deprecated and will be "
            f"removed in zone-opt {REMOVED_IN}; pass theirs=PeerDataset(peer, dataset_id, token)",
            DeprecationWarning,
            stacklevel=4,
        )
        theirs = PeerDataset(**old_peer)
    if theirs is None:
        raise InvalidInputError.single("theirs", None, "required: the peer and its dataset")
    chosen = options_from_keywords(
        JoinQuery, query, old_query, caller="run_join", stacklevel=4, argname="query"
    )
    return theirs, chosen


def match_options(
    options: MatchOptions | None, deprecated: dict[str, Any], caller: str, *, default_k: int
) -> MatchOptions:
    """``options``, or the one the deprecated keywords spell in this client's old terms
    (``k=0``: the default; ``weights``: a partial mapping of criteria)."""
    legacy = without_zero_defaults(deprecated)
    weights = legacy.get("weights")
    if isinstance(weights, Mapping):
        try:
            legacy["weights"] = ScoreWeights(**weights)
        except TypeError as exc:
            raise InvalidInputError.single("weights", None, str(exc)) from None
    return resolve_options(options, legacy, caller=caller, default_k=default_k, stacklevel=4)


def match_options_proto(options: MatchOptions) -> matching_pb2.MatchOptions:
    proto = matching_pb2.MatchOptions(
        mode=MATCH_MODE_VALUES[options.mode],
        k=options.k,
        weights=dataclasses.asdict(options.weights),
        include_tenants=options.include_tenants,
    )
    if options.now is not None:
        proto.now.CopyFrom(date_timestamp(options.now))
    return proto


def date_timestamp(day: date) -> timestamp_pb2.Timestamp:
    """Midnight UTC of ``day`` (the server reads the date back)."""
    return timestamp(datetime(day.year, day.month, day.day, tzinfo=UTC))


def timestamp(when: datetime) -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(when)
    return ts
