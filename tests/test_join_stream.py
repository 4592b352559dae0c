"""Streaming (bucketed) PSI: equal to plain set operations and to the in-memory protocol,
memory bounded by the bucket and batch sizes, and the protocol's refusals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zone_opt.errors import InvalidInputError, VerificationError
from zone_opt.join import JoinReceiver, JoinSender, StreamingJoinReceiver, StreamingJoinSender
from zone_opt.join.session import JoinResult

KEY = st.one_of(
    st.text(alphabet="abcdeABCDE ", min_size=1, max_size=3),
    st.text(alphabet="éß中文Ωω", min_size=1, max_size=2),
)
KEYS = st.lists(KEY, max_size=30)


def plain(server_keys: list[str], client_keys: list[str]) -> list[int]:
    theirs = {k.strip().upper() for k in server_keys}
    return [i for i, k in enumerate(client_keys) if k.strip().upper() in theirs]


def table(keys: list[str]) -> pa.Table:
    return pa.table({"id": pa.array(keys, pa.string())})


def streamed(
    server_source: object, client_source: object, buckets: int, batch_rows: int, **kw: object
) -> tuple[JoinResult, StreamingJoinSender, StreamingJoinReceiver]:
    with (
        StreamingJoinSender(
            server_source,
            "id",
            buckets=buckets,
            batch_rows=batch_rows,
            **kw,  # type: ignore[arg-type]
        ) as s,
        StreamingJoinReceiver(
            client_source,
            "id",
            buckets=buckets,
            batch_rows=batch_rows,
            **kw,  # type: ignore[arg-type]
        ) as c,
    ):
        c.exchange(s.respond)
        return c.finish(s.setup_parts()), s, c


@settings(max_examples=25, deadline=None)
@given(s=KEYS, c=KEYS, log2_buckets=st.integers(0, 4), batch_rows=st.integers(1, 12))
def test_streamed_intersection_equals_plain(
    s: list[str], c: list[str], log2_buckets: int, batch_rows: int
) -> None:
    got, _, _ = streamed(table(s), table(c), 1 << log2_buckets, batch_rows, key_kind="text")
    assert got.indices.tolist() == plain(s, c)
    assert got.indices.dtype == np.int64


def uscc_ids(count: int, seed: int) -> list[str]:
    charset = np.frombuffer(b"0123456789ABCDEFGHJKLMNPQRTUWXY", dtype=np.uint8)
    weights = np.array([pow(3, i, 31) for i in range(17)], dtype=np.int64)
    body = np.random.default_rng(seed).integers(0, 31, size=(count, 17))
    check = (31 - (body @ weights) % 31) % 31
    chars = charset[np.concatenate([body, check[:, None]], axis=1)]
    return [bytes(r).decode() for r in chars]


def test_parquet_stream_equals_in_memory_and_memory_stays_bounded(tmp_path: Path) -> None:
    n, buckets, batch_rows = 6000, 16, 500
    ids = uscc_ids(n + n // 2, seed=7)
    server_ids = ids[:n] + ids[:100]  # duplicates on both sides
    client_ids = [k.lower() for k in ids[n // 2 :]] + ids[n // 2 : n // 2 + 50]
    pq.write_table(table(server_ids), tmp_path / "s.parquet", row_group_size=1000)
    pq.write_table(table(client_ids), tmp_path / "c.parquet", row_group_size=1000)
    got, server, client = streamed(
        tmp_path / "s.parquet", tmp_path / "c.parquet", buckets, batch_rows
    )
    want = plain(server_ids, client_ids)
    assert got.indices.tolist() == want
    assert len(want) == n // 2 + 50
    memory_server = JoinSender(server_ids)
    memory_client = JoinReceiver(client_ids)
    setup = memory_server.setup_message()
    in_memory = memory_client.finish(setup, memory_server.respond(memory_client.request()))
    assert np.array_equal(got.indices, in_memory.indices)
    # The sender learned the receiver's distinct count, as in memory.
    assert server.receiver_count == memory_server.receiver_count == len(set(ids[n // 2 :]))
    for party, rows in ((server, len(server_ids)), (client, len(client_ids))):
        st_ = party.stats
        assert st_.rows == rows
        assert st_.buckets == buckets
        # Never more than one batch or one bucket resident, and a bucket is about n / 16.
        assert st_.peak_resident_rows <= max(batch_rows, st_.largest_bucket_rows)
        assert st_.largest_bucket_rows <= 2 * rows // buckets
    # The spill directory is gone after the with block.
    assert not any(Path(p._tmp.name).exists() for p in (server, client))


def test_record_batch_iterables_larger_than_batch_rows_are_sliced() -> None:
    s = [f"k{i}" for i in range(300)]
    c = [f"k{i}" for i in range(150, 450)]
    got, server, client = streamed(
        table(s).to_batches(max_chunksize=200), iter(table(c).to_batches()), 4, 64, key_kind="text"
    )
    assert got.indices.tolist() == plain(s, c)
    assert server.stats.peak_resident_rows <= max(64, server.stats.largest_bucket_rows)
    assert client.stats.peak_resident_rows <= max(64, client.stats.largest_bucket_rows)


def test_stream_refusals() -> None:
    keys = table([f"k{i}" for i in range(50)])
    with (
        StreamingJoinSender(keys, "id", buckets=4, key_kind="text") as server,
        StreamingJoinReceiver(keys, "id", buckets=4, key_kind="text") as client,
        StreamingJoinReceiver(keys, "id", buckets=4, key_kind="text") as other,
    ):
        with pytest.raises(InvalidInputError):
            client.finish(server.setup_parts())  # before the exchange
        requests: list[bytes] = []

        def respond(request: bytes) -> bytes:
            requests.append(request)
            return server.respond(request)

        client.exchange(respond)
        with pytest.raises(InvalidInputError, match="already answered"):
            server.respond(requests[0])  # replayed request
        with pytest.raises(InvalidInputError, match="another receiver"):
            other.exchange(server.respond)
        parts = list(server.setup_parts())
        with pytest.raises(InvalidInputError, match="already produced"):
            next(server.setup_parts())  # the table is sent once
        with pytest.raises(InvalidInputError, match="already exchanged"):
            client.exchange(server.respond)
        with pytest.raises(InvalidInputError, match="expected"):
            client.finish(parts[1:])  # a part skipped
    with (
        StreamingJoinSender(keys, "id", buckets=4, key_kind="text") as server,
        StreamingJoinReceiver(keys, "id", buckets=4, key_kind="text") as client,
    ):
        client.exchange(server.respond)
        with pytest.raises(VerificationError, match="ended after 3 of 4"):
            client.finish(list(server.setup_parts())[:3])
    with pytest.raises(InvalidInputError):
        StreamingJoinSender(keys, "id", buckets=3)
    with pytest.raises(InvalidInputError, match="not in"):
        StreamingJoinSender(keys, "nope", buckets=4)
    with pytest.raises(InvalidInputError) as err:
        StreamingJoinReceiver(table(["a", None]), "id", batch_rows=1, key_kind="text")  # type: ignore[list-item]
    assert err.value.violations[0].row == 1
    with (
        StreamingJoinSender(keys, "id", buckets=4, key_kind="text") as server,
        StreamingJoinReceiver(keys, "id", buckets=8, key_kind="text") as client,
        pytest.raises(InvalidInputError, match="buckets"),
    ):
        client.exchange(server.respond)
