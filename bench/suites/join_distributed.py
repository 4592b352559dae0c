"""Streaming PSI on an executor (issue 19 item 4): the in-memory protocol, today's
streaming path (one process), and the streaming path with both parties' batches and
buckets as tasks on 2 local threads and (full) a private Ray of 2 workers.

Balanced sets of 18-character ids with 50 % overlap, read from Parquet; ``BUCKETS``
buckets, record batches of ``BATCH_ROWS`` keys. Every contender must find the same
matched rows (count and a hash). The Ray contender also reports each worker process's
peak resident memory (``VmHWM``, read in the worker by a probe task after the run, and
before it for the worker's baseline): a task holds one record batch or one bucket, so the
growth over the baseline stays near a batch's and a bucket's size whatever ``n``. Both
parties share the one private Ray here (in production each party runs its own).

The gRPC contender runs the same bucketed session between a zone-opt server (in this
process, the sender's table stored as its dataset with a join policy) and
``Client.bucketed_join`` reading the receiver's Parquet file: its ratio to "streaming,
one process" is what the service costs (messages in chunks, one call per bucket and per
setup part).

Sizes: smoke 2^12 (no Ray); full 2^20. ``python -m bench.suites.join_distributed LOG2
CONTENDER`` runs one contender at ``2^LOG2`` keys per side and prints its JSON (the 2^24
measurement: ``ray``, ``streaming``).
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from bench.harness import Case, Contender, Summary, agree_on, suite
from bench.suites.join import uscc_ids
from zone_opt.client import Client
from zone_opt.distributed import Executor, executor
from zone_opt.join import JoinReceiver, JoinSender, StreamingJoinReceiver, StreamingJoinSender
from zone_opt.join.policy import JoinPolicy
from zone_opt.service.server import ServerSettings, create_server

BATCH_ROWS = 1 << 16
#: Keys per bucket aimed at (the bucket count is n / this, a power of two, at least 1).
BUCKET_KEYS = 1 << 14
Instance = dict[str, Any]


def _buckets(n: int) -> int:
    return max(1, n // BUCKET_KEYS)


def _instance(n: int) -> Instance:
    ids = uscc_ids(n + n // 2, seed=n)
    tmp = Path(tempfile.mkdtemp(prefix="join-distributed-bench-"))
    atexit.register(shutil.rmtree, tmp, True)
    for name, values in (("server", ids[:n]), ("client", ids[n // 2 :])):
        pq.write_table(pa.table({"id": pa.array(values, pa.string())}), tmp / f"{name}.parquet")
    return {"n": n, "dir": str(tmp)}


def _out(inst: Instance, indices: Any, seconds: float, workers: dict[str, Any]) -> Instance:
    return {
        "matched": len(indices),
        "sha256": hashlib.sha256(indices.tobytes()).hexdigest()[:16],
        "seconds": round(seconds, 2),
        "workers": workers,
    }


def _in_memory(inst: Instance) -> Instance:
    t0 = time.perf_counter()
    d = Path(inst["dir"])
    server = JoinSender(pq.read_table(d / "server.parquet").column("id"))
    client = JoinReceiver(pq.read_table(d / "client.parquet").column("id"))
    setup = server.setup_message()
    result = client.finish(setup, server.respond(client.request()))
    return _out(inst, result.indices, time.perf_counter() - t0, {})


def _session(inst: Instance, ex: Executor | None) -> Any:
    d = Path(inst["dir"])
    kw: dict[str, Any] = {"buckets": _buckets(inst["n"]), "batch_rows": BATCH_ROWS}
    with (
        StreamingJoinSender(d / "server.parquet", "id", executor=ex, **kw) as server,
        StreamingJoinReceiver(d / "client.parquet", "id", executor=ex, **kw) as client,
    ):
        return client.run(server.respond, server.setup_parts()).indices


def _streaming(inst: Instance) -> Instance:
    t0 = time.perf_counter()
    indices = _session(inst, None)
    return _out(inst, indices, time.perf_counter() - t0, {})


def _over_grpc(inst: Instance) -> Instance:
    """The bucketed session between a server holding the sender's table and a client
    streaming the receiver's file (both in one process each side of the wire)."""
    d = Path(inst["dir"])
    data = Path(tempfile.mkdtemp(prefix="join-grpc-bench-"))
    settings = ServerSettings(
        data_dir=data, port=0, tokens={"t-a": "alice", "t-b": "bob"}, preload_sample=False
    )
    server, port = create_server(settings)
    server.start()
    try:
        table = pq.read_table(d / "server.parquet")
        server.datasets.put_result("alice", "theirs", "bench sender", table)
        with Client(f"127.0.0.1:{port}", token="t-a") as alice:
            alice.set_join_policy(JoinPolicy("theirs", "id", ("bob",), quota_per_epoch=10))
        t0 = time.perf_counter()
        with Client(f"127.0.0.1:{port}", token="t-b", timeout_s=1800.0) as bob:
            result = bob.bucketed_join(
                d / "client.parquet",
                "id",
                "theirs",
                buckets=_buckets(inst["n"]),
                batch_rows=BATCH_ROWS,
            )
        seconds = time.perf_counter() - t0
    finally:
        server.stop(0.5)
        shutil.rmtree(data, ignore_errors=True)
    return _out(inst, result.indices, seconds, {})


def _vm_mb(_shared: None, _item: int) -> tuple[int, dict[str, float]]:
    """Probe task: the pid and memory (MB) of the worker process it runs in: ``VmHWM`` (the
    peak resident set), and now ``RssAnon`` (private) and ``RssShmem`` (shared memory
    touched, Ray's object store included). It holds its CPU a moment so a round of
    probes reaches every worker."""
    threading.Event().wait(0.3)
    values = {}
    with open("/proc/self/status") as f:
        for line in f:
            name = line.split(":")[0]
            if name in ("VmHWM", "RssAnon", "RssShmem"):
                values[name] = round(int(line.split()[1]) / 1024, 1)
    return os.getpid(), values


def _probe(ex: Executor) -> dict[str, float | None]:
    """The largest of each figure over the workers, and how many workers answered."""
    seen = dict(ex.map(_vm_mb, None, list(range(2 * ex.workers))))
    out: dict[str, float | None] = {"processes": len(seen)}
    for name in ("VmHWM", "RssAnon", "RssShmem"):
        out[name] = max((v[name] for v in seen.values()), default=None)
    return out


def _on(backend: str) -> Callable[[Instance], Instance]:
    def run(inst: Instance) -> Instance:
        ex = executor(backend, workers=2)
        try:
            base = _probe(ex) if ex.remote else {}
            t0 = time.perf_counter()
            indices = _session(inst, ex)
            seconds = time.perf_counter() - t0
            peak = _probe(ex) if ex.remote else {}
        finally:
            ex.close()
        workers = {
            "processes": peak.get("processes"),
            "hwm_before_mb": base.get("VmHWM"),
            "hwm_after_mb": peak.get("VmHWM"),
            "anon_before_mb": base.get("RssAnon"),
            "anon_after_mb": peak.get("RssAnon"),
            "shmem_after_mb": peak.get("RssShmem"),
        }
        return _out(inst, indices, seconds, workers)

    return run


def _summarize(inst: Instance, out: Instance) -> Summary:
    return {
        "matched": out["matched"],
        "sha256": out["sha256"],
        "session_s": out["seconds"],
        "buckets": _buckets(inst["n"]),
        **{f"worker_{k}": v for k, v in out["workers"].items()},
    }


CONTENDERS: dict[str, Callable[[Instance], Instance]] = {
    "in_memory": _in_memory,
    "streaming": _streaming,
    "local": _on("local"),
    "ray": _on("ray"),
    "grpc": _over_grpc,
}


@suite("join_distributed")
def cases(size: str) -> list[Case]:
    """In-memory vs streaming vs streaming on 2 threads vs (full) a private Ray of 2."""
    n = 1 << (12 if size == "smoke" else 20)
    contenders = [
        Contender("in memory (JoinSender/JoinReceiver)", _in_memory, _summarize, ours=True),
        Contender("streaming, one process", _streaming, _summarize, ours=True),
        Contender("streaming, executor local 2 threads", CONTENDERS["local"], _summarize),
        Contender("bucketed over gRPC (server + Client.bucketed_join)", _over_grpc, _summarize),
    ]
    if size == "full":
        contenders.append(
            Contender(
                "streaming, executor private Ray 2 workers",
                CONTENDERS["ray"],
                _summarize,
                requires=("ray",),
                timeout_s=900.0,
            )
        )
    return [
        Case(
            f"PSI 2^{n.bit_length() - 1} x 2^{n.bit_length() - 1}, 50 % overlap",
            lambda: _instance(n),
            contenders,
            agree=agree_on("matched", "sha256"),
            params={"n": n, "buckets": _buckets(n), "batch_rows": BATCH_ROWS},
        )
    ]


def main(argv: list[str]) -> int:
    """``LOG2 CONTENDER``: one contender at ``2^LOG2`` keys per side, JSON on stdout."""
    log2, name = int(argv[0]), argv[1]
    inst = _instance(1 << log2)
    t0 = time.perf_counter()
    out = CONTENDERS[name](inst)
    print(
        json.dumps(
            {
                "n": inst["n"],
                "contender": name,
                **_summarize(inst, out),
                "wall_s": round(time.perf_counter() - t0, 1),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
