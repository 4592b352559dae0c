"""The client: one connection to a zone-opt server, every service as typed methods."""

from __future__ import annotations

import builtins
import dataclasses
import itertools
import time
import uuid
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any, Unpack

import grpc
import pyarrow as pa
import xxhash
from google.protobuf import duration_pb2

from zone_opt._deprecated import options_from_keywords
from zone_opt.api.v1 import (
    carbon_pb2,
    common_pb2,
    datasets_pb2,
    dispatch_pb2,
    facilities_pb2,
    join_pb2,
    join_pb2_grpc,
    matching_pb2,
    operations_pb2,
)
from zone_opt.client.connection import Connection, Metadata
from zone_opt.client.models import (
    CarbonInputs,
    Dataset,
    DispatchRunOptions,
    JoinRun,
    Operation,
    PeerDataset,
    dataset_of,
    operation_of,
)
from zone_opt.client.requests import (
    date_timestamp,
    match_options,
    match_options_proto,
    run_join_arguments,
    timestamp,
    without_zero_defaults,
)
from zone_opt.client.retry import Safety
from zone_opt.errors import InvalidInputError, VerificationError
from zone_opt.join import JoinQuery, JoinResult
from zone_opt.join.party import BatchSource
from zone_opt.join.policy import AuditEntry, JoinPolicy
from zone_opt.matching.options import MatchOptions
from zone_opt.rpc.enums import (
    TABLE_KINDS,
    join_mode_to_proto,
    join_protocol_to_proto,
    kind_to_proto,
)
from zone_opt.rpc.ipc import (
    MAX_CHUNK_BYTES,
    ipc_messages,
    pack_pieces,
    table_from_ipc,
    table_to_ipc,
)
from zone_opt.rpc.join import (
    audit_from_proto,
    join_policy_from_proto,
    join_policy_to_proto,
    receive_join,
)
from zone_opt.rpc.join_stream import BucketedJoinOptions, receive_bucketed_join
from zone_opt.rpc.status import from_rpc_error
from zone_opt.rpc.upload import encode_upload_chunk, parse_upload_request

__all__ = ["Client"]

CHUNK_BYTES = MAX_CHUNK_BYTES
#: Bytes of Arrow data per record batch of an upload: one batch (and its metadata) per chunk.
BATCH_BYTES = 7 * MAX_CHUNK_BYTES // 8


def _payload(message: bytes) -> memoryview:
    """The Arrow bytes inside an encoded ``UploadDatasetRequest`` chunk (a view)."""
    chunk = parse_upload_request(message).chunk
    if chunk is None:  # never for encode_upload_chunk's output
        raise AssertionError("not an encoded chunk")
    return memoryview(chunk.ipc)


class Client(Connection):
    """A connection to a zone-opt server (thread-safe; reuse one per process).

    Every call has a deadline: ``timeout_s`` unless the method takes its own. Within it,
    idempotent calls (reads, and submissions, which carry a request id) are retried on
    UNAVAILABLE and on RESOURCE_EXHAUSTED with RetryInfo, as ``retry`` says
    (:class:`~zone_opt.client.RetryPolicy`; the default ``RetryPolicy()`` makes at most 5
    attempts, backing off from 0.1 s to 5 s; ``RetryPolicy.none()`` turns retries off); see
    :mod:`zone_opt.client.retry` for which call is retried when. ``interceptors``: gRPC
    client interceptors around the channel (tracing, metrics), first outermost.
    """

    # datasets
    def upload(self, table: pa.Table, name: str, kind: str) -> str:
        """Store ``table`` as a dataset of ``kind`` (``"spaces"``, ...); returns its id.

        Sent as one Arrow IPC stream written a record batch at a time (about 3.5 MiB
        each, one chunk per batch, its buffers copied once: from the table into the
        message; never a buffer of the whole stream), checksummed with XXH3-128 as sent (the
        server hashes what it receives and compares; the dataset's ``xxh3_128`` is that
        digest): a transfer checksum, as TLS and the token authenticate the sender (see
        ``Checksum`` in common.proto); the server decodes and validates each batch as it
        arrives. O(bytes).
        """
        if not isinstance(table, pa.Table):
            raise InvalidInputError.single("table", None, "a pyarrow.Table")
        kind_value = kind_to_proto(kind) if kind in TABLE_KINDS else 0
        header = datasets_pb2.UploadDatasetRequest(
            header=datasets_pb2.UploadHeader(
                name=name,
                kind=kind_value,  # type: ignore[arg-type]
                checksum=common_pb2.CHECKSUM_XXH3_128,
            )
        ).SerializeToString()

        def requests() -> Iterator[bytes]:
            yield header
            hasher = xxhash.xxh3_128()
            pieces = pack_pieces(ipc_messages(table, BATCH_BYTES), CHUNK_BYTES)
            piece = next(pieces)
            for seq in itertools.count():
                following = next(pieces, None)
                if following is None:  # the last chunk carries the digest of the stream
                    for part in piece:
                        hasher.update(part)
                    yield encode_upload_chunk(piece, seq, True, xxh3_128=hasher.hexdigest())
                    return
                message = encode_upload_chunk(piece, seq, False)
                # Hashed from the message just written, still in cache (about a quarter
                # less CPU than reading the table's buffers again): the exact bytes sent.
                hasher.update(_payload(message))  # releases the GIL
                yield message
                piece = following

        # gRPC's sending thread builds each chunk as it needs it: a helper thread building
        # the next one ahead cost more CPU (thread hand-offs) than it saved in wall time,
        # the server being the slower side. Not idempotent (each upload is a new dataset):
        # sent once connected, and again only after a refusal (zone_opt.client.retry).
        wait_for_ready = self.retry.retries and "UNAVAILABLE" in self.retry.codes
        response: datasets_pb2.UploadDatasetResponse = self._attempts(
            "UploadDataset",
            lambda left, md: self._upload(
                requests(), timeout=left, metadata=md, wait_for_ready=wait_for_ready
            ),
            None,
            Safety.REFUSED_ONLY,
        )
        return response.dataset.dataset_id

    def describe(self, dataset_id: str) -> Dataset:
        """The dataset's record (kind, rows, bytes, columns, checksum; no data)."""
        request = datasets_pb2.GetDatasetRequest(dataset_id=dataset_id)
        return dataset_of(
            self._call(self._datasets.GetDataset, request, safety=Safety.IDEMPOTENT).dataset
        )

    def download(self, dataset_id: str, timeout_s: float | None = None) -> pa.Table:
        """The dataset's table; checks chunk order and the stream's XXH3-128 (the server
        checks the stored file against the digest recorded at upload: a file damaged at rest
        raises :class:`VerificationError`, DATA_LOSS). O(bytes)."""
        request = datasets_pb2.DownloadDatasetRequest(
            dataset_id=dataset_id, checksum=common_pb2.CHECKSUM_XXH3_128
        )

        def attempt(left: float, md: Metadata) -> tuple[list[bytes], str, str]:
            # A retry starts the stream again: nothing was handed to the caller yet.
            parts: list[bytes] = []
            hasher = xxhash.xxh3_128()
            declared = ""
            for i, message in enumerate(
                self._datasets.DownloadDataset(request, timeout=left, metadata=md)
            ):
                if message.chunk.seq != i:
                    raise VerificationError(f"chunk {message.chunk.seq} arrived as {i}")
                hasher.update(message.chunk.ipc)
                parts.append(message.chunk.ipc)
                declared = message.chunk.xxh3_128
            return parts, declared, hasher.hexdigest()

        parts, declared, digest = self._attempts(
            "DownloadDataset", attempt, timeout_s, Safety.IDEMPOTENT
        )
        if declared != digest:
            raise VerificationError("download checksum mismatch")
        return table_from_ipc(b"".join(parts), "download")

    def delete(self, dataset_id: str) -> None:
        """Delete a dataset (its file and its record); never retried (not idempotent)."""
        self._call(
            self._datasets.DeleteDataset, datasets_pb2.DeleteDatasetRequest(dataset_id=dataset_id)
        )

    def list(self, kind: str | None = None) -> builtins.list[Dataset]:
        """Every dataset of the caller, newest first."""
        found: builtins.list[Dataset] = []
        token = ""
        while True:
            request = datasets_pb2.ListDatasetsRequest(
                page_size=1000,
                page_token=token,
                kind=kind_to_proto(kind) if kind else 0,  # type: ignore[arg-type]
            )
            response = self._call(self._datasets.ListDatasets, request, safety=Safety.IDEMPOTENT)
            found += [dataset_of(d) for d in response.datasets]
            token = response.next_page_token
            if not token:
                return found

    # operations
    def submit_statistics(
        self, dataset_id: str, request_id: str | None = None, time_limit_s: float | None = None
    ) -> str:
        """Start per-column statistics of a dataset; returns the operation name."""
        request = datasets_pb2.ComputeStatisticsRequest(
            dataset_id=dataset_id, request_id=request_id or uuid.uuid4().hex
        )
        if time_limit_s is not None:
            request.time_limit.FromTimedelta(timedelta(seconds=time_limit_s))
        return self._call(
            self._datasets.ComputeStatistics, request, safety=Safety.IDEMPOTENT
        ).operation.name

    def submit_match(
        self,
        spaces_id: str,
        enterprises_id: str,
        parks_id: str,
        *,
        tenancies_id: str = "",
        options: MatchOptions | None = None,
        request_id: str | None = None,
        time_limit_s: float | None = None,
        **deprecated: Any,
    ) -> str:
        """Start a match on stored datasets; returns the operation name.

        ``options`` is the library's :class:`~zone_opt.matching.MatchOptions` (mode, k,
        weights, now, include_tenants), sent whole. ``time_limit_s`` bounds the work once
        it starts: past it the operation fails with DEADLINE_EXCEEDED at its next stage
        boundary. The keywords ``mode``, ``k``, ``weights``, ``now`` are deprecated.
        """
        chosen = match_options(options, deprecated, "submit_match", default_k=32)
        proto = match_options_proto(chosen)
        if time_limit_s is not None:
            proto.time_limit.FromTimedelta(timedelta(seconds=time_limit_s))
        request = matching_pb2.MatchRequest(
            request_id=request_id or uuid.uuid4().hex,
            spaces_dataset_id=spaces_id,
            enterprises_dataset_id=enterprises_id,
            parks_dataset_id=parks_id,
            tenancies_dataset_id=tenancies_id,
            options=proto,
        )
        return self._call(self._matching.Match, request, safety=Safety.IDEMPOTENT).operation.name

    def submit_dispatch(
        self,
        scenario_yaml: str,
        profiles: pa.Table,
        start: datetime,
        hours: float,
        *,
        options: DispatchRunOptions | None = None,
        request_id: str | None = None,
        **deprecated: Any,
    ) -> str:
        """Start a park dispatch run (scenario YAML text + profile table with a ``time``
        column) of ``hours`` from ``start``; returns the operation name. Progress is
        reported per rolling window. The keywords ``rolling_h``, ``mip_rel_gap``,
        ``workers``, ``time_limit_s`` are deprecated (fields of ``options``)."""
        legacy = without_zero_defaults(deprecated)
        chosen = options_from_keywords(
            DispatchRunOptions, options, legacy, caller="submit_dispatch"
        )
        proto = dispatch_pb2.DispatchOptions(mip_rel_gap=chosen.mip_rel_gap, workers=chosen.workers)
        for field, value in (
            ("rolling", chosen.rolling_h and chosen.rolling_h * 3600.0),
            ("window_time_limit", chosen.window_time_limit_s),
            ("time_limit", chosen.time_limit_s),
        ):
            if value is not None:
                getattr(proto, field).FromTimedelta(timedelta(seconds=value))
        request = dispatch_pb2.DispatchRequest(
            request_id=request_id or uuid.uuid4().hex,
            scenario_yaml=scenario_yaml,
            profiles_ipc=table_to_ipc(profiles),
            options=proto,
        )
        request.start.CopyFrom(timestamp(start))
        request.horizon.FromTimedelta(timedelta(hours=hours))
        return self._call(self._dispatch.Dispatch, request, safety=Safety.IDEMPOTENT).operation.name

    def submit_carbon_allocate(
        self,
        meters_id: str,
        park_yaml: str,
        *,
        inputs: CarbonInputs | None = None,
        previous_head: bytes = b"",
        request_id: str | None = None,
        **deprecated: Any,
    ) -> str:
        """Start a park's carbon allocation on stored datasets (the meters, and the
        tenancies, spaces, park assets and grid factors ``inputs`` names); returns the
        operation name. ``previous_head`` chains this run's audit log to the last one's.

        The finished operation's ``result`` holds the rows / annual / KPI / reconciliation
        dataset ids, ``manifest_json``, ``audit_root``, ``audit_head`` and ``balanced``. The
        keywords ``tenancies_id``, ``spaces_id``, ``park_assets_id``, ``grid_factors_id``
        are deprecated (fields of ``inputs``).
        """
        chosen = options_from_keywords(
            CarbonInputs, inputs, deprecated, caller="submit_carbon_allocate", argname="inputs"
        )
        request = carbon_pb2.AllocateCarbonRequest(
            request_id=request_id or uuid.uuid4().hex,
            meters_dataset_id=meters_id,
            park_yaml=park_yaml,
            tenancies_dataset_id=chosen.tenancies_id,
            spaces_dataset_id=chosen.spaces_id,
            park_assets_dataset_id=chosen.park_assets_id,
            grid_factors_dataset_id=chosen.grid_factors_id,
            previous_head=previous_head,
        )
        return self._call(
            self._carbon.AllocateCarbon, request, safety=Safety.IDEMPOTENT
        ).operation.name

    def verify_audit_proof(
        self, row: bytes, index: int, tree_size: int, path: Sequence[bytes], root: bytes
    ) -> bool:
        """Whether the server accepts the inclusion proof of ``row`` under ``root``."""
        request = carbon_pb2.VerifyAuditProofRequest(
            row=row, index=index, tree_size=tree_size, path=list(path), root=root
        )
        return self._call(self._carbon.VerifyAuditProof, request, safety=Safety.IDEMPOTENT).valid

    def submit_plan_facilities(
        self,
        scenario_yaml: str,
        *,
        sharing: Sequence[str] = (),
        mip_rel_gap: float = 0.0,
        request_id: str | None = None,
        time_limit_s: float | None = None,
    ) -> str:
        """Plan shared facilities for a scenario file's text; returns the operation name.

        ``sharing``: method names (``proportional``, ``shapley``, ``least_core``,
        ``nucleolus``); empty means those in the file. While the operation runs,
        :func:`facilities_progress` reads incumbent, bound and gap from it.
        """
        options = facilities_pb2.PlanFacilitiesOptions(
            mip_rel_gap=mip_rel_gap,
            sharing=[
                facilities_pb2.CostShareMethod.Value(f"COST_SHARE_METHOD_{m.upper()}")
                for m in sharing
            ],
        )
        if time_limit_s is not None:
            options.time_limit.FromTimedelta(timedelta(seconds=time_limit_s))
        request = facilities_pb2.PlanFacilitiesRequest(
            request_id=request_id or uuid.uuid4().hex, scenario_yaml=scenario_yaml, options=options
        )
        return self._call(
            self._facilities.PlanFacilities, request, safety=Safety.IDEMPOTENT
        ).operation.name

    def get_operation(self, name: str) -> Operation:
        """The operation's current state (and its typed result once it succeeded)."""
        request = operations_pb2.GetOperationRequest(name=name)
        return operation_of(
            self._call(self._operations.GetOperation, request, safety=Safety.IDEMPOTENT).operation
        )

    def list_operations(self) -> builtins.list[Operation]:
        """The caller's operations, newest first (up to 1,000)."""
        request = operations_pb2.ListOperationsRequest(page_size=1000)
        response = self._call(self._operations.ListOperations, request, safety=Safety.IDEMPOTENT)
        return [operation_of(o) for o in response.operations]

    def wait(self, name: str, timeout_s: float = 600.0) -> Operation:
        """The operation once done, or its latest state when ``timeout_s`` passes."""
        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            step = max(0.0, min(left, 30.0))
            request = operations_pb2.WaitOperationRequest(
                name=name,
                timeout=duration_pb2.Duration(seconds=int(step), nanos=int(step % 1 * 1e9)),
            )
            response = self._call(
                self._operations.WaitOperation,
                request,
                timeout_s=step + 5.0,
                safety=Safety.IDEMPOTENT,
            )
            op = operation_of(response.operation)
            if op.done or time.monotonic() >= deadline:
                return op

    def cancel(self, name: str) -> Operation:
        """Cancel an operation: at once when queued, at its next stage when running."""
        request = operations_pb2.CancelOperationRequest(name=name)
        response = self._call(self._operations.CancelOperation, request, safety=Safety.IDEMPOTENT)
        return operation_of(response.operation)

    def watch(self, name: str, timeout_s: float = 3600.0) -> Iterator[Operation]:
        """The operation's states as they change, until it is done.

        Opening the stream is retried until its first state arrives; after that a
        failure is raised (the states already seen were handed out: gRPC's rule for
        retrying streams)."""
        request = operations_pb2.WatchOperationRequest(name=name)

        def attempt(left: float, md: Metadata) -> tuple[Any, Any]:
            stream = self._operations.WatchOperation(request, timeout=left, metadata=md)
            return next(stream, None), stream

        first, stream = self._attempts("WatchOperation", attempt, timeout_s, Safety.IDEMPOTENT)
        if first is None:
            return
        yield operation_of(first.operation)
        try:
            for message in stream:
                yield operation_of(message.operation)
        except grpc.RpcError as exc:
            raise from_rpc_error(exc) from None

    # matching
    def recommend(
        self,
        spaces: pa.Table,
        enterprises: pa.Table,
        parks: pa.Table,
        tenancies: pa.Table | None = None,
        *,
        options: MatchOptions | None = None,
        timeout_s: float | None = None,
        **deprecated: Any,
    ) -> pa.Table:
        """The best ``options.k`` spaces of each enterprise (10 when ``options`` is None),
        as :func:`zone_opt.matching.recommend`, for small inputs (each table under about
        1 MiB). The keywords ``k`` and ``now`` are deprecated."""
        chosen = match_options(options, deprecated, "recommend", default_k=10)
        request = matching_pb2.RecommendRequest(
            spaces_ipc=table_to_ipc(spaces),
            enterprises_ipc=table_to_ipc(enterprises),
            parks_ipc=table_to_ipc(parks),
            tenancies_ipc=table_to_ipc(tenancies) if tenancies is not None else b"",
            k=chosen.k,
            weights=dataclasses.asdict(chosen.weights),
            include_tenants=chosen.include_tenants,
        )
        if chosen.now is not None:
            request.now.CopyFrom(date_timestamp(chosen.now))
        response = self._call(
            self._matching.Recommend, request, timeout_s, safety=Safety.IDEMPOTENT
        )
        return table_from_ipc(response.recommendations_ipc, "recommendations_ipc")

    # private joins
    def set_join_policy(self, policy: JoinPolicy) -> JoinPolicy:
        """Publish (or replace) the join policy of one of this tenant's datasets."""
        request = join_pb2.SetJoinPolicyRequest(policy=join_policy_to_proto(policy))
        response = self._call(self._join.SetJoinPolicy, request)
        return join_policy_from_proto(response.policy)

    def get_join_policy(self, dataset_id: str) -> JoinPolicy:
        """The join policy of one of this tenant's datasets (NOT_FOUND for another's)."""
        request = join_pb2.GetJoinPolicyRequest(dataset_id=dataset_id)
        response = self._call(self._join.GetJoinPolicy, request, safety=Safety.IDEMPOTENT)
        return join_policy_from_proto(response.policy)

    def join_audit(self, dataset_id: str, limit: int = 100) -> builtins.list[AuditEntry]:
        """Sessions run against one of this tenant's datasets, newest first (no keys)."""
        request = join_pb2.ListJoinAuditRequest(dataset_id=dataset_id, limit=limit)
        response = self._call(self._join.ListJoinAudit, request)
        return [audit_from_proto(e) for e in response.entries]

    def private_join(
        self,
        keys: pa.Array | pa.ChunkedArray,
        dataset_id: str,
        *,
        query: JoinQuery | None = None,
        values: pa.Array | pa.ChunkedArray | None = None,
        timeout_s: float | None = None,
        **deprecated: Any,
    ) -> JoinResult:
        """Run the receiving party of a private join asking ``query`` (default: the
        intersection over DH) of ``dataset_id`` on this server.

        This client's token must belong to a peer the dataset's policy allows, for the
        query's mode and protocol (``JoinQuery(protocol="vole")``: the VOLE-based
        intersection, two round trips after the setup). Keys are canonicalised and checked
        as ``query.key_kind`` before anything is sent: a bad key is an
        :class:`InvalidInputError` naming ``keys`` and its row, and the server opens no
        session and counts no quota; a dataset of another key kind is refused
        (:class:`~zone_opt.errors.FailedPreconditionError` naming ``key_kind``). Messages
        travel in chunks of about 4 MiB; the keys never leave this process. The keywords
        ``mode``, ``columns``, ``join``, ``verifiable`` are deprecated.
        """
        query = options_from_keywords(
            JoinQuery, query, deprecated, caller="private_join", argname="query"
        )
        return receive_join(
            join_pb2_grpc.JoinServiceStub(self._channel),
            self._metadata(),
            keys,
            dataset_id,
            query,
            values=values,
            timeout_s=timeout_s or self.timeout_s,
        )

    def bucketed_join(
        self,
        source: BatchSource,
        column: str,
        dataset_id: str,
        *,
        buckets: int = 64,
        timeout_s: float | None = None,
        **options: Unpack[BucketedJoinOptions],
    ) -> JoinResult:
        """The intersection of ``source`` (Parquet path, Arrow table or record batches; keys
        in ``column``) with ``dataset_id`` on this server, for sets larger than memory:
        :func:`zone_opt.rpc.join_stream.receive_bucketed_join` (its ``options`` pass)."""
        return receive_bucketed_join(
            join_pb2_grpc.JoinServiceStub(self._channel),
            self._metadata(),
            source,
            column,
            dataset_id,
            buckets=buckets,
            timeout_s=timeout_s or self.timeout_s,
            **options,
        )

    def run_join(
        self,
        left_dataset_id: str,
        on: str,
        theirs: PeerDataset | None = None,
        *,
        query: JoinQuery | None = None,
        value_column: str = "",
        buckets: int = 0,
        timeout_s: float | None = None,
        **deprecated: Any,
    ) -> JoinRun:
        """Ask this server to join one of this tenant's datasets (``left_dataset_id``, keys
        in column ``on``) with a dataset on a peer server (``theirs``), asking ``query``
        (default: the intersection); ``value_column`` is the left column summed in sum mode.

        The server dials only peers its operator registered, and checks this tenant's keys
        as ``query.key_kind`` before it opens a session there (``query.protocol`` chooses DH
        or VOLE, as for :meth:`private_join`; ``buckets``: the bucketed intersection, DH on
        the server's executor). The joined rows are stored as a dataset of this tenant.
        Keywords ``peer``, ``peer_dataset_id``, ``peer_token``, ``mode``, ``columns``,
        ``join``, ``verifiable`` are deprecated.
        """
        theirs, query = run_join_arguments(theirs, query, deprecated)
        request = join_pb2.RunJoinRequest(
            left_dataset_id=left_dataset_id,
            on=on,
            peer=theirs.peer,
            peer_token=theirs.token,
            peer_dataset_id=theirs.dataset_id,
            mode=join_mode_to_proto(query.mode),  # type: ignore[arg-type]
            columns=list(query.columns),
            join=query.join,
            verifiable=query.verifiable,
            value_column=value_column,
            protocol=join_protocol_to_proto(query.protocol),
            key_kind=query.key_kind,
            buckets=buckets,
        )
        response = self._call(self._join.RunJoin, request, timeout_s)
        stored = bool(response.result_dataset_id)
        return JoinRun(
            result_dataset_id=response.result_dataset_id if stored else None,
            rows=response.rows if stored else None,
            count=response.count if response.HasField("count") else None,
            sum=response.sum if response.HasField("sum") else None,
        )
