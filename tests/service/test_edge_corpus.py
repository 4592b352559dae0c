"""Mutated Arrow IPC against a real server process: no byte may crash it or reach INTERNAL.

Starts ``zone-opt serve`` as a subprocess (a crash ends that process, not the test), stores
a few datasets, then sends a seeded corpus of mutated IPC streams of every table kind
(bytes flipped, overwritten, inserted, deleted, streams truncated), as uploads with a
correct checksum, as uploads with a wrong one, and as ``Recommend``'s inline tables. Every
reply must be OK, INVALID_ARGUMENT or DATA_LOSS; afterwards the process is alive, health
answers SERVING, every dataset stored before and during the run downloads with its
checksum, and the server's log holds no traceback.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pyarrow as pa
import pytest
import xxhash
from grpc_health.v1 import health_pb2, health_pb2_grpc

from zone_opt.api.v1 import matching_pb2
from zone_opt.client import Client
from zone_opt.rpc.ipc import table_to_ipc

TOKENS = {"token-alice": "alice"}
MD = (("authorization", "Bearer token-alice"),)
KINDS = ("parks", "spaces", "enterprises", "meters", "tenancies", "park_assets", "grid_factors")
#: Requests in the corpus (the acceptance floor is 2,000); ``make fuzz`` raises them and
#: draws a new seed (``ZONE_OPT_EDGE_SEED``, printed by pytest on failure).
SCALE = float(os.environ.get("ZONE_OPT_EDGE_SCALE", "1"))
UPLOADS = int(1700 * SCALE)
RECOMMENDS = int(400 * SCALE)
SEED = int(os.environ.get("ZONE_OPT_EDGE_SEED", "20261206"))
ALLOWED = {grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.DATA_LOSS}


@pytest.fixture
def served(
    tmp_path: Path, serve_process: Callable[..., tuple[subprocess.Popen[bytes], int]]
) -> Iterator[tuple[subprocess.Popen[bytes], int, Path]]:
    tokens = tmp_path / "tokens.json"
    tokens.write_text(json.dumps(TOKENS))
    proc, port = serve_process(tmp_path / "data", tokens)
    yield proc, port, tmp_path / "server.log"
    proc.terminate()
    proc.wait(30)


def _mutate(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    op = rng.random()
    if op < 0.35:  # flip bits
        for _ in range(rng.randint(1, 4)):
            out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
    elif op < 0.6:  # overwrite bytes (0x00 -> 0x40 at an offset is the reported crash)
        for _ in range(rng.randint(1, 3)):
            out[rng.randrange(len(out))] = rng.choice(
                (0x00, 0x40, 0x7F, 0x80, 0xFF, rng.randrange(256))
            )
    elif op < 0.72:  # overwrite a little-endian int32 (offsets, lengths)
        pos = rng.randrange(max(1, len(out) - 4))
        value = rng.choice((-1, 0, 1, 7, 1 << 20, 1 << 30, 2**31 - 1, -(2**31)))
        out[pos : pos + 4] = value.to_bytes(4, "little", signed=True)
    elif op < 0.82:  # insert
        pos = rng.randrange(len(out))
        out[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
    elif op < 0.9:  # delete
        pos = rng.randrange(len(out))
        del out[pos : pos + rng.randint(1, 16)]
    else:  # truncate
        del out[rng.randrange(len(out)) :]
    return bytes(out)


def test_mutated_ipc_corpus_never_crashes_or_reaches_internal(
    served: tuple[subprocess.Popen[bytes], int, Path],
    sample: Callable[[str], pa.Table],
    raw_upload: Callable[..., tuple[grpc.StatusCode, str]],
) -> None:
    proc, port, log_path = served
    rng = random.Random(SEED)
    tables = {kind: sample(kind) for kind in KINDS}
    # One chunk each (a message is at most 4 MiB): the first rows of the larger tables.
    streams = {kind: table_to_ipc(table.slice(0, 2000)) for kind, table in tables.items()}
    codes: Counter[str] = Counter()
    started = time.perf_counter()
    with Client(f"127.0.0.1:{port}", token="token-alice", timeout_s=30) as client:
        before = {client.upload(table, kind, kind=kind): table for kind, table in tables.items()}
        channel: Any = client._channel
        for i in range(UPLOADS):
            kind = rng.choice(KINDS)
            data = _mutate(streams[kind], rng)
            digest = xxhash.xxh3_128(data).hexdigest()
            if i % 10 == 9:  # a damaged transfer: the digest of other bytes
                digest = xxhash.xxh3_128(data + b"x").hexdigest()
            code, _ = raw_upload(channel, kind, data, digest)
            codes[f"upload {code.name}"] += 1
            assert code in ALLOWED, (i, kind, code, _tail(log_path))
            assert proc.poll() is None, log_path.read_text()[-4000:]
        recommend = channel.unary_unary(
            "/zone_opt.api.v1.MatchingService/Recommend",
            request_serializer=matching_pb2.RecommendRequest.SerializeToString,
            response_deserializer=matching_pb2.RecommendResponse.FromString,
        )
        small = {k: table_to_ipc(tables[k].slice(0, 40)) for k in ("spaces", "enterprises")}
        for i in range(RECOMMENDS):
            fields: dict[str, Any] = {
                "parks_ipc": streams["parks"],
                "spaces_ipc": small["spaces"],
                "enterprises_ipc": small["enterprises"],
            }
            target = rng.choice(sorted(fields))
            fields[target] = _mutate(fields[target], rng)
            try:
                recommend(matching_pb2.RecommendRequest(k=3, **fields), metadata=MD, timeout=30)
                code = grpc.StatusCode.OK
            except grpc.RpcError as err:
                code = err.code()
            codes[f"recommend {code.name}"] += 1
            assert code in ALLOWED, (i, target, code, _tail(log_path))
            assert proc.poll() is None, log_path.read_text()[-4000:]
        seconds = time.perf_counter() - started
        total = sum(codes.values())
        print(  # the rate ``make fuzz`` reports (shown with -s)
            f"fuzz ipc corpus (seed {SEED}): {total} requests in {seconds:.1f} s"
            f" ({total / seconds:.0f}/s): {dict(sorted(codes.items()))}"
        )
        assert total >= 2000 * SCALE
        # Both outcomes occur: the corpus is not all rejected at the framing.
        assert codes["upload OK"] > 0
        assert codes["upload INVALID_ARGUMENT"] > 0
        assert codes["upload DATA_LOSS"] > 0
        # Alive and serving; everything stored still downloads, verified.
        with grpc.insecure_channel(f"127.0.0.1:{port}") as plain:
            health = health_pb2_grpc.HealthStub(plain).Check(
                health_pb2.HealthCheckRequest(service=""), timeout=10
            )
        assert health.status == health_pb2.HealthCheckResponse.SERVING
        for dataset_id, table in before.items():
            assert client.download(dataset_id).equals(table)
        stored = client.list()
        assert len(stored) == len(before) + codes["upload OK"]
        for info in stored:
            client.download(info.dataset_id)  # raises on a checksum mismatch
    assert proc.poll() is None
    assert "Traceback" not in log_path.read_text()


def _tail(log_path: Path) -> str:
    """The server log's last traceback, else its last lines (printed in full by pytest)."""
    text = log_path.read_text()
    start = text.rfind("Traceback")
    shown = text[start - 300 :] if start >= 0 else "\n".join(text.splitlines()[-20:])
    print(shown[:6000])
    return "see the captured stdout"
