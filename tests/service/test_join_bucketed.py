"""Bucketed private joins over gRPC (``OpenJoinSessionRequest.buckets``, GetJoinSetupPart,
``RunJoinRequest.buckets``, ``zone-opt join --buckets``): the same rows as plain set
operations and the in-memory protocol, the sender's spill files removed when a session
ends, retries answered with the same bytes, and bad requests refused naming the field
without spending quota."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import grpc
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from distributed_cases import Spy

from zone_opt.api.v1 import join_pb2, join_pb2_grpc
from zone_opt.cli import main
from zone_opt.cli.join_buckets import auto_buckets
from zone_opt.client import Client, PeerDataset
from zone_opt.distributed import RayExecutor, executor
from zone_opt.errors import (
    FailedPreconditionError,
    InvalidInputError,
    NotFoundError,
    ResourceExhaustedError,
    ZoneOptError,
)
from zone_opt.join import StreamingJoinReceiver
from zone_opt.join.options import Protocol
from zone_opt.join.policy import JoinPolicy
from zone_opt.rpc.join import gather_message, message_chunks
from zone_opt.rpc.status import from_rpc_error
from zone_opt.service.server import Server

S = TypeVar("S")
T = TypeVar("T")
R = TypeVar("R")
BOB = (("authorization", "Bearer token-bob"),)


def _policy(dataset_id: str, **kw: Any) -> JoinPolicy:
    base: dict[str, Any] = {
        "dataset_id": dataset_id,
        "key_column": "enterprise_id",
        "allowed_peers": ("bob",),
        "modes": ("intersection",),
        "quota_per_epoch": 20,
        "protocols": ("dh", "vole"),
    }
    return JoinPolicy(**{**base, **kw})


def _publish(alice: Client, theirs: pa.Table, **policy: Any) -> str:
    """``theirs`` stored as alice's dataset with a join policy for bob; its id."""
    theirs_id = alice.upload(theirs, "theirs", kind="enterprises")
    alice.set_join_policy(_policy(theirs_id, **policy))
    return theirs_id


def _tables(enterprises: pa.Table) -> tuple[pa.Table, pa.Table]:
    """Theirs: the first two thirds; ours: the last two thirds, a stretch of it twice (so
    the receiver holds duplicate keys)."""
    n = enterprises.num_rows
    theirs = enterprises.slice(0, 2 * n // 3)
    ours = pa.concat_tables([enterprises.slice(n // 3), enterprises.slice(n // 2, 50)])
    return theirs, ours.combine_chunks()


def _expected(ours: pa.Table, theirs: pa.Table) -> list[int]:
    hits = pc.is_in(ours.column("enterprise_id"), value_set=theirs.column("enterprise_id"))
    return np.flatnonzero(hits.to_numpy(zero_copy_only=False)).tolist()


def _spilled(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "sender" / "join-spill").glob("zone-opt-psi-*"))


@pytest.mark.parametrize(("protocol", "buckets"), [("dh", 1), ("dh", 16), ("dh", 256), ("vole", 4)])
def test_bucketed_join_equals_plain_sets_and_the_in_memory_join(
    tmp_path: Path,
    two_servers: tuple[int, int],
    sample: Callable[[str], pa.Table],
    protocol: Protocol,
    buckets: int,
) -> None:
    sender_port, _ = two_servers
    theirs, ours = _tables(sample("enterprises"))
    with (
        Client(f"127.0.0.1:{sender_port}", token="token-alice") as alice,
        Client(f"127.0.0.1:{sender_port}", token="token-bob") as bob,
    ):
        theirs_id = _publish(alice, theirs)
        got = bob.bucketed_join(
            ours, "enterprise_id", theirs_id, buckets=buckets, protocol=protocol, batch_rows=300
        )
        expected = _expected(ours, theirs)
        assert len(expected) > 500
        assert got.indices.tolist() == expected
        assert bob.private_join(ours.column("enterprise_id"), theirs_id).indices.tolist() == (
            expected
        )
        audit = alice.join_audit(theirs_id)
        assert [e.outcome for e in audit] == ["evaluated", "evaluated"]
        bucketed = audit[1]
        assert (bucketed.protocol, bucketed.sender_keys) == (protocol, theirs.num_rows)
        distinct = len(set(ours.column("enterprise_id").to_pylist()))
        if protocol == "dh":
            assert bucketed.receiver_keys == distinct
        else:  # each bucket padded to one bound of the distinct count
            assert bucketed.receiver_keys >= distinct
    assert _spilled(tmp_path) == []


def test_bucketed_join_from_a_parquet_file_on_the_receivers_executor(
    tmp_path: Path, two_servers: tuple[int, int], sample: Callable[[str], pa.Table]
) -> None:
    sender_port, _ = two_servers
    theirs, ours = _tables(sample("enterprises"))
    path = tmp_path / "ours.parquet"
    pq.write_table(ours, path, row_group_size=200)
    threads = executor("local", workers=2)
    with (
        Client(f"127.0.0.1:{sender_port}", token="token-alice") as alice,
        Client(f"127.0.0.1:{sender_port}", token="token-bob") as bob,
    ):
        theirs_id = _publish(alice, theirs)
        got = bob.bucketed_join(
            path, "enterprise_id", theirs_id, buckets=8, executor=threads, spill_dir=tmp_path
        )
    threads.close()
    assert got.indices.tolist() == _expected(ours, theirs)
    assert list(tmp_path.glob("zone-opt-psi-*")) == []  # the receiver's spill removed too


def test_run_join_bucketed_through_both_servers(
    two_servers: tuple[int, int], sample: Callable[[str], pa.Table]
) -> None:
    sender_port, receiver_port = two_servers
    theirs, ours = _tables(sample("enterprises"))
    with (
        Client(f"127.0.0.1:{sender_port}", token="token-alice") as alice,
        Client(f"127.0.0.1:{receiver_port}", token="token-bob") as bob,
    ):
        theirs_id = _publish(alice, theirs)
        ours = ours.slice(0, ours.num_rows - 50)  # an enterprises dataset has unique ids
        ours_id = bob.upload(ours, "ours", kind="enterprises")
        there = PeerDataset("sender", theirs_id, "token-bob")
        bucketed = bob.run_join(ours_id, "enterprise_id", there, buckets=32)
        in_memory = bob.run_join(ours_id, "enterprise_id", there)
        assert bucketed.result_dataset_id is not None
        assert in_memory.result_dataset_id is not None
        rows = bob.download(bucketed.result_dataset_id)
        assert rows.equals(bob.download(in_memory.result_dataset_id))
        assert rows.num_rows == bucketed.rows == len(_expected(ours, theirs))
        with pytest.raises(InvalidInputError) as err:
            bob.run_join(ours_id, "enterprise_id", there, buckets=12)
        assert err.value.violations[0].field == "buckets"
        assert [e.outcome for e in alice.join_audit(theirs_id)] == ["evaluated"] * 2


def _open(stub: join_pb2_grpc.JoinServiceStub, **fields: Any) -> tuple[str, bytes]:
    request = join_pb2.OpenJoinSessionRequest(**fields)
    try:
        return gather_message(stub.OpenJoinSession(request, metadata=BOB, timeout=30))
    except grpc.RpcError as exc:
        raise from_rpc_error(exc) from None


def _evaluate(stub: join_pb2_grpc.JoinServiceStub, session_id: str, message: bytes) -> bytes:
    try:
        chunks = stub.EvaluateJoin(message_chunks(session_id, message), metadata=BOB, timeout=30)
        return gather_message(chunks)[1]
    except grpc.RpcError as exc:
        raise from_rpc_error(exc) from None


def _part(stub: join_pb2_grpc.JoinServiceStub, session_id: str, bucket: int) -> bytes:
    request = join_pb2.GetJoinSetupPartRequest(session_id=session_id, bucket=bucket)
    try:
        return gather_message(stub.GetJoinSetupPart(request, metadata=BOB, timeout=30))[1]
    except grpc.RpcError as exc:
        raise from_rpc_error(exc) from None


def _field(call: Callable[[], object], error: type[ZoneOptError] = InvalidInputError) -> str:
    with pytest.raises(error) as err:
        call()
    value = err.value
    if isinstance(value, InvalidInputError):
        return value.violations[0].field
    assert isinstance(value, FailedPreconditionError)
    return value.subject


def test_bad_bucketed_requests_are_refused_naming_the_field(
    tmp_path: Path, two_servers: tuple[int, int], sample: Callable[[str], pa.Table]
) -> None:
    sender_port, _ = two_servers
    theirs, ours = _tables(sample("enterprises"))
    with (
        Client(f"127.0.0.1:{sender_port}", token="token-alice") as alice,
        grpc.insecure_channel(f"127.0.0.1:{sender_port}") as channel,
    ):
        theirs_id = _publish(alice, theirs, modes=("intersection", "cardinality"))
        stub = join_pb2_grpc.JoinServiceStub(channel)
        base = {"dataset_id": theirs_id, "mode": join_pb2.JOIN_MODE_INTERSECTION}
        uscc = {**base, "key_kind": "uscc"}
        assert _field(lambda: _open(stub, **uscc, buckets=3)) == "buckets"
        assert _field(lambda: _open(stub, **uscc, buckets=1 << 17)) == "buckets"
        assert _field(lambda: _open(stub, **base, buckets=4)) == "key_kind"
        assert _field(lambda: _open(stub, **uscc, buckets=4, verifiable=True)) == "verifiable"
        cardinality = {**uscc, "mode": join_pb2.JOIN_MODE_CARDINALITY}
        assert _field(lambda: _open(stub, **cardinality, buckets=4)) == "mode"
        text = {**base, "key_kind": "text"}
        assert _field(lambda: _open(stub, **text, buckets=4), FailedPreconditionError) == (
            "key_kind"
        )
        assert [e.outcome for e in alice.join_audit(theirs_id)] == ["refused: key_kind"]

        # A session driven by hand: parts in order, a retry answered with the same bytes.
        session_id, setup = _open(stub, **uscc, buckets=4)
        assert setup == b""
        assert _field(lambda: _part(stub, session_id, 4)) == "bucket"
        assert _field(lambda: _part(stub, session_id, 1), FailedPreconditionError) == "bucket"
        with StreamingJoinReceiver(ours, "enterprise_id", buckets=4) as receiver:
            answers: dict[bytes, bytes] = {}

            def respond(message: bytes) -> bytes:
                answer = _evaluate(stub, session_id, message)
                assert _evaluate(stub, session_id, message) == answer  # a retry: same bytes
                answers[message] = answer
                return answer

            receiver.exchange(respond)
            assert len(answers) == 4
            first = _part(stub, session_id, 0)
            assert _part(stub, session_id, 0) == first  # the last part again
            parts = [first, *(_part(stub, session_id, b) for b in (1, 2, 3))]
            got = receiver.finish(parts)
        assert got.indices.tolist() == _expected(ours, theirs)
        # Done: the session is closed and its spill files gone.
        with pytest.raises(NotFoundError):
            _part(stub, session_id, 3)
        assert _spilled(tmp_path) == []
        # An in-memory session has no setup parts.
        memory_id, _ = _open(stub, **uscc)
        assert _field(lambda: _part(stub, memory_id, 0), FailedPreconditionError) == ("session_id")


def test_cli_join_bucketed_writes_the_same_rows(
    tmp_path: Path,
    two_servers: tuple[int, int],
    sample: Callable[[str], pa.Table],
    capsys: pytest.CaptureFixture[str],
) -> None:
    sender_port, _ = two_servers
    theirs, ours = _tables(sample("enterprises"))
    left = tmp_path / "ours.parquet"
    pq.write_table(ours, left, row_group_size=256)
    with Client(f"127.0.0.1:{sender_port}", token="token-alice") as alice:
        theirs_id = _publish(alice, theirs)
    common = ["join", "--left", str(left), "--on", "enterprise_id"]
    common += ["--peer", f"127.0.0.1:{sender_port}", "--dataset", theirs_id]
    common += ["--token", "token-bob"]
    assert main([*common, "--out", str(tmp_path / "plain.parquet")]) == 0
    for protocol, buckets in (("dh", "16"), ("vole", "2")):
        out = tmp_path / f"{protocol}.parquet"
        argv = [*common, "--buckets", buckets, "--protocol", protocol, "--out", str(out)]
        assert main(argv) == 0
        assert json.loads(capsys.readouterr().out.splitlines()[-1])["buckets"] == int(buckets)
        assert pq.read_table(out).equals(pq.read_table(tmp_path / "plain.parquet"))
    assert pq.read_table(out).num_rows == len(_expected(ours, theirs))


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (["--buckets", "3"], "--buckets"),
        (["--buckets", "0"], "--buckets"),
        (["--buckets", "4", "--mode", "cardinality"], "--mode intersection"),
        (["--buckets", "4", "--verifiable"], "--verifiable"),
        (["--executor", "ray", "--protocol", "vole"], "--protocol dh"),
        (["--spill-dir", "/tmp"], "--spill-dir"),
    ],
)
def test_cli_join_bucketed_flags_are_checked_before_anything_runs(
    tmp_path: Path, flags: list[str], named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    left = tmp_path / "ours.parquet"
    pq.write_table(pa.table({"enterprise_id": ["a"]}), left)
    argv = ["join", "--left", str(left), "--on", "enterprise_id", "--peer", "127.0.0.1:9"]
    argv += ["--dataset", "d", "--out", str(tmp_path / "o.parquet"), *flags]
    assert main(argv) == 2
    assert named in capsys.readouterr().err
    assert not (tmp_path / "o.parquet").exists()


def test_auto_buckets_follow_the_file_size() -> None:
    assert [auto_buckets(n) for n in (0, 1, 1 << 20, (1 << 24) + 1, 1 << 40)] == [
        16,
        16,
        16,
        32,
        65536,
    ]
    assert auto_buckets(1 << 30) == 1024


@pytest.mark.ray
def test_bucketed_session_on_the_senders_ray_equals_plain_sets(
    tmp_path: Path,
    ray_cluster: str,
    start: Callable[..., tuple[Server, int]],
    sample: Callable[[str], pa.Table],
) -> None:
    """A server started with a Ray address runs a bucketed DH session's record batches and
    buckets as tasks on its cluster (the session secret sealed to each worker), with the
    rows of plain set operations; the receiver runs in its own process."""
    server, port = start(tmp_path / "sender", ray_address=ray_cluster)
    try:
        assert isinstance(server.executor, RayExecutor)
        spy = Spy(server.executor)
        server.join_sessions.executor = spy
        theirs, ours = _tables(sample("enterprises"))
        with (
            Client(f"127.0.0.1:{port}", token="token-alice") as alice,
            Client(f"127.0.0.1:{port}", token="token-bob") as bob,
        ):
            theirs_id = _publish(alice, theirs)
            got = bob.bucketed_join(ours, "enterprise_id", theirs_id, buckets=16, batch_rows=400)
        assert got.indices.tolist() == _expected(ours, theirs)
        names = {fn for fn, _ in spy.rounds}
        assert {"sender_tags", "sender_setup", "sender_respond"} <= names
        assert _spilled(tmp_path) == []
    finally:
        server.stop(0.5)


@pytest.mark.ray
def test_cli_join_on_the_receivers_ray_writes_the_same_rows(
    tmp_path: Path,
    ray_cluster: str,
    two_servers: tuple[int, int],
    sample: Callable[[str], pa.Table],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``zone-opt join --executor ray``: the receiver's batches and buckets on its Ray
    cluster (buckets chosen from the file: 16), the rows of the in-memory join."""
    sender_port, _ = two_servers
    theirs, ours = _tables(sample("enterprises"))
    left = tmp_path / "ours.parquet"
    pq.write_table(ours, left, row_group_size=256)
    with Client(f"127.0.0.1:{sender_port}", token="token-alice") as alice:
        theirs_id = _publish(alice, theirs)
    argv = ["join", "--left", str(left), "--on", "enterprise_id", "--token", "token-bob"]
    argv += ["--peer", f"127.0.0.1:{sender_port}", "--dataset", theirs_id]
    assert main([*argv, "--out", str(tmp_path / "plain.parquet")]) == 0
    out = tmp_path / "ray.parquet"
    assert main([*argv, "--out", str(out), "--executor", "ray", "--ray-address", ray_cluster]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["buckets"] == 16
    assert pq.read_table(out).equals(pq.read_table(tmp_path / "plain.parquet"))


def test_idle_bucketed_sessions_expire_and_the_running_ones_are_capped(
    tmp_path: Path, start: Callable[..., tuple[Server, int]], sample: Callable[[str], pa.Table]
) -> None:
    """A session idle past the TTL is gone with its spill files; past ``max_bucketed``
    open sessions a new one is RESOURCE_EXHAUSTED and spends no quota."""
    server, port = start(tmp_path / "sender")
    try:
        theirs, _ = _tables(sample("enterprises"))
        sessions = server.join_sessions
        sessions.max_bucketed = 1
        with (
            Client(f"127.0.0.1:{port}", token="token-alice") as alice,
            grpc.insecure_channel(f"127.0.0.1:{port}") as channel,
        ):
            theirs_id = _publish(alice, theirs)
            stub = join_pb2_grpc.JoinServiceStub(channel)
            uscc = {"dataset_id": theirs_id, "key_kind": "uscc", "buckets": 4}
            uscc["mode"] = join_pb2.JOIN_MODE_INTERSECTION
            first, _ = _open(stub, **uscc)
            assert len(_spilled(tmp_path)) == 1
            with pytest.raises(ResourceExhaustedError, match="1 bucketed join sessions"):
                _open(stub, **uscc)
            assert [e.outcome for e in alice.join_audit(theirs_id)] == ["opened"]
            sessions.ttl_s = 0.2
            time.sleep(0.5)
            with pytest.raises(NotFoundError):
                _part(stub, first, 0)
            assert _spilled(tmp_path) == []
            sessions.ttl_s = 600.0
            second, _ = _open(stub, **uscc)  # the slot is free again
            assert second != first
            assert len(_spilled(tmp_path)) == 1
    finally:
        server.stop(0.5)
    assert _spilled(tmp_path) == []  # a stopping server removes its sessions' spill
