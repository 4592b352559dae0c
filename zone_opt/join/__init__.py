"""Private joins: "usable but not visible" data sharing between two parties.

- :class:`JoinOptions`: what both parties of a session agree on (mode, verifiable, key
  kind, protocol, suite); :class:`JoinQuery`: what a receiver asks of a server's dataset.
- :class:`JoinSender` / :class:`JoinReceiver`: one PSI session (intersection, labelled join,
  cardinality, intersection-sum; optionally verifiable), messages as bytes; with
  ``protocol="vole"`` the fast VOLE-based intersection (RR22).
- :class:`JoinResult`: what the receiver learned (indices, payload, count, sum);
  :func:`joined` appends the payload to the receiver's rows.
- :class:`StreamingJoinSender` / :class:`StreamingJoinReceiver`: the intersection for sets
  larger than memory, bucket by bucket from Parquet or record batches, bounded memory
  (``protocol="dh"`` or ``"vole"``: one RR22 session per padded bucket).
"""

from zone_opt.join.options import JoinOptions, JoinQuery, KeyKind, Mode, Protocol, Suite
from zone_opt.join.session import (
    JoinReceiver,
    JoinResult,
    JoinSender,
    joined,
    setup_key_kind,
    setup_protocol,
)
from zone_opt.join.stream import StreamingJoinReceiver, StreamingJoinSender, StreamStats

__all__ = [
    "JoinOptions",
    "JoinQuery",
    "JoinReceiver",
    "JoinResult",
    "JoinSender",
    "KeyKind",
    "Mode",
    "Protocol",
    "StreamStats",
    "StreamingJoinReceiver",
    "StreamingJoinSender",
    "Suite",
    "joined",
    "setup_key_kind",
    "setup_protocol",
]
