"""Compute slots: how many CPU-heavy calls answered inline (in the RPC thread, e.g.
``Recommend``) run at once.

Admission control (:mod:`~zone_opt.service.transport.interceptors`) bounds the calls *in
flight*; this bounds the ones *computing*. Past the number of cores, more concurrent
computations only share the cores and the interpreter lock among more threads: each call
takes longer and throughput falls (on 2 cores, ``Recommend`` served 64 concurrent callers
at 31-35 requests/s against 60-64 for one caller). With a slot per core the others wait
their turn, throughput stays at its single-caller level or above, and a waiting call whose
deadline passes gives up with DEADLINE_EXCEEDED without having used any CPU.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from zone_opt.errors import DeadlineExceededError

__all__ = ["ComputeSlots"]


class ComputeSlots:
    """At most ``slots`` holders at once; the others wait, in no particular order."""

    def __init__(self, slots: int) -> None:
        self.slots = slots  # at least 1 (``ServerSettings.check``)
        self._free = threading.BoundedSemaphore(slots)

    @contextmanager
    def hold(self, timeout_s: float | None) -> Iterator[None]:
        """Hold a slot for the ``with`` block, waiting at most ``timeout_s`` (None: no
        limit) for one.

        Raises:
            DeadlineExceededError: no slot came free in time.
        """
        if not self._free.acquire(timeout=None if timeout_s is None else max(0.0, timeout_s)):
            raise DeadlineExceededError("deadline passed waiting for a compute slot")
        try:
            yield
        finally:
            self._free.release()
