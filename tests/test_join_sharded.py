"""Streaming PSI with each party's buckets on an executor (``executor=``, threads here):
the indices equal the in-memory protocol and today's streaming path; the session secret
travels only sealed to a worker's key; retried tasks give the same bytes and the sender
answers each bucket once; an interrupted exchange resumes from the manifest."""

from __future__ import annotations

import contextlib
import os
import pickle
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pytest
from join_sharded_cases import CLIENT_KEYS, SERVER_KEYS, in_memory, streamed, table

from zone_opt import _core
from zone_opt.distributed import Executor, LocalExecutor
from zone_opt.errors import InvalidInputError
from zone_opt.join import StreamingJoinReceiver, StreamingJoinSender, sharded
from zone_opt.join.sharded import NeedsKey, Sealed

S = TypeVar("S")
T = TypeVar("T")
R = TypeVar("R")


class RecordingExecutor:
    """:class:`LocalExecutor` that pickles every round's function, shared context and
    items, as a Ray executor would ship them."""

    def __init__(self) -> None:
        self._inner = LocalExecutor(2)
        self.shipped: list[bytes] = []

    name = "recording"
    workers = 2
    remote = True

    def map(self, fn: Callable[[S, T], R], shared: S, items: Sequence[T]) -> list[R]:
        self.shipped.append(pickle.dumps((fn, shared, list(items))))
        return self._inner.map(fn, shared, items)

    def close(self) -> None:
        pass


@pytest.mark.parametrize("buckets", [1, 16, 256])
def test_indices_equal_the_in_memory_protocol_and_the_streaming_path(buckets: int) -> None:
    want = in_memory()
    theirs = {k.upper() for k in SERVER_KEYS}
    assert want.tolist() == [i for i, k in enumerate(CLIENT_KEYS) if k.strip().upper() in theirs]
    assert len(want) == 1000 + 7  # 4002..6999 step 3, and 6990..7008 step 3 again
    today, _, _ = streamed(buckets, None)
    got, server, client = streamed(buckets, LocalExecutor(2))
    assert np.array_equal(got, want)
    assert np.array_equal(today, want)
    assert server.receiver_count == len({k.strip().upper() for k in CLIENT_KEYS})
    # One worker process here: one key, the secret sealed to it once per party.
    assert server._sharded is not None
    assert server._sharded.sealer.workers_sealed == 1
    assert client._sharded is not None
    assert client._sharded.sealer.workers_sealed == 1
    assert server._sharded.answers.evaluated == buckets


def _secrets(party: StreamingJoinSender | StreamingJoinReceiver) -> list[bytes]:
    """The party's plaintext session secret and its 32-byte secret values, opened here
    with a key of this test (never given to the executor)."""
    key = _core.SealKey()
    if isinstance(party, StreamingJoinSender):
        assert isinstance(party._core, _core.JoinStreamSender)
        plain = key.open(_core.JOIN_STREAM_SENDER_SEAL_LABEL, party._core.seal_to(key.public))
    else:
        assert isinstance(party._core, _core.JoinStreamReceiver)
        plain = key.open(_core.JOIN_STREAM_RECEIVER_SEAL_LABEL, party._core.seal_to(key.public))
    return [plain] + [plain[i : i + 32] for i in range(21, len(plain), 32)]


def test_the_secret_is_shipped_sealed_never_in_plaintext() -> None:
    recorder = RecordingExecutor()
    got, server, client = streamed(16, recorder)
    assert np.array_equal(got, in_memory())
    secrets = _secrets(server) + _secrets(client)
    assert [len(s) for s in secrets] == [53, 32, 85, 32, 32]
    shipped = b"".join(recorder.shipped)
    assert len(recorder.shipped) > 10
    assert all(s not in shipped for s in secrets)
    # What was shipped instead: the secrets sealed to this process's worker key.
    key = sharded.worker_key()
    sealed = [
        pickle.loads(blob)[1].by_key[key.key_id]
        for blob in recorder.shipped
        if isinstance(pickle.loads(blob)[1], Sealed)
    ]
    assert {key.open(_core.JOIN_STREAM_SENDER_SEAL_LABEL, sealed[0])} == {secrets[0]}


def test_a_sealed_secret_opens_only_with_its_worker_key() -> None:
    worker, other = _core.SealKey(), _core.SealKey()
    sender = _core.JoinStreamSender("intersection", False, False, 4)
    sealed = sender.seal_to(worker.public)
    copy = _core.JoinStreamSender.open_sealed(worker, sealed)
    assert copy.session == sender.session
    with pytest.raises(InvalidInputError, match="another worker key"):
        _core.JoinStreamSender.open_sealed(other, sealed)
    with pytest.raises(InvalidInputError, match="authentication failed"):
        _core.JoinStreamReceiver.open_sealed(worker, sealed)  # a sender's secret
    for i in (0, 5, 20, 60, len(sealed) - 1):
        bad = bytearray(sealed)
        bad[i] ^= 0x40
        with pytest.raises(InvalidInputError, match="sealed"):
            _core.JoinStreamSender.open_sealed(worker, bytes(bad))
    for junk in (b"", b"\x01" * 70, sealed[:-1]):
        with pytest.raises(InvalidInputError, match="sealed"):
            _core.JoinStreamSender.open_sealed(worker, junk)
    with pytest.raises(InvalidInputError, match="public_key"):
        sender.seal_to(b"\x00" * 32)
    with pytest.raises(TypeError, match="pickle"):
        pickle.dumps(worker)


def _sealed(role: Any, seal_to: Callable[[bytes], bytes]) -> Sealed:
    key = sharded.worker_key()
    return Sealed(role, {key.key_id: seal_to(key.public)})


@contextlib.contextmanager
def _parties(
    buckets: int, ex: Executor
) -> Iterator[tuple[StreamingJoinSender, StreamingJoinReceiver]]:
    """The two parties of the tests' tables, each on ``ex``, closed afterwards."""
    with (
        StreamingJoinSender(
            table(SERVER_KEYS), "id", buckets=buckets, key_kind="text", executor=ex
        ) as server,
        StreamingJoinReceiver(
            table(CLIENT_KEYS), "id", buckets=buckets, key_kind="text", executor=ex
        ) as client,
    ):
        yield server, client


def test_retried_tasks_give_the_same_bytes_and_each_bucket_is_answered_once() -> None:
    with _parties(4, LocalExecutor(2)) as (server, client):
        assert isinstance(client._core, _core.JoinStreamReceiver)
        assert isinstance(server._core, _core.JoinStreamSender)
        r_shared = _sealed("receiver", client._core.seal_to)
        s_shared = _sealed("sender", server._core.seal_to)
        keys = sharded._bucket_keys(client._keys, 2)[1]
        request = sharded.receiver_request(r_shared, (2, keys))
        assert isinstance(request, bytes)
        assert sharded.receiver_request(r_shared, (2, keys)) == request  # a retried task
        assert sharded.sender_respond(s_shared, request) == sharded.sender_respond(
            s_shared, request
        )
        first = server.respond(request)
        assert server.respond(request) == first  # a duplicate: the same bytes
        assert server._sharded is not None
        assert server._sharded.answers.evaluated == 1
        fewer = (keys[0][:2], keys[1][: int(keys[0][1])])
        other = sharded.receiver_request(r_shared, (2, fewer))
        assert isinstance(other, bytes)
        assert other != request
        with pytest.raises(InvalidInputError, match="already answered"):
            server.respond(other)
        # A task in a process whose key has no sealed copy says so instead of guessing.
        assert isinstance(sharded.receiver_request(Sealed("receiver", {}), (2, keys)), NeedsKey)


def test_a_new_worker_process_gets_its_own_sealed_copy(monkeypatch: pytest.MonkeyPatch) -> None:
    ex = LocalExecutor(2)
    with _parties(16, ex) as (server, client):
        client.exchange(server.respond)
        # As if the worker process were replaced: a new key, unknown to the drivers.
        monkeypatch.setattr(sharded, "_worker_keys", [])
        got = client.finish(server.setup_parts())
    assert np.array_equal(got.indices, in_memory())
    assert client._sharded is not None
    assert client._sharded.sealer.workers_sealed == 2
    assert server._sharded is not None
    assert server._sharded.sealer.workers_sealed == 2


def test_an_interrupted_exchange_resumes_with_the_same_indices() -> None:
    buckets, fail_at = 16, 7
    ex = LocalExecutor(2)  # rounds of 4 buckets
    with _parties(buckets, ex) as (server, client):
        calls: list[bytes] = []
        dropped: list[int] = []

        def flaky(request: bytes) -> bytes:
            calls.append(request)
            if len(calls) == fail_at and not dropped:
                dropped.append(len(calls))
                raise ConnectionError("the link to the sender dropped")
            return server.respond(request)

        with pytest.raises(ConnectionError):
            client.exchange(flaky)
        assert client._sharded is not None
        committed = client._sharded.manifest.committed("exchange")
        assert committed == 4  # the first round; the second was cut after 2 answers
        before = list(calls)
        calls.clear()
        client.exchange(flaky)
        assert len(calls) == buckets - committed
        # The round cut short is sent again byte for byte; the sender answers it from
        # what it kept, evaluating every bucket once.
        assert calls[:3] == before[4:7]
        assert server._sharded is not None
        assert server._sharded.answers.evaluated == buckets
        got = client.finish(server.setup_parts())
        with pytest.raises(InvalidInputError, match="already exchanged"):
            client.exchange(flaky)
    assert np.array_equal(got.indices, in_memory())


def test_an_altered_committed_output_is_refused_at_finish() -> None:
    ex = LocalExecutor(2)
    with _parties(4, ex) as (server, client):
        client.exchange(server.respond)
        assert client._sharded is not None
        path = client._sharded._out(1)
        data = bytearray(path.read_bytes())
        data[-1] ^= 1
        path.write_bytes(bytes(data))
        with pytest.raises(InvalidInputError, match=r"3 of 4|altered"):
            client.finish(server.setup_parts())


def test_bad_executor_arguments_are_refused() -> None:
    with pytest.raises(InvalidInputError, match="executor"):
        StreamingJoinSender(table(SERVER_KEYS), "id", key_kind="text", executor="ray")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="protocol='dh' only"):
        StreamingJoinReceiver(
            table(CLIENT_KEYS), "id", key_kind="text", protocol="vole", executor=LocalExecutor(2)
        )


KEY = bytes(range(32))
#: A driver process that dies after its 7th request (no close, no clean-up): both parties
#: of a session in one process, with session keys, each in its own spill directory.
_DYING_DRIVER = """
import os, sys
from join_sharded_cases import CLIENT_KEYS, SERVER_KEYS, table
from zone_opt.distributed import Executor, LocalExecutor
from zone_opt.join import StreamingJoinReceiver, StreamingJoinSender

root, key = sys.argv[1], bytes(range(32))
kw = dict(buckets=16, key_kind="text", executor=LocalExecutor(2), session_key=key)
server = StreamingJoinSender(table(SERVER_KEYS), "id", spill_dir=root + "/s", **kw)
client = StreamingJoinReceiver(table(CLIENT_KEYS), "id", spill_dir=root + "/r", **kw)
calls = []

def dying(request):
    calls.append(request)
    if len(calls) == 7:
        os._exit(3)
    return server.respond(request)

client.exchange(dying)
"""


def _one(directory: Path) -> Path:
    (only,) = directory.iterdir()
    return only


def test_a_restarted_driver_resumes_the_session(tmp_path: Path) -> None:
    for d in ("s", "r"):
        (tmp_path / d).mkdir()
    tests = str(Path(__file__).parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([tests, os.environ.get("PYTHONPATH", "")])}
    died = subprocess.run(
        [sys.executable, "-c", _DYING_DRIVER, str(tmp_path)], env=env, check=False, timeout=120
    )
    assert died.returncode == 3
    server_dir, client_dir = _one(tmp_path / "s"), _one(tmp_path / "r")
    with pytest.raises(InvalidInputError, match="sealed"):
        StreamingJoinSender.resume(server_dir, session_key=bytes(32), executor=LocalExecutor(2))
    with pytest.raises(InvalidInputError, match="receiver's session"):
        StreamingJoinSender.resume(client_dir, session_key=KEY, executor=LocalExecutor(2))
    server = StreamingJoinSender.resume(server_dir, session_key=KEY, executor=LocalExecutor(2))
    client = StreamingJoinReceiver.resume(client_dir, session_key=KEY, executor=LocalExecutor(2))
    with server, client:
        assert client._sharded is not None
        assert server._sharded is not None
        assert client._sharded.manifest.committed("exchange") == 4  # one round of 4
        sent: list[bytes] = []

        def respond(request: bytes) -> bytes:
            sent.append(request)
            return server.respond(request)

        client.exchange(respond)
        assert len(sent) == 16 - 4
        # Buckets 4 and 5 were answered before the driver died: answered again from what
        # the sender kept; the ten others evaluated now.
        assert server._sharded.answers.evaluated == 10
        got = client.finish(server.setup_parts())
        assert server.receiver_count == len({k.strip().upper() for k in CLIENT_KEYS})
        assert client.stats.rows == len(CLIENT_KEYS)
        # Answered once, across the restart too.
        assert isinstance(client._core, _core.JoinStreamReceiver)
        shared = _sealed("receiver", client._core.seal_to)
        offsets, data = sharded._bucket_keys(client._keys, 0)[1]
        other = sharded.receiver_request(shared, (0, (offsets[:2], data[: int(offsets[1])])))
        assert isinstance(other, bytes)
        with pytest.raises(InvalidInputError, match="already answered"):
            server.respond(other)
    assert np.array_equal(got.indices, in_memory())
    assert not server_dir.exists()
    assert not client_dir.exists()


def test_a_session_key_needs_an_executor_and_32_bytes() -> None:
    with pytest.raises(InvalidInputError, match="session_key"):
        StreamingJoinSender(table(SERVER_KEYS), "id", key_kind="text", session_key=KEY)
    with pytest.raises(InvalidInputError, match="session_key"):
        StreamingJoinSender(
            table(SERVER_KEYS),
            "id",
            key_kind="text",
            executor=LocalExecutor(2),
            session_key=b"short",
        )
