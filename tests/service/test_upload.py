"""The pipelined upload: framing, incremental decoding, per-batch validation, errors."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import grpc
import numpy as np
import pyarrow as pa
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from zone_opt.api.v1 import common_pb2, datasets_pb2, datasets_pb2_grpc
from zone_opt.client import Client
from zone_opt.errors import InvalidInputError, ResourceExhaustedError
from zone_opt.schemas import TABLES
from zone_opt.service.convert import encode_upload_chunk, ipc_messages, pack_pieces
from zone_opt.service.ipc_stream import IpcStreamDecoder
from zone_opt.service.server import Server
from zone_opt.validation import BatchValidator, validate_table

MD = (("authorization", "Bearer token-alice"),)


def _ipc(table: pa.Table, max_rows: int | None = None) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table, max_chunksize=max_rows)
    return bytes(sink.getvalue().to_pybytes())


# ---- framing and decoding (no server) ---------------------------------------------------


def test_client_messages_are_the_bytes_pyarrow_writes(meters: Callable[[int], pa.Table]) -> None:
    table = meters(1)
    rows = 10_000
    ours = b"".join(bytes(m) for m in ipc_messages(table, rows * table.nbytes // table.num_rows))
    assert ours == _ipc(table, max_rows=rows)


@pytest.mark.parametrize(
    ("seq", "last", "sha256", "size"),
    [(0, False, "", 10), (1, False, "", 0), (300, True, "ab" * 32, 5000), (2**40, True, "", 1)],
)
def test_encoded_chunk_is_what_protobuf_serialises(
    seq: int, last: bool, sha256: str, size: int
) -> None:
    payload = bytes(range(256)) * (size // 256 + 1)
    payload = payload[:size]
    parts = [memoryview(payload[:3]), memoryview(payload[3:])]
    expected = datasets_pb2.UploadDatasetRequest(
        chunk=common_pb2.ArrowChunk(ipc=payload, seq=seq, last=last, sha256=sha256)
    ).SerializeToString()
    assert encode_upload_chunk(parts, seq, last, sha256) == expected


def test_pieces_keep_messages_whole_unless_larger_than_a_piece() -> None:
    messages = [b"a" * 5, b"b" * 3, b"c" * 12, b"d" * 2]
    pieces = [b"".join(bytes(v) for v in p) for p in pack_pieces(messages, 8)]
    assert b"".join(pieces) == b"".join(messages)
    assert pieces == [b"aaaaabbb", b"cccccccc", b"ccccdd"]
    assert all(len(p) <= 8 for p in pieces)


def test_decoder_rebuilds_the_table_whatever_the_cuts(meters: Callable[[int], pa.Table]) -> None:
    table = meters(1)
    data = _ipc(table, max_rows=20_000)
    rng = random.Random(7)
    for max_cut in (1_000, 65_536, 3_000_000):
        decoder = IpcStreamDecoder()
        batches: list[pa.RecordBatch] = []
        at = 0
        while at < len(data):
            step = rng.randint(1, max_cut)
            batches += decoder.feed(data[at : at + step])
            at += step
        batches += decoder.finish()
        assert pa.Table.from_batches(batches).equals(table)
        assert decoder.schema is not None
        assert decoder.schema.equals(table.schema)


def test_decoder_yields_batches_as_their_bytes_arrive(sample: Callable[[str], pa.Table]) -> None:
    table = sample("spaces")
    data = _ipc(table, max_rows=2)
    decoder = IpcStreamDecoder()
    half = decoder.feed(data[: len(data) // 2])
    assert 0 < len(half) < table.num_rows // 2 + 1  # decoded before the stream ended
    rest = decoder.feed(data[len(data) // 2 :]) + decoder.finish()
    assert pa.Table.from_batches(half + rest).equals(table)


def test_decoder_refuses_truncated_and_garbage_streams(sample: Callable[[str], pa.Table]) -> None:
    data = _ipc(sample("parks"))
    for broken in (data[:-20], data[:5], b"", b"\x01\x02\x03 not arrow at all, not at all"):
        decoder = IpcStreamDecoder()

        def decode(data: bytes = broken, decoder: IpcStreamDecoder = decoder) -> None:
            decoder.feed(data)
            decoder.finish()

        with pytest.raises(InvalidInputError) as err:
            decode()
        assert err.value.violations[0].field == "chunk.ipc"


def test_decoder_reads_dictionary_streams_at_the_end() -> None:
    table = pa.table({"a": pa.array(["x", "y", "x"]).dictionary_encode(), "b": [1, 2, 3]})
    data = _ipc(table)
    decoder = IpcStreamDecoder()
    assert decoder.feed(data[:7]) + decoder.feed(data[7:]) == []
    assert pa.Table.from_batches(decoder.finish()).equals(table)


# ---- batch validation equals whole-table validation -------------------------------------


def _violations(fn: Callable[[], object]) -> list[tuple[str, int | None, str]]:
    try:
        fn()
    except InvalidInputError as exc:
        return [(v.field, v.row, v.reason) for v in exc.violations]
    return []


def _by_batches(table: pa.Table, rows: int) -> pa.Table:
    validator = BatchValidator(TABLES["meters"], table.schema)
    for batch in table.to_batches(max_chunksize=rows):
        validator.add(batch)
    return validator.finish()


def test_batch_validation_equals_validate_table(meters: Callable[[int], pa.Table]) -> None:
    table = meters(2)
    n = table.num_rows
    assert _by_batches(table, 50_000).equals(validate_table(table, TABLES["meters"]))
    kwh = table.column("electricity_kwh").to_numpy().copy()
    kwh[[5, n - 3]] = [-1.0, np.nan]
    ids = table.column("enterprise_id").to_pylist()
    ids[n - 10] = "91110000000000000X"  # a bad check character
    hours = table.column("hour")
    dup_hours = pa.concat_arrays(
        [hours.slice(0, n - 1).combine_chunks(), hours.slice(n - 2, 1).combine_chunks()]
    )
    variants = {
        "range and NaN": table.set_column(2, table.schema.field(2), pa.array(kwh)),
        "credit code": table.set_column(0, table.schema.field(0), pa.array(ids)),
        "duplicate key across batches": table.set_column(1, table.schema.field(1), dup_hours),
    }
    for name, bad in variants.items():
        expected = _violations(partial(validate_table, bad, TABLES["meters"]))
        assert expected, name
        assert _violations(partial(_by_batches, bad, 50_000)) == expected, name


# ---- through the server ---------------------------------------------------------------


def _raw_upload(
    port: int, chunks: list[common_pb2.ArrowChunk], kind: int = common_pb2.TABLE_KIND_METERS
) -> datasets_pb2.UploadDatasetResponse:
    def requests() -> Iterator[datasets_pb2.UploadDatasetRequest]:
        yield datasets_pb2.UploadDatasetRequest(
            header=datasets_pb2.UploadHeader(name="raw", kind=kind)  # type: ignore[arg-type]
        )
        for chunk in chunks:
            yield datasets_pb2.UploadDatasetRequest(chunk=chunk)

    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = datasets_pb2_grpc.DatasetServiceStub(channel)
        response: datasets_pb2.UploadDatasetResponse = stub.UploadDataset(
            requests(), metadata=MD, timeout=30
        )
        return response


def _field_violations(err: grpc.RpcError) -> list[str]:
    status = rpc_status.from_call(err)
    assert status is not None
    fields = []
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            fields += [v.field for v in bad.field_violations]
    return fields


def _cut(data: bytes, sizes: list[int]) -> list[common_pb2.ArrowChunk]:
    chunks, at = [], 0
    for seq, size in enumerate(sizes):
        chunks.append(common_pb2.ArrowChunk(ipc=data[at : at + size], seq=seq))
        at += size
    chunks[-1].last = True
    chunks[-1].sha256 = hashlib.sha256(data).hexdigest()
    return chunks


def test_chunks_cut_anywhere_are_stored_as_sent(
    server: tuple[Server, int], alice: Client, meters: Callable[[int], pa.Table]
) -> None:
    table = meters(1)
    data = _ipc(table, max_rows=30_000)
    third = len(data) // 3 + 11  # not on a message boundary
    response = _raw_upload(server[1], _cut(data, [third, third, len(data) - 2 * third]))
    assert response.dataset.num_rows == table.num_rows
    assert response.dataset.sha256 == hashlib.sha256(data).hexdigest()
    assert alice.download(response.dataset.dataset_id).equals(table)


def test_out_of_order_truncated_and_unfinished_streams_are_invalid_argument(
    server: tuple[Server, int], alice: Client, meters: Callable[[int], pa.Table]
) -> None:
    data = _ipc(meters(1), max_rows=30_000)
    quarter = len(data) // 4
    ordered = _cut(data, [quarter, quarter, quarter, len(data) - 3 * quarter])
    swapped = [ordered[0], ordered[2], ordered[1], ordered[3]]
    cut_short = data[: len(data) - 1000]  # inside the last record batch
    truncated = _cut(cut_short, [quarter, quarter, quarter, len(cut_short) - 3 * quarter])
    unfinished = ordered[:3]
    cases = {
        "chunk.seq[2]": swapped,  # the field names the offending sequence number
        "chunk.ipc": truncated,
        "chunk.last": unfinished,
    }
    for field, chunks in cases.items():
        with pytest.raises(grpc.RpcError) as err:
            _raw_upload(server[1], chunks)
        assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT, field
        assert _field_violations(err.value) == [field]
    assert alice.list() == []  # nothing stored


def test_bad_row_in_a_later_batch_names_its_row_in_the_whole_table(
    alice: Client, meters: Callable[[int], pa.Table]
) -> None:
    kept = alice.upload(meters(1), "kept", kind="meters")
    table = meters(2)
    row = table.num_rows - 7  # in the last batch
    gas = table.column("gas_m3").to_numpy().copy()
    gas[row] = -2.5
    bad = table.set_column(4, table.schema.field(4), pa.array(gas))
    with pytest.raises(InvalidInputError) as err:
        alice.upload(bad, "bad", kind="meters")
    assert err.value.status_code == "INVALID_ARGUMENT"
    assert [(v.field, v.row) for v in err.value.violations] == [("meters.gas_m3", row)]
    assert [d.dataset_id for d in alice.list()] == [kept]  # nothing lost, nothing added


def test_upload_over_the_size_limit_is_resource_exhausted(
    tmp_path: Path,
    start: Callable[..., tuple[Server, int]],
    meters: Callable[[int], pa.Table],
) -> None:
    server, port = start(tmp_path / "d", max_upload_bytes=1 << 20)
    try:
        with Client(f"127.0.0.1:{port}", token="token-alice", timeout_s=30) as client:
            with pytest.raises(ResourceExhaustedError) as err:
                client.upload(meters(1), "big", kind="meters")
            assert err.value.status_code == "RESOURCE_EXHAUSTED"
            assert client.list() == []
    finally:
        server.stop(0.5)


@pytest.mark.parametrize("small_dictionary", [2, 4096])
def test_batch_validation_of_a_string_key_equals_validate_table(
    sample: Callable[[str], pa.Table], monkeypatch: pytest.MonkeyPatch, small_dictionary: int
) -> None:
    from zone_opt import validation  # noqa: PLC0415 (the class attribute is patched)

    monkeypatch.setattr(validation._KeyCodes, "SMALL_DICTIONARY", small_dictionary)
    spec = TABLES["enterprises"]
    table = sample("enterprises")
    ids = table.column("enterprise_id").to_pylist()
    ids[-1] = ids[0]  # a duplicate key in another batch
    dup = table.set_column(0, table.schema.field(0), pa.array(ids, table.schema.field(0).type))
    for candidate in (table, dup):
        validator = BatchValidator(spec, candidate.schema)
        for batch in candidate.to_batches(max_chunksize=max(1, candidate.num_rows // 5)):
            validator.add(batch)
        expected = _violations(partial(validate_table, candidate, spec))
        assert _violations(validator.finish) == expected
    assert _violations(partial(validate_table, dup, spec))
