"""JoinService with ``protocol="vole"`` and the receiver's own-key checks: two real
servers, the policy's protocols, quotas and audit, the session's two evaluations, clients
from before the new fields, and what each side sees on the wire."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from zone_opt import _core
from zone_opt.api.v1 import join_pb2, join_pb2_grpc
from zone_opt.cli import main
from zone_opt.client import Client, PeerDataset
from zone_opt.errors import (
    FailedPreconditionError,
    InvalidInputError,
    JoinPolicyError,
    ResourceExhaustedError,
)
from zone_opt.join import JoinOptions, JoinQuery, JoinReceiver, setup_protocol
from zone_opt.join.policy import JoinPolicy
from zone_opt.rpc.join import gather_message, message_chunks, receive_join
from zone_opt.service.storage.jobstore import Database
from zone_opt.service.storage.policies import PolicyStore

BOB = (("authorization", "Bearer token-bob"),)


def _policy(dataset_id: str, **kw: Any) -> JoinPolicy:
    base: dict[str, Any] = {
        "dataset_id": dataset_id,
        "key_column": "enterprise_id",
        "allowed_peers": ("bob",),
        "modes": ("intersection", "cardinality"),
        "quota_per_epoch": 3,
        "protocols": ("dh", "vole"),
    }
    return JoinPolicy(**{**base, **kw})


def _expected(ours: pa.Array | pa.ChunkedArray, theirs: pa.Array | pa.ChunkedArray) -> list[int]:
    common = pc.is_in(ours, value_set=theirs).to_pylist()
    return [i for i, hit in enumerate(common) if hit]


def test_vole_through_both_servers_with_policy_quota_and_audit(
    two_servers: tuple[int, int], sample: Callable[[str], pa.Table]
) -> None:
    sender_port, receiver_port = two_servers
    enterprises = sample("enterprises")
    n = enterprises.num_rows
    theirs, ours = enterprises.slice(0, 2 * n // 3), enterprises.slice(n // 3)
    vole = JoinQuery(protocol="vole")
    with (
        Client(f"127.0.0.1:{sender_port}", token="token-alice") as alice,
        Client(f"127.0.0.1:{sender_port}", token="token-bob") as bob_at_sender,
        Client(f"127.0.0.1:{receiver_port}", token="token-bob") as bob,
    ):
        theirs_id = alice.upload(theirs, "theirs", kind="enterprises")
        policy = _policy(theirs_id)
        assert alice.set_join_policy(policy) == policy
        keys = ours.column("enterprise_id")
        got = bob_at_sender.private_join(keys, theirs_id, query=vole)
        assert got.indices.tolist() == _expected(keys, theirs.column("enterprise_id"))
        assert got.count is None
        assert got.payload is None

        ours_id = bob.upload(ours, "ours", kind="enterprises")
        run = bob.run_join(
            ours_id, "enterprise_id", PeerDataset("sender", theirs_id, "token-bob"), query=vole
        )
        assert run.result_dataset_id is not None
        stored = bob.download(run.result_dataset_id)
        assert run.rows == stored.num_rows == len(got.indices)
        assert sorted(stored.column("enterprise_id").to_pylist()) == sorted(
            keys.take(pa.array(got.indices)).to_pylist()
        )
        # One session is one quota unit, whatever its protocol: 2 VOLE + 1 DH, then no more.
        bob_at_sender.private_join(keys, theirs_id)
        with pytest.raises(ResourceExhaustedError):
            bob_at_sender.private_join(keys, theirs_id, query=vole)

        audit = alice.join_audit(theirs_id)
        evaluated = [e for e in audit if e.outcome == "evaluated"]
        assert sorted(e.protocol for e in evaluated) == ["dh", "vole", "vole"]
        assert all(e.sender_keys == theirs.num_rows for e in evaluated)
        assert all(e.receiver_keys == ours.num_rows for e in evaluated)
        assert all(e.evaluated_s is not None for e in evaluated)
        refused = [e for e in audit if e.outcome.startswith("refused")]
        assert [(e.outcome, e.protocol) for e in refused] == [("refused: quota", "vole")]


def test_a_protocol_the_policy_does_not_list_is_refused_audited_and_free(
    two_servers: tuple[int, int], sample: Callable[[str], pa.Table]
) -> None:
    sender_port, _ = two_servers
    enterprises = sample("enterprises")
    with (
        Client(f"127.0.0.1:{sender_port}", token="token-alice") as alice,
        Client(f"127.0.0.1:{sender_port}", token="token-bob") as bob,
    ):
        theirs_id = alice.upload(enterprises, "theirs", kind="enterprises")
        # A policy that does not name its protocols allows DH only.
        stored = alice.set_join_policy(
            JoinPolicy(theirs_id, "enterprise_id", ("bob",), quota_per_epoch=1)
        )
        assert stored.protocols == ("dh",)
        keys = enterprises.column("enterprise_id").slice(0, 40)
        with pytest.raises(JoinPolicyError, match="protocol vole"):
            bob.private_join(keys, theirs_id, query=JoinQuery(protocol="vole"))
        audit = alice.join_audit(theirs_id)
        assert [(e.outcome, e.protocol, e.mode) for e in audit] == [
            (
                "refused: protocol vole is not allowed on dataset " + theirs_id,
                "vole",
                "intersection",
            )
        ]
        # The refusal spent nothing: the one session of the quota still runs.
        assert bob.private_join(keys, theirs_id).indices.tolist() == list(range(40))


def test_vole_modes_and_unknown_protocols_are_refused_naming_the_field(
    two_servers: tuple[int, int], sample: Callable[[str], pa.Table]
) -> None:
    sender_port, _ = two_servers
    for kwargs in ({"mode": "labelled", "columns": ("name",)}, {"verifiable": True}):
        with pytest.raises(InvalidInputError) as err:
            JoinQuery(protocol="vole", **kwargs)
        assert err.value.violations[0].field == "protocol"
    with pytest.raises(InvalidInputError) as err:
        JoinQuery(protocol="psi")  # type: ignore[arg-type]
    assert err.value.violations[0].field == "protocol"
    with pytest.raises(InvalidInputError) as err:
        JoinQuery(key_kind="bytes")  # type: ignore[arg-type]
    assert err.value.violations[0].field == "key_kind"
    with pytest.raises(InvalidInputError) as err:
        JoinPolicy("d", "k", protocols=("dh", "psi")).check()
    assert (err.value.violations[0].field, err.value.violations[0].row) == ("policy.protocols", 1)
    # The same checks on the server, for a client that does not make them.
    enterprises = sample("enterprises")
    with (
        Client(f"127.0.0.1:{sender_port}", token="token-alice") as alice,
        grpc.insecure_channel(f"127.0.0.1:{sender_port}") as channel,
    ):
        theirs_id = alice.upload(enterprises, "theirs", kind="enterprises")
        alice.set_join_policy(_policy(theirs_id, modes=("labelled",), payload_columns=("name",)))
        stub = join_pb2_grpc.JoinServiceStub(channel)
        bad = [
            (
                join_pb2.OpenJoinSessionRequest(
                    dataset_id=theirs_id,
                    mode=join_pb2.JOIN_MODE_LABELLED,
                    columns=["name"],
                    protocol=join_pb2.JOIN_PROTOCOL_VOLE,
                ),
                "protocol",
            ),
            (
                join_pb2.OpenJoinSessionRequest(
                    dataset_id=theirs_id, mode=join_pb2.JOIN_MODE_LABELLED, key_kind="bytes"
                ),
                "key_kind",
            ),
        ]
        for request, field in bad:
            with pytest.raises(grpc.RpcError) as rpc:
                gather_message(stub.OpenJoinSession(request, metadata=BOB, timeout=30))
            assert rpc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert field in (rpc.value.details() or "")
        assert alice.join_audit(theirs_id) == []


def test_own_keys_are_checked_before_a_session_is_opened(
    two_servers: tuple[int, int], sample: Callable[[str], pa.Table]
) -> None:
    """A bad key fails on the receiver, naming ``keys`` and its row: the sender opens no
    session and counts no quota (directly and through RunJoin)."""
    sender_port, receiver_port = two_servers
    enterprises = sample("enterprises")
    with (
        Client(f"127.0.0.1:{sender_port}", token="token-alice") as alice,
        Client(f"127.0.0.1:{sender_port}", token="token-bob") as bob_at_sender,
        Client(f"127.0.0.1:{receiver_port}", token="token-bob") as bob,
    ):
        theirs_id = alice.upload(enterprises, "theirs", kind="enterprises")
        alice.set_join_policy(_policy(theirs_id, quota_per_epoch=1))
        good = enterprises.column("enterprise_id").slice(0, 5).to_pylist()
        bad = pa.array([*good[:2], "91440300MA5EXAMPLE", *good[2:]])
        for protocol in ("dh", "vole"):
            with pytest.raises(InvalidInputError) as err:
                bob_at_sender.private_join(bad, theirs_id, query=JoinQuery(protocol=protocol))
            assert (err.value.violations[0].field, err.value.violations[0].row) == ("keys", 2)
        # Through RunJoin: the receiver's server checks its tenant's keys the same way.
        ours_id = bob.upload(enterprises.slice(0, 10), "ours", kind="enterprises")
        with pytest.raises(InvalidInputError) as err:
            bob.run_join(ours_id, "name", PeerDataset("sender", theirs_id, "token-bob"))
        assert (err.value.violations[0].field, err.value.violations[0].row) == ("keys", 0)
        assert alice.join_audit(theirs_id) == []  # no session opened, nothing refused
        # The quota of one session is intact.
        got = bob_at_sender.private_join(pa.array(good), theirs_id)
        assert got.indices.tolist() == list(range(5))
        assert [e.outcome for e in alice.join_audit(theirs_id)] == ["evaluated"]


def test_a_key_kind_other_than_the_policys_is_refused_before_opening(
    two_servers: tuple[int, int], sample: Callable[[str], pa.Table]
) -> None:
    sender_port, receiver_port = two_servers
    enterprises = sample("enterprises")
    with (
        Client(f"127.0.0.1:{sender_port}", token="token-alice") as alice,
        Client(f"127.0.0.1:{sender_port}", token="token-bob") as bob_at_sender,
        Client(f"127.0.0.1:{receiver_port}", token="token-bob") as bob,
    ):
        theirs_id = alice.upload(enterprises, "theirs", kind="enterprises")
        alice.set_join_policy(_policy(theirs_id, key_column="name", key_kind="text"))
        names = enterprises.column("name").slice(10, 10)
        for protocol in ("dh", "vole"):
            with pytest.raises(FailedPreconditionError, match="key_kind") as err:
                # Names are not credit codes, so "uscc" keys are refused by the receiver
                # first: give valid codes to reach the server's check.
                bob_at_sender.private_join(
                    enterprises.column("enterprise_id").slice(0, 3),
                    theirs_id,
                    query=JoinQuery(protocol=protocol),
                )
            assert err.value.subject == "key_kind"
        audit = alice.join_audit(theirs_id)
        assert [(e.outcome, e.protocol) for e in audit] == [
            ("refused: key_kind", "vole"),
            ("refused: key_kind", "dh"),
        ]
        text = JoinQuery(protocol="vole", key_kind="text")
        got = bob_at_sender.private_join(names, theirs_id, query=text)
        assert got.indices.tolist() == list(range(10))
        ours_id = bob.upload(enterprises.slice(0, 30), "ours", kind="enterprises")
        run = bob.run_join(
            ours_id, "name", PeerDataset("sender", theirs_id, "token-bob"), query=text
        )
        assert run.rows == 30
        # Quota 3: the two refusals spent none of it.
        assert sum(e.outcome == "evaluated" for e in alice.join_audit(theirs_id)) == 2


def test_clients_from_before_the_protocol_and_key_kind_fields(
    two_servers: tuple[int, int], sample: Callable[[str], pa.Table]
) -> None:
    """An OpenJoinSession or RunJoin without ``protocol`` and ``key_kind`` (an older
    client) runs DH with the policy's key kind, read from the setup, as before."""
    sender_port, receiver_port = two_servers
    enterprises = sample("enterprises")
    with (
        Client(f"127.0.0.1:{sender_port}", token="token-alice") as alice,
        Client(f"127.0.0.1:{receiver_port}", token="token-bob") as bob,
        grpc.insecure_channel(f"127.0.0.1:{sender_port}") as sender_channel,
        grpc.insecure_channel(f"127.0.0.1:{receiver_port}") as receiver_channel,
    ):
        theirs_id = alice.upload(enterprises, "theirs", kind="enterprises")
        alice.set_join_policy(_policy(theirs_id, key_column="name", key_kind="text"))
        stub = join_pb2_grpc.JoinServiceStub(sender_channel)
        old_open = join_pb2.OpenJoinSessionRequest(
            dataset_id=theirs_id, mode=join_pb2.JOIN_MODE_INTERSECTION
        )
        session_id, setup = gather_message(stub.OpenJoinSession(old_open, metadata=BOB, timeout=30))
        assert setup_protocol(setup) == "dh"
        receiver = JoinReceiver(
            enterprises.column("name").slice(0, 7), options=JoinOptions(key_kind="text")
        )
        _, response = gather_message(
            stub.EvaluateJoin(
                message_chunks(session_id, receiver.request(setup)), metadata=BOB, timeout=30
            )
        )
        assert receiver.finish(setup, response).indices.tolist() == list(range(7))
        ours_id = bob.upload(enterprises.slice(0, 12), "ours", kind="enterprises")
        old_run = join_pb2.RunJoinRequest(
            left_dataset_id=ours_id,
            on="name",
            peer="sender",
            peer_token="token-bob",
            peer_dataset_id=theirs_id,
            mode=join_pb2.JOIN_MODE_INTERSECTION,
        )
        response_run = join_pb2_grpc.JoinServiceStub(receiver_channel).RunJoin(
            old_run, metadata=BOB, timeout=60
        )
        assert response_run.rows == 12
        audit = alice.join_audit(theirs_id)
        assert [(e.outcome, e.protocol) for e in audit] == [("evaluated", "dh")] * 2


def test_a_vole_session_answers_its_request_then_its_correction_once(
    two_servers: tuple[int, int], sample: Callable[[str], pa.Table]
) -> None:
    """The sender's state machine over gRPC: out of order, replayed, another peer's or a
    third message is refused; a refused message closes the session."""
    sender_port, _ = two_servers
    enterprises = sample("enterprises")
    keys = enterprises.column("enterprise_id").slice(0, 20)
    with (
        Client(f"127.0.0.1:{sender_port}", token="token-alice") as alice,
        grpc.insecure_channel(f"127.0.0.1:{sender_port}") as channel,
    ):
        theirs_id = alice.upload(enterprises, "theirs", kind="enterprises")
        alice.set_join_policy(_policy(theirs_id, quota_per_epoch=10))
        stub = join_pb2_grpc.JoinServiceStub(channel)
        open_vole = join_pb2.OpenJoinSessionRequest(
            dataset_id=theirs_id,
            mode=join_pb2.JOIN_MODE_INTERSECTION,
            protocol=join_pb2.JOIN_PROTOCOL_VOLE,
            key_kind="uscc",
        )

        def evaluate(session_id: str, message: bytes, token: str = "token-bob") -> bytes:
            metadata = (("authorization", f"Bearer {token}"),)
            return gather_message(
                stub.EvaluateJoin(
                    message_chunks(session_id, message), metadata=metadata, timeout=30
                )
            )[1]

        session_id, setup = gather_message(
            stub.OpenJoinSession(open_vole, metadata=BOB, timeout=30)
        )
        receiver = JoinReceiver(keys, options=JoinOptions(protocol="vole"))
        request = receiver.request(setup)
        with pytest.raises(grpc.RpcError) as rpc:
            evaluate(session_id, request, token="token-alice")  # not the session's peer
        assert rpc.value.code() == grpc.StatusCode.NOT_FOUND
        vole = evaluate(session_id, request)
        with pytest.raises(grpc.RpcError) as rpc:
            evaluate(session_id, request)  # the request again: out of order
        assert rpc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        with pytest.raises(grpc.RpcError) as rpc:
            evaluate(session_id, receiver.correction(vole))  # the refusal closed it
        assert rpc.value.code() == grpc.StatusCode.NOT_FOUND

        session_id, setup = gather_message(
            stub.OpenJoinSession(open_vole, metadata=BOB, timeout=30)
        )
        receiver = JoinReceiver(keys, options=JoinOptions(protocol="vole"))
        vole = evaluate(session_id, receiver.request(setup))
        correction = receiver.correction(vole)
        response = evaluate(session_id, correction)
        assert receiver.finish(setup, response).indices.tolist() == list(range(20))
        with pytest.raises(grpc.RpcError) as rpc:
            evaluate(session_id, correction)  # a third message: the session is over
        assert rpc.value.code() == grpc.StatusCode.NOT_FOUND
        outcomes = sorted(e.outcome for e in alice.join_audit(theirs_id))
        assert outcomes == ["evaluated", "opened"]


def test_policies_and_audit_rows_from_before_the_protocol_read_as_dh(tmp_path: Path) -> None:
    db = Database(tmp_path / "old.sqlite")
    with db.transaction() as conn:  # the tables as an earlier release made them
        conn.execute(
            "CREATE TABLE join_policies (dataset_id TEXT PRIMARY KEY, tenant TEXT NOT NULL, "
            "policy TEXT NOT NULL, updated_s REAL NOT NULL)"
        )
        conn.execute(
            "CREATE TABLE join_audit (session_id TEXT PRIMARY KEY, dataset_id TEXT NOT NULL, "
            "owner TEXT NOT NULL, peer TEXT NOT NULL, mode TEXT NOT NULL, columns TEXT NOT "
            "NULL, sender_keys INTEGER NOT NULL, receiver_keys INTEGER NOT NULL DEFAULT 0, "
            "opened_s REAL NOT NULL, evaluated_s REAL, outcome TEXT NOT NULL)"
        )
        old = {
            "dataset_id": "d1",
            "key_column": "k",
            "allowed_peers": ["bob"],
            "modes": ["intersection"],
            "payload_columns": [],
            "quota_per_epoch": 1,
            "epoch_seconds": 86400,
            "min_intersection": 1,
            "key_kind": "uscc",
        }
        conn.execute("INSERT INTO join_policies VALUES ('d1', 'alice', ?, 0)", (json.dumps(old),))
        conn.execute(
            "INSERT INTO join_audit VALUES ('s1', 'd1', 'alice', 'bob', 'intersection', '[]', "
            "10, 5, ?, NULL, 'opened')",
            (time.time(),),
        )
    store = PolicyStore(db)
    owner, policy = store.get("d1")
    assert (owner, policy.protocols) == ("alice", ("dh",))
    [entry] = store.audit("alice", "d1", 10)
    assert (entry.session_id, entry.protocol) == ("s1", "dh")


# --- what each side sees on the wire --------------------------------------------------


class _Recorder(grpc.UnaryStreamClientInterceptor, grpc.StreamStreamClientInterceptor):
    """Every message of every join call, serialised as it travels: ``(method, direction,
    bytes)``, and the protocol message each call carried each way."""

    def __init__(self) -> None:
        self.wire: list[tuple[str, str, bytes]] = []
        self.calls: list[tuple[str, bytes, bytes]] = []

    def _tap(
        self, method: str, direction: str, items: Iterator[Any], into: list[bytes]
    ) -> Iterator[Any]:
        for item in items:
            self.wire.append((method, direction, item.SerializeToString()))
            if isinstance(item, join_pb2.JoinMessageChunk):
                into.append(item.data)
            yield item

    def _call(self, method: str, sent: list[bytes], responses: Iterator[Any]) -> Iterator[Any]:
        received: list[bytes] = []
        yield from self._tap(method, "in", responses, received)
        self.calls.append((method.rsplit("/", 1)[-1], b"".join(sent), b"".join(received)))

    def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        self.wire.append((details.method, "out", request.SerializeToString()))
        return self._call(details.method, [], continuation(details, request))

    def intercept_stream_stream(
        self, continuation: Any, details: Any, request_iterator: Iterator[Any]
    ) -> Any:
        sent: list[bytes] = []
        tapped = self._tap(details.method, "out", request_iterator, sent)
        return self._call(details.method, sent, continuation(details, tapped))


def _ceil_log2(n: int) -> int:
    return (max(n, 2) - 1).bit_length()


def _vole_sizes(n_r: int, n_s: int) -> list[int]:
    """docs/join-vole.md's message sizes for distinct set sizes ``n_r`` and ``n_s``: the
    40-byte header, then setup (|Y|, 128 base-OT points), request (|X|, a point, the IKNP
    matrix of ceil(t (h + 128) / 128) * 128 OTs), vole (2h + 1 values per block),
    correction (seed and m values), response (tag length, count, |Y| tags)."""
    m = n_r + n_r // 9 + 136
    t = min(400, m)
    h = _ceil_log2(max(-(-2 * m // t), 2))
    cots = -(-t * (h + 128) // 128) * 128
    tag = min(16, -(-(40 + _ceil_log2(n_r) + _ceil_log2(n_s)) // 8))
    return [
        40 + 8 + 128 * 64,
        40 + 8 + 32 + 16 * cots,
        40 + 16 * t * (2 * h + 1),
        40 + 16 * (m + 1),
        40 + 1 + 8 + tag * n_s,
    ]


def _key_hashes(keys: list[str]) -> list[bytes]:
    """The engine's 16-byte hash of each canonical key (what the OKVS is built on)."""
    column = pa.array(keys, pa.large_string())
    offsets = np.frombuffer(column.buffers()[1], np.int64)[: len(keys) + 1].copy()
    data = np.frombuffer(column.buffers()[2], np.uint8).copy()
    hashes, _ = _core.VoleStreamSender(True, 1).hash_batch(offsets, data, 0)
    return [bytes(h) for h in hashes.reshape(-1, 16)]


def _transcript(port: int, keys: pa.ChunkedArray, dataset_id: str) -> tuple[list[int], _Recorder]:
    recorder = _Recorder()
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = join_pb2_grpc.JoinServiceStub(grpc.intercept_channel(channel, recorder))
        result = receive_join(stub, BOB, keys, dataset_id, JoinQuery(protocol="vole"))
    return result.indices.tolist(), recorder


def test_what_each_side_sees_over_grpc_is_what_the_vole_note_says(
    two_servers: tuple[int, int], sample: Callable[[str], pa.Table]
) -> None:
    """docs/join-vole.md, "What each side learns", checked on the gRPC transcript: the
    sender gets |X| and masked values, the receiver |Y| and one tag per sender key; no
    message holds a key, a plain hash of a key or the engine's key hash, and the tags are
    sorted and fresh per session; each message has the documented size."""
    sender_port, _ = two_servers
    enterprises = sample("enterprises")
    n = enterprises.num_rows
    theirs, ours = enterprises.slice(0, 1200), enterprises.slice(800, n - 800)
    with Client(f"127.0.0.1:{sender_port}", token="token-alice") as alice:
        theirs_id = alice.upload(theirs, "theirs", kind="enterprises")
        alice.set_join_policy(_policy(theirs_id, quota_per_epoch=5))
        keys = ours.column("enterprise_id")
        first, recorder = _transcript(sender_port, keys, theirs_id)
        again, recorder2 = _transcript(sender_port, keys, theirs_id)
        audit = alice.join_audit(theirs_id)
    assert first == again == _expected(keys, theirs.column("enterprise_id"))
    n_r, n_s = ours.num_rows, theirs.num_rows
    assert {e.receiver_keys for e in audit} == {n_r}  # what the sender learned: |X|

    # Three calls: OpenJoinSession (setup), EvaluateJoin (request -> vole), EvaluateJoin
    # (correction -> response); the messages in order, with their documented sizes.
    names = [name for name, _, _ in recorder.calls]
    assert names == ["OpenJoinSession", "EvaluateJoin", "EvaluateJoin"]
    (_, _, setup), (_, request, vole), (_, correction, response) = recorder.calls
    assert [len(m) for m in (setup, request, vole, correction, response)] == _vole_sizes(n_r, n_s)
    assert int.from_bytes(setup[40:48], "little") == n_s  # what the receiver learns: |Y|
    assert int.from_bytes(request[40:48], "little") == n_r
    assert [m[5] for m in (setup, request, vole, correction, response)] == [1, 2, 3, 4, 5]
    # The open request says what is asked, and nothing of the keys.
    open_sent = [b for method, way, b in recorder.wire if way == "out" and "Open" in method]
    assert len(open_sent) == 1
    parsed = join_pb2.OpenJoinSessionRequest.FromString(open_sent[0])
    assert parsed == join_pb2.OpenJoinSessionRequest(
        dataset_id=theirs_id,
        mode=join_pb2.JOIN_MODE_INTERSECTION,
        protocol=join_pb2.JOIN_PROTOCOL_VOLE,
        key_kind="uscc",
    )

    every_key = theirs.column("enterprise_id").to_pylist() + keys.to_pylist()
    needles = {k.encode() for k in every_key}
    needles |= {k.lower().encode() for k in every_key}
    for k in every_key:
        for digest in (hashlib.sha256, hashlib.sha512, hashlib.blake2b):
            needles.add(digest(k.encode()).digest()[:8])
    needles |= {h[:8] for h in _key_hashes(every_key)}
    needles |= {h[8:] for h in _key_hashes(every_key)}
    wire = b"\0".join(b for _, _, b in recorder.wire + recorder2.wire)
    for width in {len(x) for x in needles}:
        windows = {wire[i : i + width] for i in range(len(wire) - width + 1)}
        assert not (windows & {x for x in needles if len(x) == width})

    # The sender's tags: sorted (a random order) and fresh per session, so a tag links
    # nothing across sessions.
    def tags(message: bytes) -> list[bytes]:
        width, count = message[40], int.from_bytes(message[41:49], "little")
        assert count == n_s
        return [message[49 + i * width : 49 + (i + 1) * width] for i in range(count)]

    first_tags, second_tags = tags(response), tags(recorder2.calls[2][2])
    assert [int.from_bytes(t, "little") for t in first_tags] == sorted(
        int.from_bytes(t, "little") for t in first_tags
    )
    assert not set(first_tags) & set(second_tags)
    # The receiver's messages hold no tag of the sender's (nothing it learned flows back).
    sent_by_receiver = request + correction
    assert not any(t in sent_by_receiver for t in first_tags[:200])


def test_the_cli_joins_with_vole(
    two_servers: tuple[int, int],
    sample: Callable[[str], pa.Table],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sender_port, _ = two_servers
    enterprises = sample("enterprises")
    n = enterprises.num_rows
    theirs, ours = enterprises.slice(0, n // 2), enterprises.slice(n // 4)
    with Client(f"127.0.0.1:{sender_port}", token="token-alice") as alice:
        theirs_id = alice.upload(theirs, "theirs", kind="enterprises")
        alice.set_join_policy(_policy(theirs_id))
        left, out = tmp_path / "left.parquet", tmp_path / "joined.parquet"
        pq.write_table(ours.select(["enterprise_id", "name"]), left)
        argv = [
            "join", "--left", str(left), "--on", "enterprise_id",
            "--peer", f"127.0.0.1:{sender_port}", "--dataset", theirs_id,
            "--protocol", "vole", "--token", "token-bob", "--out", str(out),
        ]  # fmt: skip
        assert main(argv) == 0
        assert [e.protocol for e in alice.join_audit(theirs_id)] == ["vole"]
    joined = pq.read_table(out).column("enterprise_id").to_pylist()
    keys = ours.column("enterprise_id")
    assert sorted(joined) == sorted(
        keys.take(pa.array(_expected(keys, theirs.column("enterprise_id")))).to_pylist()
    )
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["rows"] == len(joined)
    # VOLE computes the intersection only: the CLI refuses another mode before any session.
    assert main([*argv[:-2], "--mode", "cardinality"]) == 2
