"""Sharded jobs: a job's work split into shards, run on an executor, committed one by one
in the job store's shard manifest under the job's fencing token.

The leased job worker is the driver. A handler builds a deterministic :class:`ShardPlan`
(shard keys and their items, in order; the same for every attempt of the job) and calls
:func:`run_sharded`, which

1. reads the manifest: shards committed by an earlier attempt (one whose lease expired,
   or that was requeued at shutdown) are not run again;
2. runs the rest on the executor in rounds of ``executor.workers`` tasks; after each round
   (unless the job was cancelled or ran out of time, when nothing of the round is
   committed) commits each shard's output (written, fsynced, renamed, recorded:
   :meth:`~zone_opt.service.storage.jobstore.JobStore.commit_shard`) and reports
   ``"shard k of N ..."`` as the job's stage, so ``WatchOperation`` follows it;
3. returns every shard's bytes read back from the manifest in plan order, so a resumed
   job's result is byte for byte that of an uninterrupted one.

A commit by an attempt whose lease was taken over raises
:class:`~zone_opt.service.storage.shards.StaleShardCommitError`: that attempt stops, and
its outcome is not recorded either (``finish`` is fenced the same way).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from zone_opt.distributed.executor import Executor
from zone_opt.errors import (
    CancelledError,
    DeadlineExceededError,
    FailedPreconditionError,
    InvalidInputError,
)
from zone_opt.service.jobs.runner import JobContext
from zone_opt.service.storage.shards import SHARD_KEY

__all__ = ["JobLedger", "ShardPlan", "run_sharded", "shard_keys"]

S = TypeVar("S")
T = TypeVar("T")
R = TypeVar("R")


def shard_keys(count: int, prefix: str = "shard") -> list[str]:
    """``count`` keys whose sort order is their index order (``shard-000000``, ...)."""
    return [f"{prefix}-{k:06d}" for k in range(count)]


@dataclass(frozen=True)
class ShardPlan(Generic[S, T, R]):
    """What a sharded job runs: ``fn(shared(), item)`` per shard, on an executor.

    ``keys[k]`` names shard ``k`` (unique, :data:`~zone_opt.service.storage.shards.SHARD_KEY`)
    and ``labels[k]`` says what it is in the stage text; ``items[k]`` is its task's item.
    ``shared`` is called before each round for that round's shared context (a remaining
    time limit, say). ``encode`` turns a task's result into the shard's bytes and row count,
    on the driver. ``fn`` must be a module-level function when the executor is remote.
    """

    keys: Sequence[str]
    labels: Sequence[str]
    items: Sequence[T]
    fn: Callable[[S, T], R]
    shared: Callable[[], S]
    encode: Callable[[R], tuple[bytes, int]]

    def __post_init__(self) -> None:
        if not len(self.keys) == len(self.labels) == len(self.items):
            raise InvalidInputError.single(
                "plan", None, "keys, labels and items must have one entry per shard"
            )
        if len(set(self.keys)) != len(self.keys):
            raise InvalidInputError.single("plan.keys", None, "shard keys must be unique")
        for k, key in enumerate(self.keys):
            if not SHARD_KEY.fullmatch(key):
                raise InvalidInputError.single(
                    "plan.keys", k, f"must match {SHARD_KEY.pattern}, got {key!r}"
                )


def run_sharded(ctx: JobContext, executor: Executor, plan: ShardPlan[S, T, R]) -> list[bytes]:
    """Run ``plan`` for the job of ``ctx`` on ``executor``; every shard's bytes in plan
    order (see the module docstring)."""
    total = len(plan.keys)
    committed = {r.shard_key for r in ctx.committed_shards()}
    unknown = committed - set(plan.keys)
    if unknown:
        raise FailedPreconditionError(
            f"job {ctx.job.job_id} has committed shards its plan does not name:"
            f" {sorted(unknown)[:3]}",
            subject="shards",
            kind="SHARD_PLAN",
        )
    pending = [k for k, key in enumerate(plan.keys) if key not in committed]
    done = total - len(pending)
    if done:
        ctx.checkpoint(done / total, f"shard {done} of {total}: resumed, {done} committed")
    for start in range(0, len(pending), executor.workers):
        batch = pending[start : start + executor.workers]
        names = ", ".join(plan.labels[k] for k in batch)
        ctx.checkpoint(done / total, f"shard {done + 1} of {total}: {names}: solving")
        results = executor.map(plan.fn, plan.shared(), [plan.items[k] for k in batch])
        _stop_if_interrupted(ctx, names)
        for k, result in zip(batch, results, strict=True):
            data, rows = plan.encode(result)
            ctx.commit_shard(plan.keys[k], data, rows)
            done += 1
            ctx.report(done / total, f"shard {done} of {total}: {plan.labels[k]}: committed")
    return _assemble(ctx, plan.keys)


def _stop_if_interrupted(ctx: JobContext, names: str) -> None:
    """A cancelled job, or one past its time limit, commits nothing of the round (its
    solves were cut short)."""
    if ctx.cancelled.is_set():
        raise CancelledError("operation cancelled")
    if ctx.deadline is not None and time.monotonic() > ctx.deadline:
        limit = ctx.job.params["time_limit_s"]
        raise DeadlineExceededError(f"time limit of {limit} s passed in {names}")


def _assemble(ctx: JobContext, keys: Sequence[str]) -> list[bytes]:
    """Every shard's bytes from the manifest, in plan order."""
    records = {r.shard_key: r for r in ctx.committed_shards()}
    missing = [key for key in keys if key not in records]
    if missing:  # a commit was refused without an error: never expected
        raise FailedPreconditionError(
            f"job {ctx.job.job_id}: shards {missing[:3]} are not committed",
            subject="shards",
            kind="SHARD_MISSING",
        )
    return [ctx.read_shard(records[key]) for key in keys]


class JobLedger:
    """The job store as a :class:`zone_opt.matching.ledger.ShardLedger`: a shard is
    committed (written, fsynced, renamed, recorded under the job's fencing token: a
    stale attempt's commit is refused) and reported as the job's stage, then the job
    checkpoints (a cancel, a shutdown or the time limit stops it at that boundary, the
    commit kept for a resumed attempt); :meth:`committed` reads back what this or an
    earlier attempt committed, checked against its SHA-256.

    ``progress`` is the job's progress while shards are made (the stage text says
    which shard).
    """

    def __init__(self, ctx: JobContext, progress: float) -> None:
        self._ctx = ctx
        self._progress = progress
        self._records = {r.shard_key: r for r in ctx.committed_shards()}
        if self._records:
            ctx.checkpoint(progress, f"resumed: {len(self._records)} shards committed")

    def committed(self, key: str) -> bytes | None:
        record = self._records.get(key)
        return None if record is None else self._ctx.read_shard(record)

    def commit(self, key: str, data: bytes, rows: int, label: str) -> None:
        self._ctx.commit_shard(key, data, rows)
        self._ctx.checkpoint(self._progress, f"{label}: committed")
