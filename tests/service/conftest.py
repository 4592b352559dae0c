"""Fixtures: a real in-process server on port 0 with two tenants."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import grpc
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import xxhash

from zone_opt.api.v1 import common_pb2, datasets_pb2
from zone_opt.client import Client
from zone_opt.rpc.enums import kind_to_proto
from zone_opt.schemas import TABLES
from zone_opt.service.server import SAMPLE_DIR, Server, ServerSettings, create_server
from zone_opt.service.transport.peers import JoinPeer, PeerRegistry
from zone_opt.validation import validate_table

TOKENS = {"token-alice": "alice", "token-bob": "bob"}


def _start(tmp: Path, **overrides: object) -> tuple[Server, int]:
    """A started server on ``tmp`` (port 0 unless ``port`` is given; settings overridden)."""
    settings: dict[str, Any] = {
        "port": 0,
        "tokens": dict(TOKENS),
        "preload_sample": False,
        "grace_s": 2.0,
        **overrides,
    }
    config = ServerSettings(data_dir=tmp, **settings)
    server, port = create_server(config)
    server.start()
    return server, port


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[Server, int]]:
    running = _start(tmp_path / "data")
    yield running
    running[0].stop(0.5)


@pytest.fixture
def alice(server: tuple[Server, int]) -> Iterator[Client]:
    with Client(f"127.0.0.1:{server[1]}", token="token-alice", timeout_s=20) as client:
        yield client


@pytest.fixture
def bob(server: tuple[Server, int]) -> Iterator[Client]:
    with Client(f"127.0.0.1:{server[1]}", token="token-bob", timeout_s=20) as client:
        yield client


def _sample(name: str) -> pa.Table:
    """A bundled sample table, conformed to its schema."""
    return validate_table(pq.read_table(SAMPLE_DIR / f"{name}.parquet"), TABLES[name])


def _meters(copies: int) -> pa.Table:
    """The sample meters repeated ``copies`` times, each copy shifted past the previous."""
    base = _sample("meters")
    hours = base.column("hour")
    span = pc.max(hours).as_py() - pc.min(hours).as_py() + timedelta(hours=1)
    parts = []
    for i in range(copies):
        shifted = pc.add(hours, pa.scalar(span * i, pa.duration("s")))
        parts.append(base.set_column(1, base.schema.field("hour"), shifted.cast(hours.type)))
    return pa.concat_tables(parts).combine_chunks()


@pytest.fixture(name="start")
def start_fixture() -> Callable[..., tuple[Server, int]]:
    """``start(data_dir, **settings) -> (server, port)``: another started server."""
    return _start


@pytest.fixture(name="sample")
def sample_fixture() -> Callable[[str], pa.Table]:
    """``sample(table_name)``: a bundled sample table, conformed to its schema."""
    return _sample


@pytest.fixture(name="meters")
def meters_fixture() -> Callable[[int], pa.Table]:
    """``meters(copies)``: the sample meters repeated with shifted hours."""
    return _meters


def _raw_upload(
    channel: grpc.Channel, kind: str, data: bytes, digest: str | None = None
) -> tuple[grpc.StatusCode, str]:
    """Upload ``data`` as one chunk, bytes as they are (the client would refuse to send a
    broken table); ``digest`` defaults to the XXH3-128 of ``data``. ``(code, details)``."""
    call = channel.stream_unary(
        "/zone_opt.api.v1.DatasetService/UploadDataset",
        request_serializer=datasets_pb2.UploadDatasetRequest.SerializeToString,
        response_deserializer=datasets_pb2.UploadDatasetResponse.FromString,
    )
    messages = [
        datasets_pb2.UploadDatasetRequest(
            header=datasets_pb2.UploadHeader(
                name=f"raw {kind}",
                kind=kind_to_proto(kind),  # type: ignore[arg-type]
                checksum=common_pb2.CHECKSUM_XXH3_128,
            )
        ),
        datasets_pb2.UploadDatasetRequest(
            chunk=common_pb2.ArrowChunk(
                ipc=data,
                seq=0,
                last=True,
                xxh3_128=digest if digest is not None else xxhash.xxh3_128(data).hexdigest(),
            )
        ),
    ]
    try:
        call(iter(messages), metadata=(("authorization", "Bearer token-alice"),), timeout=30)
    except grpc.RpcError as err:
        return err.code(), err.details() or ""
    return grpc.StatusCode.OK, ""


@pytest.fixture(name="raw_upload")
def raw_upload_fixture() -> Callable[..., tuple[grpc.StatusCode, str]]:
    """``raw_upload(channel, kind, data, digest=None) -> (code, details)``."""
    return _raw_upload


def serve_process(data_dir: Path, tokens: Path, *extra: str) -> tuple[subprocess.Popen[bytes], int]:
    """``zone-opt serve`` as a subprocess on a free loopback port (a crash ends that process,
    not the test), its log appended to ``server.log`` beside ``data_dir``: ``(process, port)``."""
    port_file = data_dir.parent / "port"
    port_file.unlink(missing_ok=True)
    log_path = data_dir.parent / "server.log"
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "zone_opt",
                "serve",
                "--port",
                "0",
                "--port-file",
                str(port_file),
                "--data-dir",
                str(data_dir),
                "--tokens",
                str(tokens),
                "--no-sample",
                *extra,
            ],
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    deadline = time.monotonic() + 60
    while not port_file.exists() or not port_file.read_text().strip():
        assert proc.poll() is None, log_path.read_text()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return proc, int(port_file.read_text())


@pytest.fixture(name="serve_process")
def serve_process_fixture() -> Callable[..., tuple[subprocess.Popen[bytes], int]]:
    """``serve_process(data_dir, tokens, *extra_args) -> (process, port)``."""
    return serve_process


@pytest.fixture
def two_servers(
    tmp_path: Path, start: Callable[..., tuple[Server, int]]
) -> Iterator[tuple[int, int]]:
    """A sender's server and a receiver's that registers it as join peer ``sender``:
    their ports."""
    sender = start(tmp_path / "sender")
    peer = JoinPeer("sender", f"127.0.0.1:{sender[1]}", tls=False)
    receiver = start(tmp_path / "receiver", join_peers=PeerRegistry({"sender": peer}))
    yield sender[1], receiver[1]
    receiver[0].stop(0.5)
    sender[0].stop(0.5)
