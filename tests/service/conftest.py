"""Fixtures: a real in-process server on port 0 with two tenants."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from zone_opt.client import Client
from zone_opt.service.server import SAMPLE_DIR, Server, ServerSettings, create_server
from zone_opt.validation import validate_table
from zone_opt.schemas import TABLES

TOKENS = {"token-alice": "alice", "token-bob": "bob"}


def start(tmp: Path, **overrides: object) -> tuple[Server, int]:
    config = ServerSettings(
        data_dir=tmp, port=0, tokens=dict(TOKENS), preload_sample=False, grace_s=2.0,
        **overrides,  # type: ignore[arg-type]
    )
    server, port = create_server(config)
    server.start()
    return server, port


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[Server, int]]:
    running = start(tmp_path / "data")
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


def sample(name: str) -> pa.Table:
    """A bundled sample table, conformed to its schema."""
    return validate_table(pq.read_table(SAMPLE_DIR / f"{name}.parquet"), TABLES[name])


def meters(copies: int) -> pa.Table:
    """The sample meters repeated ``copies`` times, each copy shifted past the previous."""
    base = sample("meters")
    hours = base.column("hour")
    span = pc.max(hours).as_py() - pc.min(hours).as_py() + timedelta(hours=1)
    parts = []
    for i in range(copies):
        shifted = pc.add(hours, pa.scalar(span * i, pa.duration("s")))
        parts.append(base.set_column(1, base.schema.field("hour"), shifted.cast(hours.type)))
    return pa.concat_tables(parts).combine_chunks()
