"""The sender's side of a bucketed private-join session (``OpenJoinSessionRequest.buckets``):
a :class:`~zone_opt.join.StreamingJoinSender` over the dataset, its setup parts served in
order and its messages answered once, a retry getting the same bytes.

DH: ``buckets`` requests through EvaluateJoin (in bucket order), then ``buckets`` setup
parts through GetJoinSetupPart. VOLE: per bucket its setup part, then its request and its
correction. A session is done when every message is answered and every setup part
served; :class:`~zone_opt.service.operations.join.JoinSessions` then closes it, which
removes the spill files.

With the server's executor (``zone-opt serve --ray-address``) a DH sender runs its record
batches and buckets as tasks on that cluster, the session secret sealed to each worker
(:mod:`zone_opt.join.sharded`); VOLE runs in the server's process.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

from zone_opt.errors import FailedPreconditionError, InvalidInputError
from zone_opt.join import JoinQuery, StreamingJoinSender
from zone_opt.join.party import check_buckets

__all__ = ["BucketedSession", "bucketed_request"]


def bucketed_request(buckets: int, query: JoinQuery, key_kind_stated: bool) -> int:
    """A request's ``buckets``, checked: 0 (in memory), or a power of two up to 65536 for
    the intersection, not verifiable, with the key kind stated (else INVALID_ARGUMENT
    naming ``buckets``, ``mode``, ``verifiable`` or ``key_kind``)."""
    if not buckets:
        return 0
    check_buckets(buckets)
    if query.mode != "intersection":
        raise InvalidInputError.single("mode", None, "a bucketed join is intersection mode")
    if query.verifiable:
        raise InvalidInputError.single("verifiable", None, "a bucketed join is not verifiable")
    if not key_kind_stated:
        raise InvalidInputError.single("key_kind", None, "required with buckets")
    return buckets


@dataclass
class BucketedSession:
    """One bucketed session of the sending side (see the module docstring).

    Attributes:
        sender: the streaming sender over the dataset (its keys read and spilled).
        answered: messages answered so far (a retry not counted).
        served: setup parts produced so far.
    """

    sender: StreamingJoinSender
    peer: str
    touched_s: float
    answered: int = 0
    served: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    _parts: Iterator[bytes] | None = None
    _last_part: bytes | None = None
    _last_answer: tuple[bytes, bytes] | None = None

    @property
    def buckets(self) -> int:
        return self.sender.buckets

    @property
    def steps(self) -> int:
        """Messages it answers: DH one a bucket, VOLE two (request, correction)."""
        return 2 * self.buckets if self.sender.protocol == "vole" else self.buckets

    @property
    def receiver_count(self) -> int:
        return self.sender.receiver_count

    @property
    def evaluated(self) -> bool:
        """Every message answered (the audit row's ``evaluated``)."""
        return self.answered == self.steps

    @property
    def done(self) -> bool:
        """Every message answered and every setup part served: the session can close."""
        return self.evaluated and self.served == self.buckets

    def respond(self, message: bytes) -> bytes:
        """The answer to the session's next message; the last message again (a retry)
        gets the same bytes without being evaluated again."""
        digest = hashlib.sha256(message).digest()
        if self._last_answer is not None and self._last_answer[0] == digest:
            return self._last_answer[1]
        if self.sender.protocol == "vole" and self.answered // 2 >= self.served:
            raise FailedPreconditionError(
                f"bucket {self.answered // 2}'s setup part comes before its request "
                "(GetJoinSetupPart)",
                subject="bucket",
                kind="JOIN_ORDER",
            )
        answer = self.sender.respond(message)
        self.answered += 1
        self._last_answer = (digest, answer)
        return answer

    def setup_part(self, bucket: int) -> bytes:
        """Bucket ``bucket``'s setup part: the next in order, or the last one again."""
        if bucket >= self.buckets:
            raise InvalidInputError.single(
                "bucket", None, f"{bucket} is not below the session's {self.buckets} buckets"
            )
        if bucket == self.served - 1 and self._last_part is not None:
            return self._last_part
        if bucket != self.served:
            raise FailedPreconditionError(
                f"the setup parts are served in order: bucket {bucket} was asked for, the "
                f"next is {self.served} of {self.buckets}",
                subject="bucket",
                kind="JOIN_ORDER",
            )
        if self.sender.protocol == "vole" and self.answered < 2 * bucket:
            raise FailedPreconditionError(
                f"bucket {bucket}'s setup part comes after bucket {bucket - 1} is answered",
                subject="bucket",
                kind="JOIN_ORDER",
            )
        if self._parts is None:
            self._parts = self.sender.setup_parts()
        part = next(self._parts)
        self.served += 1
        self._last_part = part
        return part

    def close(self) -> None:
        """Remove the sender's spill files."""
        self.sender.close()
