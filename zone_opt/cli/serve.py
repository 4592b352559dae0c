"""``zone-opt serve``: run the gRPC server on embedded defaults until SIGTERM or Ctrl-C."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from zone_opt.service.server import DEMO_TENANT, ServerSettings, create_server
from zone_opt.service.transport.allocator import keep_freed_memory
from zone_opt.service.transport.auth import load_tokens
from zone_opt.service.transport.peers import load_peers

log = logging.getLogger(__name__)


def add_parser(sub: Any) -> None:
    """Register ``serve``."""
    p: argparse.ArgumentParser = sub.add_parser(
        "serve",
        help="run the gRPC server (datasets, operations, matching)",
        description=(
            "Serve the zone-opt gRPC API. Without --tokens (or ZONE_OPT_TOKENS) a demo token "
            "for the 'demo' tenant is generated, kept in DATA_DIR/demo-token and logged; the "
            "bundled sample is preloaded as that tenant's datasets on first start."
        ),
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback)")
    p.add_argument("--port", type=int, default=50051, help="port (0 picks a free one)")
    p.add_argument("--data-dir", type=Path, default=Path(".zone-opt-data"), help="state directory")
    p.add_argument("--tokens", type=Path, default=None, help="JSON file {token: tenant}")
    p.add_argument(
        "--join-peers",
        type=Path,
        default=None,
        help="YAML/JSON file of the private-join peers RunJoin may dial (default: none)",
    )
    p.add_argument("--tls-cert", type=Path, default=None, help="server certificate (PEM)")
    p.add_argument("--tls-key", type=Path, default=None, help="server private key (PEM)")
    p.add_argument("--tls-client-ca", type=Path, default=None, help="CA of client certs (mTLS)")
    p.add_argument("--insecure", action="store_true", help="allow a public address without TLS")
    p.add_argument("--metrics-port", type=int, default=None, help="Prometheus /metrics port")
    p.add_argument("--max-concurrent-calls", type=int, default=64, help="admission limit")
    p.add_argument("--max-queue", type=int, default=256, help="queued jobs before refusing")
    p.add_argument("--job-workers", type=int, default=None, help="jobs run at once")
    p.add_argument(
        "--compute-slots",
        type=int,
        default=None,
        help="CPU-heavy inline calls (Recommend) computing at once; default one per core",
    )
    p.add_argument("--lease-s", type=float, default=30.0, help="job lease (seconds)")
    p.add_argument("--grace-s", type=float, default=10.0, help="shutdown drain period (seconds)")
    p.add_argument("--no-sample", action="store_true", help="do not preload the bundled sample")
    p.add_argument("--port-file", type=Path, default=None, help="write the bound port here")
    p.add_argument(
        "--malloc-retain-mb",
        type=int,
        default=256,
        help="freed memory kept for reuse by large buffers (glibc; 0: its defaults)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    keep_freed_memory(args.malloc_retain_mb * 1024 * 1024)
    config = ServerSettings(
        data_dir=args.data_dir,
        host=args.host,
        port=args.port,
        tokens=load_tokens(args.tokens),
        join_peers=load_peers(args.join_peers),
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        tls_client_ca=args.tls_client_ca,
        insecure=args.insecure,
        metrics_port=args.metrics_port,
        max_concurrent_calls=args.max_concurrent_calls,
        max_queue=args.max_queue,
        job_workers=args.job_workers,
        compute_slots=args.compute_slots,
        lease_s=args.lease_s,
        grace_s=args.grace_s,
        preload_sample=not args.no_sample,
    )
    server, port = create_server(config)
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("event=signal signal=%s", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    server.start()
    if server.demo_token is not None:
        log.info(
            "event=demo_token tenant=%s token=%s (also in %s)",
            DEMO_TENANT,
            server.demo_token,
            args.data_dir / "demo-token",
        )
    if args.port_file is not None:
        args.port_file.write_text(f"{port}\n", encoding="utf-8")
    stop.wait()
    server.stop()
    return 0
