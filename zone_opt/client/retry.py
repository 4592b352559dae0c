"""Retries of the client's calls: which calls, on which status codes, how long to wait.

What is retried (AIP-194; gRPC's retry design, gRFC A6):

- **Idempotent calls** (:attr:`Safety.IDEMPOTENT`): reads (``GetDataset``,
  ``ListDatasets``, ``DownloadDataset``, ``GetOperation``, ``ListOperations``,
  ``WaitOperation``, ``WatchOperation`` until its first message, ``Recommend``,
  ``VerifyAuditProof``), ``CancelOperation`` (cancelling twice is cancelling once), and the
  submissions (``Match``, ``Dispatch``, ``AllocateCarbon``, ``PlanFacilities``,
  ``ComputeStatistics``): they carry a request id, made once per call and sent unchanged on
  every attempt, and the server answers a repeated id with the operation it already
  started (AIP-155), so a submission whose response was lost runs once.
- **Calls that change state without an id** (:attr:`Safety.REFUSED_ONLY`: the upload):
  re-sent only when the server *refused* it with ``RetryInfo`` (admission limit, full
  disk), which it does before storing anything. Never after UNAVAILABLE: the server may
  have stored the table before the connection dropped, and a second upload would be a
  second dataset. The upload instead waits for the connection before it is sent (gRPC's
  wait-for-ready, within its deadline), so a server still starting or restarting delays
  it rather than failing it.
- **Nothing else** (:attr:`Safety.NEVER`): ``DeleteDataset`` (a repeated delete would
  answer NOT_FOUND for a delete that happened) and the join calls.

On which codes (:attr:`RetryPolicy.codes`):

- **UNAVAILABLE**: transient (connection refused or dropped, server draining), after an
  exponential backoff with full jitter: attempt ``n`` waits a uniform draw from
  ``[0, min(max_backoff_s, initial_backoff_s * multiplier ** (n - 1))]``.
- **RESOURCE_EXHAUSTED** only when it carries ``google.rpc.RetryInfo`` (the server's
  admission limit, a full job queue or disk, a join quota): the wait is at least the
  advertised delay (plus the same jitter draw, so that refused callers do not come back
  together). Without RetryInfo (a message or upload over its limit, a memory budget)
  retrying cannot help.
- **Never DEADLINE_EXCEEDED**: a call's ``timeout_s`` is one deadline for all its attempts
  (each attempt gets what is left of it), so when it passes there is no time left to
  retry in; nor the codes AIP-194 says never to retry (INVALID_ARGUMENT, NOT_FOUND, ...).

Bounds: at most ``max_attempts`` attempts, and never past the call's deadline: a wait that
would end after it is not started, and the last error is raised at once (a
:class:`~zone_opt.errors.ResourceExhaustedError` keeps its ``retry_after_s``). Each retry
is logged at INFO on ``zone_opt.client``: the RPC, the code, the attempt and the wait.
"""

from __future__ import annotations

import enum
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import grpc

from zone_opt.arguments import check_int, check_real
from zone_opt.errors import InvalidInputError
from zone_opt.rpc.status import retry_delay_s

__all__ = ["RETRYABLE_CODES", "Retrier", "RetryPolicy", "Safety"]

log = logging.getLogger("zone_opt.client")

T = TypeVar("T")

#: The status codes a policy may retry: UNAVAILABLE (AIP-194's retryable code),
#: RESOURCE_EXHAUSTED (only with RetryInfo) and ABORTED (a conflict; none of this
#: server's calls sends it today).
RETRYABLE_CODES = frozenset({"UNAVAILABLE", "RESOURCE_EXHAUSTED", "ABORTED"})


@dataclass(frozen=True)
class RetryPolicy:
    """How the client retries (see the module docstring for which calls), checked when made.

    Attributes:
        max_attempts: attempts in all, the first included (1: never retry).
        initial_backoff_s: the first retry's backoff cap, in seconds.
        max_backoff_s: the largest backoff cap, in seconds.
        multiplier: how much the cap grows per attempt (at least 1).
        codes: names of the status codes retried, a subset of :data:`RETRYABLE_CODES`.
    """

    max_attempts: int = 5
    initial_backoff_s: float = 0.1
    max_backoff_s: float = 5.0
    multiplier: float = 2.0
    codes: frozenset[str] = field(default=frozenset({"UNAVAILABLE", "RESOURCE_EXHAUSTED"}))

    def __post_init__(self) -> None:
        check_int("max_attempts", self.max_attempts, low=1, high=100)
        check_real("initial_backoff_s", self.initial_backoff_s, low=0.0, low_open=True)
        check_real("max_backoff_s", self.max_backoff_s, low=self.initial_backoff_s, high=3600.0)
        check_real("multiplier", self.multiplier, low=1.0, high=10.0)
        object.__setattr__(self, "codes", frozenset(self.codes))
        unknown = sorted(self.codes - RETRYABLE_CODES)
        if unknown:
            raise InvalidInputError.single(
                "codes",
                None,
                f"{', '.join(unknown)} cannot be retried; choose from "
                f"{', '.join(sorted(RETRYABLE_CODES))} (DEADLINE_EXCEEDED: the deadline "
                "covers every attempt)",
            )

    @classmethod
    def none(cls) -> RetryPolicy:
        """A policy that never retries: every call makes one attempt."""
        return cls(max_attempts=1)

    @property
    def retries(self) -> bool:
        """Whether any call is ever retried."""
        return self.max_attempts > 1 and bool(self.codes)

    def backoff_cap_s(self, attempt: int) -> float:
        """The cap of the jittered backoff after failed attempt ``attempt`` (1-based)."""
        exponent = min(attempt - 1, 64)  # the cap is reached long before; no overflow
        return min(self.max_backoff_s, self.initial_backoff_s * self.multiplier**exponent)


class Safety(enum.Enum):
    """Whether a call may be sent again after a failure (see the module docstring)."""

    IDEMPOTENT = "idempotent"
    REFUSED_ONLY = "refused-only"
    NEVER = "never"


class Retrier:
    """Runs one call's attempts under a :class:`RetryPolicy`.

    ``sleep``, ``uniform`` and ``clock`` are the waiting, the jitter draw and the monotonic
    clock (replaced in tests).
    """

    def __init__(
        self,
        policy: RetryPolicy,
        *,
        sleep: Callable[[float], None] = time.sleep,
        uniform: Callable[[float, float], float] = random.uniform,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.policy = policy
        self._sleep = sleep
        self._uniform = uniform
        self._clock = clock

    def run(
        self,
        attempt: Callable[[float], T],
        *,
        rpc: str,
        timeout_s: float,
        safety: Safety,
        request_id: str = "",
    ) -> T:
        """``attempt(seconds_left)``'s result, calling it again after a retryable
        :class:`grpc.RpcError` while the policy and the deadline allow; else the error.

        ``seconds_left`` is what remains of ``timeout_s`` (the call's one deadline): the
        attempt's own deadline.
        """
        deadline = self._clock() + timeout_s
        number = 1
        while True:
            try:
                return attempt(max(0.0, deadline - self._clock()))
            except grpc.RpcError as error:
                wait = self.wait_s(error, number, safety)
                if wait is None or self._clock() + wait >= deadline:
                    raise
                code: grpc.StatusCode = error.code()
                log.info(
                    "event=retry rpc=%s code=%s attempt=%d/%d wait_s=%.3f request_id=%s",
                    rpc,
                    code.name,
                    number,
                    self.policy.max_attempts,
                    wait,
                    request_id,
                )
                self._sleep(wait)
                number += 1

    def wait_s(self, error: grpc.RpcError, attempt: int, safety: Safety) -> float | None:
        """How long to wait before retrying after ``error`` ended attempt ``attempt``
        (1-based), or ``None`` when it is not retried."""
        code = error.code() if callable(getattr(error, "code", None)) else None
        if (
            safety is Safety.NEVER
            or attempt >= self.policy.max_attempts
            or not isinstance(code, grpc.StatusCode)
            or code.name not in self.policy.codes
        ):
            return None
        advertised = retry_delay_s(error)
        if advertised is None and (
            safety is Safety.REFUSED_ONLY or code is grpc.StatusCode.RESOURCE_EXHAUSTED
        ):
            return None
        jitter = self._uniform(0.0, self.policy.backoff_cap_s(attempt))
        return jitter if advertised is None else advertised + jitter
