"""What the owner of a dataset lets peers do with it, and what the audit log records."""

from __future__ import annotations

from dataclasses import dataclass

from zone_opt.errors import InvalidInputError, Violation

__all__ = ["DAY_S", "MODES", "PROTOCOLS", "AuditEntry", "JoinPolicy"]


MODES = ("intersection", "labelled", "cardinality", "sum")
PROTOCOLS = ("dh", "vole")


DAY_S = 86_400


@dataclass(frozen=True)
class JoinPolicy:
    """What peers may do with one dataset (see ``join.proto``).

    ``protocols``: the PSI protocols peers may run, DH only unless the owner lists
    ``"vole"`` too. DH protects the dataset against a peer that deviates from the protocol
    (each evaluation it gets is one of the keys it counted against its request); the VOLE
    protocol is semi-honest (a peer that, say, sends a malformed OT extension or OKVS may
    learn more than its announced number of keys' matches), so an owner opts in for peers
    it trusts to run the software as shipped. Policies stored before the field read as DH
    only.
    """

    dataset_id: str
    key_column: str
    allowed_peers: tuple[str, ...] = ()
    modes: tuple[str, ...] = ("intersection",)
    payload_columns: tuple[str, ...] = ()
    quota_per_epoch: int = 0
    epoch_seconds: int = DAY_S
    min_intersection: int = 1
    key_kind: str = "uscc"
    protocols: tuple[str, ...] = ("dh",)

    def check(self) -> None:
        """Refuse an inconsistent policy (one violation per problem)."""
        problems: list[tuple[str, int | None, str]] = []
        if not self.dataset_id:
            problems.append(("policy.dataset_id", None, "required"))
        if not self.key_column:
            problems.append(("policy.key_column", None, "required"))
        for i, mode in enumerate(self.modes):
            if mode not in MODES:
                problems.append(("policy.modes", i, f"unknown mode {mode!r}"))
        if self.quota_per_epoch < 0:
            problems.append(("policy.quota_per_epoch", None, "must be non-negative"))
        if self.epoch_seconds <= 0:
            problems.append(("policy.epoch_seconds", None, "must be positive"))
        if self.min_intersection < 1:
            problems.append(("policy.min_intersection", None, "must be at least 1"))
        if self.key_kind not in ("uscc", "text"):
            problems.append(("policy.key_kind", None, "must be 'uscc' or 'text'"))
        if not self.protocols:
            problems.append(("policy.protocols", None, "must allow at least one protocol"))
        for i, protocol in enumerate(self.protocols):
            if protocol not in PROTOCOLS:
                problems.append(("policy.protocols", i, f"unknown protocol {protocol!r}"))
        error = InvalidInputError.collect([Violation(*p) for p in problems])
        if error is not None:
            raise error


@dataclass(frozen=True)
class AuditEntry:
    """One session, as the owner sees it."""

    session_id: str
    peer: str
    dataset_id: str
    mode: str
    columns: tuple[str, ...]
    sender_keys: int
    receiver_keys: int
    opened_s: float
    evaluated_s: float | None
    outcome: str
    protocol: str = "dh"
