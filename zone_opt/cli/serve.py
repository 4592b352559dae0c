"""``zone-opt serve``: run the gRPC server on embedded defaults until SIGTERM or Ctrl-C;
with ``--ray-address`` its sharded operations run their shards as tasks on Ray."""

from __future__ import annotations

import logging
import signal
import threading
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import click

from zone_opt.cli.io import reading
from zone_opt.cli.params import INPUT_FILE, POSITIVE, gathered
from zone_opt.errors import InvalidInputError

log = logging.getLogger(__name__)

PORT = click.IntRange(0, 65535)


@dataclass(frozen=True)
class ServeArgs:
    host: str
    port: int
    data_dir: Path
    tokens: Path | None
    join_peers: Path | None
    tls_cert: Path | None
    tls_key: Path | None
    tls_client_ca: Path | None
    insecure: bool
    metrics_port: int | None
    max_concurrent_calls: int
    max_queue: int
    job_workers: int | None
    compute_slots: int | None
    lease_s: float
    grace_s: float
    no_sample: bool
    port_file: Path | None
    malloc_retain_mb: int
    ray_address: str | None


@click.command(
    short_help="Run the gRPC server.",
    help="Serve the zone-opt gRPC API (datasets, operations, matching, join, carbon, "
    "facilities, dispatch) until SIGTERM or Ctrl-C. Without --tokens (or ZONE_OPT_TOKENS) a "
    "demo token for the 'demo' tenant is generated, kept in DATA_DIR/demo-token and logged; "
    "the bundled sample is preloaded as that tenant's datasets on first start.",
)
@click.option("--host", default="127.0.0.1", help="Address to bind.")
@click.option("--port", type=PORT, default=50051, help="Port; 0 picks a free one.")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".zone-opt-data"),
    help="State directory (SQLite job store, stored datasets, demo token).",
)
@click.option(
    "--tokens",
    type=INPUT_FILE,
    default=None,
    show_default="ZONE_OPT_TOKENS, else a demo token",
    help="JSON file {token: tenant}.",
)
@click.option(
    "--join-peers",
    type=INPUT_FILE,
    default=None,
    show_default="none",
    help="YAML or JSON file of the private-join peers RunJoin may dial.",
)
@click.option(
    "--tls-cert",
    type=INPUT_FILE,
    default=None,
    show_default="no TLS",
    help="Server certificate (PEM).",
)
@click.option(
    "--tls-key",
    type=INPUT_FILE,
    default=None,
    show_default="no TLS",
    help="Server private key (PEM).",
)
@click.option(
    "--tls-client-ca",
    type=INPUT_FILE,
    default=None,
    show_default="no client certificates",
    help="CA of client certificates (mutual TLS).",
)
@click.option("--insecure", is_flag=True, help="Allow a non-loopback --host without TLS.")
@click.option(
    "--metrics-port",
    type=PORT,
    default=None,
    show_default="no metrics",
    help="Port of the Prometheus /metrics endpoint.",
)
@click.option(
    "--max-concurrent-calls",
    type=click.IntRange(min=1),
    default=64,
    help="Calls in flight at once.",
)
@click.option(
    "--max-queue", type=click.IntRange(min=1), default=256, help="Queued jobs before refusing."
)
@click.option(
    "--job-workers",
    type=click.IntRange(min=1),
    default=None,
    show_default="from the cores",
    help="Jobs run at once.",
)
@click.option(
    "--compute-slots",
    type=click.IntRange(min=1),
    default=None,
    show_default="one per core",
    help="CPU-heavy inline calls (Recommend) computing at once.",
)
@click.option("--lease-s", type=POSITIVE, default=30.0, help="Job lease, s.")
@click.option("--grace-s", type=POSITIVE, default=10.0, help="Shutdown drain period, s.")
@click.option("--no-sample", is_flag=True, help="Do not preload the bundled sample.")
@click.option(
    "--port-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    show_default="none",
    help="Write the bound port to this file once serving.",
)
@click.option(
    "--malloc-retain-mb",
    type=click.IntRange(min=0),
    default=256,
    help="Freed memory kept for reuse by large buffers, MiB (glibc; 0: its defaults).",
)
@click.option(
    "--ray-address",
    metavar="ADDRESS",
    default=None,
    show_default="none: scenarios in turn on the job's thread",
    help="Send large operations (PlanFacilities: one task per scenario) to the Ray cluster "
    "at ADDRESS (ray://HOST:10001 or HOST:6379), or `local` to start a private Ray in this "
    "process (needs pip install 'zone-opt[ray]'). Results are identical.",
)
@gathered(ServeArgs)
def command(args: ServeArgs) -> int:
    from zone_opt.service.server import DEMO_TENANT, ServerSettings, create_server
    from zone_opt.service.transport.allocator import keep_freed_memory
    from zone_opt.service.transport.auth import load_tokens
    from zone_opt.service.transport.peers import load_peers

    if args.ray_address is not None and not args.ray_address.strip():
        raise click.UsageError("--ray-address must not be empty (use `local` for a private Ray)")
    keep_freed_memory(args.malloc_retain_mb * 1024 * 1024)
    with reading(args.tokens, "--tokens"):
        tokens = load_tokens(args.tokens)
    with reading(args.join_peers, "--join-peers"):
        peers = load_peers(args.join_peers)
    config = ServerSettings(
        data_dir=args.data_dir,
        host=args.host,
        port=args.port,
        tokens=tokens,
        join_peers=peers,
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
        ray_address=args.ray_address,
    )
    try:
        server, port = create_server(config)
    except RuntimeError as exc:
        if "Failed to bind" not in str(exc):
            raise
        raise InvalidInputError.single(
            "--port", None, f"cannot listen on {args.host}:{args.port}: in use or not available"
        ) from exc
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
