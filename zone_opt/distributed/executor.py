"""One executor interface, two backends: threads here, or tasks on a Ray cluster.

Callers build a deterministic plan on the driver (which items, in which order, with which
inputs) and hand each round of it to :meth:`Executor.map`. Both backends run the same pure
function on the same items and return the results in submission order, so a computation
gives identical results on either backend by construction; only where the work runs and
how long it takes differ.

The function must be a module-level function (Ray ships it by reference) taking two
picklable arguments: the round's ``shared`` context (sent once per round: the problem) and
one item (what differs per task). It must not rely on state outside its arguments.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Literal, Protocol, TypeVar, runtime_checkable

from zone_opt.distributed.ray_backend import RayExecutor
from zone_opt.distributed.shared import Shared
from zone_opt.errors import InvalidInputError

__all__ = [
    "BACKENDS",
    "Backend",
    "Executor",
    "LocalExecutor",
    "check_executor",
    "executor",
    "share",
]

S = TypeVar("S")
T = TypeVar("T")
R = TypeVar("R")

Backend = Literal["local", "ray"]
BACKENDS: tuple[Backend, ...] = ("local", "ray")


@runtime_checkable
class Executor(Protocol):
    """Runs one round of independent tasks; results come back in submission order."""

    @property
    def name(self) -> str:
        """``"local"`` or ``"ray"``."""
        ...

    @property
    def workers(self) -> int:
        """How many tasks run at once (threads, or CPUs of the cluster)."""
        ...

    @property
    def remote(self) -> bool:
        """Whether arguments cross a process boundary (pickled: no callbacks, no events)."""
        ...

    def map(self, fn: Callable[[S, T], R], shared: S, items: Sequence[T]) -> list[R]:
        """``[fn(shared, item) for item in items]``, computed in parallel. The first error
        raised by a task is raised here once the round has finished."""
        ...

    def close(self) -> None:
        """Release what the executor started (threads, a private Ray)."""
        ...


def check_executor(executor: object) -> Executor:
    """``executor`` if it is an :class:`Executor` instance, else an
    :class:`~zone_opt.errors.InvalidInputError` naming ``executor`` (the one check of every
    API that takes one)."""
    # A class has the protocol's attributes too: only an instance is an executor.
    if isinstance(executor, type) or not isinstance(executor, Executor):
        got = executor.__name__ if isinstance(executor, type) else type(executor).__name__
        raise InvalidInputError.single(
            "executor",
            None,
            "must be a zone_opt.distributed.Executor (e.g. zone_opt.distributed.executor("
            f"'local', workers=2) or executor('ray', address=...)), got {got}",
        )
    return executor


class LocalExecutor:
    """Threads of this process (the default). Suits work that releases the GIL, as HiGHS
    does while it solves. ``workers=1`` runs the items in turn on the calling thread."""

    def __init__(self, workers: int = 2) -> None:
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise InvalidInputError.single("workers", None, f"must be >= 1, got {workers!r}")
        self._workers = workers

    @property
    def name(self) -> str:
        return "local"

    @property
    def workers(self) -> int:
        return self._workers

    @property
    def remote(self) -> bool:
        return False

    def map(self, fn: Callable[[S, T], R], shared: S, items: Sequence[T]) -> list[R]:
        if self._workers == 1 or len(items) <= 1:
            return [fn(shared, item) for item in items]
        with ThreadPoolExecutor(max_workers=min(self._workers, len(items))) as pool:
            futures = [pool.submit(fn, shared, item) for item in items]
            return [f.result() for f in futures]

    def close(self) -> None:
        pass

    def __repr__(self) -> str:
        return f"LocalExecutor(workers={self._workers})"


def executor(
    backend: Backend | str = "local",
    *,
    workers: int | None = None,
    address: str | None = None,
) -> Executor:
    """An executor by name.

    ``"local"``: :class:`LocalExecutor` with ``workers`` threads (default 2). ``"ray"``:
    :class:`~zone_opt.distributed.ray_backend.RayExecutor` attached to the cluster at
    ``address`` (``"ray://host:10001"``, ``"host:6379"``), or a private Ray started in this
    process when ``address`` is None or ``"local"`` (``workers`` CPUs, default all). Ray is
    an optional extra: without it, ``"ray"`` raises
    :class:`~zone_opt.distributed.ray_backend.RayUnavailableError`.
    """
    if backend == "local":
        if address is not None:
            raise InvalidInputError.single(
                "address", None, "a Ray address needs the ray backend (executor='ray')"
            )
        return LocalExecutor(2 if workers is None else workers)
    if backend == "ray":
        return RayExecutor(address=address, workers=workers)
    raise InvalidInputError.single(
        "executor", None, f"unknown backend {backend!r}; one of {', '.join(BACKENDS)}"
    )


def share(executor: Executor, value: T) -> Shared[T]:
    """``value`` for the tasks of several rounds on ``executor``
    (:class:`~zone_opt.distributed.shared.Shared`): stored once in Ray's object store on a
    :class:`~zone_opt.distributed.ray_backend.RayExecutor`, else kept as it is."""
    if isinstance(executor, RayExecutor):
        return executor.share(value)
    return Shared(value)
