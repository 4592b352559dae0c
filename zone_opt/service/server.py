"""The zone-opt gRPC server: ``create_server(settings) -> (server, port)``.

Embedded defaults, no external service: a data dir holding the SQLite database
(datasets and jobs) and the stored tables; the worker pool; health (overall and per
service, from real readiness) and reflection; the interceptor (request ids, tokens,
admission, metrics, errors); Prometheus metrics on their own port. On first start the
sample region (:func:`zone_opt.datasets.sample_region`: the bundled files of a checkout, or
the same tables generated from their seed in an installed package) is stored as datasets
of the ``demo`` tenant.
"""

from __future__ import annotations

import fcntl
import ipaddress
import logging
import os
import threading
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

import zone_opt
from zone_opt.api.v1 import (
    carbon_pb2,
    carbon_pb2_grpc,
    datasets_pb2,
    dispatch_pb2,
    dispatch_pb2_grpc,
    facilities_pb2,
    facilities_pb2_grpc,
    join_pb2,
    join_pb2_grpc,
    matching_pb2,
    matching_pb2_grpc,
    operations_pb2,
    operations_pb2_grpc,
    planning_pb2,
    planning_pb2_grpc,
    privacy_pb2,
    privacy_pb2_grpc,
)
from zone_opt.config import settings as global_settings
from zone_opt.datasets import SAMPLE_DIR, TABLE_NAMES, sample_region
from zone_opt.distributed import Executor, executor
from zone_opt.errors import InvalidInputError, ZoneOptError
from zone_opt.rpc.ipc import MAX_CHUNK_BYTES, table_to_ipc
from zone_opt.rpc.upload import UploadChunk
from zone_opt.service.jobs.runner import WorkerPool, pool_sizes
from zone_opt.service.operations import OPERATIONS
from zone_opt.service.operations.join import JoinSessions
from zone_opt.service.servicers.carbon import CarbonServicer
from zone_opt.service.servicers.datasets import DatasetServicer, add_dataset_service
from zone_opt.service.servicers.dispatch import DispatchServicer
from zone_opt.service.servicers.facilities import FacilitiesServicer
from zone_opt.service.servicers.join import JoinServicer
from zone_opt.service.servicers.matching import MatchingServicer
from zone_opt.service.servicers.operations import OperationsServicer
from zone_opt.service.storage.datasets import DatasetStore
from zone_opt.service.storage.jobstore import Database, JobStore
from zone_opt.service.storage.policies import PolicyStore
from zone_opt.service.transport.admission import ComputeSlots
from zone_opt.service.transport.auth import TokenAuth, new_token
from zone_opt.service.transport.interceptors import ServiceInterceptor
from zone_opt.service.transport.metrics import Metrics
from zone_opt.service.transport.peers import PeerRegistry

__all__ = ["SAMPLE_DIR", "Server", "ServerSettings", "create_server"]

log = logging.getLogger(__name__)

#: The bundled sample preloaded for the demo tenant.
DEMO_TENANT = "demo"

SERVICE_NAMES = {
    "datasets": datasets_pb2.DESCRIPTOR.services_by_name["DatasetService"].full_name,
    "operations": operations_pb2.DESCRIPTOR.services_by_name["OperationsService"].full_name,
    "matching": matching_pb2.DESCRIPTOR.services_by_name["MatchingService"].full_name,
    "dispatch": dispatch_pb2.DESCRIPTOR.services_by_name["DispatchService"].full_name,
    "join": join_pb2.DESCRIPTOR.services_by_name["JoinService"].full_name,
    "carbon": carbon_pb2.DESCRIPTOR.services_by_name["CarbonService"].full_name,
    "facilities": facilities_pb2.DESCRIPTOR.services_by_name["FacilitiesService"].full_name,
}

#: Services renamed in v1 (grpc/README.md, "Renamed services"): each old name is served by
#: the same servicer as its new one, with the same health, until the v2 API removes it.
RENAMED_SERVICES = {
    privacy_pb2.DESCRIPTOR.services_by_name["PrivateJoinService"].full_name: "join",
    planning_pb2.DESCRIPTOR.services_by_name["PlanningService"].full_name: "facilities",
}


@dataclass(frozen=True)
class ServerSettings:
    """Everything the server needs; the CLI builds it from flags and the environment.

    ``tokens`` maps bearer tokens to tenants; when empty a demo token is generated for the
    ``demo`` tenant (kept in ``data_dir/demo-token``). Sizes are bytes, times seconds.
    """

    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 50051
    tokens: dict[str, str] = field(default_factory=dict)
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_client_ca: Path | None = None
    insecure: bool = False
    metrics_port: int | None = None
    max_concurrent_calls: int = 64
    max_queue: int = 256
    job_workers: int | None = None
    #: CPU-heavy calls answered inline (``Recommend``) computing at once; None: one per
    #: engine thread (the machine's cores). See :mod:`zone_opt.service.transport.admission`.
    compute_slots: int | None = None
    lease_s: float = 30.0
    grace_s: float = 10.0
    max_upload_bytes: int = 8 * 1024**3
    reflection: bool = True
    preload_sample: bool = True
    #: Private-join peers RunJoin may dial (:mod:`~zone_opt.service.transport.peers`); none
    #: by default.
    join_peers: PeerRegistry = field(default_factory=PeerRegistry)
    #: Where sharded operations (PlanFacilities: one task per scenario) run their shards:
    #: None, in turn on the job's thread; a Ray address (``ray://HOST:10001``, ``HOST:6379``)
    #: or ``"local"`` (a private Ray in this process), tasks on that Ray. The server makes
    #: the executor when it is built and closes it when it stops.
    ray_address: str | None = None

    def check(self) -> None:
        """Refuse unsafe combinations (a public address needs TLS and tokens)."""
        if (self.tls_cert is None) != (self.tls_key is None):
            raise InvalidInputError.single("tls_cert", None, "--tls-cert and --tls-key go together")
        if self.compute_slots is not None and self.compute_slots < 1:
            raise InvalidInputError.single(
                "compute_slots",
                None,
                f"--compute-slots must be at least 1, got {self.compute_slots}",
            )
        if self.ray_address is not None and (
            not isinstance(self.ray_address, str) or not self.ray_address.strip()
        ):
            raise InvalidInputError.single(
                "ray_address", None, "--ray-address must be a Ray address or `local`"
            )
        if self.tls_client_ca is not None and self.tls_cert is None:
            raise InvalidInputError.single("tls_client_ca", None, "mutual TLS needs --tls-cert")
        if (
            not _loopback(self.host)
            and not self.insecure
            and (self.tls_cert is None or not self.tokens)
        ):
            raise InvalidInputError.single(
                "host",
                None,
                f"binding {self.host} (not loopback) needs --tls-cert/--tls-key and --tokens, "
                "or --insecure",
            )


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Server:
    """A running zone-opt server (grpc server, stores, pool, health, metrics)."""

    def __init__(self, config: ServerSettings) -> None:
        config.check()
        self.config = config
        config.data_dir.mkdir(parents=True, exist_ok=True)
        self._lock_file = open(config.data_dir / "LOCK", "w")  # noqa: SIM115 (held while serving)
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._lock_file.close()
            raise ZoneOptError(f"data dir {config.data_dir} is used by another server") from None
        try:
            self._build(config)
        except BaseException:
            # A port in use, a bad certificate: give the data dir back (its lock, the store)
            # and close the executor (a private Ray).
            if hasattr(self, "db"):
                self.db.close()
            made: Executor | None = getattr(self, "executor", None)
            if made is not None:
                made.close()
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)
            self._lock_file.close()
            raise

    def _build(self, config: ServerSettings) -> None:
        """Everything but the data dir's lock: stores, pool, gRPC server, bound port."""
        tokens = dict(config.tokens)
        self.demo_token: str | None = None
        if not tokens:
            token_file = config.data_dir / "demo-token"
            if not token_file.exists():
                token_file.write_text(new_token() + "\n", encoding="utf-8")
                token_file.chmod(0o600)
            self.demo_token = token_file.read_text(encoding="utf-8").strip()
            tokens = {self.demo_token: DEMO_TENANT}
        self.auth = TokenAuth(tokens)
        self.db = Database(config.data_dir / "zone-opt.db")
        self.datasets = DatasetStore(config.data_dir, self.db, config.max_upload_bytes)
        self.jobs = JobStore(self.db)
        self.join_policies = PolicyStore(self.db)
        process = global_settings()
        workers, engine_threads = pool_sizes(process.num_threads, config.job_workers)
        zone_opt.set_num_threads(engine_threads)
        if process.memory_budget_mb is not None:
            zone_opt.set_memory_budget(process.memory_budget_mb * 1024 * 1024)
        self.executor = _executor(config.ray_address)
        self.join_sessions = JoinSessions(
            self.join_policies,
            self.datasets,
            spill_dir=config.data_dir / "join-spill",
            executor=self.executor,
        )
        self.pool = WorkerPool(
            self.jobs,
            self.datasets,
            OPERATIONS,
            workers=workers,
            max_queue=config.max_queue,
            lease_s=config.lease_s,
            executor=self.executor,
        )
        self.metrics = Metrics()
        self.metrics.watch_queue(self.jobs.queue_depth)
        self.health = health.HealthServicer()
        for name in ("", *SERVICE_NAMES.values(), *RENAMED_SERVICES):
            self.health.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
        self.grpc = grpc.server(
            futures.ThreadPoolExecutor(
                max_workers=config.max_concurrent_calls + 8, thread_name_prefix="zone-opt-rpc"
            ),
            interceptors=[ServiceInterceptor(self.auth, self.metrics, config.max_concurrent_calls)],
            options=[
                ("grpc.max_receive_message_length", MAX_CHUNK_BYTES + 64 * 1024),
                ("grpc.max_send_message_length", MAX_CHUNK_BYTES + 64 * 1024),
                ("grpc.keepalive_time_ms", 60_000),
                ("grpc.keepalive_timeout_ms", 20_000),
                ("grpc.http2.min_recv_ping_interval_without_data_ms", 30_000),
                ("grpc.max_connection_age_ms", 30 * 60_000),
                ("grpc.max_connection_age_grace_ms", 60_000),
                # A port another process serves is an error, not shared traffic (gRPC sets
                # SO_REUSEPORT by default: two servers would split the calls silently).
                ("grpc.so_reuseport", 0),
            ],
        )
        add_dataset_service(DatasetServicer(self.auth, self.datasets, self.pool), self.grpc)
        operations_pb2_grpc.add_OperationsServiceServicer_to_server(
            OperationsServicer(self.auth, self.pool), self.grpc
        )
        self.slots = ComputeSlots(config.compute_slots or engine_threads)
        matching_pb2_grpc.add_MatchingServiceServicer_to_server(
            MatchingServicer(self.auth, self.pool, self.slots), self.grpc
        )
        dispatch_pb2_grpc.add_DispatchServiceServicer_to_server(
            DispatchServicer(self.auth, self.pool), self.grpc
        )
        join = JoinServicer(
            self.auth, self.datasets, self.join_policies, self.join_sessions, config.join_peers
        )
        join_pb2_grpc.add_JoinServiceServicer_to_server(join, self.grpc)
        privacy_pb2_grpc.add_PrivateJoinServiceServicer_to_server(join, self.grpc)
        carbon_pb2_grpc.add_CarbonServiceServicer_to_server(
            CarbonServicer(self.auth, self.pool), self.grpc
        )
        facilities = FacilitiesServicer(self.auth, self.pool)
        facilities_pb2_grpc.add_FacilitiesServiceServicer_to_server(facilities, self.grpc)
        planning_pb2_grpc.add_PlanningServiceServicer_to_server(facilities, self.grpc)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.grpc)
        if config.reflection:
            reflection.enable_server_reflection(
                (
                    *SERVICE_NAMES.values(),
                    *RENAMED_SERVICES,
                    health.SERVICE_NAME,
                    reflection.SERVICE_NAME,
                ),
                self.grpc,
            )
        address = f"{config.host}:{config.port}"
        if config.tls_cert is not None and config.tls_key is not None:
            credentials = grpc.ssl_server_credentials(
                [(config.tls_key.read_bytes(), config.tls_cert.read_bytes())],
                root_certificates=config.tls_client_ca.read_bytes()
                if config.tls_client_ca
                else None,
                require_client_auth=config.tls_client_ca is not None,
            )
            self.port = self.grpc.add_secure_port(address, credentials)
        else:
            self.port = self.grpc.add_insecure_port(address)
        self.metrics_port: int | None = None
        self._stopped = threading.Event()

    def start(self) -> None:
        """Preload the sample (first start), start the pool, serve, report SERVING."""
        if self.config.preload_sample:
            preload_sample(self.datasets, self.config.data_dir)
        self.pool.start()
        self.grpc.start()
        if self.config.metrics_port is not None:
            self.metrics_port = self.metrics.serve(self.config.metrics_port, self.config.host)
        self.refresh_health()
        threading.Thread(target=self._watch_health, name="zone-opt-health", daemon=True).start()
        log.info(
            "event=serving address=%s:%d tls=%s mtls=%s metrics_port=%s data_dir=%s",
            self.config.host,
            self.port,
            self.config.tls_cert is not None,
            self.config.tls_client_ca is not None,
            self.metrics_port,
            self.config.data_dir,
        )

    def refresh_health(self) -> None:
        """Per-service status from real readiness: store writable, pool up."""
        if self._stopped.is_set():
            return
        serving, not_serving = (
            health_pb2.HealthCheckResponse.SERVING,
            health_pb2.HealthCheckResponse.NOT_SERVING,
        )
        store_ok = self.db.writable()
        pool_ok = self.pool.ready
        states = {
            SERVICE_NAMES["datasets"]: store_ok,
            SERVICE_NAMES["operations"]: store_ok and pool_ok,
            SERVICE_NAMES["matching"]: store_ok and pool_ok,
            SERVICE_NAMES["dispatch"]: store_ok and pool_ok,
            SERVICE_NAMES["join"]: store_ok,
            SERVICE_NAMES["carbon"]: store_ok and pool_ok,
            SERVICE_NAMES["facilities"]: store_ok and pool_ok,
            "": store_ok and pool_ok,
        }
        states.update({old: states[SERVICE_NAMES[new]] for old, new in RENAMED_SERVICES.items()})
        for name, ok in states.items():
            self.health.set(name, serving if ok else not_serving)

    def _watch_health(self) -> None:
        while not self._stopped.wait(5.0):
            self.refresh_health()

    def stop(self, grace_s: float | None = None) -> None:
        """Graceful stop: NOT_SERVING, refuse new calls, drain in-flight calls within the
        grace period, requeue running jobs at their next checkpoint, close the stores."""
        if self._stopped.is_set():
            return
        grace = self.config.grace_s if grace_s is None else grace_s
        self._stopped.set()
        self.health.enter_graceful_shutdown()
        log.info("event=shutdown grace_s=%.1f", grace)
        done = self.grpc.stop(grace)
        self.pool.stop(grace)
        self.join_sessions.close_all()
        if self.executor is not None:
            self.executor.close()
        done.wait(grace + 1.0)
        self.metrics.close()
        self.db.close()
        fcntl.flock(self._lock_file, fcntl.LOCK_UN)
        self._lock_file.close()
        log.info("event=stopped")

    def wait_for_termination(self, timeout_s: float | None = None) -> bool:
        return bool(self.grpc.wait_for_termination(timeout_s))


def _executor(ray_address: str | None) -> Executor | None:
    """The executor of sharded operations: None (in turn on the job's thread) without a
    Ray address, else tasks on that Ray (attached, or private with ``"local"``)."""
    if ray_address is None:
        return None
    ex = executor("ray", address=ray_address)
    log.info("event=executor backend=ray workers=%d", ex.workers)
    return ex


def preload_sample(datasets: DatasetStore, data_dir: Path) -> int:
    """Store each table of the sample region for the demo tenant, once per data dir."""
    marker = data_dir / "sample-preloaded"
    if marker.exists():
        return 0
    region = sample_region()
    stored = 0
    for name in sorted(TABLE_NAMES):
        data = table_to_ipc(getattr(region, name))
        chunks = [UploadChunk(seq=0, ipc=data, last=True, sha256="")]
        datasets.ingest(DEMO_TENANT, f"sample/{name}", name, chunks)
        stored += 1
    marker.write_text(f"{stored}\n", encoding="utf-8")
    os.sync()
    log.info("event=sample_preloaded tenant=%s datasets=%d", DEMO_TENANT, stored)
    return stored


def create_server(config: ServerSettings) -> tuple[Server, int]:
    """A configured, not yet started server and its bound port (``port=0`` picks one)."""
    server = Server(config)
    return server, server.port
