"""Private set intersection: zone-opt (DH-OPRF and VOLE modes) against openmined-psi 2.0.6
and SecretFlow's ECDH and RR22 PSI (the ``spu`` 0.9.5 wheel), side by side on the same ids.

Balanced sets of n valid 18-character unified social credit codes per side, 50 % overlap,
at 2^16, 2^18 and 2^20 (smoke: 2^10, zone-opt and a plain set intersection only). Every
contender's intersection is checked (count and a hash of the sorted matched ids). Each
summary carries the protocol's CPU microseconds per element (both parties, all threads;
the peers measure their own protocol CPU in their processes), wall seconds and message
bytes per element (SecretFlow: loopback bytes inside a private network namespace,
including brpc framing). zone-opt's wall time includes reading both id columns from
Parquet; its streaming contender reads them in record batches and runs bucket by bucket
(64 buckets), so its extra memory shows the bound. ``python -m bench.join_wall`` times the
2^20 wall-time target alone, phase by phase.

Two VOLE contenders beyond the in-memory one:

- **over gRPC**: ``Client.private_join(..., query=JoinQuery(protocol="vole"))`` against a
  ``zone-opt serve`` subprocess on loopback holding the server's ids (a tenancies dataset
  uploaded untimed, by a helper process, with a policy allowing VOLE). CPU is the client
  process's plus the server process's (``/proc/<pid>/stat``); bytes are the serialised
  protobuf messages of every call both ways (a client interceptor: the protocol messages
  and their chunk framing; HTTP/2 frame headers, 9 bytes per frame of up to 16 KiB, not
  counted); the wall time includes reading the receiver's ids from Parquet, the server's
  reading its dataset, and both sides' protocol work.
- **streamed**: ``StreamingJoinSender/Receiver(protocol="vole")`` from the Parquet files,
  one RR22 session per bucket of about 2^16 keys (``n >> 16`` buckets; each bucket costs a
  fixed ~1 MB of OT-extension messages, so smaller buckets trade bytes for memory).

The peers cannot share the project's pinned environment (openmined-psi pins protobuf
6.30.2, spu brings jax and numpy 1.x): ``make bench-join-peers`` creates
``.venv-join-peers``; without it they are reported as unavailable.
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq

from bench.harness import Case, Contender, Summary, agree_on, suite
from zone_opt.client import Client
from zone_opt.join import (
    JoinOptions,
    JoinQuery,
    JoinReceiver,
    JoinSender,
    StreamingJoinReceiver,
    StreamingJoinSender,
)

PEERS_PY = Path(__file__).resolve().parents[2] / ".venv-join-peers" / "bin" / "python"
PEERS_DIR = Path(__file__).resolve().parents[1] / "join_peers"
CHARSET = np.frombuffer(b"0123456789ABCDEFGHJKLMNPQRTUWXY", dtype=np.uint8)
WEIGHTS = np.array([pow(3, i, 31) for i in range(17)], dtype=np.int64)

Instance = dict[str, Any]


def uscc_ids(count: int, seed: int) -> npt.NDArray[np.str_]:
    """``count`` distinct valid unified social credit codes (random bodies, check char)."""
    rng = np.random.default_rng(seed)
    body = rng.integers(0, 31, size=(count, 17))
    check = (31 - (body @ WEIGHTS) % 31) % 31
    chars = CHARSET[np.concatenate([body, check[:, None]], axis=1)]
    ids = np.unique(chars.view("S18").ravel())  # distinct (collisions are ~1e-19 anyway)
    rng.shuffle(ids)
    return ids.astype(str)


def _instance(n: int) -> Instance:
    ids = uscc_ids(n + n // 2, seed=n)
    server, client = ids[:n], ids[n // 2 :]
    tmp = Path(tempfile.mkdtemp(prefix="join-bench-"))
    atexit.register(shutil.rmtree, tmp, True)
    for name, values in (("server", server), ("client", client)):
        pq.write_table(pa.table({"id": pa.array(values, pa.string())}), tmp / f"{name}.parquet")
        (tmp / f"{name}.txt").write_text("\n".join(values) + "\n", encoding="utf-8")
        (tmp / f"{name}.csv").write_text("id\n" + "\n".join(values) + "\n", encoding="utf-8")
    join_server = _JoinServer.get()
    dataset_id = join_server.publish(tmp / "server.parquet")
    return {
        "n": n,
        "dir": str(tmp),
        "server": server,
        "client": client,
        "port": join_server.port,
        "server_pid": join_server.pid,
        "dataset_id": dataset_id,
    }


# ---- a zone-opt server on loopback (for the gRPC contender) ------------------------------

_TOKENS = {"bench-owner": "owner", "bench-peer": "peer"}

# Run in a helper process so the benchmark process (which forks the contenders) never
# opens a gRPC channel: the server's ids as a tenancies dataset, and a policy for "peer".
_PUBLISH = textwrap.dedent(
    """
    import datetime, sys
    import pyarrow as pa, pyarrow.parquet as pq
    from zone_opt.client import Client
    from zone_opt.join.policy import JoinPolicy
    port, path = sys.argv[1], sys.argv[2]
    ids = pq.read_table(path).column("id")
    n = len(ids)
    table = pa.table({
        "enterprise_id": ids,
        "space_id": pa.array([f"S-{i}" for i in range(n)]),
        "start": pa.array([datetime.date(2026, 1, 1)] * n, pa.date32()),
        "end": pa.array([datetime.date(2027, 1, 1)] * n, pa.date32()),
    })
    with Client(f"127.0.0.1:{port}", token="bench-owner", timeout_s=900) as owner:
        dataset_id = owner.upload(table, "bench ids", kind="tenancies")
        owner.set_join_policy(JoinPolicy(
            dataset_id, "enterprise_id", ("peer",), quota_per_epoch=100_000,
            protocols=("dh", "vole"),
        ))
    print(dataset_id)
    """
)


class _JoinServer:
    """``zone-opt serve`` on a free loopback port with an owner and a peer tenant, started
    once per benchmark process (from a case's ``make``), stopped at exit."""

    _instance: _JoinServer | None = None

    def __init__(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="zone-opt-join-bench-"))
        tokens = self.tmp / "tokens.json"
        tokens.write_text(json.dumps(_TOKENS))
        port_file = self.tmp / "port"
        self.proc = subprocess.Popen(
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
                str(self.tmp / "data"),
                "--tokens",
                str(tokens),
                "--no-sample",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        atexit.register(self.close)
        deadline = time.monotonic() + 60
        while not (port_file.exists() and port_file.read_text().strip()):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("zone-opt serve did not start")
            time.sleep(0.05)
        self.port = int(port_file.read_text())
        self.pid = self.proc.pid

    @classmethod
    def get(cls) -> _JoinServer:
        if cls._instance is None:
            cls._instance = cls()
        return cls._instance

    def publish(self, parquet: Path) -> str:
        """Upload the ids of ``parquet`` and allow the peer to join them (untimed)."""
        out = subprocess.run(
            [sys.executable, "-c", _PUBLISH, str(self.port), str(parquet)],
            check=True,
            capture_output=True,
            text=True,
        )
        return out.stdout.strip().splitlines()[-1]

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        shutil.rmtree(self.tmp, ignore_errors=True)


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class _Bytes(grpc.UnaryStreamClientInterceptor, grpc.StreamStreamClientInterceptor):
    """Sums the serialised size of every message of the streaming calls, both ways."""

    def __init__(self) -> None:
        self.total = 0

    def _count(self, messages: Iterator[Any]) -> Iterator[Any]:
        for message in messages:
            self.total += message.ByteSize()
            yield message

    def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        self.total += request.ByteSize()
        return self._count(continuation(details, request))

    def intercept_stream_stream(
        self, continuation: Any, details: Any, request_iterator: Iterator[Any]
    ) -> Any:
        return self._count(continuation(details, self._count(request_iterator)))


class _CountingClient(Client):
    """A :class:`Client` whose channel counts the bytes of the join's messages."""

    def __init__(self, address: str, token: str, timeout_s: float) -> None:
        super().__init__(address, token=token, timeout_s=timeout_s)
        self.bytes = _Bytes()
        self._channel = grpc.intercept_channel(self._channel, self.bytes)


def _digest(matched: list[str]) -> str:
    return hashlib.sha256("\n".join(sorted(matched)).encode()).hexdigest()[:16]


def _zone_opt(inst: Instance) -> dict[str, Any]:
    c0, t0 = time.process_time(), time.perf_counter()
    d = Path(inst["dir"])
    server_ids = pq.read_table(d / "server.parquet").column("id")
    client_ids = pq.read_table(d / "client.parquet").column("id")
    server = JoinSender(server_ids)
    client = JoinReceiver(client_ids)
    setup = server.setup_message()
    request = client.request()
    response = server.respond(request)
    result = client.finish(setup, response)
    cpu, wall = time.process_time() - c0, time.perf_counter() - t0
    matched = client_ids.take(pa.array(result.indices)).to_pylist()
    return {
        "cpu_s": cpu,
        "wall_s": wall,
        "bytes": len(setup) + len(request) + len(response),
        "matched": len(matched),
        "sha256": _digest(matched),
    }


def _zone_opt_vole(inst: Instance) -> dict[str, Any]:
    """``protocol="vole"`` (RR22-style, five messages), Parquet read included."""
    c0, t0 = time.process_time(), time.perf_counter()
    d = Path(inst["dir"])
    server_ids = pq.read_table(d / "server.parquet").column("id")
    client_ids = pq.read_table(d / "client.parquet").column("id")
    server = JoinSender(server_ids, options=JoinOptions(protocol="vole"))
    client = JoinReceiver(client_ids, options=JoinOptions(protocol="vole"))
    setup = server.setup_message()
    request = client.request(setup)
    vole = server.respond(request)
    correction = client.correction(vole)
    response = server.respond(correction)
    result = client.finish(setup, response)
    cpu, wall = time.process_time() - c0, time.perf_counter() - t0
    matched = client_ids.take(pa.array(result.indices)).to_pylist()
    return {
        "cpu_s": cpu,
        "wall_s": wall,
        "bytes": sum(map(len, (setup, request, vole, correction, response))),
        "matched": len(matched),
        "sha256": _digest(matched),
    }


def _zone_opt_vole_grpc(inst: Instance) -> dict[str, Any]:
    """``Client.private_join`` with ``protocol="vole"`` against the loopback server."""
    pid = inst["server_pid"]
    server_cpu = _cpu_s(pid)
    c0, t0 = time.process_time(), time.perf_counter()
    client_ids = pq.read_table(Path(inst["dir"]) / "client.parquet").column("id")
    peer = _CountingClient(f"127.0.0.1:{inst['port']}", "bench-peer", 900.0)
    with peer:
        result = peer.private_join(client_ids, inst["dataset_id"], query=JoinQuery(protocol="vole"))
    wall = time.perf_counter() - t0
    cpu = time.process_time() - c0 + _cpu_s(pid) - server_cpu
    matched = client_ids.take(pa.array(result.indices)).to_pylist()
    return {
        "cpu_s": cpu,
        "wall_s": wall,
        "bytes": peer.bytes.total,
        "matched": len(matched),
        "sha256": _digest(matched),
    }


def _zone_opt_vole_streaming(inst: Instance) -> dict[str, Any]:
    """The VOLE protocol bucket by bucket from the Parquet files, ~2^16 keys a bucket."""
    c0, t0 = time.process_time(), time.perf_counter()
    d = Path(inst["dir"])
    buckets = max(1, inst["n"] >> 16)
    with (
        StreamingJoinSender(d / "server.parquet", "id", buckets=buckets, protocol="vole") as s,
        StreamingJoinReceiver(d / "client.parquet", "id", buckets=buckets, protocol="vole") as c,
    ):
        sizes = [0]

        def respond(message: bytes) -> bytes:
            answer = s.respond(message)
            sizes[0] += len(message) + len(answer)
            return answer

        def setup_parts() -> Iterator[bytes]:
            for part in s.setup_parts():
                sizes[0] += len(part)
                yield part

        result = c.run(respond, setup_parts())
    cpu, wall = time.process_time() - c0, time.perf_counter() - t0
    client_ids = pq.read_table(d / "client.parquet").column("id")
    matched = client_ids.take(pa.array(result.indices)).to_pylist()
    return {
        "cpu_s": cpu,
        "wall_s": wall,
        "bytes": sizes[0],
        "matched": len(matched),
        "sha256": _digest(matched),
    }


STREAM_BUCKETS = 64


def _zone_opt_streaming(inst: Instance) -> dict[str, Any]:
    """The bucketed protocol straight from the Parquet files (record batches, spill files):
    the same result with about n / 64 keys resident instead of n."""
    c0, t0 = time.process_time(), time.perf_counter()
    d = Path(inst["dir"])
    with (
        StreamingJoinSender(d / "server.parquet", "id", buckets=STREAM_BUCKETS) as server,
        StreamingJoinReceiver(d / "client.parquet", "id", buckets=STREAM_BUCKETS) as client,
    ):
        sizes = [0]

        def respond(request: bytes) -> bytes:
            response = server.respond(request)
            sizes[0] += len(request) + len(response)
            return response

        client.exchange(respond)

        def setup_parts() -> Iterator[bytes]:
            for part in server.setup_parts():
                sizes[0] += len(part)
                yield part

        result = client.finish(setup_parts())
    cpu, wall = time.process_time() - c0, time.perf_counter() - t0
    client_ids = pq.read_table(d / "client.parquet").column("id")
    matched = client_ids.take(pa.array(result.indices)).to_pylist()
    return {
        "cpu_s": cpu,
        "wall_s": wall,
        "bytes": sizes[0],
        "matched": len(matched),
        "sha256": _digest(matched),
    }


def _plain(inst: Instance) -> dict[str, Any]:
    c0, t0 = time.process_time(), time.perf_counter()
    matched = sorted(set(inst["server"].tolist()) & set(inst["client"].tolist()))
    return {
        "cpu_s": time.process_time() - c0,
        "wall_s": time.perf_counter() - t0,
        "bytes": None,
        "matched": len(matched),
        "sha256": _digest(matched),
    }


def _peer(script: str, args: list[str], netns: bool = False) -> dict[str, Any]:
    command = [str(PEERS_PY), str(PEERS_DIR / script), *args]
    env = dict(os.environ)
    if netns and shutil.which("unshare") and os.geteuid() == 0:
        env["PSI_NETNS"] = "1"
        line = " ".join(command)
        command = ["unshare", "-n", "sh", "-c", f"ip link set lo up && {line}"]
    out = subprocess.run(command, check=True, capture_output=True, text=True, env=env)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _openmined(inst: Instance) -> dict[str, Any]:
    d = inst["dir"]
    return _peer("openmined_run.py", [f"{d}/server.txt", f"{d}/client.txt"])


def _secretflow(inst: Instance) -> dict[str, Any]:
    d = inst["dir"]
    return _peer("secretflow_run.py", [f"{d}/server.csv", f"{d}/client.csv", d], netns=True)


def _secretflow_rr22(inst: Instance) -> dict[str, Any]:
    d = inst["dir"]
    args = [f"{d}/server.csv", f"{d}/client.csv", d, "rr22"]
    return _peer("secretflow_run.py", args, netns=True)


def _summarize(inst: Instance, out: dict[str, Any]) -> Summary:
    n = inst["n"]
    return {
        "matched": out["matched"],
        "sha256": out["sha256"],
        "cpu_us_per_element": round(out["cpu_s"] / n * 1e6, 1),
        "protocol_wall_s": round(out["wall_s"], 2),
        "bytes_per_element": None if out["bytes"] is None else round(out["bytes"] / n, 1),
    }


# Without the peers' venv, a module name that never imports marks them unavailable.
_PEERS = () if PEERS_PY.exists() else ("join_peers_venv_missing_run_make_bench_join_peers",)


@suite("join")
def join_suite(size: str) -> list[Case]:
    """Balanced PSI, 18-char ids, 50 % overlap: zone-opt (DH, VOLE in memory, over gRPC and
    streamed) vs openmined-psi vs SecretFlow (ECDH, RR22)."""
    sizes = [1 << 10] if size == "smoke" else [1 << 16, 1 << 18, 1 << 20]
    cases = []
    for n in sizes:
        contenders = [
            Contender(
                "zone-opt PSI (intersection)",
                run=_zone_opt,
                summarize=_summarize,
                ours=True,
                timeout_s=900.0,
            ),
            Contender(
                "zone-opt PSI (intersection, protocol=vole)",
                run=_zone_opt_vole,
                summarize=_summarize,
                ours=True,
                timeout_s=900.0,
            ),
            Contender(
                "zone-opt PSI (protocol=vole) over gRPC (Client.private_join, loopback)",
                run=_zone_opt_vole_grpc,
                summarize=_summarize,
                ours=True,
                timeout_s=900.0,
            ),
            Contender(
                f"zone-opt streaming PSI (protocol=vole, {max(1, n >> 16)} buckets)",
                run=_zone_opt_vole_streaming,
                summarize=_summarize,
                ours=True,
                timeout_s=900.0,
            ),
            Contender(
                f"zone-opt streaming PSI ({STREAM_BUCKETS} buckets)",
                run=_zone_opt_streaming,
                summarize=_summarize,
                ours=True,
                timeout_s=900.0,
            ),
            Contender("python set intersection", run=_plain, summarize=_summarize),
        ]
        if size != "smoke":
            contenders += [
                Contender(
                    "openmined-psi 2.0.6 (raw)",
                    run=_openmined,
                    summarize=_summarize,
                    requires=_PEERS,
                    timeout_s=1200.0,
                ),
                Contender(
                    "SecretFlow ECDH-25519 (spu 0.9.5)",
                    run=_secretflow,
                    summarize=_summarize,
                    requires=_PEERS,
                    timeout_s=900.0,
                ),
                Contender(
                    "SecretFlow RR22 (spu 0.9.5)",
                    run=_secretflow_rr22,
                    summarize=_summarize,
                    requires=_PEERS,
                    timeout_s=900.0,
                ),
            ]
        cases.append(
            Case(
                name=f"balanced-2^{n.bit_length() - 1}",
                make=functools.partial(_instance, n),
                contenders=contenders,
                agree=agree_on("matched", "sha256"),
                params={"n_per_side": n, "overlap": 0.5, "id_chars": 18, "seed": n},
            )
        )
    return cases
