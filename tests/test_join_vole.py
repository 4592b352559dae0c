"""The VOLE-based PSI (``protocol="vole"``, RR22) against plain set intersection, its
transcript (what each side sees), and its refusals."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zone_opt.errors import InvalidInputError
from zone_opt.join import JoinOptions, JoinReceiver, JoinSender, setup_key_kind, setup_protocol

KEY = st.one_of(
    st.text(alphabet="abcdeABCDE ", min_size=1, max_size=3),
    st.text(alphabet="éß中文Ωω", min_size=1, max_size=2),
)
KEYS = st.lists(KEY, max_size=25)


def canon(k: str) -> str:
    return k.strip().upper()


def session(server_keys: list[str], client_keys: list[str]) -> tuple[list[int], list[bytes]]:
    """Run the five messages; the receiver's rows and every message."""
    server = JoinSender(server_keys, options=JoinOptions(key_kind="text", protocol="vole"))
    client = JoinReceiver(client_keys, options=JoinOptions(key_kind="text", protocol="vole"))
    setup = server.setup_message()
    request = client.request(setup)
    vole = server.respond(request)
    correction = client.correction(vole)
    response = server.respond(correction)
    result = client.finish(setup, response)
    assert result.indices.dtype == np.int64
    assert result.count is None
    assert result.payload is None
    assert server.receiver_count == len({canon(k) for k in client_keys})
    return result.indices.tolist(), [setup, request, vole, correction, response]


def plain(server_keys: list[str], client_keys: list[str]) -> list[int]:
    theirs = {canon(k) for k in server_keys}
    return [i for i, k in enumerate(client_keys) if canon(k) in theirs]


@settings(max_examples=25, deadline=None)
@given(KEYS, KEYS)
def test_intersection_equals_plain(s: list[str], c: list[str]) -> None:
    got, _ = session(s, c)
    assert got == plain(s, c)


def ids(lo: int, hi: int) -> list[str]:
    return [f"id-{i:07d}" for i in range(lo, hi)]


@pytest.mark.parametrize(
    ("server", "client"),
    [
        ([], []),
        (ids(0, 5), []),
        ([], ids(0, 5)),
        (ids(0, 1000), ids(0, 1000)),  # identical
        (ids(0, 1000), ids(1000, 2000)),  # disjoint
        (ids(0, 10) * 3, ids(5, 15) * 2),  # duplicates on both sides
        (["北京", "Straße", "ÉCOLE "], ["école", "strasse", "北京", "STRASSE"]),  # unicode
    ],
)
def test_edge_sets(server: list[str], client: list[str]) -> None:
    got, _ = session(server, client)
    assert got == plain(server, client)


# Sizes around the OKVS band (128 columns), the VOLE's noise weight (400 blocks) and
# powers of two (GGM tree depths, tag lengths).
@pytest.mark.parametrize("n", [127, 128, 129, 399, 400, 401, 4095, 4096, 4097, 30_000])
def test_sizes_around_boundaries(n: int) -> None:
    server, client = ids(0, n), ids(n // 3, n + n // 3)
    got, _ = session(server, client)
    assert got == plain(server, client)


def test_transcript_carries_no_key_and_no_key_hash() -> None:
    """The sender sees |X| and pseudo-random bytes; the receiver sees |Y|, pseudo-random
    bytes and one truncated tag per sender key: no message holds a key, a plain hash of
    one, or the same bytes twice for two runs on the same sets."""
    server, client = ids(0, 3000), ids(1500, 4500)
    _, first = session(server, client)
    _, second = session(server, client)
    needles = []
    for k in server + client:
        b = canon(k).encode()
        needles += [b, hashlib.sha256(b).digest()[:8], hashlib.sha512(b).digest()[:8]]
    for message in first:
        for needle in needles:
            assert needle not in message
    # Fresh randomness: the tags (last message) differ between sessions.
    assert first[4][41:] != second[4][41:]
    # The sender's tags are sorted (a random order, unrelated to its input order).
    width = first[4][40]
    count = int.from_bytes(first[4][41:49], "little")
    assert count == 3000
    tags = [first[4][49 + i * width : 49 + (i + 1) * width] for i in range(count)]
    as_ints = [int.from_bytes(t, "little") for t in tags]
    assert as_ints == sorted(as_ints)


def test_bytes_per_element_at_2_to_16() -> None:
    n = 1 << 16
    _, messages = session(ids(0, n), ids(n // 2, n + n // 2))
    total = sum(map(len, messages))
    # Fixed ~0.9 MB for base OTs and correlated OTs, then ~17.8 B (OKVS) + 9 B (tag).
    assert total / n < 45, total / n
    assert (len(messages[3]) + len(messages[4])) / n < 28


def test_out_of_order_and_foreign_messages_are_refused() -> None:
    server = JoinSender(ids(0, 50), options=JoinOptions(key_kind="text", protocol="vole"))
    client = JoinReceiver(ids(25, 75), options=JoinOptions(key_kind="text", protocol="vole"))
    setup = server.setup_message()
    assert setup_protocol(setup) == "vole"
    assert setup_key_kind(setup) == "text"
    with pytest.raises(InvalidInputError):
        server.respond(setup)
    with pytest.raises(InvalidInputError):
        client.correction(setup)
    request = client.request(setup)
    with pytest.raises(InvalidInputError):
        client.request(setup)
    with pytest.raises(InvalidInputError):
        server.respond(request[:-1])
    vole = server.respond(request)
    with pytest.raises(InvalidInputError):
        client.correction(vole + b"\0")
    correction = client.correction(vole)
    response = server.respond(correction)
    with pytest.raises(InvalidInputError):
        client.finish(setup, response[:-1])
    assert client.finish(setup, response).indices.tolist() == list(range(25))
    # A DH client cannot take a VOLE setup, nor the reverse.
    dh = JoinReceiver(ids(0, 5), options=JoinOptions(key_kind="text"))
    with pytest.raises(InvalidInputError):
        dh.finish(setup, response)
    dh_server = JoinSender(ids(0, 5), options=JoinOptions(key_kind="text"))
    assert setup_protocol(dh_server.setup_message()) == "dh"
    with pytest.raises(InvalidInputError):
        JoinReceiver(ids(0, 5), options=JoinOptions(key_kind="text", protocol="vole")).request(
            dh_server.setup_message()
        )


def test_key_kind_mismatch_is_refused() -> None:
    server = JoinSender(ids(0, 5), options=JoinOptions(key_kind="text", protocol="vole"))
    client = JoinReceiver([], options=JoinOptions(protocol="vole"))  # key_kind="uscc"
    with pytest.raises(InvalidInputError):
        client.request(server.setup_message())


@pytest.mark.parametrize(
    "kwargs",
    [
        {"mode": "cardinality"},
        {"mode": "sum"},
        {"verifiable": True},
    ],
)
def test_unsupported_options_are_refused(kwargs: dict[str, object]) -> None:
    options = JoinOptions(key_kind="text", protocol="vole", **kwargs)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError):
        JoinSender(ids(0, 5), options=options)
    with pytest.raises(InvalidInputError):
        JoinSender(ids(0, 5), options=JoinOptions(key_kind="text", protocol="quantum"))  # type: ignore[arg-type]
