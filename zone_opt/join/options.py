"""What a private join is: the settings both parties of a session agree on
(:class:`JoinOptions`), and what a receiver asks of a server's dataset (:class:`JoinQuery`).

    from zone_opt.join import JoinOptions, JoinReceiver, JoinSender
    sender = JoinSender(their_keys, payload, options=JoinOptions(mode="labelled"))
    receiver = JoinReceiver(our_keys, options=JoinOptions(mode="labelled"), join="left")

Each value is checked when the object is made (an :class:`InvalidInputError` naming the
field).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from zone_opt.arguments import check_choice, check_flag
from zone_opt.errors import InvalidInputError

__all__ = ["JoinOptions", "JoinQuery", "JoinType", "KeyKind", "Mode", "Protocol", "Suite"]

Mode = Literal["intersection", "labelled", "cardinality", "sum"]
Protocol = Literal["dh", "vole"]
KeyKind = Literal["uscc", "text"]
Suite = Literal["rfc9497", "zone-opt-v1"]
JoinType = Literal["inner", "left"]

MODES: tuple[Mode, ...] = ("intersection", "labelled", "cardinality", "sum")
SUITES: tuple[Suite, ...] = ("rfc9497", "zone-opt-v1")


@dataclass(frozen=True)
class JoinOptions:
    """The settings both parties of one session must agree on.

    Attributes:
        mode: what the receiver learns (``"intersection"``, ``"labelled"``,
            ``"cardinality"``, ``"sum"``); None: ``"labelled"`` for a sender with a payload,
            else ``"intersection"``.
        verifiable: the sender proves every evaluation (intersection and labelled modes).
        key_kind: ``"uscc"`` (18-character unified social credit codes, check character
            verified) or ``"text"``.
        protocol: ``"dh"`` (DH-OPRF, every mode) or ``"vole"`` (RR22, intersection only).
        suite: ``"rfc9497"`` or ``"zone-opt-v1"``; None: RFC 9497 when verifiable, else
            the older suite (a receiver follows the one the sender's setup names).
    """

    mode: Mode | None = None
    verifiable: bool = False
    key_kind: KeyKind = "uscc"
    protocol: Protocol = "dh"
    suite: Suite | None = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        if self.mode is not None:
            set_(self, "mode", check_choice("mode", self.mode, MODES))
        set_(self, "verifiable", check_flag("verifiable", self.verifiable))
        set_(self, "key_kind", check_choice("key_kind", self.key_kind, ("uscc", "text")))
        if self.protocol not in ("dh", "vole"):
            raise InvalidInputError.single("protocol", None, "must be 'dh' or 'vole'")
        if self.suite is not None and self.suite not in SUITES:
            raise InvalidInputError.single("suite", None, f"must be one of {', '.join(SUITES)}")

    def resolved_mode(self, *, has_payload: bool) -> Mode:
        """``mode``, or its default for a party with (or without) a payload."""
        if self.mode is not None:
            return self.mode
        return "labelled" if has_payload else "intersection"


@dataclass(frozen=True)
class JoinQuery:
    """What a receiver asks of a dataset on a zone-opt server; the dataset's join policy
    decides which modes and protocols are allowed, and its key kind must be this one.

    Attributes:
        mode: as :attr:`JoinOptions.mode` (default ``"intersection"``).
        columns: labelled mode: the payload columns wanted (the policy must allow each).
        join: labelled mode: ``"inner"`` or ``"left"`` (unmatched rows kept, null payload).
        verifiable: require the sender's proof of every evaluation.
        protocol: ``"dh"`` (every mode) or ``"vole"`` (RR22: intersection only, not
            verifiable; about a tenth of the CPU and 40 % of the bytes; the policy must
            list it).
        key_kind: how the dataset's keys are canonicalised (``"uscc"``: unified social
            credit codes, check character verified; ``"text"``); this side's keys are
            checked as this before any session is opened, and the server refuses a
            session whose policy says otherwise (no quota spent).
    """

    mode: Mode = "intersection"
    columns: tuple[str, ...] = ()
    join: JoinType = "inner"
    verifiable: bool = False
    protocol: Protocol = "dh"
    key_kind: KeyKind = "uscc"

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "mode", check_choice("mode", self.mode, MODES))
        columns = self.columns
        if not isinstance(columns, tuple | list) or not all(isinstance(c, str) for c in columns):
            raise InvalidInputError.single("columns", None, "must be a sequence of column names")
        set_(self, "columns", tuple(columns))
        set_(self, "join", check_choice("join", self.join, ("inner", "left")))
        set_(self, "verifiable", check_flag("verifiable", self.verifiable))
        set_(self, "protocol", check_choice("protocol", self.protocol, ("dh", "vole")))
        set_(self, "key_kind", check_choice("key_kind", self.key_kind, ("uscc", "text")))
        if self.protocol == "vole" and (self.mode != "intersection" or self.verifiable):
            raise InvalidInputError.single(
                "protocol",
                None,
                f"'vole' computes the (semi-honest) intersection only, not mode={self.mode!r}"
                f"{' with verifiable=True' if self.verifiable else ''}; use protocol='dh'",
            )

    def options(self) -> JoinOptions:
        """The receiver's session options for this query (the hash suite is the sender's,
        read from its setup)."""
        return JoinOptions(
            mode=self.mode,
            verifiable=self.verifiable,
            key_kind=self.key_kind,
            protocol=self.protocol,
        )
