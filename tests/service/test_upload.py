"""The pipelined upload: framing, incremental decoding, per-batch validation, errors."""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import blake3
import grpc
import pyarrow as pa
import pytest
import xxhash
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from zone_opt.api.v1 import common_pb2, datasets_pb2, datasets_pb2_grpc
from zone_opt.client import Client
from zone_opt.errors import InvalidInputError, ResourceExhaustedError, VerificationError
from zone_opt.rpc.checksums import CHECKSUMS
from zone_opt.rpc.upload import encode_upload_chunk, parse_upload_request
from zone_opt.service.server import Server
from zone_opt.service.storage.files import DIRECT_BLOCK_BYTES, STAGE_BYTES, Sink

MD = (("authorization", "Bearer token-alice"),)


def _ipc(table: pa.Table, max_rows: int | None = None) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table, max_chunksize=max_rows)
    return bytes(sink.getvalue().to_pybytes())


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
