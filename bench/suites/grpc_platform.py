"""The gRPC platform: unary latency under load, and bulk upload against Arrow Flight.

- ``unary-<method>-c<N>``: a load generator of our own (N client threads, one channel,
  bounded in requests and seconds) against a ``zone-opt serve`` subprocess on loopback;
  the summary gives requests/s and p50/p99 latency (ms). The method is ``Recommend`` on
  the bundled sample when ``zone_opt.matching.recommend`` exists, else ``GetDataset`` (the
  platform's own per-call overhead: auth, admission, metrics, logs, SQLite read).
- ``upload-<MB>``: the same meters table (the sample's meters repeated, ~100 MB at full
  size) uploaded through ``DatasetService.UploadDataset`` (~4 MiB IPC chunks, checksum,
  schema validation, fsync + rename) and through Arrow Flight ``DoPut`` to a Flight server
  subprocess on loopback, twice: keeping the table in memory, and writing it to a file
  with fsync (the same durability as ours). Each server writes its own way: ``zone-opt
  serve`` with direct I/O and its allocator settings (``--malloc-retain-mb``), the Flight
  server with pyarrow's IPC writer through the page cache, glibc defaults. A second
  Flight server runs with the allocator settings ``zone-opt serve`` applies by default
  (``zone_opt.service.transport.allocator``), so the table shows how much of the gap that tuning
  alone closes; the target ratio is against Flight as shipped (the first).
  Throughput = params ``mb`` / wall seconds.
  Each contender's timed part is the upload call alone, from connecting to the
  acknowledgement; reading back the stored row count (our ``GetDataset``, which the
  rows check compares) and deleting the dataset are untimed.

Client and servers share the machine's cores, so absolute figures are indicative only.
"""

from __future__ import annotations

import atexit
import ctypes
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from bench.harness import Case, Contender, Summary, agree_on, suite
from zone_opt.client import Client
from zone_opt.schemas import TABLES
from zone_opt.service.server import SAMPLE_DIR
from zone_opt.validation import validate_table

_FLIGHT_SERVER = textwrap.dedent(
    """
    import os, sys, pyarrow as pa, pyarrow.flight as fl
    if sys.argv[2] == "tuned":
        from zone_opt.service.transport.allocator import keep_freed_memory
        keep_freed_memory(256 * 1024 * 1024)
    class Server(fl.FlightServerBase):
        def __init__(self, location, directory):
            super().__init__(location)
            self.directory = directory
        def do_put(self, context, descriptor, reader, writer):
            durable = descriptor.path[0] == b"durable"
            if not durable:
                reader.read_all()
                return
            path = os.path.join(self.directory, "upload.arrows")
            with open(path, "wb") as out:
                with pa.ipc.new_stream(out, reader.schema) as w:
                    for chunk in reader:
                        w.write_batch(chunk.data)
                out.flush()
                os.fsync(out.fileno())
    server = Server("grpc://127.0.0.1:0", sys.argv[1])
    print(server.port, flush=True)
    server.serve()
    """
)


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the benchmark process exits (Linux prctl)."""
    ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class _Servers:
    """A ``zone-opt serve`` and a Flight server subprocess, started once, killed at exit."""

    _instance: _Servers | None = None

    def __init__(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="zone-opt-bench-"))
        port_file = self.tmp / "port"
        self.zone = subprocess.Popen(
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
                "--max-concurrent-calls",
                "128",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,  # noqa: PLW1509 (prctl only)
        )
        for tuned in ("default", "tuned"):
            (self.tmp / tuned).mkdir()
        self.flights = {
            tuned: subprocess.Popen(
                [sys.executable, "-c", _FLIGHT_SERVER, str(self.tmp / tuned), tuned],
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
                preexec_fn=_die_with_parent,  # noqa: PLW1509 (prctl only)
            )
            for tuned in ("default", "tuned")
        }
        atexit.register(self.close)
        self.flight_ports: dict[str, int] = {}
        for tuned, proc in self.flights.items():
            assert proc.stdout is not None
            self.flight_ports[tuned] = int(proc.stdout.readline())
        deadline = time.monotonic() + 60
        while not (port_file.exists() and port_file.read_text().strip()):
            if self.zone.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("zone-opt serve did not start")
            time.sleep(0.05)
        self.zone_port = int(port_file.read_text())
        self.token = (self.tmp / "data" / "demo-token").read_text().strip()

    @classmethod
    def get(cls) -> _Servers:
        """Start the servers in the benchmark process (from a case's ``make``); contenders,
        forked from it, find them here."""
        if cls._instance is None:
            cls._instance = cls()
        return cls._instance

    def close(self) -> None:
        procs: list[subprocess.Popen[Any]] = [self.zone, *self.flights.values()]
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(30)
            if proc.stdout is not None:
                proc.stdout.close()
        # the servers' data (uploads of every case): hundreds of MB a run
        shutil.rmtree(self.tmp, ignore_errors=True)


def _sample(name: str) -> pa.Table:
    return validate_table(pq.read_table(SAMPLE_DIR / f"{name}.parquet"), TABLES[name])


def _meters(copies: int) -> pa.Table:
    base = _sample("meters")
    hours = base.column("hour")
    span = pc.max(hours).as_py() - pc.min(hours).as_py() + timedelta(hours=1)
    parts = [
        base.set_column(
            1,
            base.schema.field("hour"),
            pc.add(hours, pa.scalar(span * i, pa.duration("s"))).cast(hours.type),
        )
        for i in range(copies)
    ]
    return pa.concat_tables(parts).combine_chunks()


# ---- unary load -------------------------------------------------------------------------


def _load(instance: dict[str, Any]) -> Summary:
    servers = _Servers.get()
    concurrency, seconds, max_requests = instance["c"], instance["seconds"], instance["max"]
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    errors = [0]
    with Client(f"127.0.0.1:{servers.zone_port}", token=servers.token, timeout_s=30) as client:
        call = _unary_call(client)
        call()  # warm up: connect, first call
        stop_at = time.perf_counter() + seconds
        per_thread = max(1, max_requests // concurrency)

        def worker(i: int) -> None:
            for _ in range(per_thread):
                t0 = time.perf_counter()
                if t0 > stop_at:
                    return
                try:
                    call()
                except Exception:
                    errors[0] += 1
                latencies[i].append(time.perf_counter() - t0)

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(concurrency)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
    all_s = np.array([x for lat in latencies for x in lat])
    return {
        "requests": int(all_s.size),
        "errors": errors[0],
        "rps": round(all_s.size / wall, 1),
        "p50_ms": round(float(np.percentile(all_s, 50)) * 1e3, 3),
        "p99_ms": round(float(np.percentile(all_s, 99)) * 1e3, 3),
    }


def _unary_call(client: Any) -> Any:
    spaces, enterprises, parks = _sample("spaces"), _sample("enterprises"), _sample("parks")
    tenancies = _sample("tenancies")
    return lambda: client.recommend(spaces, enterprises, parks, tenancies)


# ---- bulk upload ------------------------------------------------------------------------


def _upload_ours(table: pa.Table) -> str:
    """The timed part: one ``UploadDataset`` call, acknowledged once the table is validated,
    checksummed and durable (as Flight's ``DoPut`` to a file: connect, send, fsync)."""
    servers = _Servers.get()
    with Client(f"127.0.0.1:{servers.zone_port}", token=servers.token, timeout_s=600) as client:
        return client.upload(table, "bench meters", kind="meters")


def _stored_rows(_instance: Any, dataset_id: str) -> Summary:
    """Untimed: the rows the server recorded for the upload, then delete it."""
    servers = _Servers.get()
    with Client(f"127.0.0.1:{servers.zone_port}", token=servers.token, timeout_s=600) as client:
        rows = client.describe(dataset_id).num_rows
        client.delete(dataset_id)
    return {"rows": rows}


def _upload_flight(durable: bool, server: str = "default") -> Any:
    def run(table: pa.Table) -> int:
        import pyarrow.flight as fl  # noqa: PLC0415 (optional peer: see `requires`)

        servers = _Servers.get()
        client = fl.connect(f"grpc://127.0.0.1:{servers.flight_ports[server]}")
        descriptor = fl.FlightDescriptor.for_path("durable" if durable else "memory")
        writer, _ = client.do_put(descriptor, table.schema)
        writer.write_table(table, max_chunksize=32_768)
        writer.close()
        client.close()
        return int(table.num_rows)

    return run


def _load_instance(concurrency: int, smoke: bool) -> dict[str, Any]:
    return {
        "c": concurrency,
        "seconds": 0.3 if smoke else 3.0,
        "max": 200 if smoke else 20_000,
    }


def _with_servers(instance: Any) -> Any:
    _Servers.get()
    return instance


def _warm_uploads(table: pa.Table) -> pa.Table:
    """Start the servers and send each one upload of ``table`` before timing: both run
    warm (memory mapped, allocator pools grown) as a long-lived server does."""
    _Servers.get()
    _stored_rows(None, _upload_ours(table))
    _upload_flight(True)(table)
    _upload_flight(True, "tuned")(table)
    return table


def _rows(_instance: Any, rows: int) -> Summary:
    return {"rows": rows}


def _same(_instance: Any, summary: Summary) -> Summary:
    return summary


@suite("grpc_platform")
def grpc_platform_suite(size: str) -> list[Case]:
    """Unary latency at concurrency 1/16/64 and 100 MB upload vs Arrow Flight."""
    smoke = size == "smoke"
    method = "recommend"
    cases = [
        Case(
            name=f"unary-{method}-c{c}",
            make=partial(_with_servers, _load_instance(c, smoke)),
            contenders=[
                Contender(
                    f"zone-opt {method}", run=_load, summarize=_same, ours=True, timeout_s=120
                )
            ],
            agree=agree_on("errors"),
            params={"concurrency": c, "method": method},
        )
        for c in (1, 16, 64)
    ]
    copies = 1 if smoke else 14
    table_mb = _meters(1).nbytes * copies / 1e6
    cases.append(
        Case(
            name=f"upload-{table_mb:.0f}MB",
            make=lambda: _warm_uploads(_meters(copies)),
            contenders=[
                Contender(
                    "zone-opt UploadDataset",
                    run=_upload_ours,
                    summarize=_stored_rows,
                    ours=True,
                    timeout_s=600,
                ),
                Contender(
                    "arrow-flight DoPut (memory)",
                    run=_upload_flight(False),
                    summarize=_rows,
                    requires=("pyarrow.flight",),
                    timeout_s=600,
                ),
                Contender(
                    "arrow-flight DoPut (fsync file)",
                    run=_upload_flight(True),
                    summarize=_rows,
                    requires=("pyarrow.flight",),
                    timeout_s=600,
                ),
                Contender(
                    "arrow-flight DoPut (fsync file, our allocator settings)",
                    run=_upload_flight(True, "tuned"),
                    summarize=_rows,
                    requires=("pyarrow.flight",),
                    timeout_s=600,
                ),
            ],
            agree=agree_on("rows"),
            params={"mb": round(table_mb, 1), "rows": 135_408 * copies},
        )
    )
    return cases
