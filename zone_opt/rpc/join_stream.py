"""The receiving party of a bucketed private join against a sender's server
(``OpenJoinSessionRequest.buckets``): for sets larger than memory, read from a Parquet
file or record batches, one bucket's messages at a time (:mod:`zone_opt.join.stream`).

The receiver's keys are read, canonicalised, checked and spilled before the session is
opened (a bad key is an :class:`~zone_opt.errors.InvalidInputError` naming ``keys`` and
its row, and the sender counts no quota). With ``executor`` (DH) the receiver's batches
and buckets run as tasks on the party's own executor (its own Ray cluster: never the
sender's), the session secret sealed to each worker.
"""

from __future__ import annotations

import os
from typing import TypedDict, Unpack

from zone_opt.api.v1 import join_pb2_grpc
from zone_opt.distributed import Executor
from zone_opt.errors import VerificationError
from zone_opt.join import JoinQuery, JoinResult, StreamingJoinReceiver
from zone_opt.join.options import KeyKind, Protocol
from zone_opt.join.party import BatchSource
from zone_opt.rpc.join import SenderCalls, open_session_request

__all__ = ["BucketedJoinOptions", "receive_bucketed_join"]


class BucketedJoinOptions(TypedDict, total=False):
    """The keywords of :func:`receive_bucketed_join` after ``buckets`` (for callers that
    pass them through)."""

    protocol: Protocol
    key_kind: KeyKind
    executor: Executor | None
    spill_dir: str | os.PathLike[str] | None
    batch_rows: int


def receive_bucketed_join(
    stub: join_pb2_grpc.JoinServiceStub,
    metadata: tuple[tuple[str, str | bytes], ...],
    source: BatchSource,
    column: str,
    dataset_id: str,
    *,
    buckets: int,
    timeout_s: float = 600.0,
    **options: Unpack[BucketedJoinOptions],
) -> JoinResult:
    """The intersection of ``source``'s ``column`` with ``dataset_id`` on the sender's
    server behind ``stub``: the rows of ``source`` whose key the dataset holds
    (:attr:`JoinResult.indices`, ascending), by the bucketed protocol with ``buckets``
    buckets (a power of two up to 65536; about ``rows / buckets`` keys resident at once).
    ``options``: as :class:`~zone_opt.join.StreamingJoinReceiver`'s (``protocol``,
    ``key_kind``, ``batch_rows``, ``spill_dir``, ``executor``).

    Each call (the session's opening, each bucket's message, each setup part) has the
    deadline ``timeout_s``; the opening includes the sender reading its dataset.
    """
    protocol = options.get("protocol", "dh")
    key_kind = options.get("key_kind", "uscc")
    with StreamingJoinReceiver(source, column, buckets=buckets, **options) as receiver:
        sender = SenderCalls(stub, metadata, timeout_s)
        query = JoinQuery(protocol=protocol, key_kind=key_kind)
        session_id, setup = sender.open(open_session_request(dataset_id, query, key_kind, buckets))
        if setup:
            raise VerificationError(
                "the server answered a bucketed session with an in-memory setup: it predates "
                "OpenJoinSessionRequest.buckets (upgrade it, or join without buckets)"
            )
        parts = (sender.setup_part(session_id, b) for b in range(buckets))
        return receiver.run(lambda message: sender.evaluate(session_id, message), parts)
