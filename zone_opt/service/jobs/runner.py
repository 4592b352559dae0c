"""The worker pool that runs durable jobs from the job store
(:class:`~zone_opt.service.storage.jobstore.JobStore`).

``workers`` threads each claim a job (a lease), run its operation's handler
(:class:`~zone_opt.service.jobs.spec.OperationSpec`) and record the outcome
with the lease's fencing token. A heartbeat thread extends the leases of running jobs
and picks up cancel requests. Handlers are cooperative: they call
:meth:`JobContext.checkpoint` between stages, which raises
:class:`~zone_opt.errors.CancelledError` when the job was cancelled (the job ends
CANCELLED, no result recorded) or when the pool is shutting down (the job is put back in
the queue: the checkpoint on SIGTERM). Handlers must be idempotent in their visible
effects: they write results under ids derived from the job id, so a job run again after a
crash replaces its own partial output and never adds a second one.

The pool is sized together with the Rust engine's thread pool (see :func:`pool_sizes`):
``workers`` jobs at a time, all submitting engine work to the one engine pool of
``engine_threads`` threads, so concurrent jobs never oversubscribe the CPUs.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from zone_opt.distributed.executor import Executor, LocalExecutor
from zone_opt.errors import (
    CancelledError,
    DeadlineExceededError,
    ResourceExhaustedError,
    ZoneOptError,
)
from zone_opt.rpc.status import status_of
from zone_opt.service.storage.datasets import DatasetStore
from zone_opt.service.storage.jobstore import Job, JobState, JobStore
from zone_opt.service.storage.shards import ShardRecord

__all__ = ["JobContext", "WorkerPool", "pool_sizes"]

if TYPE_CHECKING:
    from zone_opt.service.jobs.spec import OperationSpec, Params

log = logging.getLogger(__name__)
P = TypeVar("P", bound="Params")


def pool_sizes(cpus: int, job_workers: int | None) -> tuple[int, int]:
    """``(job workers, engine threads)``: one job worker per 4 CPUs (at least 1) unless
    given, and the shared engine pool with one thread per CPU."""
    return job_workers or max(1, cpus // 4), max(1, cpus)


class _ShutdownInterruptError(CancelledError):
    """The pool is stopping: the job goes back to the queue."""


class JobContext:
    """What a handler sees: its job, the dataset store, the pool's executor (for sharded
    work: :mod:`zone_opt.service.jobs.sharded`), shard commits under the job's fencing
    token and a cooperative checkpoint."""

    def __init__(self, pool: WorkerPool, job: Job) -> None:
        self.job = job
        self.datasets = pool.datasets
        self.executor = pool.executor
        self._pool = pool
        self.cancelled = threading.Event()
        limit = job.params.get("time_limit_s")
        self.deadline = time.monotonic() + float(limit) if limit else None

    def report(self, progress: float, stage: str) -> None:
        """Record progress without any check (safe inside solver callbacks)."""
        self._pool.progress(self.job, progress, stage)

    def commit_shard(self, shard_key: str, data: bytes, rows: int) -> ShardRecord:
        """Commit one shard of this job under its lease's generation
        (:meth:`JobStore.commit_shard`; refused once the lease was taken over)."""
        return self._pool.store.commit_shard(self.job, shard_key, data, rows)

    def committed_shards(self) -> tuple[ShardRecord, ...]:
        """The shards of this job committed so far, by any attempt, by key."""
        return self._pool.store.shards(self.job.job_id)

    def read_shard(self, record: ShardRecord) -> bytes:
        """A committed shard's bytes (checked against its recorded SHA-256)."""
        return self._pool.store.read_shard(record)

    def checkpoint(self, progress: float, stage: str) -> None:
        """Record progress; raise CancelledError if the job was cancelled or must stop,
        DeadlineExceededError once its time limit (``params["time_limit_s"]``) passed."""
        self._pool.progress(self.job, progress, stage)
        if self._pool.stopping.is_set():
            raise _ShutdownInterruptError("server shutting down")
        if self.cancelled.is_set():
            raise CancelledError("operation cancelled")
        if self.deadline is not None and time.monotonic() > self.deadline:
            limit = self.job.params["time_limit_s"]
            raise DeadlineExceededError(f"time limit of {limit} s passed at stage {stage!r}")


@dataclass
class _Running:
    job: Job
    context: JobContext


class WorkerPool:
    """Threads running jobs of registered kinds; bounded queue for admission control."""

    def __init__(
        self,
        store: JobStore,
        datasets: DatasetStore,
        operations: Mapping[str, OperationSpec[Any, Any]],
        *,
        workers: int,
        max_queue: int,
        lease_s: float = 30.0,
        executor: Executor | None = None,
    ) -> None:
        """``executor``: where sharded jobs run their shards (default: in turn on the job
        worker's thread, ``LocalExecutor(1)``); the pool does not close it."""
        self.store = store
        self.executor: Executor = executor or LocalExecutor(1)
        self.datasets = datasets
        self.operations = operations
        self.workers = workers
        self.max_queue = max_queue
        self.lease_s = lease_s
        self.owner = uuid.uuid4().hex
        self.stopping = threading.Event()
        self._wake = threading.Condition()
        self._running: dict[str, _Running] = {}
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self.changed = threading.Condition()  # notified on every job state change

    @property
    def ready(self) -> bool:
        """Every worker thread is alive and the pool is not stopping."""
        return (
            bool(self._threads)
            and not self.stopping.is_set()
            and all(t.is_alive() for t in self._threads)
        )

    def start(self) -> None:
        """Recover jobs of a previous run, then start the workers and the heartbeat."""
        recovered = self.store.recover()
        if recovered:
            log.info("event=recover jobs=%d", recovered)
        for i in range(self.workers):
            t = threading.Thread(target=self._work, name=f"zone-opt-job-{i}", daemon=True)
            t.start()
            self._threads.append(t)
        hb = threading.Thread(target=self._heartbeat, name="zone-opt-heartbeat", daemon=True)
        hb.start()
        self._threads.append(hb)

    def submit(self, tenant: str, spec: OperationSpec[P, Any], params: P, request_id: str) -> Job:
        """Durably queue a job of ``spec`` with ``params`` (committed before this returns;
        the params in the spec's versioned encoding)."""
        if self.operations.get(spec.kind) is not spec:
            raise ZoneOptError(f"operation {spec.kind!r} is not registered with this pool")
        if self.store.queue_depth() >= self.max_queue:
            raise ResourceExhaustedError(
                f"job queue full ({self.max_queue} queued)", retry_after_s=5.0
            )
        job = self.store.submit(tenant, spec.kind, spec.encode_params(params), request_id)
        self._notify()
        return job

    def cancel(self, tenant: str, job_id: str) -> Job:
        job = self.store.request_cancel(tenant, job_id)
        with self._lock:
            running = self._running.get(job_id)
        if running is not None:
            running.context.cancelled.set()
        self._notify()
        return job

    def progress(self, job: Job, progress: float, stage: str) -> None:
        owner, cancel = self.store.heartbeat(job, self.lease_s, progress, stage)
        with self._lock:
            running = self._running.get(job.job_id)
        if running is not None and (cancel or not owner):
            running.context.cancelled.set()
        self._notify()

    def _notify(self) -> None:
        with self._wake:
            self._wake.notify_all()
        with self.changed:
            self.changed.notify_all()

    def _work(self) -> None:
        while not self.stopping.is_set():
            job = self.store.claim(self.owner, self.lease_s)
            if job is None:
                with self._wake:
                    self._wake.wait(timeout=1.0)
                continue
            self._run(job)

    def _run(self, job: Job) -> None:
        context = JobContext(self, job)
        with self._lock:
            self._running[job.job_id] = _Running(job, context)
        log.info("event=job_start job=%s kind=%s attempt=%d", job.job_id, job.kind, job.attempts)
        try:
            if job.cancel_requested:
                raise CancelledError("operation cancelled")
            spec = self.operations[job.kind]
            result = spec.encode_result(spec.run(context, spec.decode_params(job.params)))
        except _ShutdownInterruptError:
            self.store.requeue(job, "requeued: server shut down")
            log.info("event=job_requeued job=%s", job.job_id)
        except BaseException as exc:  # every failure is recorded on the job, never lost
            found = status_of(exc)
            if isinstance(exc, CancelledError):
                state, code = JobState.CANCELLED, "CANCELLED"
            else:
                state, code = JobState.FAILED, found[0].name if found else "INTERNAL"
            message = str(exc) if found else "internal error"
            if not found:
                log.exception("event=job_error job=%s", job.job_id)
            self.store.finish(job, state, error=(code, message))
            log.info("event=job_end job=%s state=%s", job.job_id, state.name)
        else:
            done = self.store.finish(job, JobState.SUCCEEDED, result=result)
            log.info("event=job_end job=%s state=SUCCEEDED recorded=%s", job.job_id, done)
        finally:
            with self._lock:
                self._running.pop(job.job_id, None)
            self._notify()

    def _heartbeat(self) -> None:
        while not self.stopping.wait(self.lease_s / 3):
            with self._lock:
                running = list(self._running.values())
            for r in running:
                owner, cancel = self.store.heartbeat(r.job, self.lease_s)
                if cancel or not owner:
                    r.context.cancelled.set()

    def wait_changed(self, timeout_s: float) -> None:
        """Block until some job changes state or ``timeout_s`` passes."""
        with self.changed:
            self.changed.wait(timeout=timeout_s)

    def stop(self, grace_s: float) -> None:
        """Stop claiming; running jobs stop at their next checkpoint and are requeued.

        Jobs still running after ``grace_s`` keep their lease, which expires; the next
        start requeues them (:meth:`JobStore.recover`).
        """
        self.stopping.set()
        self._notify()
        deadline = time.monotonic() + grace_s
        for t in self._threads:
            t.join(timeout=max(0.0, deadline - time.monotonic()))
