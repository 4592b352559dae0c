"""Uploads without a server: the client's messages, the upload parser, the incremental IPC
decoder, and batch-by-batch validation against whole-table validation."""

from __future__ import annotations

import random
from collections.abc import Callable
from functools import partial

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from google.protobuf.message import DecodeError

from zone_opt.api.v1 import common_pb2, datasets_pb2
from zone_opt.errors import InvalidInputError
from zone_opt.rpc.ipc import IpcStreamDecoder, ipc_messages, pack_pieces
from zone_opt.rpc.upload import encode_upload_chunk, parse_upload_request
from zone_opt.schemas import TABLES
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
