"""Prometheus metrics of the server, on their own registry (one per server instance).

- ``zone_opt_grpc_handling_seconds{method}``: latency histogram per method;
- ``zone_opt_grpc_handled_total{method, code}``: calls by final status code;
- ``zone_opt_grpc_in_flight``: calls being handled;
- ``zone_opt_job_queue_depth``: jobs waiting for a worker (read at scrape time);
- ``zone_opt_jobs_running``: jobs being run.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

__all__ = ["Metrics"]

_BUCKETS_S = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class Metrics:
    """The server's metrics; :meth:`serve` exposes them over HTTP."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.latency = Histogram(
            "zone_opt_grpc_handling_seconds",
            "Time to handle a call, by method.",
            ["method"],
            buckets=_BUCKETS_S,
            registry=self.registry,
        )
        self.handled = Counter(
            "zone_opt_grpc_handled",
            "Calls handled, by method and status code.",
            ["method", "code"],
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "zone_opt_grpc_in_flight", "Calls being handled.", registry=self.registry
        )
        self.queue_depth = Gauge(
            "zone_opt_job_queue_depth", "Jobs waiting for a worker.", registry=self.registry
        )

    def watch_queue(self, depth: Callable[[], int]) -> None:
        """Read the queue depth at each scrape."""
        self.queue_depth.set_function(depth)

    def observe(self, method: str, code: str, seconds: float) -> None:
        self.latency.labels(method).observe(seconds)
        self.handled.labels(method, code).inc()

    def serve(self, port: int, host: str = "127.0.0.1") -> int:
        """Serve ``/metrics`` on ``host:port`` (0 picks a port); returns the port."""
        self._http, _thread = start_http_server(port, addr=host, registry=self.registry)
        return int(self._http.server_port)

    def close(self) -> None:
        """Stop the HTTP endpoint, if serving."""
        http = getattr(self, "_http", None)
        if http is not None:
            http.shutdown()
            http.server_close()
