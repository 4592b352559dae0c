"""PSI modes against plain set computations, and the protocol's security checks."""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zone_opt.errors import InvalidInputError, VerificationError
from zone_opt.join import JoinOptions, JoinQuery, JoinReceiver, JoinResult, JoinSender, rfc9497
from zone_opt.join.options import JoinType
from zone_opt.join.session import Mode, Suite, setup_suite

KEY = st.one_of(
    st.text(alphabet="abcdeABCDE ", min_size=1, max_size=3),
    st.text(alphabet="éß中文Ωω", min_size=1, max_size=2),
)
KEYS = st.lists(KEY, max_size=25)


def canon(k: str) -> str:
    return k.strip().upper()


def run(
    server_keys: list[str],
    client_keys: list[str],
    mode: Mode,
    *,
    payload: pa.Table | None = None,
    values: np.ndarray | None = None,
    join: JoinType = "inner",
    min_intersection: int = 1,
    **session: Any,
) -> JoinResult:
    """One in-memory session; ``session`` holds further JoinOptions (verifiable, suite)."""
    options = JoinOptions(mode=mode, key_kind="text", **session)
    server = JoinSender(server_keys, payload, options=options, min_intersection=min_intersection)
    client = JoinReceiver(client_keys, options=options, values=values, join=join)
    setup = server.setup_message()
    request = client.request(setup)
    return client.finish(setup, server.respond(request))


@settings(max_examples=30, deadline=None)
@given(KEYS, KEYS, st.booleans())
def test_intersection_equals_plain(s: list[str], c: list[str], verifiable: bool) -> None:
    got = run(s, c, "intersection", verifiable=verifiable)
    plain = {canon(k) for k in s}
    want = [i for i, k in enumerate(c) if canon(k) in plain]
    assert got.indices.dtype == np.int64
    assert got.indices.tolist() == want


@settings(max_examples=30, deadline=None)
@given(KEYS, KEYS)
def test_cardinality_equals_plain(s: list[str], c: list[str]) -> None:
    got = run(s, c, "cardinality")
    assert got.count == len({canon(k) for k in s} & {canon(k) for k in c})
    assert got.indices.size == 0


@settings(max_examples=30, deadline=None)
@given(KEYS, KEYS, st.sampled_from(["inner", "left"]))
def test_labelled_join_equals_plain_join(s: list[str], c: list[str], join: JoinType) -> None:
    payload = pa.table(
        {
            "amount_cny": pa.array([i * 10 if i % 3 else None for i in range(len(s))], pa.int64()),
            "name": pa.array([f"名{i}" for i in range(len(s))], pa.string()),
            "ratio": pa.array([i / 7 for i in range(len(s))], pa.float64()),
        }
    )
    got = run(s, c, "labelled", payload=payload, join=join, verifiable=True)
    groups: dict[str, list[int]] = {}
    for j, k in enumerate(s):
        groups.setdefault(canon(k), []).append(j)
    want_idx: list[int] = []
    want_rows: list[int | None] = []
    for i, k in enumerate(c):
        matches: list[int | None] = list(groups.get(canon(k), []))
        if not matches and join == "left":
            matches = [None]
        for m in matches:
            want_idx.append(i)
            want_rows.append(m)
    assert got.indices.tolist() == want_idx
    assert got.payload is not None
    assert got.payload.schema == payload.schema
    rows = payload.to_pylist()
    empty = {"amount_cny": None, "name": None, "ratio": None}
    assert got.payload.to_pylist() == [rows[j] if j is not None else empty for j in want_rows]


@settings(max_examples=20, deadline=None)
@given(KEYS, KEYS, st.integers(0, 10**6))
def test_sum_equals_plain(s: list[str], c: list[str], seed: int) -> None:
    values = (np.arange(len(c), dtype=np.int64) * 7919 + seed) % 100_000
    got = run(s, c, "sum", values=values)
    plain = {canon(k) for k in s}
    common = plain & {canon(k) for k in c}
    if common:
        assert got.count == len(common)
        assert got.sum == int(sum(v for k, v in zip(c, values, strict=True) if canon(k) in plain))
    else:
        assert got.count is None
        assert got.sum is None


def uscc(body: str) -> str:
    charset = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    weights = [pow(3, i, 31) for i in range(17)]
    total = sum(charset.index(ch) * w for ch, w in zip(body, weights, strict=True))
    return body + charset[(31 - total % 31) % 31]


def test_edge_sets_empty_identical_disjoint() -> None:
    ids = [uscc(f"91440300MA{i:07d}") for i in range(40)]
    assert run([], ids, "intersection").indices.size == 0
    assert run(ids, [], "intersection").indices.size == 0
    assert run(ids, ids, "intersection").indices.tolist() == list(range(40))
    assert run(ids[:20], ids[20:], "intersection").indices.size == 0
    # Default key kind is USCC: lower case and blanks canonicalise, bad check digits fail.
    server = JoinSender(ids)
    client = JoinReceiver([f"  {ids[3].lower()} ", ids[30]])
    setup = server.setup_message()
    got = client.finish(setup, server.respond(client.request()))
    assert got.indices.tolist() == [0, 1]
    with pytest.raises(InvalidInputError) as err:
        JoinReceiver([ids[0], ids[1][:-1] + ("0" if ids[1][-1] != "0" else "1")])
    assert err.value.violations[0].row == 1


def test_sum_threshold_withholds_small_intersections() -> None:
    got = run(["a", "b"], ["a", "c"], "sum", values=np.array([5, 6]), min_intersection=2)
    assert (got.count, got.sum) == (None, None)
    with pytest.raises(InvalidInputError):
        run(["a"], ["a"], "sum", values=np.array([-1]))


def sessions(
    mode: Mode = "intersection", verifiable: bool = False
) -> tuple[JoinSender, JoinReceiver]:
    s = JoinSender(
        [f"k{i}" for i in range(30)],
        options=JoinOptions(mode=mode, key_kind="text", verifiable=verifiable),
    )
    c = JoinReceiver(
        [f"k{i}" for i in range(15, 45)],
        options=JoinOptions(mode=mode, key_kind="text", verifiable=verifiable),
    )
    return s, c


def test_tampered_evaluation_fails_the_dleq_check() -> None:
    server, client = sessions(verifiable=True)
    setup = server.setup_message()
    request = client.request()
    response = bytearray(server.respond(request))
    # Swap two evaluations: each is a valid point, but not k times its request point.
    a, b = 48 + 32 * 2, 48 + 32 * 5
    response[a : a + 32], response[b : b + 32] = response[b : b + 32], response[a : a + 32]
    with pytest.raises(VerificationError, match="DLEQ"):
        client.finish(setup, bytes(response))


def test_malformed_truncated_wrong_session_and_replay_are_refused() -> None:
    server, client = sessions()
    setup = server.setup_message()
    request = client.request()
    bad = bytearray(request)
    bad[48:80] = b"\xff" * 32
    with pytest.raises(InvalidInputError, match="canonical"):
        server.respond(bytes(bad))
    ident = bytearray(request)
    ident[48:80] = bytes(32)
    with pytest.raises(InvalidInputError, match="identity"):
        server.respond(bytes(ident))
    with pytest.raises(InvalidInputError, match="truncated"):
        server.respond(request[:-7])
    with pytest.raises(InvalidInputError, match="not a zone-opt PSI message"):
        server.respond(b"X" * 60)
    response = server.respond(request)
    with pytest.raises(InvalidInputError, match="replay"):
        server.respond(request)
    other, _ = sessions()
    with pytest.raises(InvalidInputError, match="session"):
        client.finish(other.setup_message(), response)
    _, stranger = sessions()
    stranger.request()
    with pytest.raises(InvalidInputError, match="session"):
        stranger.finish(setup, response)
    with pytest.raises(InvalidInputError, match="truncated"):
        client.finish(setup, response[:-1])
    assert client.finish(setup, response).indices.tolist() == list(range(15))
    with pytest.raises(InvalidInputError, match="replay"):
        client.finish(setup, response)


def test_no_sender_message_bytes_equal_a_plain_hash_of_a_key() -> None:
    keys = [uscc(f"91110000{i:09d}") for i in range(300)]
    payload = pa.table({"secret": [f"S{k}" for k in keys]})
    server = JoinSender(keys, payload, options=JoinOptions(verifiable=True))
    client = JoinReceiver(keys[::2], options=JoinOptions(mode="labelled", verifiable=True))
    setup = server.setup_message()
    response = server.respond(client.request())
    assert client.finish(setup, response).payload is not None
    for k in keys:
        for algo in (
            "md5",
            "sha1",
            "sha256",
            "sha512",
            "sm3" if "sm3" in hashlib.algorithms_available else "sha384",
        ):
            digest = hashlib.new(algo, k.encode()).digest()
            for message in (setup, response):
                assert digest[:8] not in message, (algo, k)
        assert k.encode() not in setup
        assert f"S{k}".encode() not in setup


def test_message_sizes_in_intersection_mode() -> None:
    server, client = sessions()
    setup = server.setup_message()
    request = client.request()
    response = server.respond(request)
    assert len(setup) == 48 + 12 * 30
    assert len(request) == len(response) == 48 + 32 * 30


def test_mismatched_modes_and_bad_arguments_are_refused() -> None:
    server, _ = sessions("intersection")
    _, client = sessions("cardinality")
    with pytest.raises(InvalidInputError, match="mode"):
        server.respond(client.request())
    with pytest.raises(InvalidInputError):
        JoinSender(["a"], options=JoinOptions(mode="cardinality", verifiable=True, key_kind="text"))
    with pytest.raises(InvalidInputError):
        JoinReceiver(pa.array(["a", None]), options=JoinOptions(key_kind="text"))
    with pytest.raises(InvalidInputError):
        JoinSender(["a"], pa.table({"x": [1, 2]}), options=JoinOptions(key_kind="text"))
    with pytest.raises(InvalidInputError):
        JoinReceiver(["a"], options=JoinOptions(mode="join", key_kind="text"))  # type: ignore[arg-type]


@pytest.mark.parametrize("suite", ["rfc9497", "zone-opt-v1"])
@pytest.mark.parametrize("verifiable", [True, False])
def test_both_suites_give_the_plain_intersection(suite: Suite, verifiable: bool) -> None:
    keys = [f"k{i}" for i in range(40)]
    payload = pa.table({"v": [f"v{i}" for i in range(40)]})
    server = JoinSender(
        keys, payload, options=JoinOptions(key_kind="text", verifiable=verifiable, suite=suite)
    )
    client = JoinReceiver(
        [*keys[25:], "zz"],
        options=JoinOptions(mode="labelled", key_kind="text", verifiable=verifiable, suite=suite),
    )
    setup = server.setup_message()
    assert setup_suite(setup) == suite == server.suite == client.suite
    result = client.finish(setup, server.respond(client.request(setup)))
    assert result.indices.tolist() == list(range(15))
    assert result.payload is not None
    assert result.payload.column("v").to_pylist() == [f"v{i}" for i in range(25, 40)]


def test_verifiable_sessions_default_to_rfc9497() -> None:
    server, client = sessions(verifiable=True)
    assert server.suite == client.suite == "rfc9497"
    plain_server, plain_client = sessions()
    assert plain_server.suite == plain_client.suite == "zone-opt-v1"
    with pytest.raises(InvalidInputError, match="suite"):
        JoinSender(["a"], options=JoinOptions(mode="cardinality", key_kind="text", suite="rfc9497"))
    with pytest.raises(InvalidInputError, match="suite"):
        JoinReceiver(["a"], options=JoinOptions(key_kind="text", suite="rfc9496"))  # type: ignore[arg-type]


def test_verifiable_join_is_an_rfc9497_voprf_session() -> None:
    """The RFC's VerifyProof accepts the sender's proof over the receiver's blinded elements
    and the sender's evaluations, as they travel in the messages."""
    server, client = sessions(verifiable=True)
    setup = server.setup_message()
    request = client.request(setup)
    response = server.respond(request)
    pk = setup[40:72]
    n = int.from_bytes(request[40:48], "little")
    assert n == 30
    blinded = [request[48 + 32 * i : 80 + 32 * i] for i in range(n)]
    evaluated = [response[48 + 32 * i : 80 + 32 * i] for i in range(n)]
    proof = response[48 + 32 * n :]
    assert rfc9497.verify_proof(pk, blinded, evaluated, proof)
    assert not rfc9497.verify_proof(pk, blinded, evaluated[::-1], proof)
    assert client.finish(setup, response).indices.tolist() == list(range(15))


def test_a_client_not_told_a_suite_reads_the_previous_format() -> None:
    """A setup of the previous release's format (zone-opt-v1, no suite flag) is followed by
    a client left on the default suite; a client told a suite refuses the other."""
    keys = [f"k{i}" for i in range(30)]
    old = JoinSender(
        keys,
        options=JoinOptions(
            mode="intersection", key_kind="text", verifiable=True, suite="zone-opt-v1"
        ),
    )
    setup = old.setup_message()
    assert setup[7] & 4 == 0
    assert setup_suite(setup) == "zone-opt-v1"
    follower = JoinReceiver(keys[10:], options=JoinOptions(key_kind="text", verifiable=True))
    request = follower.request(setup)
    assert follower.suite == "zone-opt-v1"
    assert follower.finish(setup, old.respond(request)).indices.tolist() == list(range(20))
    old2 = JoinSender(
        keys, options=JoinOptions(key_kind="text", verifiable=True, suite="zone-opt-v1")
    )
    strict = JoinReceiver(
        keys, options=JoinOptions(key_kind="text", verifiable=True, suite="rfc9497")
    )
    with pytest.raises(InvalidInputError, match="suite"):
        old2.respond(strict.request(old2.setup_message()))


def test_keys_longer_than_finalize_allows_are_refused() -> None:
    """RFC 9497's Finalize encodes the input length in two bytes: 65535 is the longest key."""
    assert JoinReceiver(["a" * 65535], options=JoinOptions(key_kind="text")).suite == "zone-opt-v1"
    with pytest.raises(InvalidInputError) as info:
        JoinSender(["b", "a" * 65536], options=JoinOptions(key_kind="text", verifiable=True))
    assert (info.value.violations[0].field, info.value.violations[0].row) == ("keys", 1)


def test_options_are_checked_when_made() -> None:
    option_cases: tuple[tuple[dict[str, Any], str], ...] = (
        ({"mode": "everything"}, "mode"),
        ({"verifiable": "yes"}, "verifiable"),
        ({"key_kind": "phone"}, "key_kind"),
        ({"protocol": "quantum"}, "protocol"),
        ({"suite": "sha1"}, "suite"),
    )
    for bad, field in option_cases:
        with pytest.raises(InvalidInputError) as info:
            JoinOptions(**bad)
        assert info.value.violations[0].field == field
    query_cases: tuple[tuple[dict[str, Any], str], ...] = (
        ({"mode": "all"}, "mode"),
        ({"columns": "name"}, "columns"),
        ({"columns": 3}, "columns"),
        ({"join": "outer"}, "join"),
    )
    for bad, field in query_cases:
        with pytest.raises(InvalidInputError) as info:
            JoinQuery(**bad)
        assert info.value.violations[0].field == field
    assert JoinQuery(columns=["a"]).columns == ("a",)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError) as info:
        JoinSender(["A"], options={"mode": "sum"})  # type: ignore[arg-type]
    assert info.value.violations[0].field == "options"


def test_old_keyword_options_still_work_and_warn() -> None:
    keys = [f"k{i}" for i in range(20)]
    new = run(keys, [*keys[10:], "x"], "intersection", verifiable=True)
    with pytest.warns(DeprecationWarning, match="JoinSender"):
        server = JoinSender(keys, key_kind="text", verifiable=True)
    with pytest.warns(DeprecationWarning, match=r"JoinReceiver\(\.\.\., key_kind=, verifiable="):
        client = JoinReceiver([*keys[10:], "x"], key_kind="text", verifiable=True)
    setup = server.setup_message()
    old = client.finish(setup, server.respond(client.request(setup)))
    assert old.indices.tolist() == new.indices.tolist() == list(range(10))
    with pytest.raises(InvalidInputError) as info:  # both spellings at once
        JoinSender(keys, options=JoinOptions(), mode="sum")
    assert info.value.violations[0].field == "options"
    with pytest.raises(TypeError, match="unexpected keyword argument 'modes'"):
        JoinReceiver(keys, modes="sum")
