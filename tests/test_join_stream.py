"""Streaming (bucketed) PSI: equal to plain set operations and to the in-memory protocol,
memory bounded by the bucket and batch sizes, and the protocol's refusals."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zone_opt.errors import InvalidInputError, VerificationError
from zone_opt.join import (
    JoinOptions,
    JoinReceiver,
    JoinSender,
    StreamingJoinReceiver,
    StreamingJoinSender,
)
from zone_opt.join.session import JoinResult
from zone_opt.join.stream import BatchSource

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


# --- protocol="vole": one RR22 session per bucket, buckets padded -----------------------


def streamed_vole(
    server_source: BatchSource, client_source: BatchSource, buckets: int, batch_rows: int = 1 << 16
) -> tuple[JoinResult, list[bytes], StreamingJoinSender]:
    """A streaming VOLE session; the result and every message, in order."""
    messages: list[bytes] = []
    with (
        StreamingJoinSender(
            server_source,
            "id",
            buckets=buckets,
            batch_rows=batch_rows,
            key_kind="text",
            protocol="vole",
        ) as s,
        StreamingJoinReceiver(
            client_source,
            "id",
            buckets=buckets,
            batch_rows=batch_rows,
            key_kind="text",
            protocol="vole",
        ) as c,
    ):

        def respond(message: bytes) -> bytes:
            answer = s.respond(message)
            messages.extend((message, answer))
            return answer

        def setup_parts() -> Iterator[bytes]:
            for part in s.setup_parts():
                messages.append(part)
                yield part

        result = c.run(respond, setup_parts())
        for party, rows in ((s, s.stats.rows), (c, c.stats.rows)):
            assert party.stats.peak_resident_rows <= max(
                batch_rows, party.stats.largest_bucket_rows
            )
            assert party.stats.rows == rows
        return result, messages, s


@settings(max_examples=15, deadline=None)
@given(s=KEYS, c=KEYS, log2_buckets=st.integers(0, 3), batch_rows=st.integers(1, 12))
def test_streamed_vole_intersection_equals_plain(
    s: list[str], c: list[str], log2_buckets: int, batch_rows: int
) -> None:
    got, _, _ = streamed_vole(table(s), table(c), 1 << log2_buckets, batch_rows)
    assert got.indices.tolist() == plain(s, c)
    assert got.indices.dtype == np.int64


def ids(lo: int, hi: int) -> list[str]:
    return [f"id-{i:07d}" for i in range(lo, hi)]


EDGE_SETS = [
    ([], []),
    (ids(0, 5), []),
    ([], ids(0, 5)),
    (ids(0, 1000), ids(0, 1000)),  # identical
    (ids(0, 1000), ids(1000, 2000)),  # disjoint
    (ids(0, 10) * 3, ids(5, 15) * 2),  # duplicates on both sides
    (["北京", "Straße", "ÉCOLE "], ["école", "strasse", "北京", "STRASSE"]),  # unicode
]


@pytest.mark.parametrize(("server", "client"), EDGE_SETS)
@pytest.mark.parametrize("buckets", [1, 4])
def test_vole_edge_sets_streamed_and_in_memory(
    server: list[str], client: list[str], buckets: int
) -> None:
    want = plain(server, client)
    got, _, _ = streamed_vole(table(server), table(client), buckets, batch_rows=7)
    assert got.indices.tolist() == want
    options = JoinOptions(key_kind="text", protocol="vole")
    sender, receiver = JoinSender(server, options=options), JoinReceiver(client, options=options)
    setup = sender.setup_message()
    vole = sender.respond(receiver.request(setup))
    in_memory = receiver.finish(setup, sender.respond(receiver.correction(vole)))
    assert in_memory.indices.tolist() == want


# Per-bucket sizes around the OKVS band (128 columns) and small bucket counts, total sizes
# around the bucket count, and batch sizes that split buckets.
@pytest.mark.parametrize(
    ("n", "buckets"),
    [(1, 4), (3, 4), (4, 4), (5, 4), (127, 1), (128, 1), (129, 1), (508, 4), (516, 4), (4097, 8)],
)
def test_vole_sizes_around_bucket_and_okvs_boundaries(n: int, buckets: int) -> None:
    server, client = ids(0, n), ids(n // 3, n + n // 3)
    got, _, _ = streamed_vole(table(server), table(client), buckets, batch_rows=100)
    assert got.indices.tolist() == plain(server, client)


def test_every_vole_bucket_announces_one_padded_size() -> None:
    """What the buckets show each side: the other's padded bucket size, the same in every
    bucket (not the per-bucket counts of the public bucket hash)."""
    server, client = ids(0, 3000), ids(1000, 5000)
    got, messages, sender = streamed_vole(table(server), table(client), 8)
    assert got.indices.tolist() == plain(server, client)
    # Per bucket: setup, request, vole, correction, response.
    assert len(messages) == 8 * 5
    at = 40 + 24  # header, part header
    sizes = [
        (int.from_bytes(m[at : at + 8], "little"), int.from_bytes(q[at : at + 8], "little"))
        for m, q in zip(messages[0::5], messages[1::5], strict=True)
    ]
    assert len(set(sizes)) == 1
    padded_sender, padded_receiver = sizes[0]
    # A 2^-40 tail bound: about 43 % over the mean at 375 keys per bucket (3 % at 2^16).
    assert 3000 / 8 < padded_sender < 1.5 * 3000 / 8
    assert 4000 / 8 < padded_receiver < 1.5 * 4000 / 8
    assert sender.receiver_count == 8 * padded_receiver
    for kind in range(5):
        assert len({len(m) for m in messages[kind::5]}) == 1  # every bucket's message alike


def test_vole_stream_refusals() -> None:
    keys = table(ids(0, 50))
    with (
        StreamingJoinSender(keys, "id", buckets=4, key_kind="text", protocol="vole") as server,
        StreamingJoinReceiver(keys, "id", buckets=4, key_kind="text", protocol="vole") as client,
    ):
        with pytest.raises(InvalidInputError, match="setup parts"):
            client.exchange(server.respond)  # VOLE needs the setup parts here
        parts = server.setup_parts()
        next(parts)
        with pytest.raises(InvalidInputError, match="not answered yet"):
            next(parts)  # one bucket resident: bucket 1 waits for bucket 0
    with (
        StreamingJoinSender(keys, "id", buckets=4, key_kind="text", protocol="vole") as server,
        StreamingJoinReceiver(keys, "id", buckets=4, key_kind="text", protocol="vole") as client,
    ):
        client.exchange(server.respond, server.setup_parts())
        with pytest.raises(InvalidInputError, match="in exchange"):
            client.finish(server.setup_parts())
        assert client.finish().indices.tolist() == list(range(50))
    with (
        StreamingJoinSender(keys, "id", buckets=4, key_kind="text", protocol="vole") as server,
        StreamingJoinReceiver(keys, "id", buckets=4, key_kind="text", protocol="vole") as client,
        pytest.raises(VerificationError, match="ended after 2 of 4"),
    ):
        client.exchange(server.respond, itertools.islice(server.setup_parts(), 2))
    # Mixed protocols and bucket counts are refused.
    for receiver_kw in ({"protocol": "dh", "buckets": 4}, {"protocol": "vole", "buckets": 8}):
        with (
            StreamingJoinSender(keys, "id", buckets=4, key_kind="text", protocol="vole") as server,
            StreamingJoinReceiver(keys, "id", key_kind="text", **receiver_kw) as client,  # type: ignore[arg-type]
            pytest.raises(InvalidInputError),
        ):
            client.run(server.respond, server.setup_parts())
    with pytest.raises(InvalidInputError, match="protocol"):
        StreamingJoinSender(keys, "id", protocol="psi")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError) as err:
        StreamingJoinReceiver(
            table(["9144030071526726XG", "9144030071526726XG", "not a code"]),
            "id",
            batch_rows=2,
            protocol="vole",
        )
    assert (err.value.violations[0].field, err.value.violations[0].row) == ("keys", 2)
