"""The pipelined upload: framing, incremental decoding, per-batch validation, errors."""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import random
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import blake3
import grpc
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
import xxhash
from google.protobuf.message import DecodeError
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from zone_opt.api.v1 import common_pb2, datasets_pb2, datasets_pb2_grpc
from zone_opt.client import Client
from zone_opt.errors import InvalidInputError, ResourceExhaustedError, VerificationError
from zone_opt.rpc.checksums import CHECKSUMS
from zone_opt.rpc.ipc import IpcStreamDecoder, ipc_messages, pack_pieces
from zone_opt.rpc.upload import encode_upload_chunk, parse_upload_request
from zone_opt.schemas import TABLES
from zone_opt.service.server import Server
from zone_opt.service.storage.files import DIRECT_BLOCK_BYTES, STAGE_BYTES, Sink
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
    messages = list(ipc_messages(table, rows * table.nbytes // table.num_rows))
    ours = b"".join(bytes(part) for message in messages for part in message)
    assert ours == _ipc(table, max_rows=rows)
    assert len(messages) >= 1 + -(-table.num_rows // rows)  # batches, end of stream
    # The first batch's column buffers are sent from the table's memory, not copied first.
    addresses = {b.address for c in table.columns for b in c.chunks[0].buffers() if b}
    assert any(isinstance(p, pa.Buffer) and p.address in addresses for p in messages[0])


@pytest.mark.parametrize(
    ("seq", "last", "sha256", "size"),
    [
        (0, False, "", 10),
        (1, False, "", 0),
        (300, True, "ab" * 32, 5000),
        (2**40, True, "", 1),
        (5, False, "", 4 * 1024 * 1024 - 65536),
    ],
)
def test_encoded_chunk_is_what_protobuf_reads_with_the_payload_aligned(
    seq: int, last: bool, sha256: str, size: int
) -> None:
    payload = bytes(range(256)) * (size // 256 + 1)
    payload = payload[:size]
    parts = [memoryview(payload[:3]), memoryview(payload[3:])]
    expected = datasets_pb2.UploadDatasetRequest(
        chunk=common_pb2.ArrowChunk(ipc=payload, seq=seq, last=last, sha256=sha256)
    )
    encoded = encode_upload_chunk(parts, seq, last, sha256)
    decoded = datasets_pb2.UploadDatasetRequest.FromString(encoded)
    assert decoded.chunk.pad == bytes(len(decoded.chunk.pad))  # zeros, ignored
    decoded.chunk.ClearField("pad")
    assert decoded == expected
    if size:  # the payload starts 8-aligned within the message, and is read in place
        part = parse_upload_request(encoded)
        assert part.chunk is not None
        assert isinstance(part.chunk.ipc, memoryview)
        assert part.chunk.ipc.obj is encoded
        at = pa.py_buffer(part.chunk.ipc).address - pa.py_buffer(encoded).address
        assert at % 8 == 0
        assert encoded[at : at + size] == payload


@pytest.mark.parametrize(
    "message",
    [
        datasets_pb2.UploadDatasetRequest(
            header=datasets_pb2.UploadHeader(name="m", kind=common_pb2.TABLE_KIND_METERS)
        ),
        datasets_pb2.UploadDatasetRequest(chunk=common_pb2.ArrowChunk()),
        datasets_pb2.UploadDatasetRequest(
            chunk=common_pb2.ArrowChunk(ipc=b"\x00\xff" * 300, seq=2**40, last=True, sha256="ab")
        ),
        datasets_pb2.UploadDatasetRequest(chunk=common_pb2.ArrowChunk(ipc=b"x", seq=-3)),
    ],
)
def test_upload_parser_reads_what_protobuf_reads(
    message: datasets_pb2.UploadDatasetRequest,
) -> None:
    data = message.SerializeToString()
    # Unknown fields (varint, fixed64, bytes, fixed32) in both messages are skipped.
    unknown = b"\x48\x05" + b"\x51" + b"\x01" * 8 + b"\x5a\x02hi" + b"\x65" + b"\x02" * 4
    for wire in (data, data + unknown):
        part = parse_upload_request(wire)
        assert not part.malformed
        expected = datasets_pb2.UploadDatasetRequest.FromString(wire)
        if expected.WhichOneof("part") == "header":
            assert part.header == expected.header
            assert part.chunk is None
        else:
            assert part.chunk is not None
            assert part.header is None
            c = expected.chunk
            assert (bytes(part.chunk.ipc), part.chunk.seq) == (c.ipc, c.seq)
            assert (part.chunk.last, part.chunk.sha256) == (c.last, c.sha256)
    # The last member of the oneof wins; a repeated chunk is merged.
    chunk = common_pb2.ArrowChunk(ipc=b"late", seq=7)
    twice = data + datasets_pb2.UploadDatasetRequest(chunk=chunk).SerializeToString()
    merged = datasets_pb2.UploadDatasetRequest.FromString(twice).chunk
    got = parse_upload_request(twice).chunk
    assert got is not None
    assert (bytes(got.ipc), got.seq, got.last, got.sha256) == (
        merged.ipc,
        merged.seq,
        merged.last,
        merged.sha256,
    )


def test_upload_parser_keeps_the_payload_in_place_and_reports_garbage() -> None:
    payload = bytes(range(256)) * 64
    data = encode_upload_chunk([memoryview(payload)], 1, False, "")
    part = parse_upload_request(data)
    assert part.chunk is not None
    assert isinstance(part.chunk.ipc, memoryview)
    assert part.chunk.ipc.obj is data
    assert bytes(part.chunk.ipc) == payload
    for garbage in (data[:-1], b"\x12\xff", b"\x12\x05\x0a\x09abc", b"\x13", b"\x00", b"\x80"):
        with pytest.raises(DecodeError):
            datasets_pb2.UploadDatasetRequest.FromString(garbage)
        assert parse_upload_request(garbage).malformed


def test_dictionary_encoding_matches_arrow() -> None:
    from zone_opt.validation.keys import dictionary_encode  # noqa: PLC0415

    rng = np.random.default_rng(3)
    words = np.array(["", "a", "bb", "Ωmega", "a" * 40, "c"])
    grouped = np.repeat(words[rng.integers(0, len(words), 40)], rng.integers(1, 6, 40))
    for values in (grouped, words[rng.integers(0, len(words), 500)]):
        for kind in (pa.string(), pa.large_string()):
            column = pa.array(values.tolist(), kind).slice(3)  # an offset into the buffers
            got, expected = dictionary_encode(column), pc.dictionary_encode(column)
            assert got.dictionary.equals(expected.dictionary)
            assert got.indices.to_pylist() == expected.indices.to_pylist()
    with_null = pa.array(["a", None, "a"])
    assert dictionary_encode(with_null).equals(pc.dictionary_encode(with_null))


def test_pieces_keep_messages_whole_unless_larger_than_a_piece() -> None:
    messages = [b"a" * 5, b"b" * 3, b"c" * 12, b"d" * 2]
    pieces = [b"".join(bytes(v) for v in p) for p in pack_pieces(messages, 8)]
    assert b"".join(pieces) == b"".join(messages)
    assert pieces == [b"aaaaabbb", b"cccccccc", b"ccccdd"]
    assert all(len(p) <= 8 for p in pieces)
    in_parts = [[b"a" * 5], [b"bb", b"b"], [b"c" * 5, b"c" * 7], [b"d", b"", b"d"]]
    pieces = [b"".join(bytes(v) for v in p) for p in pack_pieces(in_parts, 8)]
    assert pieces == [b"aaaaabbb", b"cccccccc", b"ccccdd"]


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


def _bad_utf8_at(column: pa.Array, row: int) -> pa.Array:
    """``column`` (string, no nulls) with one byte of ``row`` made 0xFF (not UTF-8)."""
    _, offsets, data = column.buffers()
    start = int(np.frombuffer(offsets, np.int32)[column.offset + row])
    raw = bytearray(bytes(data))
    raw[start] = 0xFF
    return pa.Array.from_buffers(
        column.type, len(column), [None, offsets, pa.py_buffer(bytes(raw))], offset=column.offset
    )


def test_deferred_key_columns_are_validated_by_the_batch_validator(
    meters: Callable[[int], pa.Table],
) -> None:
    """With the key's string column deferred (left out of the decoder's full validation),
    the batch validator still validates it in full: the same table and errors as without
    deferral for good data; bytes that are not UTF-8 refused, naming the column and the
    row across batches, whether the batch is encoded by the Rust pass, arrives after an
    earlier batch broke a rule, or has a schema the validator cannot check batch by batch."""
    spec = TABLES["meters"]
    deferred = BatchValidator.encoded_columns(spec)
    assert deferred == {"enterprise_id"}
    table = meters(1).slice(0, 30_000).combine_chunks()

    def by_batches(t: pa.Table) -> pa.Table:
        validator = BatchValidator(spec, t.schema, deferred=deferred)
        for batch in t.to_batches(max_chunksize=10_000):
            validator.add(batch)
        return validator.finish()

    assert by_batches(table).equals(_by_batches(table, 10_000))
    ids = table.column("enterprise_id").chunk(0)
    bad = table.set_column(0, table.schema.field(0), _bad_utf8_at(ids, 25_000))
    with pytest.raises(InvalidInputError) as info:
        by_batches(bad)
    (violation,) = info.value.violations
    assert (violation.field, violation.row) == ("meters.enterprise_id", 25_000)
    assert "UTF-8" in violation.reason
    # An earlier batch breaks a range rule: later batches are no longer encoded one by one,
    # yet their deferred column is still validated before anything reads it.
    kwh = table.column("electricity_kwh").to_numpy().copy()
    kwh[3] = -1.0
    unclean = bad.set_column(2, table.schema.field(2), pa.array(kwh))
    with pytest.raises(InvalidInputError, match="enterprise_id"):
        by_batches(unclean)
    # A schema that is not the spec's (large_string ids): validated by Arrow instead.
    wide = bad.set_column(
        0,
        pa.field("enterprise_id", pa.large_string(), nullable=False),
        bad.column(0).cast(pa.large_string(), safe=False),
    )
    with pytest.raises(InvalidInputError, match="enterprise_id"):
        by_batches(wide)


def test_batch_key_check_when_the_hour_step_shrinks_between_batches(
    meters: Callable[[int], pa.Table],
) -> None:
    """Batches first see every other hour (step 2 h), later ones the hours between (1 h)
    and earlier ones (a lower minimum): the codes divided as they arrived are rescaled."""
    base = meters(1).slice(0, 12)
    ids = [base.column("enterprise_id")[0].as_py()] * 12
    start = base.column("hour")[0].value
    hour_type = base.schema.field("hour").type
    variants = {
        "distinct": [6, 8, 10, 12, 14, 16, 7, 9, 11, 13, 0, 2],
        "duplicate": [6, 8, 10, 12, 14, 16, 7, 9, 11, 13, 0, 8],
    }
    for name, hours in variants.items():
        column = pa.array([start + 3600 * h for h in hours], pa.int64()).cast(hour_type)
        table = base.set_column(0, base.schema.field(0), pa.array(ids, base.schema.field(0).type))
        table = table.set_column(1, base.schema.field(1), column)
        expected = _violations(partial(validate_table, table, TABLES["meters"]))
        assert bool(expected) == (name == "duplicate")
        assert _violations(partial(_by_batches, table, 4)) == expected, name
        if not expected:
            assert _by_batches(table, 4).equals(validate_table(table, TABLES["meters"]))


# ---- through the server ---------------------------------------------------------------


def _raw_upload(
    port: int,
    chunks: list[common_pb2.ArrowChunk],
    kind: int = common_pb2.TABLE_KIND_METERS,
    checksum: int = common_pb2.CHECKSUM_UNSPECIFIED,
) -> datasets_pb2.UploadDatasetResponse:
    def requests() -> Iterator[datasets_pb2.UploadDatasetRequest]:
        yield datasets_pb2.UploadDatasetRequest(
            header=datasets_pb2.UploadHeader(
                name="raw",
                kind=kind,  # type: ignore[arg-type]
                checksum=checksum,  # type: ignore[arg-type]
            )
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


#: The checksums other than SHA-256: header value, digest field, independent reference.
_OTHER_CHECKSUMS = [
    (common_pb2.CHECKSUM_BLAKE3, "blake3", lambda data: blake3.blake3(data).hexdigest()),
    (common_pb2.CHECKSUM_XXH3_128, "xxh3_128", lambda data: xxhash.xxh3_128(data).hexdigest()),
]


@pytest.mark.parametrize("case", _OTHER_CHECKSUMS, ids=[c[1] for c in _OTHER_CHECKSUMS])
def test_uploads_are_verified_and_recorded_with_the_chosen_checksum(
    server: tuple[Server, int],
    alice: Client,
    meters: Callable[[int], pa.Table],
    case: tuple[int, str, Callable[[bytes], str]],
) -> None:
    checksum, name, reference = case
    before = {d.dataset_id for d in alice.list()}
    table = meters(1)
    data = _ipc(table, max_rows=30_000)
    digest = reference(data)
    chunks = _cut(data, [len(data) // 2, len(data) - len(data) // 2])
    chunks[-1].sha256 = ""
    setattr(chunks[-1], name, digest)
    response = _raw_upload(server[1], chunks, checksum=checksum)
    recorded = {k: getattr(response.dataset, k) for k in ("sha256", "blake3", "xxh3_128")}
    assert recorded == {k: digest if k == name else "" for k in recorded}
    dataset_id = response.dataset.dataset_id
    assert getattr(alice.describe(dataset_id), name) == digest
    assert alice.download(dataset_id).equals(table)  # the download's SHA-256 still checks

    setattr(chunks[-1], name, "0" * len(digest))  # damaged in transit
    with pytest.raises(grpc.RpcError) as err:
        _raw_upload(server[1], chunks, checksum=checksum)
    assert err.value.code() is grpc.StatusCode.DATA_LOSS
    setattr(chunks[-1], name, "")
    chunks[-1].sha256 = hashlib.sha256(data).hexdigest()  # not the checksum the header chose
    with pytest.raises(grpc.RpcError) as err:
        _raw_upload(server[1], chunks, checksum=checksum)
    assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert _field_violations(err.value) == ["chunk.sha256[1]"]
    with pytest.raises(grpc.RpcError) as err:
        _raw_upload(server[1], chunks, checksum=7)
    assert _field_violations(err.value) == ["header.checksum"]
    assert {d.dataset_id for d in alice.list()} - before == {dataset_id}  # nothing else stored


@pytest.mark.parametrize("name", ["sha256", "blake3", "xxh3_128"])
def test_each_declared_digest_is_encoded_and_parsed_as_protobuf_does(name: str) -> None:
    digest = "0123456789abcdef" * 2
    payload = bytes(range(200))
    encoded = encode_upload_chunk([memoryview(payload)], 3, True, **{name: digest})
    decoded = datasets_pb2.UploadDatasetRequest.FromString(encoded)
    decoded.chunk.ClearField("pad")
    chunk = common_pb2.ArrowChunk(ipc=payload, seq=3, last=True)
    setattr(chunk, name, digest)
    assert decoded == datasets_pb2.UploadDatasetRequest(chunk=chunk)
    parsed = parse_upload_request(encoded).chunk
    assert parsed is not None
    assert {k: getattr(parsed, k) for k in ("sha256", "blake3", "xxh3_128")} == {
        k: digest if k == name else "" for k in ("sha256", "blake3", "xxh3_128")
    }


def test_xxh3_128_digests_are_the_canonical_hex_of_the_reference_vectors() -> None:
    # xxHash's XXH3_128bits of the empty input (seed 0) in canonical (big-endian) form, and
    # any cut of the stream hashes as the whole.
    hasher = CHECKSUMS["xxh3_128"]()
    assert hasher.hexdigest() == "99aa06d3014798d86001c324468d497f"
    data = random.Random(5).randbytes(100_003)
    for cut in (0, 1, 63, 64, 65, 4096, 100_002):
        parts = CHECKSUMS["xxh3_128"]()
        parts.update(memoryview(data)[:cut])
        parts.update(memoryview(data)[cut:])
        assert parts.hexdigest() == xxhash.xxh3_128_hexdigest(data)


def test_malformed_upload_message_is_invalid_argument(server: tuple[Server, int]) -> None:
    header = datasets_pb2.UploadDatasetRequest(
        header=datasets_pb2.UploadHeader(name="raw", kind=common_pb2.TABLE_KIND_METERS)
    ).SerializeToString()
    with grpc.insecure_channel(f"127.0.0.1:{server[1]}") as channel:
        upload: Any = channel.stream_unary(
            "/zone_opt.api.v1.DatasetService/UploadDataset",
            request_serializer=None,
            response_deserializer=datasets_pb2.UploadDatasetResponse.FromString,
        )
        with pytest.raises(grpc.RpcError) as err:
            upload(iter([header, b"\x12\x05\x0a\x09abc"]), metadata=MD, timeout=30)
    assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert _field_violations(err.value) == ["chunk[0]"]


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
    from zone_opt.validation import keys  # noqa: PLC0415 (the class attribute is patched)

    monkeypatch.setattr(keys.KeyCodes, "SMALL_DICTIONARY", small_dictionary)
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


def test_a_data_dir_from_before_the_newer_checksums_opens_with_its_datasets(tmp_path: Path) -> None:
    from zone_opt.service.storage.datasets import DatasetStore  # noqa: PLC0415
    from zone_opt.service.storage.jobstore import Database  # noqa: PLC0415

    db = Database(tmp_path / "db.sqlite")
    with db.transaction() as conn:  # the table as it was created before the blake3 column
        conn.execute(
            "CREATE TABLE datasets (dataset_id TEXT PRIMARY KEY, tenant TEXT NOT NULL,"
            " name TEXT NOT NULL, kind TEXT NOT NULL, num_rows INTEGER NOT NULL,"
            " num_bytes INTEGER NOT NULL, sha256 TEXT NOT NULL, columns TEXT NOT NULL,"
            " created_s REAL NOT NULL)"
        )
        conn.execute(
            "INSERT INTO datasets VALUES ('old', 'alice', 'n', 'meters', 1, 2, 'ab', 'x', 0.5)"
        )
    store = DatasetStore(tmp_path / "data", db, max_upload_bytes=1 << 20)
    old = store.get("alice", "old")
    assert (old.sha256, old.blake3, old.xxh3_128, old.num_rows) == ("ab", "", "", 1)
    DatasetStore(tmp_path / "data", db, max_upload_bytes=1 << 20)  # opening again is a no-op
    db.close()


# ---- the sink: direct I/O, its fallbacks (no server) -------------------------------------


def _sink_pieces(seed: int) -> list[bytes]:
    """Pieces of awkward sizes: empty, one byte, a block and a bit, several staging buffers."""
    rng = random.Random(seed)
    sizes = [0, 1, DIRECT_BLOCK_BYTES + 3, 2 * STAGE_BYTES + 5, 4093, STAGE_BYTES - 1, 77]
    return [rng.randbytes(n) for n in sizes]


def _direct_io_works(directory: Path) -> bool:
    try:
        fd = os.open(directory / "probe", os.O_WRONLY | os.O_CREAT | os.O_DIRECT, 0o644)
    except (OSError, AttributeError):
        return False
    os.close(fd)
    return True


@pytest.mark.parametrize("direct", [True, False])
@pytest.mark.parametrize("checksum", sorted(CHECKSUMS))
def test_sink_stores_and_hashes_exactly_the_pieces(
    tmp_path: Path, direct: bool, checksum: str
) -> None:
    pieces = _sink_pieces(1)
    path = tmp_path / "out.part"
    with Sink(path, checksum, direct=direct) as sink:
        assert sink.direct == (direct and _direct_io_works(tmp_path))
        for piece in pieces:
            sink.put(memoryview(piece))
        sink.sync().result()
        digest = sink.digest()
    data = b"".join(pieces)
    assert path.read_bytes() == data
    expected = CHECKSUMS[checksum]()
    expected.update(data)
    assert digest == expected.hexdigest()


def test_sink_falls_back_to_the_page_cache_when_direct_io_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not _direct_io_works(tmp_path):
        pytest.skip("no direct I/O on this file system")
    pieces = _sink_pieces(2)
    real_write, real_open = os.write, os.open
    refused: list[int] = []

    def write(fd: int, data: Any) -> int:  # the first direct write is refused
        if fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_DIRECT and not refused:
            refused.append(len(data))
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", write)
    path = tmp_path / "refused.part"
    with Sink(path, "blake3") as sink:
        for piece in pieces:
            sink.put(piece)
        sink.sync().result()
        assert not sink.direct
    assert refused
    assert path.read_bytes() == b"".join(pieces)

    def open_(file: Any, flags: int, mode: int = 0o777) -> int:  # a file system without it
        if flags & os.O_DIRECT:
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_open(file, flags, mode)

    monkeypatch.setattr(os, "open", open_)
    with Sink(tmp_path / "cached.part", "sha256") as sink:
        assert not sink.direct
        for piece in pieces:
            sink.put(piece)
        sink.sync().result()
    assert (tmp_path / "cached.part").read_bytes() == b"".join(pieces)


# ---- downloads: the checksum asked for, and the stored file checked at rest -------------


def _raw_download(
    port: int, dataset_id: str, checksum: int, into: list[common_pb2.ArrowChunk] | None = None
) -> list[common_pb2.ArrowChunk]:
    """The chunks of a download, appended to ``into`` as they arrive (kept on errors)."""
    received = [] if into is None else into
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = datasets_pb2_grpc.DatasetServiceStub(channel)
        request = datasets_pb2.DownloadDatasetRequest(
            dataset_id=dataset_id,
            chunk_bytes=64 * 1024,
            checksum=checksum,  # type: ignore[arg-type]
        )
        for message in stub.DownloadDataset(request, metadata=MD, timeout=30):
            received.append(message.chunk)
    return received


@pytest.mark.parametrize(
    ("checksum", "name"),
    [
        (common_pb2.CHECKSUM_UNSPECIFIED, "sha256"),
        (common_pb2.CHECKSUM_SHA256, "sha256"),
        (common_pb2.CHECKSUM_BLAKE3, "blake3"),
        (common_pb2.CHECKSUM_XXH3_128, "xxh3_128"),
    ],
)
def test_download_carries_the_digest_asked_for(
    server: tuple[Server, int],
    alice: Client,
    meters: Callable[[int], pa.Table],
    checksum: int,
    name: str,
) -> None:
    table = meters(1)
    dataset_id = alice.upload(table, "m", kind="meters")  # recorded with XXH3-128
    chunks = _raw_download(server[1], dataset_id, checksum)
    assert len(chunks) > 2
    assert [c.seq for c in chunks] == list(range(len(chunks)))
    assert [c.last for c in chunks] == [False] * (len(chunks) - 1) + [True]
    data = b"".join(c.ipc for c in chunks)
    reference = {
        "sha256": hashlib.sha256(data).hexdigest(),
        "blake3": blake3.blake3(data).hexdigest(),
        "xxh3_128": xxhash.xxh3_128(data).hexdigest(),
    }
    assert {k: getattr(chunks[-1], k) for k in reference} == {
        k: v if k == name else "" for k, v in reference.items()
    }
    assert reference["xxh3_128"] == alice.describe(dataset_id).xxh3_128
    assert pa.ipc.open_stream(data).read_all().equals(table)


@pytest.mark.parametrize("upload_checksum", ["xxh3_128", "sha256"])
def test_a_file_damaged_at_rest_never_downloads_as_complete(
    tmp_path: Path,
    server: tuple[Server, int],
    alice: Client,
    meters: Callable[[int], pa.Table],
    upload_checksum: str,
) -> None:
    table = meters(1)
    if upload_checksum == "xxh3_128":
        dataset_id = alice.upload(table, "m", kind="meters")
    else:
        data = _ipc(table, max_rows=30_000)
        sizes = [1 << 21] * (len(data) >> 21) + [len(data) % (1 << 21)]
        dataset_id = _raw_upload(server[1], _cut(data, sizes)).dataset.dataset_id
    assert alice.describe(dataset_id).num_rows == table.num_rows
    path = tmp_path / "data" / "tables" / f"{dataset_id}.arrows"
    stored = bytearray(path.read_bytes())
    stored[len(stored) // 2] ^= 0x01  # one bit flipped on disk, inside a column buffer
    path.write_bytes(bytes(stored))
    with pytest.raises(VerificationError) as err:  # XXH3-128 asked for, the record checked
        alice.download(dataset_id)
    assert err.value.status_code == "DATA_LOSS"
    for checksum in (common_pb2.CHECKSUM_SHA256, common_pb2.CHECKSUM_XXH3_128):
        received: list[common_pb2.ArrowChunk] = []
        with pytest.raises(grpc.RpcError) as rpc:
            _raw_download(server[1], dataset_id, checksum, into=received)
        assert rpc.value.code() is grpc.StatusCode.DATA_LOSS
        assert received  # every chunk but the last arrived: the damage shows at the end
        assert not any(c.last for c in received)
