"""A value read by the tasks of several rounds, sent to a cluster once.

:meth:`~zone_opt.distributed.executor.Executor.map` sends its ``shared`` argument once per
round. A large input read by many rounds (the candidate graph of a matching, read by every
solve round) would be copied to the cluster each round and held twice by the driver;
:func:`~zone_opt.distributed.executor.share` stores it once instead: on Ray in the object
store, where this process and the tasks read it without a copy; on any other executor the
value itself is kept. Tasks call :meth:`Shared.get`.
"""

from __future__ import annotations

from typing import Generic, TypeVar

__all__ = ["Shared"]

T = TypeVar("T")


class Shared(Generic[T]):
    """A shared value (see :func:`~zone_opt.distributed.executor.share`); picklable, so
    it travels inside task items."""

    def __init__(self, value: T) -> None:
        self._value = value

    def get(self) -> T:
        """The value (on Ray: a read-only view of the stored object, valid while this
        handle is alive and the cluster is up)."""
        return self._value
