"""The Ray backend of :class:`~zone_opt.distributed.executor.Executor`.

Ray is an optional extra (``pip install 'zone-opt[ray]'``): it is imported when a
:class:`RayExecutor` is made, never when ``zone_opt`` is. A round's shared context is put in
the object store once; its items go out in chunks (a few per CPU, so a round of thousands of
small solves does not pay Ray's per-task overhead thousands of times) and come back in
submission order. Tasks are pure functions of their arguments, so Ray's retry of a task
whose worker died gives the same value.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import TypeVar

from zone_opt.distributed.shared import Shared
from zone_opt.errors import FailedPreconditionError, InvalidInputError

__all__ = ["CHUNKS_PER_WORKER", "INSTALL_HINT", "RayExecutor", "RayUnavailableError"]

S = TypeVar("S")
T = TypeVar("T")
R = TypeVar("R")

INSTALL_HINT = "pip install 'zone-opt[ray]'"
#: Chunks per worker in a round: enough to even out uneven tasks, few enough to keep
#: Ray's per-task overhead (~2 ms) small next to the work.
CHUNKS_PER_WORKER = 4


class RayUnavailableError(FailedPreconditionError, ImportError):
    """The Ray backend was asked for, but Ray is not installed."""

    def __init__(self) -> None:
        super().__init__(
            f"the ray executor needs Ray, which is not installed: {INSTALL_HINT}",
            subject="executor",
            kind="MISSING_EXTRA",
        )


def _import_ray() -> ModuleType:
    try:
        return importlib.import_module("ray")
    except ImportError as exc:
        raise RayUnavailableError from exc


def _apply_chunk(fn: Callable[[S, T], R], shared: S, chunk: Sequence[T]) -> list[R]:
    """One Ray task: ``fn`` over a chunk of a round's items, in order."""
    return [fn(shared, item) for item in chunk]


class _RayShared(Shared[T]):
    """A value in Ray's object store, by reference (the reference pickles with the items
    that carry it, and keeps the object alive while any copy of it does)."""

    def __init__(self, ref: object) -> None:
        self._ref = ref

    def get(self) -> T:
        value: T = _import_ray().get(self._ref)
        return value


class RayExecutor:
    """Tasks on a Ray cluster.

    If this process is already connected to Ray (``ray.init`` was called, as a test's
    cluster fixture does), that connection is used and left open. Otherwise ``address``
    None or ``"local"`` starts a private Ray in this process (``workers`` CPUs, default all;
    no dashboard, logs kept out of this process's output) and any other address attaches to
    that cluster; :meth:`close` shuts down what this executor started.
    """

    def __init__(self, address: str | None = None, workers: int | None = None) -> None:
        if workers is not None and (
            isinstance(workers, bool) or not isinstance(workers, int) or workers < 1
        ):
            raise InvalidInputError.single("workers", None, f"must be >= 1, got {workers!r}")
        ray = _import_ray()
        self._ray = ray
        self._owns = not ray.is_initialized()
        if self._owns:
            local = address in (None, "local")
            ray.init(
                # "local": always a new private Ray, never one found via RAY_ADDRESS
                address="local" if local else address,
                num_cpus=workers if local else None,
                include_dashboard=False if local else None,
                log_to_driver=False,
                configure_logging=False,
            )
        cpus = int(ray.cluster_resources().get("CPU", 1))
        self._workers = workers if workers is not None else max(1, cpus)
        self._task = ray.remote(num_cpus=1)(_apply_chunk)

    @property
    def name(self) -> str:
        return "ray"

    @property
    def workers(self) -> int:
        return self._workers

    @property
    def remote(self) -> bool:
        return True

    def map(self, fn: Callable[[S, T], R], shared: S, items: Sequence[T]) -> list[R]:
        if not items:
            return []
        size = math.ceil(len(items) / (CHUNKS_PER_WORKER * self._workers))
        chunks = [list(items[i : i + size]) for i in range(0, len(items), size)]
        shared_ref = self._ray.put(shared)
        refs = [self._task.remote(fn, shared_ref, chunk) for chunk in chunks]
        done: list[list[R]] = self._ray.get(refs)
        return [r for chunk in done for r in chunk]

    def share(self, value: T) -> Shared[T]:
        """``value`` put in the object store once (see :func:`zone_opt.distributed.share`)."""
        return _RayShared(self._ray.put(value))

    def close(self) -> None:
        if self._owns and self._ray.is_initialized():
            self._ray.shutdown()
        self._owns = False

    def __repr__(self) -> str:
        return f"RayExecutor(workers={self._workers})"
